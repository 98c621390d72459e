// Package natsexport copies the event log to a NATS JetStream stream, in
// position order, for consumers outside Basalt: each event is published
// on basalt.<tenant>.<collection>.<op> with its JSON as the payload and
// its position as the message id (Nats-Msg-Id), so JetStream drops a
// message it already has.
//
// The exporter keeps its place in a cursor in the database, moved only
// after JetStream acknowledged the events up to it: a NATS outage delays
// the export and loses nothing, and a restart resumes where the stream
// stands. Events are published one at a time, each after the previous
// one's acknowledgement, so the stream holds them in position order even
// when a publish fails midway. Of several nodes, one exports at a time:
// the holder of the cursor's lease, which another node takes over when
// the holder stops or dies.
package natsexport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Log is the part of the store the exporter uses.
type Log interface {
	EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error)
	store.Cursors
}

// Config configures an exporter. Only URL is required.
type Config struct {
	// URL is the NATS server, or servers separated by commas.
	URL string
	// Stream is the JetStream stream, created if missing with the
	// subjects Prefix.> and the Duplicates window. Default BASALT.
	Stream string
	// Prefix is the first token of every subject. Default basalt.
	Prefix string
	// Duplicates is the window in which a stream the exporter creates
	// drops a message whose id it has seen. Default 10 minutes.
	Duplicates time.Duration
	// Holder names this node in the cursor's lease. Default: the host
	// name and a random suffix.
	Holder string
	// Lease is how long the lease lasts unless renewed: how long the
	// export pauses when its node dies. Default 15 seconds.
	Lease time.Duration
	// Poll is how often the exporter reads the log when nothing wakes
	// it. Default 250 milliseconds.
	Poll time.Duration
	// Batch is the most events read from the log at once. Default 500.
	Batch int
	// Timeout bounds connecting and each publish. Default 5 seconds.
	Timeout time.Duration
	// MaxBackoff is the longest wait between attempts after a failure.
	// Default 5 seconds.
	MaxBackoff time.Duration
	// Log receives warnings; nil discards them.
	Log *slog.Logger
	// Now is the clock of the lease. Default time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Stream == "" {
		c.Stream = "BASALT"
	}
	if c.Prefix == "" {
		c.Prefix = "basalt"
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 10 * time.Minute
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Holder = host + "-" + hex.EncodeToString(b[:])
	}
	if c.Lease <= 0 {
		c.Lease = 15 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// ValidStream reports whether name can name a JetStream stream.
func ValidStream(name string) bool {
	return name != "" && !strings.ContainsAny(name, ".*> \t\r\n/\\")
}

// ValidPrefix reports whether prefix can start subjects: tokens
// separated by dots, without wildcards or spaces.
func ValidPrefix(prefix string) bool {
	for _, t := range strings.Split(prefix, ".") {
		if t == "" || strings.ContainsAny(t, "*> \t\r\n") {
			return false
		}
	}
	return true
}

// Exporter copies the event log to JetStream. Run it with Run.
type Exporter struct {
	log    Log
	cfg    Config
	cursor string
	wake   chan struct{}

	position  atomic.Int64 // the last position JetStream acknowledged
	published atomic.Int64 // acknowledged and stored
	acked     atomic.Int64 // acknowledged, duplicates included
	leader    atomic.Bool
}

// New returns an exporter of l's events to the server in cfg.
func New(l Log, cfg Config) *Exporter {
	cfg.defaults()
	return &Exporter{log: l, cfg: cfg, cursor: "nats:" + cfg.Stream, wake: make(chan struct{}, 1)}
}

// Cursor is the name of the exporter's cursor in the store.
func (x *Exporter) Cursor() string { return x.cursor }

// Wake tells the exporter the log has grown. It never blocks.
func (x *Exporter) Wake() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// Position returns the last position JetStream acknowledged to this
// node, 0 before its first.
func (x *Exporter) Position() int64 { return x.position.Load() }

// Published returns the messages this node published that JetStream
// stored (not counting the duplicates it dropped).
func (x *Exporter) Published() int64 { return x.published.Load() }

// Leader reports whether this node holds the lease and exports.
func (x *Exporter) Leader() bool { return x.leader.Load() }

// Run exports until ctx ends, reconnecting after failures.
func (x *Exporter) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		progressed, err := x.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = 100 * time.Millisecond
		}
		x.cfg.Log.Warn("natsexport: export to NATS interrupted; events wait in the log", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, x.cfg.MaxBackoff)
	}
}

// session connects, makes sure the stream exists, and exports while it
// holds the lease, until an error or the end of ctx. progressed reports
// whether it published anything.
func (x *Exporter) session(ctx context.Context) (progressed bool, err error) {
	nc, err := nats.Connect(x.cfg.URL, nats.Name("basalt export "+x.cfg.Holder), nats.Timeout(x.cfg.Timeout),
		// A failed publish ends the session and its connection, so that
		// nothing buffered for a reconnect goes out after a retry.
		nats.NoReconnect())
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return false, err
	}
	stream, err := x.ensureStream(ctx, js)
	if err != nil {
		return false, err
	}
	s := &session{x: x, js: js, stream: stream}
	defer s.release()
	return s.run(ctx)
}

// ensureStream returns the stream, created if missing.
func (x *Exporter) ensureStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
	defer cancel()
	stream, err := js.Stream(ctx, x.cfg.Stream)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return stream, err
	}
	stream, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        x.cfg.Stream,
		Description: "Basalt's event log",
		Subjects:    []string{x.cfg.Prefix + ".>"},
		Duplicates:  x.cfg.Duplicates,
		Storage:     jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another node made it first
		return js.Stream(ctx, x.cfg.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", x.cfg.Stream, err)
	}
	return stream, nil
}

// session is one connection's export.
type session struct {
	x       *Exporter
	js      jetstream.JetStream
	stream  jetstream.Stream
	held    bool
	renewed time.Time // when the lease was last taken or renewed
	pos     int64
}

func (s *session) run(ctx context.Context) (progressed bool, err error) {
	x := s.x
	poll := time.NewTicker(x.cfg.Poll)
	defer poll.Stop()
	for {
		if err := s.lease(ctx); err != nil {
			return progressed, err
		}
		if s.held {
			n, err := s.exportBatch(ctx)
			progressed = progressed || n > 0
			if err != nil {
				return progressed, err
			}
			if n == x.cfg.Batch {
				continue // more waiting
			}
		}
		wait := x.cfg.Lease / 3 // a standby tries for the lease
		if s.held {
			wait = max(time.Until(s.renewed.Add(x.cfg.Lease/3)), time.Millisecond)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return progressed, ctx.Err()
		case <-x.wake:
		case <-poll.C:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// lease takes or renews the lease when due. On taking it, the session
// starts from the cursor, or from the last message of the stream if that
// one is further: events that JetStream acknowledged before the cursor
// could move (a node died in between) are not sent again.
func (s *session) lease(ctx context.Context) error {
	x := s.x
	now := x.cfg.Now()
	if s.held && now.Sub(s.renewed) < x.cfg.Lease/3 {
		return nil
	}
	ok, err := x.log.CursorLease(ctx, x.cursor, x.cfg.Holder, now, now.Add(x.cfg.Lease))
	if err != nil {
		s.lost()
		return fmt.Errorf("lease: %w", err)
	}
	if !ok {
		s.lost()
		return nil
	}
	s.renewed = now
	if s.held {
		return nil
	}
	pos, err := x.log.CursorGet(ctx, x.cursor)
	if err != nil {
		return fmt.Errorf("read cursor: %w", err)
	}
	if last, ok := s.lastInStream(ctx); ok && last > pos {
		if err := x.log.CursorSet(ctx, x.cursor, x.cfg.Holder, last); err != nil {
			return fmt.Errorf("move cursor: %w", err)
		}
		pos = last
	}
	s.pos, s.held = pos, true
	x.position.Store(pos)
	x.leader.Store(true)
	x.cfg.Log.Info("natsexport: this node exports the event log", "stream", x.cfg.Stream, "after", pos)
	return nil
}

func (s *session) lost() {
	s.held = false
	s.x.leader.Store(false)
}

// lastInStream returns the position of the last event in the stream, as
// its message id says; ok is false when the stream has none.
func (s *session) lastInStream(ctx context.Context) (int64, bool) {
	ctx, cancel := context.WithTimeout(ctx, s.x.cfg.Timeout)
	defer cancel()
	m, err := s.stream.GetLastMsgForSubject(ctx, s.x.cfg.Prefix+".>")
	if err != nil {
		return 0, false
	}
	pos, err := strconv.ParseInt(m.Header.Get(jetstream.MsgIDHeader), 10, 64)
	return pos, err == nil
}

// exportBatch publishes the next events of the log, each after the
// previous one's acknowledgement, then moves the cursor. It returns how
// many events it read.
func (s *session) exportBatch(ctx context.Context) (int, error) {
	x := s.x
	events, err := x.log.EventList(ctx, &store.EventListParams{AllTenants: true, After: s.pos, Limit: x.cfg.Batch})
	if err != nil {
		return 0, fmt.Errorf("read the event log: %w", err)
	}
	for i := range events {
		if err := s.lease(ctx); err != nil {
			return i, err
		}
		if !s.held {
			return i, nil // another node exports now
		}
		if err := s.publish(ctx, &events[i]); err != nil {
			return i, err // release saves what was acknowledged
		}
	}
	if err := s.saveCursor(ctx); err != nil {
		return len(events), err
	}
	return len(events), nil
}

func (s *session) publish(ctx context.Context, e *basalt.Event) error {
	x := s.x
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m := &nats.Msg{Subject: Subject(x.cfg.Prefix, e), Data: data, Header: nats.Header{}}
	ctx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(strconv.FormatInt(e.Position, 10)), jetstream.WithExpectStream(x.cfg.Stream))
	if err != nil {
		return fmt.Errorf("publish position %d: %w", e.Position, err)
	}
	x.acked.Add(1)
	if !ack.Duplicate {
		x.published.Add(1)
	}
	s.pos = e.Position
	x.position.Store(e.Position)
	return nil
}

// saveCursor moves the cursor to the last acknowledged position.
func (s *session) saveCursor(ctx context.Context) error {
	x := s.x
	err := x.log.CursorSet(ctx, x.cursor, x.cfg.Holder, s.pos)
	if basalt.ErrorCode(err) == basalt.CodeConflict {
		s.lost() // the lease expired and another node took it
		return nil
	}
	if err != nil {
		return fmt.Errorf("move cursor: %w", err)
	}
	return nil
}

// release moves the cursor to the last acknowledged event, which a
// session that ends midway has not, and gives the lease up, so another
// node takes over at once. It runs when the session's context may have
// ended already.
func (s *session) release() {
	if !s.held {
		return
	}
	x := s.x
	ctx, cancel := context.WithTimeout(context.Background(), x.cfg.Timeout)
	defer cancel()
	if err := s.saveCursor(ctx); err != nil {
		x.cfg.Log.Warn("natsexport: save the cursor", "err", err)
	}
	if !s.held {
		return // lost meanwhile
	}
	s.lost()
	now := x.cfg.Now()
	if _, err := x.log.CursorLease(ctx, x.cursor, x.cfg.Holder, now, now); err != nil {
		x.cfg.Log.Warn("natsexport: give up the lease", "err", err)
	}
}

// Subject returns the subject of e: prefix.<tenant>.<collection>.<op>.
// A schema change has no tenant: its token is "_" (tenant ids never are).
// Characters a subject token cannot hold are escaped as %XX.
func Subject(prefix string, e *basalt.Event) string {
	return prefix + "." + token(e.TenantID) + "." + token(e.Collection) + "." + token(string(e.Op))
}

func token(s string) string {
	if s == "" {
		return "_"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; plain(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// plain reports whether c stands for itself in a subject token.
func plain(c byte) bool {
	return c > ' ' && c < 0x7f && c != '.' && c != '*' && c != '>' && c != '%'
}
