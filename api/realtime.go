package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
			s.optional(h).ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			writeProblem(w, r, basalt.Errorf(basalt.CodeBadRequest, "Send a ticket or an Authorization header, not both."))
			return
		}
		p, err := s.d.Tickets.Redeem(r.Context(), t)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.principal, info.tenant = p.ID, p.TenantID
		}
		h.ServeHTTP(w, r.WithContext(basalt.NewContext(r.Context(), p)))
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
func (s *Server) handleSSE() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		q := r.URL.Query()
		st, err := s.startStream(r, q.Has("channel"))
		if err != nil {
			return err
		}
		defer st.release()
		watches, after, resume := st.watches, st.after, st.resume
		chans, err := s.sseChannels(ctx, q, len(watches))
		if err != nil {
			return err
		}
		defer chans.close(ctx)
		cfg := s.cfg.Realtime
		sub := s.d.Hub.Subscribe(interest(watches), cfg.Buffer)
		defer sub.Close()

		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // proxies: do not buffer the stream
		w.WriteHeader(http.StatusOK)
		out := &sseWriter{w: w, rc: rc, timeout: cfg.WriteTimeout}
		out.buf = append(out.buf, "retry: 2000\n\n"...)
		for _, j := range chans.joined {
			out.joined(j.access.Name, chans.Key(), j.presence)
		}
		if err := out.flush(); err != nil {
			return nil
		}

		last, err := catchUp(ctx, sub, after, resume, func(e *basalt.Event) error {
			out.event(watches, e)
			if len(out.buf) > 32<<10 {
				return out.flush()
			}
			return nil
		})
		if err != nil {
			return nil // the client left, or the store failed: it resumes
		}
		if err := out.flush(); err != nil {
			return nil
		}
		beat := time.NewTicker(cfg.Heartbeat)
		defer beat.Stop()
		check := time.NewTicker(cfg.CheckEvery)
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-s.drained:
				return nil // the client resumes on another server
			case <-beat.C:
				out.buf = append(out.buf, ": ping\n\n"...)
			case <-check.C:
				if !s.live(ctx) {
					out.buf = append(out.buf, "event: end\ndata: {\"reason\":\"credentials revoked\"}\n\n"...)
					out.flush()
					return nil
				}
				for _, l := range chans.recheck(ctx) {
					out.left(l)
				}
			case m := <-chans.C():
				ok, lost := chans.admit(ctx, m)
				if lost != nil {
					out.left(*lost)
				}
				if ok {
					out.message(m)
				}
			case e, ok := <-sub.C():
				if !ok {
					// Cut off for falling behind (or the server is stopping):
					// the client reconnects with the last id it got.
					return nil
				}
				for more := true; more; {
					if e.Position > last {
						out.event(watches, e)
						last = e.Position
					}
					// Flush a full buffer before taking the next event: one
					// taken here and left unwritten would be lost.
					if len(out.buf) > 32<<10 {
						break
					}
					select {
					case e, more = <-sub.C():
						if !more {
							out.flush()
							return nil
						}
					default:
						more = false
					}
				}
			}
			if err := out.flush(); err != nil {
				return nil
			}
		}
	})
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

// sseWriter buffers SSE frames and writes them with a deadline.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	until   time.Time // the write deadline last set
	buf     []byte
	scratch []byte
}

// event appends e as the first watch that admits it renders it.
func (o *sseWriter) event(watches []*records.Watch, e *basalt.Event) {
	data, ok := render(watches, e, o.scratch[:0])
	o.scratch = data
	if !ok {
		return
	}
	o.buf = append(o.buf, "id: "...)
	o.buf = strconv.AppendInt(o.buf, e.Position, 10)
	o.buf = append(o.buf, "\nevent: "...)
	o.buf = append(o.buf, e.Op...)
	o.buf = append(o.buf, "\ndata: "...)
	o.buf = append(o.buf, data...)
	o.buf = append(o.buf, "\n\n"...)
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
	o.buf = o.buf[:0]
	// A burst (a replay, a lagging client) grows the buffers to tens of
	// KiB; kept, that would stay with every stream that ever had one.
	if cap(o.buf) > 4<<10 {
		o.buf = nil
	}
	if cap(o.scratch) > 4<<10 {
		o.scratch = nil
	}
	if err == nil {
		err = o.rc.Flush()
	}
	return err
}
