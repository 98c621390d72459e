// Package realtime delivers the event log to subscribers as it grows.
// Each node has one Hub: it follows the log (settled positions only, so
// a late commit on PostgreSQL is never skipped) and hands each event to
// the subscriptions that may want it. A subscriber that falls behind is
// cut off with the position it reached, never allowed to slow the hub or
// to grow its buffer; it resumes from that position, replayed from the
// log, so nothing is lost and nothing is sent twice.
package realtime

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Log is the part of the store the hub reads.
type Log interface {
	EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error)
	EventHead(ctx context.Context) (int64, error)
}

// Hub follows the event log and fans events out to subscriptions.
type Hub struct {
	log  Log
	logf *slog.Logger

	// Poll is how often the hub reads the log when nothing wakes it: the
	// bound on delay when a wake-up is lost (another node died between
	// its commit and its notification).
	Poll time.Duration

	wake chan struct{}

	mu      sync.Mutex
	pos     int64 // the last position handed to subscriptions
	subs    map[*Sub]struct{}
	stopped bool // Run has returned: new subscriptions start closed

	delivered atomic.Int64
	dropped   atomic.Int64
}

// NewHub returns a hub that starts after position head (events at or
// before it are history, read by subscribers that ask for them).
func NewHub(l Log, head int64, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{log: l, logf: log, Poll: 250 * time.Millisecond, wake: make(chan struct{}, 1), pos: head, subs: map[*Sub]struct{}{}}
}

// Wake tells the hub the log has grown: a local commit, or another
// node's notification. It never blocks; wake-ups coalesce.
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Position returns the last position the hub has handed out.
func (h *Hub) Position() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// Stats returns the events handed to subscriptions and the subscriptions
// cut off for falling behind, since the start.
func (h *Hub) Stats() (delivered, dropped int64) { return h.delivered.Load(), h.dropped.Load() }

// Subscribers returns the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Run follows the log until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	tick := time.NewTicker(h.Poll)
	defer tick.Stop()
	for {
		if err := h.catchUp(ctx); err != nil && ctx.Err() == nil {
			h.logf.Error("realtime: read the event log", "err", err)
		}
		select {
		case <-ctx.Done():
			h.closeAll()
			return
		case <-h.wake:
		case <-tick.C:
		}
	}
}

const page = 1000

// catchUp hands out every settled event after the hub's position. With
// no subscription open it reads only the log's settled head and moves to
// it: a node that writes much and streams little would otherwise read
// every event it wrote back, to hand it to no one (a subscription that
// opens later starts from the hub's position, see Subscribe). The head
// is read on every wake-up, as the events were: a subscription starts no
// further back than it did when the hub read them.
func (h *Hub) catchUp(ctx context.Context) error {
	if h.Subscribers() == 0 {
		head, err := h.log.EventHead(ctx)
		if err != nil {
			return err
		}
		h.mu.Lock()
		idle := len(h.subs) == 0
		if idle {
			h.pos = max(h.pos, head)
		}
		h.mu.Unlock()
		if idle {
			return nil
		}
	}
	for {
		h.mu.Lock()
		after := h.pos
		h.mu.Unlock()
		events, err := h.log.EventList(ctx, &store.EventListParams{AllTenants: true, After: after, Limit: page})
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		h.dispatch(events)
		if len(events) < page {
			return nil
		}
	}
}

func (h *Hub) dispatch(events []basalt.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range events {
		e := &events[i]
		if e.Position <= h.pos {
			continue
		}
		h.pos = e.Position
		for s := range h.subs {
			if !s.wants(e) {
				continue
			}
			if s.push(e) {
				h.delivered.Add(1)
				continue
			}
			// Full: the subscriber is too slow. Cut it off; it resumes
			// from the last event it took, replayed from the log.
			delete(h.subs, s)
			s.lagged.Store(true)
			s.end()
			h.dropped.Add(1)
		}
	}
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for s := range h.subs {
		delete(h.subs, s)
		s.end()
	}
}

// Interest tells the hub cheaply which events a subscription may want:
// the tenants and collections it listens to. The subscriber checks rules
// and filters itself, off the hub's path.
type Interest struct {
	Tenants     []string // the subscriber's tenant, and GlobalTenant for global collections
	Collections map[string]bool
}

func (in *Interest) wants(e *basalt.Event) bool {
	for _, t := range in.Tenants {
		if t == e.TenantID {
			return in.Collections[e.Collection]
		}
	}
	return false
}

// Sub is one subscription of the hub: its events wait in a queue, in
// position order, until the subscriber takes them (Ready, Take). The
// subscription ends when the hub cuts the subscriber off for falling
// behind (Lagged then reports true) or stops.
//
// The queue is a slice that grows with what waits and is handed back
// and forth between the hub and the subscriber, rather than a buffered
// channel: a channel of the buffer's size would hold its whole capacity
// (8 KiB for 1,024 events) for every idle stream, the largest part of
// an idle stream's memory; and a subscriber takes everything waiting at
// once, so it writes a burst in one system call.
type Sub struct {
	hub   *Hub
	start int64

	mu sync.Mutex // guards in
	in Interest

	qmu   sync.Mutex // guards q and ended
	q     []*basalt.Event
	max   int
	ended bool
	ready chan struct{} // a token when events wait; closed when the subscription ends

	lagged atomic.Bool
}

// ErrLagged is the cause of a stream's end when its subscriber fell behind.
var ErrLagged = errors.New("realtime: the subscriber fell behind")

// Subscribe registers a subscription that may fall behind by n events.
// Start reports the hub's position at that moment: every later event
// that interests it arrives through Take; earlier ones are history (see
// Replay).
func (h *Hub) Subscribe(in Interest, n int) *Sub {
	s := &Sub{hub: h, in: in, max: max(n, 1), ready: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	s.start = h.pos
	if h.stopped {
		// No event would ever arrive: end the subscriber's stream now
		// rather than leave it waiting on a hub that is gone.
		s.end()
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// push queues e; false when the queue is full. The hub calls it, and
// end, under its lock, so no event is pushed after the end.
func (s *Sub) push(e *basalt.Event) bool {
	s.qmu.Lock()
	if len(s.q) >= s.max {
		s.qmu.Unlock()
		return false
	}
	s.q = append(s.q, e)
	s.qmu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default: // a token is there already
	}
	return true
}

// end ends the subscription: what waits can still be taken.
func (s *Sub) end() {
	s.qmu.Lock()
	s.ended = true
	s.qmu.Unlock()
	close(s.ready)
}

// Ready is signalled when events wait to be taken, and closed when the
// subscription has ended. It may fire with nothing to take.
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Take returns the events waiting, in position order, and gives the
// subscription spent (the slice of a previous Take, or nil) to fill
// next. open is false once the subscription has ended: the events
// returned are its last. A subscriber clears the events once it has
// written them (an idle one would otherwise keep them alive) and hands
// the slice back as spent.
func (s *Sub) Take(spent []*basalt.Event) (events []*basalt.Event, open bool) {
	if cap(spent) > 64 {
		spent = nil // a burst's slice would stay with an idle stream
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	events, s.q = s.q, spent[:0]
	return events, !s.ended
}

func (s *Sub) wants(e *basalt.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in.wants(e)
}

// Lagged reports whether the hub cut the subscription off for falling
// behind, rather than stopping: once it has ended, it tells the
// subscriber which of the two to report.
func (s *Sub) Lagged() bool { return s.lagged.Load() }

// Start is the hub's position when the subscription began.
func (s *Sub) Start() int64 { return s.start }

// SetInterest changes what the subscription listens to; events the hub
// has already handed over are unaffected.
func (s *Sub) SetInterest(in Interest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.in = in
}

// Close ends the subscription.
func (s *Sub) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		s.end()
	}
}

// Replay calls fn with every event of the subscription's tenants after
// position after and up to its start, in position order: the history
// before the live events on C, which begin right after start.
func (s *Sub) Replay(ctx context.Context, after int64, fn func(*basalt.Event) error) error {
	s.mu.Lock()
	tenants := append([]string(nil), s.in.Tenants...)
	s.mu.Unlock()
	cursors := make([]*tenantLog, len(tenants))
	for i, t := range tenants {
		cursors[i] = &tenantLog{log: s.hub.log, tenant: t, after: after, through: s.start}
	}
	// Merge the tenants' logs by position.
	for {
		var next *tenantLog
		for _, c := range cursors {
			if err := c.fill(ctx); err != nil {
				return err
			}
			if len(c.buf) > 0 && (next == nil || c.buf[0].Position < next.buf[0].Position) {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		e := &next.buf[0]
		next.buf = next.buf[1:]
		if err := fn(e); err != nil {
			return err
		}
	}
}

// tenantLog reads one tenant's events after a position, a page at a time,
// up to a position.
type tenantLog struct {
	log            Log
	tenant         string
	after, through int64
	buf            []basalt.Event
	done           bool
}

func (c *tenantLog) fill(ctx context.Context) error {
	if len(c.buf) > 0 || c.done {
		return nil
	}
	if c.after >= c.through {
		c.done = true
		return nil
	}
	events, err := c.log.EventList(ctx, &store.EventListParams{TenantID: c.tenant, After: c.after, Limit: page})
	if err != nil {
		return err
	}
	for i, e := range events {
		if e.Position > c.through {
			events = events[:i]
			c.done = true
			break
		}
	}
	if len(events) < page {
		c.done = true
	}
	if len(events) > 0 {
		c.after = events[len(events)-1].Position
	}
	c.buf = events
	return nil
}
