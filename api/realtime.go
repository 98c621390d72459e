package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/records"
)

// RealtimeConfig bounds realtime streams.
type RealtimeConfig struct {
	// Heartbeat is the interval of keep-alive comments (SSE) and pings
	// (WebSocket) on an idle stream.
	Heartbeat time.Duration
	// Buffer is the events a subscriber may fall behind by before it is
	// cut off, to resume from its last position.
	Buffer int
	// WriteTimeout cuts off a client that does not take a write in time.
	WriteTimeout time.Duration
	// MaxSubscriptions per connection; MaxPerPrincipal connections per
	// user, API key or (for anonymous callers) address; MaxPerTenant
	// connections per tenant. 0: unlimited.
	MaxSubscriptions, MaxPerPrincipal, MaxPerTenant int
	// CheckEvery is how often a stream checks that its credential still
	// holds (a revoked session or key ends it).
	CheckEvery time.Duration
}

func (c *RealtimeConfig) defaults() {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Buffer <= 0 {
		c.Buffer = 1024
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 32
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = 5 * time.Second
	}
}

// streaming authenticates a realtime request: a one-use ticket in the
// query (for browsers, which cannot send headers on EventSource and
// WebSocket), else the Authorization header, else anonymous (the access
// rules decide).
func (s *Server) streaming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := r.URL.Query().Get("ticket")
		if t == "" {
			// Not s.optional(h): a handler around h would stay on every
			// open stream's stack (see handleSSE).
			if r = s.principal(w, r, anyone); r != nil {
				h.ServeHTTP(w, r)
			}
			return
		}
		if r.Header.Get("Authorization") != "" {
			writeProblem(w, r, basalt.Errorf(basalt.CodeBadRequest, "Send a ticket or an Authorization header, not both."))
			return
		}
		p, err := s.d.Tickets.Redeem(r.Context(), t)
		if r = s.enter(w, r, p, err, anyone); r != nil {
			h.ServeHTTP(w, r)
		}
	})
}

func handleTicket(t *auth.Tickets) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ticket, expires, err := t.Issue(r.Context(), basalt.PrincipalFrom(r.Context()))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, map[string]any{"ticket": ticket, "expires": expires})
		return nil
	})
}

// parseSubscriptions reads "posts,comments/ID" into watches, each with
// the filter.
func (s *Server) parseSubscriptions(ctx context.Context, list []string, filterSrc string) ([]*records.Watch, error) {
	var out []*records.Watch
	for _, item := range list {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if len(out) == s.cfg.Realtime.MaxSubscriptions {
			return nil, s.tooManySubscriptions()
		}
		coll, id, _ := strings.Cut(item, "/")
		w, err := s.d.Records.Watch(ctx, coll, id, filterSrc)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, basalt.Invalid("Nothing to subscribe to.", basalt.FieldError{Field: "subscribe", Code: "required",
			Message: "name collections or records: subscribe=posts,comments/ID"})
	}
	return out, nil
}

func (s *Server) tooManySubscriptions() error {
	return basalt.Invalid("Too many subscriptions.", basalt.FieldError{Field: "subscribe", Code: "too_many",
		Message: fmt.Sprintf("at most %d subscriptions per connection", s.cfg.Realtime.MaxSubscriptions)})
}

func interest(ws []*records.Watch) realtime.Interest {
	in := realtime.Interest{Collections: map[string]bool{}}
	for _, w := range ws {
		in.Collections[w.Collection] = true
		if !containsString(in.Tenants, w.Tenant()) {
			in.Tenants = append(in.Tenants, w.Tenant())
		}
	}
	return in
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseAfter reads the position to resume after: the Last-Event-ID
// header (sent by EventSource on reconnect) or the after parameter.
// resume is false when the client gave neither: it starts live.
func parseAfter(r *http.Request) (after int64, resume bool, err error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, basalt.Invalid("Invalid position.", basalt.FieldError{Field: "after", Code: "invalid", Message: "the position to resume after must be a whole number ≥ 0"})
	}
	return n, true, nil
}

// admitStream takes a connection slot for the caller; release gives it
// back. 429 when the caller or its tenant has too many open.
func (s *Server) admitStream(r *http.Request) (release func(), err error) {
	p := basalt.PrincipalFrom(r.Context())
	who := "ip:" + clientIP(r)
	if p != nil {
		who = p.Kind + ":" + p.ID
	}
	keys := []string{who, "tenant:" + basalt.TenantFrom(r.Context())}
	cfg := s.cfg.Realtime
	if full := s.streams.Acquire(keys, []int{cfg.MaxPerPrincipal, cfg.MaxPerTenant}); full != "" {
		what := "you have"
		if full == keys[1] {
			what = "your tenant has"
		}
		return nil, basalt.Errorf(basalt.CodeRateLimited, "Too many realtime connections: %s as many open as allowed; close one first.", what)
	}
	return func() { s.streams.Release(keys) }, nil
}

// streamStart is a realtime request read and admitted: its refusals are
// problems, sent before the stream begins.
type streamStart struct {
	watches []*records.Watch
	after   int64
	resume  bool // the client gave a position to resume after
	release func()
}

// startStream reads the subscriptions and the resume position of a
// realtime request and takes a connection slot (see admitStream). The
// subscriptions are required unless optional: a WebSocket client may
// subscribe with messages instead.
func (s *Server) startStream(r *http.Request, optional bool) (*streamStart, error) {
	q := r.URL.Query()
	st := &streamStart{}
	var err error
	if !optional || q.Has("subscribe") {
		st.watches, err = s.parseSubscriptions(r.Context(), strings.Split(strings.Join(q["subscribe"], ","), ","), q.Get("filter"))
		if err != nil {
			return nil, err
		}
	}
	if st.after, st.resume, err = parseAfter(r); err != nil {
		return nil, err
	}
	if st.release, err = s.admitStream(r); err != nil {
		return nil, err
	}
	return st, nil
}

// errStreamEnd ends a stream whose credential no longer holds.
var errStreamEnd = errors.New("realtime: the credential no longer holds")

// live reports whether the stream's principal may go on.
func (s *Server) live(ctx context.Context) bool {
	return auth.Live(ctx, s.d.Users, s.d.Keys, basalt.PrincipalFrom(ctx))
}

// handleSSE serves GET /api/realtime as Server-Sent Events: each event's
// id is its log position; a client that reconnects with Last-Event-ID (or
// after=) gets every later event from the log, then the live ones, with
// no gap and no repeat between the two.
//
// The setup (openSSE) returns before the stream's long wait (serve), so
// its large frame is gone from the stack while the stream idles: the
// idle goroutine's stack then fits in a quarter of 16 KiB, and the
// collector halves it to 8 KiB, a quarter of an idle stream's memory.
// Every frame between the server and here counts: the middleware, the
// route's handler (Server.handle) and streaming call the next handler
// directly rather than through wrappers. basalt bench realtime reports
// the stacks per stream: 8 KiB of them are this goroutine's.
func (s *Server) handleSSE() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.openSSE(w, r)
		if st != nil {
			defer st.close()
		}
		switch {
		case err != nil:
			writeProblem(w, r, err)
		case !st.done:
			st.serve()
		}
	})
}

// sseStream is an open SSE stream past its setup.
type sseStream struct {
	s       *Server
	ctx     context.Context // the request's, canceled too when the server drains
	cancel  func()
	out     *sseWriter
	watches []*records.Watch
	sub     *realtime.Sub
	chans   *channelSet
	release func()
	last    int64           // the position the stream has passed
	spent   []*basalt.Event // the events last taken, handed back to sub
	done    bool            // the stream ended during its setup
}

// close gives back what openSSE took.
func (st *sseStream) close() {
	st.cancel()
	if st.sub != nil {
		st.sub.Close()
	}
	if st.chans != nil {
		st.chans.close(st.ctx)
	}
	st.release()
}

// openSSE admits the request, subscribes, starts the response and
// replays the history the client asked for. An error is a problem sent
// before the stream begins; a stream whose client left meanwhile is
// done.
func (s *Server) openSSE(w http.ResponseWriter, r *http.Request) (*sseStream, error) {
	ctx := r.Context()
	q := r.URL.Query()
	start, err := s.startStream(r, q.Has("channel"))
	if err != nil {
		return nil, err
	}
	cfg := s.cfg.Realtime
	// One context for both ends of the stream, the client's and the
	// server's drain: one case less in the wait of every open stream.
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.drain, cancel)
	st := &sseStream{s: s, ctx: ctx, cancel: func() { stop(); cancel() }, watches: start.watches, release: start.release,
		out: &sseWriter{w: w, rc: http.NewResponseController(w), timeout: cfg.WriteTimeout}}
	if st.chans, err = s.sseChannels(ctx, q, len(st.watches)); err != nil {
		return st, err
	}
	st.sub = s.d.Hub.Subscribe(interest(st.watches), cfg.Buffer)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	out := st.out
	out.grow()
	out.buf = append(out.buf, "retry: 2000\n\n"...)
	for _, j := range st.chans.joined {
		out.joined(j.access.Name, st.chans.Key(), j.presence, st.chans.present(j.access.Name))
	}
	if err := out.flush(); err != nil {
		st.done = true
		return st, nil
	}
	st.last, err = catchUp(ctx, st.sub, start.after, start.resume, func(e *basalt.Event) error {
		out.event(st.watches, e)
		if len(out.buf) > 32<<10 {
			return out.flush()
		}
		return nil
	})
	if err != nil || out.flush() != nil {
		st.done = true // the client left, or the store failed: it resumes
	}
	return st, nil
}

// serve sends the live events, channel messages and heartbeats until
// the client leaves, the credential fails, the subscriber falls behind
// or the server drains. The work of each case is in a method of its
// own, keeping this frame, which stays on the stack while the stream
// idles, small.
func (st *sseStream) serve() {
	beat := time.NewTicker(st.s.cfg.Realtime.Heartbeat)
	defer beat.Stop()
	check := time.NewTicker(st.s.cfg.Realtime.CheckEvery)
	defer check.Stop()
	for ok := true; ok; {
		select {
		case <-st.ctx.Done():
			return // the client left, or the server drains: it resumes elsewhere
		case <-beat.C:
			st.out.grow()
			st.out.buf = append(st.out.buf, ": ping\n\n"...)
		case <-check.C:
			ok = st.check()
		case m := <-st.chans.C():
			st.message(m)
		case <-st.sub.Ready():
			ok = st.deliver()
		}
		if st.out.flush() != nil {
			return
		}
	}
}

// check ends the stream (false) when its credential no longer holds,
// and takes it out of the channels it may no longer use.
func (st *sseStream) check() bool {
	if !st.s.live(st.ctx) {
		st.out.grow()
		st.out.buf = append(st.out.buf, "event: end\ndata: {\"reason\":\"credentials revoked\"}\n\n"...)
		return false
	}
	for _, l := range st.chans.recheck(st.ctx) {
		st.out.left(l)
	}
	return true
}

// message writes a channel message the stream may receive.
func (st *sseStream) message(m *realtime.Message) {
	ok, lost := st.chans.admit(st.ctx, m)
	if lost != nil {
		st.out.left(*lost)
	}
	if ok {
		st.out.message(m)
	}
}

// deliver writes everything waiting on the subscription, to go out in
// one write. false: the subscriber was cut off for falling behind (or
// the server is stopping), and the client reconnects with the last id
// it got.
func (st *sseStream) deliver() bool {
	events, open := st.sub.Take(st.spent)
	for _, e := range events {
		if e.Position > st.last {
			st.out.event(st.watches, e)
			st.last = e.Position
		}
	}
	clear(events) // an idle stream keeps no event alive
	st.spent = events
	return open
}

// catchUp replays the history after `after` to fn when the client
// resumes, and returns the position after which the live events on
// sub.C() continue the stream: those at or before it were replayed (or
// the client had them already).
func catchUp(ctx context.Context, sub *realtime.Sub, after int64, resume bool, fn func(*basalt.Event) error) (int64, error) {
	switch {
	case !resume:
		return sub.Start(), nil
	case after >= sub.Start():
		return after, nil
	}
	if err := sub.Replay(ctx, after, fn); err != nil {
		return 0, err
	}
	return sub.Start(), nil
}

// render appends e as the first of the watches that admits it renders it;
// ok is false when none does.
func render(watches []*records.Watch, e *basalt.Event, dst []byte) (out []byte, ok bool) {
	for _, w := range watches {
		if out, ok = w.Render(e, dst); ok {
			return out, true
		}
	}
	return dst, false
}

// sseWriter buffers SSE frames and writes them with a deadline. Its
// buffer comes from a pool when there is something to write and goes
// back after the write: ten thousand idle streams share a few buffers
// instead of holding one each.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	until   time.Time // the write deadline last set
	buf     []byte
}

// streamBuffers are the write buffers of the realtime streams (SSE and
// WebSocket) between writes.
var streamBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// grow makes sure the writer holds a buffer to append to.
func (o *sseWriter) grow() {
	if o.buf == nil {
		o.buf = (*streamBuffers.Get().(*[]byte))[:0]
	}
}

// event appends e as the first watch that admits it renders it.
func (o *sseWriter) event(watches []*records.Watch, e *basalt.Event) {
	o.grow()
	mark := len(o.buf)
	o.buf = append(o.buf, "id: "...)
	o.buf = strconv.AppendInt(o.buf, e.Position, 10)
	o.buf = append(o.buf, "\nevent: "...)
	o.buf = append(o.buf, e.Op...)
	o.buf = append(o.buf, "\ndata: "...)
	data, ok := render(watches, e, o.buf)
	if !ok {
		o.buf = o.buf[:mark]
		return
	}
	o.buf = append(data, "\n\n"...)
}

func (o *sseWriter) flush() error {
	if len(o.buf) == 0 {
		return nil
	}
	// Moving the deadline at every write cost a tenth of the server's time
	// with 10,000 streams (a timer change each): move it only once half
	// the timeout has passed, so a stuck client is cut off after half to
	// all of it.
	if now := time.Now(); o.until.Sub(now) < o.timeout/2 {
		o.until = now.Add(o.timeout)
		_ = o.rc.SetWriteDeadline(o.until)
	}
	_, err := o.w.Write(o.buf)
	// A burst (a replay, a lagging client) grows a buffer to hundreds of
	// KiB; pooled, that would stay for good.
	if cap(o.buf) <= 64<<10 {
		b := o.buf[:0]
		streamBuffers.Put(&b)
	}
	o.buf = nil
	if err == nil {
		err = o.rc.Flush()
	}
	return err
}
