package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/records"
	"github.com/coder/websocket"
)

// wsReadLimit caps a client message: subscriptions and a filter, never
// bulk data. A larger one closes the connection (1009).
const wsReadLimit = 64 << 10

// The reasons of an end message.
const (
	endRevoked  = "credentials revoked"
	endLagged   = "fell behind"
	endStopping = "server stopping"
)

// The messages of the protocol (docs/api.md, "Realtime over WebSocket").
type (
	// wsIn is a client message: subscribe, unsubscribe or ping. ID, if
	// given, comes back on the answer.
	wsIn struct {
		Type      string   `json:"type"`
		ID        string   `json:"id"`
		Subscribe []string `json:"subscribe"`
		Filter    string   `json:"filter"`
		After     *int64   `json:"after"`
		// join, leave and broadcast (realtime_ws_channels.go)
		Channel  string          `json:"channel"`
		Presence json.RawMessage `json:"presence"`
		Event    string          `json:"event"`
		Data     json.RawMessage `json:"data"`
	}
	// wsSubscribed answers subscribe and unsubscribe with every
	// subscription the connection now holds.
	wsSubscribed struct {
		Type      string   `json:"type"`
		ID        string   `json:"id,omitempty"`
		Subscribe []string `json:"subscribe"`
	}
	wsPong struct {
		Type string `json:"type"`
		ID   string `json:"id,omitempty"`
	}
	// wsError answers a refused message, as a problem would; the
	// connection stays open.
	wsError struct {
		Type   string              `json:"type"`
		ID     string              `json:"id,omitempty"`
		Status int                 `json:"status"`
		Code   basalt.Code         `json:"code"`
		Detail string              `json:"detail"`
		Errors []basalt.FieldError `json:"errors,omitempty"`
	}
	// wsEnd comes last before the server closes: resume after Position.
	wsEnd struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		Position int64  `json:"position"`
	}
)

// handleWS serves GET /api/realtime/ws: the realtime stream of the SSE
// route over a WebSocket, whose client changes its subscriptions on the
// open connection. Subscriptions in the URL and every refusal before the
// upgrade (a bad subscription, too many connections) are answered as
// problems, like the SSE route; after it, errors are messages.
func (s *Server) handleWS() http.Handler {
	opts := &websocket.AcceptOptions{OriginPatterns: s.cfg.CORSOrigins}
	// The library refuses a "*" pattern as too easy to write by mistake;
	// Basalt's CORS setting says "*" on purpose, and credentials are
	// bearer tokens and tickets, never cookies a foreign page could use.
	opts.InsecureSkipVerify = slices.Contains(s.cfg.CORSOrigins, "*")
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		st, err := s.startStream(r, true)
		if err != nil {
			return err
		}
		defer st.release()
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return nil // Accept has answered: not a WebSocket handshake, or a foreign Origin
		}
		c.SetReadLimit(wsReadLimit)
		wc := &wsConn{s: s, c: c, after: st.after, resume: st.resume, last: st.after, chans: s.newChannelSet(basalt.PrincipalFrom(r.Context()))}
		defer wc.chans.close(r.Context())
		if !st.resume {
			wc.last = s.d.Hub.Position()
		}
		wc.run(r.Context(), st.watches)
		return nil
	})
}

// wsConn is one WebSocket stream. Its goroutine alone owns the
// subscriptions and writes messages; a reader goroutine hands it the
// client's messages.
type wsConn struct {
	s       *Server
	c       *websocket.Conn
	watches []*records.Watch
	// sub follows the hub from the first subscription on: a resume
	// position applies to that one only, since positions on a connection
	// only increase (see subscribe).
	sub    *realtime.Sub
	after  int64 // the URL's resume position, for the first subscription
	resume bool
	// last is the position the stream has passed: every event at or
	// before it that the subscriptions admit was sent. It is the position
	// to resume after.
	last  int64
	out   []byte
	chans *channelSet // the channels it joined
}

// run serves the connection until the client leaves or the server ends
// it; watches are the URL's subscriptions.
func (wc *wsConn) run(ctx context.Context, watches []*records.Watch) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer wc.c.CloseNow()
	defer cancel()
	in := make(chan []byte)
	wg.Go(func() { wc.read(ctx, cancel, in) })
	defer func() {
		if wc.sub != nil {
			wc.sub.Close()
		}
	}()

	if len(watches) > 0 {
		if _, err := wc.subscribe(watches, nil); err != nil || wc.subscribed(ctx, "", true) != nil {
			return
		}
	}
	cfg := wc.s.cfg.Realtime
	beat := time.NewTicker(cfg.Heartbeat)
	defer beat.Stop()
	check := time.NewTicker(cfg.CheckEvery)
	defer check.Stop()
	var spent []*basalt.Event // the events last taken, handed back to the subscription
	for {
		var ready <-chan struct{} // nil, so never ready, before the first subscription
		if wc.sub != nil {
			ready = wc.sub.Ready()
		}
		var err error
		select {
		case <-ctx.Done():
			return
		case data := <-in:
			err = wc.handle(ctx, data)
		case <-beat.C:
			wg.Go(func() { wc.ping(ctx, cancel) })
		case <-wc.s.drain.Done():
			wc.end(ctx, endStopping, websocket.StatusGoingAway) // the client resumes on another server
			return
		case <-check.C:
			if !wc.s.live(ctx) {
				wc.end(ctx, endRevoked, websocket.StatusPolicyViolation)
				return
			}
			err = wc.recheckChannels(ctx)
		case msg := <-wc.chans.C():
			err = wc.channelDelivery(ctx, msg)
		case <-ready:
			var open bool
			spent, open = wc.sub.Take(spent)
			for _, e := range spent {
				if err == nil && e.Position > wc.last {
					err = wc.event(ctx, e)
					wc.last = e.Position
				}
			}
			clear(spent) // an idle stream keeps no event alive
			switch {
			case err != nil:
			case !open && wc.sub.Lagged():
				wc.end(ctx, endLagged, websocket.StatusTryAgainLater)
				return
			case !open:
				wc.end(ctx, endStopping, websocket.StatusGoingAway)
				return
			}
		}
		if err != nil {
			return // the write failed or timed out: the client is gone or too slow
		}
	}
}

// read hands the client's text messages to the stream; a binary one
// arrives as nil. It ends the connection when the client closes it or
// breaks the protocol (the library has answered with a close code).
func (wc *wsConn) read(ctx context.Context, cancel context.CancelFunc, in chan<- []byte) {
	defer cancel()
	for {
		typ, data, err := wc.c.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			data = nil
		}
		select {
		case in <- data:
		case <-ctx.Done():
			return
		}
	}
}

// ping ends the connection when the pong does not come back within a
// heartbeat: a peer that vanished without closing frees its slot. It
// waits apart from the stream, since the reader takes the pong.
func (wc *wsConn) ping(ctx context.Context, cancel context.CancelFunc) {
	ctx, stop := context.WithTimeout(ctx, wc.s.cfg.Realtime.Heartbeat)
	defer stop()
	if wc.c.Ping(ctx) != nil {
		cancel()
	}
}

// handle answers one client message; a refused one gets an error
// message. The error returned is a failed write or replay, which ends the
// stream.
func (wc *wsConn) handle(ctx context.Context, data []byte) error {
	var m wsIn
	var err error = basalt.Errorf(basalt.CodeBadRequest, "Send JSON text messages, not binary ones.")
	if data != nil {
		err = decodeStrict(data, &m)
	}
	first := false
	if err == nil {
		switch m.Type {
		case "subscribe":
			var watches []*records.Watch
			if watches, err = wc.s.parseSubscriptions(ctx, m.Subscribe, m.Filter); err == nil {
				first, err = wc.subscribe(watches, m.After)
			}
		case "unsubscribe":
			err = wc.unsubscribe(m.Subscribe)
		case "ping":
			return wc.send(ctx, wsPong{"pong", m.ID})
		case "join", "leave", "broadcast":
			return wc.channelMessage(ctx, &m)
		default:
			err = basalt.Invalid("Unknown message type.", basalt.FieldError{Field: "type", Code: "invalid",
				Message: "type must be subscribe, unsubscribe, ping, join, leave or broadcast"})
		}
	}
	if err != nil {
		return wc.refuse(ctx, m.ID, err)
	}
	return wc.subscribed(ctx, m.ID, first)
}

// subscribe adds watches, replacing those of the same names (a new
// filter); first reports that they are the connection's first, which
// start its hub subscription. Later ones change the interest of that
// subscription, so the events of the subscriptions that stay flow on
// without a gap or a repeat, and the new ones start live. A later after
// is refused: a new subscription's history would come after positions
// the connection has passed, and positions on a connection only increase.
func (wc *wsConn) subscribe(watches []*records.Watch, after *int64) (first bool, err error) {
	switch {
	case after != nil && wc.sub != nil:
		return false, basalt.Invalid("after resumes a connection: send it with the first subscription.", basalt.FieldError{Field: "after", Code: "too_late",
			Message: "this connection is already subscribed; open a new one to resume after a position"})
	case after != nil && *after < 0:
		return false, basalt.Invalid("Invalid position.", basalt.FieldError{Field: "after", Code: "invalid",
			Message: "the position to resume after must be a whole number ≥ 0"})
	}
	merged := slices.Clone(wc.watches)
	for _, w := range watches {
		if i := slices.IndexFunc(merged, func(x *records.Watch) bool { return watchName(x) == watchName(w) }); i >= 0 {
			merged[i] = w
		} else {
			merged = append(merged, w)
		}
	}
	if len(merged)+len(wc.chans.joined) > wc.s.cfg.Realtime.MaxSubscriptions {
		return false, wc.s.tooManySubscriptions()
	}
	wc.watches = merged
	if wc.sub != nil {
		wc.sub.SetInterest(interest(wc.watches))
		return false, nil
	}
	wc.sub = wc.s.d.Hub.Subscribe(interest(wc.watches), wc.s.cfg.Realtime.Buffer)
	if after != nil {
		wc.after, wc.resume = *after, true
	}
	return true, nil
}

// unsubscribe removes the named subscriptions; names it does not hold
// are ignored, so repeating one is harmless.
func (wc *wsConn) unsubscribe(names []string) error {
	if len(names) == 0 {
		return basalt.Invalid("Nothing to unsubscribe from.", basalt.FieldError{Field: "subscribe", Code: "required",
			Message: "name the subscriptions to end: subscribe: [\"posts\"]"})
	}
	wc.watches = slices.DeleteFunc(slices.Clone(wc.watches), func(w *records.Watch) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == watchName(w) })
	})
	if wc.sub != nil {
		wc.sub.SetInterest(interest(wc.watches))
	}
	return nil
}

// watchName is a subscription as the client names it: posts, comments/ID.
func watchName(w *records.Watch) string {
	if w.RecordID == "" {
		return w.Collection
	}
	return w.Collection + "/" + w.RecordID
}

// subscribed tells the client the subscriptions it now holds; after the
// first, it replays the history the client resumes from.
func (wc *wsConn) subscribed(ctx context.Context, id string, first bool) error {
	names := make([]string, len(wc.watches))
	for i, w := range wc.watches {
		names[i] = watchName(w)
	}
	if err := wc.send(ctx, wsSubscribed{"subscribed", id, names}); err != nil || !first {
		return err
	}
	last, err := catchUp(ctx, wc.sub, wc.after, wc.resume, func(e *basalt.Event) error { return wc.event(ctx, e) })
	if err == nil {
		wc.last = last
	}
	return err // the client left, or the store failed: it resumes
}

// event sends e as the subscriptions render it, if one admits it.
func (wc *wsConn) event(ctx context.Context, e *basalt.Event) error {
	bp := streamBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			streamBuffers.Put(bp)
		}
	}()
	// The rendered event {"position":...} follows {"type":"event" with
	// its brace turned into a comma.
	buf := append((*bp)[:0], `{"type":"event"`...)
	mark := len(buf)
	buf, ok := render(wc.watches, e, buf)
	*bp = buf[:0]
	if !ok {
		return nil
	}
	buf[mark] = ','
	return wc.write(ctx, buf)
}

// refuse answers a refused message as a problem would, without closing.
func (wc *wsConn) refuse(ctx context.Context, id string, err error) error {
	code := basalt.ErrorCode(err)
	status, ok := statusByCode[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		id := ""
		if info := infoFrom(ctx); info != nil {
			id = info.id
		}
		wc.s.d.Log.Error("realtime: websocket message", "request_id", id, "err", err)
	}
	m := wsError{Type: "error", ID: id, Status: status, Code: code, Detail: basalt.ErrorMessage(err)}
	var e *basalt.Error
	if errors.As(err, &e) {
		m.Errors = e.Fields
	}
	return wc.send(ctx, m)
}

// end tells the client why the server closes and where to resume, then
// closes.
func (wc *wsConn) end(ctx context.Context, reason string, code websocket.StatusCode) {
	if wc.send(ctx, wsEnd{"end", reason, wc.last}) == nil {
		wc.c.Close(code, reason)
	}
}

func (wc *wsConn) send(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return wc.write(ctx, data)
}

// write sends one message within the write timeout; a client that does
// not take it in time is cut off (the library closes the connection).
func (wc *wsConn) write(ctx context.Context, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, wc.s.cfg.Realtime.WriteTimeout)
	defer cancel()
	return wc.c.Write(ctx, websocket.MessageText, data)
}
