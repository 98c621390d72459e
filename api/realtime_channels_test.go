package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
	"basalt.dev/basalt/app"
	sse "github.com/tmaxmax/go-sse"
)

// Channels on both stores: broadcasts and presence between clients,
// admitted by the rules, scoped by tenant, never in the event log.

// chDocs: users see their own documents and those they are the reader
// of; a document's channel is its owner's and reader's room.
var chDocs = map[string]any{
	"name":   "docs",
	"fields": []map[string]any{{"name": "owner", "type": "text"}, {"name": "reader", "type": "text"}},
	"rules": map[string]any{"list": "owner = @auth.id", "view": "owner = @auth.id || reader = @auth.id",
		"create": "owner = @auth.id", "update": "owner = @auth.id"},
}

// chMessage is the data of a broadcast, presence, joined or left frame.
type chMessage struct {
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	From    struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
		Key  string `json:"key"`
	} `json:"from"`
	Op       string          `json:"op"`
	Key      string          `json:"key"`
	Kind     string          `json:"kind"`
	ID       string          `json:"id"`
	Meta     json.RawMessage `json:"meta"`
	Presence bool            `json:"presence"`
	Code     string          `json:"code"`
	Present  []struct {
		Key  string          `json:"key"`
		Kind string          `json:"kind"`
		ID   string          `json:"id"`
		Meta json.RawMessage `json:"meta"`
	} `json:"present"` // joined: who was there
}

// presentKeys are the connections a joined frame says were there.
func (m chMessage) presentKeys() []string {
	var keys []string
	for _, p := range m.Present {
		keys = append(keys, p.Key)
	}
	slices.Sort(keys)
	return keys
}

// chFrame is a frame of an SSE stream: its event type, the last event id
// (go-sse keeps it across frames without one, as EventSource does), its
// data, decoded as a channel message where it is one.
type chFrame struct {
	Type, LastID, Raw string
	chMessage
}

func (f chFrame) String() string { return f.Type + " " + f.Raw }

// chStream is an SSE connection read by go-sse, frame by frame.
type chStream struct {
	*rtStream
	frames chan chFrame
	joined []chFrame // the joined frames chOpen read
}

// chConnect opens path with go-sse as token.
func chConnect(t *testing.T, s *apitest.Server, path, token string) *chStream {
	t.Helper()
	frames := make(chan chFrame, 1000)
	st := rtOpen(t, s, path, rtOpts{token: token, frame: func(e sse.Event) {
		f := chFrame{Type: e.Type, LastID: e.LastEventID, Raw: e.Data}
		if err := json.Unmarshal([]byte(e.Data), &f.chMessage); err != nil {
			t.Errorf("frame data is not JSON: %v: %q", err, e.Data)
		}
		frames <- f
	}})
	return &chStream{rtStream: st, frames: frames}
}

// next returns the stream's next frame, which must be of type typ.
func (st *chStream) next(t *testing.T, typ string) chFrame {
	t.Helper()
	select {
	case f := <-st.frames:
		if f.Type != typ {
			t.Fatalf("frame = %s, want a %s frame", f, typ)
		}
		return f
	case <-st.done:
		t.Fatalf("the stream ended, waiting for a %s frame: %v", typ, st.err)
	case <-time.After(rtWait):
		t.Fatalf("no %s frame before the deadline", typ)
	}
	return chFrame{}
}

// chOpen joins channels over SSE as token, present with meta ("" for
// none), and returns the stream and its key from the joined frames.
func chOpen(t *testing.T, s *apitest.Server, token, channels, meta string) (*chStream, string) {
	t.Helper()
	path := "/api/realtime?channel=" + url.QueryEscape(channels)
	if meta != "" {
		path += "&presence=" + url.QueryEscape(meta)
	}
	st := chConnect(t, s, path, token)
	var key string
	for range strings.Split(channels, ",") {
		f := st.next(t, "joined")
		if key != "" && f.Key != key {
			t.Errorf("joined frames of one connection have keys %s and %s", key, f.Key)
		}
		key = f.Key
		st.joined = append(st.joined, f)
		if f.Presence != (meta != "") {
			t.Errorf("joined %s = %s, want presence %v", f.Channel, f, meta != "")
		}
	}
	return st, key
}

func chBroadcast(t *testing.T, s *apitest.Server, token, channel, event string, data any) *apitest.Response {
	t.Helper()
	return s.Do(t, apitest.Request{Method: "POST", Path: "/api/realtime/broadcast", Key: token,
		Body: map[string]any{"channel": channel, "event": event, "data": data}})
}

func mustBroadcast(t *testing.T, s *apitest.Server, token, channel, event string, data any) {
	t.Helper()
	if r := chBroadcast(t, s, token, channel, event, data); r.StatusCode != http.StatusAccepted {
		t.Fatalf("broadcast to %s = %d %s", channel, r.StatusCode, r.Body)
	}
}

// chPresence lists a channel's presence as token: "kind id meta" each.
func chPresence(t *testing.T, s *apitest.Server, token, channel string) []string {
	t.Helper()
	var out []string
	for _, it := range as(t, s, token, "GET", "/api/realtime/presence?channel="+url.QueryEscape(channel), nil, http.StatusOK)["items"].([]any) {
		e := it.(map[string]any)
		meta, _ := json.Marshal(e["meta"])
		if e["key"] == "" || e["since"] == nil {
			t.Errorf("presence entry %v lacks its key or since", e)
		}
		out = append(out, fmt.Sprintf("%s %s %s", e["kind"], e["id"], meta))
	}
	return out
}

func wantList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s =\n %q\nwant\n %q", what, got, want)
	}
}

func TestChannelBroadcastAndPresence(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", chDocs, http.StatusCreated)
		ada, bob, eve := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com"), signup(t, s, "eve@example.com")
		adaID, bobID := rtUserID(t, s, ada), rtUserID(t, s, bob)
		doc := rtCreate(t, s, ada, "docs", map[string]any{"owner": adaID, "reader": bobID})
		private := rtCreate(t, s, ada, "docs", map[string]any{"owner": adaID})
		room := "docs/" + doc
		before := len(rtLog(t, s, s.AdminKey, "docs"))

		// Ada and Bob join the shared document's room; each sees the
		// other arrive.
		adaSt, adaKey := chOpen(t, s, ada, room, `{"name":"Ada"}`)
		if f := adaSt.next(t, "presence"); f.Op != "join" || f.Key != adaKey || f.Kind != "user" || f.ID != adaID || string(f.Meta) != `{"name":"Ada"}` || f.Channel != room {
			t.Errorf("ada's own join = %s", f)
		}
		if got := adaSt.joined[0].presentKeys(); !slices.Equal(got, []string{adaKey}) {
			t.Errorf("ada's joined frame says %v were there, want herself alone", got)
		}
		bobSt, bobKey := chOpen(t, s, bob, room, `{"name":"Bob"}`)
		// Bob learns who was there as he joined, Ada with her meta.
		if got, want := bobSt.joined[0].presentKeys(), []string{adaKey, bobKey}; !slices.Equal(got, want) && !slices.Equal(got, []string{bobKey, adaKey}) {
			t.Errorf("bob's joined frame says %v were there, want %v", got, want)
		}
		for _, p := range bobSt.joined[0].Present {
			if p.Key == adaKey && (p.ID != adaID || p.Kind != "user" || string(p.Meta) != `{"name":"Ada"}`) {
				t.Errorf("bob's joined frame shows ada as %+v", p)
			}
		}
		if f := adaSt.next(t, "presence"); f.Op != "join" || f.Key != bobKey || f.ID != bobID || string(f.Meta) != `{"name":"Bob"}` {
			t.Errorf("ada sees bob join as %s", f)
		}
		if f := bobSt.next(t, "presence"); f.Op != "join" || f.Key != bobKey {
			t.Errorf("bob's own join = %s", f)
		}
		wantList(t, "the room's presence", chPresence(t, s, bob, room),
			`user `+adaID+` {"name":"Ada"}`, `user `+bobID+` {"name":"Bob"}`)

		// A broadcast reaches every member, the sender's own stream too.
		r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/realtime/broadcast", Key: bob,
			Body: `{"channel":"` + room + `","event":"cursor","data":{ "x": 1, "html": "<b>&</b>" }}`})
		if r.StatusCode != http.StatusAccepted {
			t.Fatalf("broadcast = %d %s", r.StatusCode, r.Body)
		}
		for who, st := range map[string]*chStream{"ada": adaSt, "bob": bobSt} {
			f := st.next(t, "broadcast")
			if f.LastID != "" || f.Channel != room || f.Event != "cursor" || string(f.Data) != `{"x":1,"html":"<b>&</b>"}` || f.From.Kind != "user" || f.From.ID != bobID {
				t.Errorf("%s received %s (id %q), want bob's cursor without an id", who, f, f.LastID)
			}
		}

		// Eve may not view the document: she cannot join, broadcast to or
		// list its room, as she could not read it.
		wantProblem(t, rtProbe(t, s, "/api/realtime?channel="+room, eve, nil), http.StatusNotFound, "not_found")
		wantProblem(t, chBroadcast(t, s, eve, room, "cursor", 1), http.StatusNotFound, "not_found")
		wantProblem(t, s.Do(t, apitest.Request{Method: "GET", Path: "/api/realtime/presence?channel=" + room, Key: eve}), http.StatusNotFound, "not_found")
		wantProblem(t, rtProbe(t, s, "/api/realtime?channel=docs/"+private, bob, nil), http.StatusNotFound, "not_found")
		// The collection's room: its list rule depends on each record.
		wantProblem(t, rtProbe(t, s, "/api/realtime?channel=docs", ada, nil), http.StatusForbidden, "forbidden")
		wantProblem(t, chBroadcast(t, s, "", room, "cursor", 1), http.StatusNotFound, "not_found")

		// Bob leaves: Ada sees it, and the list shows her alone.
		bobSt.cancel()
		if f := adaSt.next(t, "presence"); f.Op != "leave" || f.Key != bobKey || f.ID != bobID {
			t.Errorf("ada sees bob leave as %s", f)
		}
		wantList(t, "the room's presence after bob left", chPresence(t, s, ada, room), `user `+adaID+` {"name":"Ada"}`)

		// A member who loses the document loses its room: Ada takes it
		// from him, Bob's stream is told and leaves, Ada sees him go, and her
		// broadcast is his no more.
		bobSt, bobKey = chOpen(t, s, bob, room, `{}`)
		bobSt.next(t, "presence") // his join, seen by both
		adaSt.next(t, "presence")
		as(t, s, ada, "PATCH", "/api/collections/docs/records/"+doc, map[string]any{"reader": ""}, http.StatusOK)
		if f := bobSt.next(t, "left"); f.Channel != room || f.Code != "not_found" {
			t.Errorf("bob's stream once he is no longer the reader = %s, want left", f)
		}
		if f := adaSt.next(t, "presence"); f.Op != "leave" || f.Key != bobKey {
			t.Errorf("ada sees %s, want bob's leave", f)
		}
		mustBroadcast(t, s, ada, room, "note", "only ada")
		if f := adaSt.next(t, "broadcast"); string(f.Data) != `"only ada"` {
			t.Errorf("ada received %s", f)
		}

		// Nothing of this is in the event log.
		if got := len(rtLog(t, s, s.AdminKey, "docs")); got != before+1 { // the PATCH
			t.Errorf("the event log has %d events of docs, want %d: broadcasts and presence are not events", got, before+1)
		}
		page := as(t, s, s.AdminKey, "GET", "/api/events?after=0&limit=1000", nil, http.StatusOK)
		for _, it := range page["items"].([]any) {
			if c := it.(map[string]any)["collection"]; c != "docs" {
				t.Errorf("the event log holds %v", it)
			}
		}
	})
}

// TestChannelTenants checks that a channel is its tenant's: the same
// name in another tenant is another room.
func TestChannelTenants(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "rooms", "fields": []map[string]any{{"name": "title", "type": "text"}},
			"rules": map[string]any{"list": "", "view": "", "create": ""}}, http.StatusCreated)
		ada := signup(t, s, "ada@example.com")
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, http.StatusCreated)["id"].(string)
		adaAcme := switchTo(t, s, ada, acme)
		// The same record id in both tenants: rooms/lobby in each.
		rtCreate(t, s, ada, "rooms", map[string]any{"id": "lobby", "title": "default"})
		rtCreate(t, s, adaAcme, "rooms", map[string]any{"id": "lobby", "title": "acme"})

		inAcme, _ := chOpen(t, s, adaAcme, "rooms/lobby,rooms", `{"t":"acme"}`)
		inAcme.next(t, "presence")
		inAcme.next(t, "presence")
		inDefault, _ := chOpen(t, s, ada, "rooms/lobby,rooms", "")
		bobDefault, _ := chOpen(t, s, signup(t, s, "bob@example.com"), "rooms/lobby", `{"t":"default"}`)
		bobDefault.next(t, "presence")
		inDefault.next(t, "presence")
		mustBroadcast(t, s, ada, "rooms/lobby", "hello", "default")
		mustBroadcast(t, s, ada, "rooms", "hello", "default")
		mustBroadcast(t, s, s.AdminKey, "rooms/lobby", "hello", "key")
		mustBroadcast(t, s, adaAcme, "rooms/lobby", "hello", "acme")
		// Acme's stream gets Acme's broadcast first: nothing of the
		// default tenant came before it.
		if f := inAcme.next(t, "broadcast"); string(f.Data) != `"acme"` {
			t.Errorf("acme's stream received %s first, want acme's broadcast", f)
		}
		for _, want := range []string{`"default"`, `"default"`, `"key"`} {
			if f := inDefault.next(t, "broadcast"); string(f.Data) != want {
				t.Errorf("the default tenant's stream received %s, want %s", f, want)
			}
		}
		wantList(t, "acme's presence", chPresence(t, s, adaAcme, "rooms/lobby"), `user `+rtUserID(t, s, adaAcme)+` {"t":"acme"}`)
		if got := chPresence(t, s, ada, "rooms/lobby"); len(got) != 1 || !strings.HasSuffix(got[0], `{"t":"default"}`) {
			t.Errorf("the default tenant's presence = %q, want bob's alone", got)
		}
	})
}

func TestChannelRequests(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, func(c *app.Config) { c.RealtimeMaxSubscriptions = 2 })
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "rooms", "fields": []map[string]any{{"name": "title", "type": "text"}},
			"rules": map[string]any{"list": "", "view": ""}}, http.StatusCreated)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "closed", "fields": []map[string]any{{"name": "title", "type": "text"}}}, http.StatusCreated)
		user := signup(t, s, "ada@example.com")
		for _, c := range []struct {
			name, path string
			status     int
			code       string
		}{
			{"bad channel", "/api/realtime?channel=Rooms", 400, "validation"},
			{"bad record id", "/api/realtime?channel=rooms/a%20b", 400, "validation"},
			{"unknown collection", "/api/realtime?channel=nope", 404, "not_found"},
			{"closed collection", "/api/realtime?channel=closed", 403, "forbidden"},
			{"presence without a channel", "/api/realtime?subscribe=rooms&presence=%7B%7D", 400, "validation"},
			{"presence not an object", "/api/realtime?channel=rooms&presence=%5B%5D", 400, "validation"},
			{"presence not JSON", "/api/realtime?channel=rooms&presence=%7B", 400, "validation"},
			{"presence too large", "/api/realtime?channel=rooms&presence=" + url.QueryEscape(`{"x":"`+strings.Repeat("a", 1024)+`"}`), 400, "validation"},
			{"too many", "/api/realtime?subscribe=rooms,rooms/abc&channel=rooms", 400, "validation"},
			{"too many channels", "/api/realtime?channel=rooms,rooms/a,rooms/b", 400, "validation"},
			{"presence list without a channel", "/api/realtime/presence", 400, "validation"},
			{"presence list of a closed collection", "/api/realtime/presence?channel=closed", 403, "forbidden"},
		} {
			var r *apitest.Response
			if strings.HasPrefix(c.path, "/api/realtime?") {
				r = rtProbe(t, s, c.path, user, nil)
			} else {
				r = s.Do(t, apitest.Request{Method: "GET", Path: c.path, Key: user})
			}
			if r.StatusCode != c.status {
				t.Errorf("%s: GET %s = %d, want %d: %s", c.name, c.path, r.StatusCode, c.status, r.Body)
			} else if got := r.Code(t); got != c.code {
				t.Errorf("%s: code %s, want %s", c.name, got, c.code)
			}
		}

		for _, c := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"no channel", map[string]any{"event": "x", "data": 1}, 400, "validation"},
			{"no event", map[string]any{"channel": "rooms", "data": 1}, 400, "validation"},
			{"bad event", map[string]any{"channel": "rooms", "event": "a b", "data": 1}, 400, "validation"},
			{"long event", map[string]any{"channel": "rooms", "event": strings.Repeat("e", 65), "data": 1}, 400, "validation"},
			{"unknown key", map[string]any{"channel": "rooms", "event": "x", "date": 1}, 400, "validation"},
			{"data too large", map[string]any{"channel": "rooms", "event": "x", "data": strings.Repeat("a", 7<<10)}, 413, "too_large"},
			{"closed collection", map[string]any{"channel": "closed", "event": "x"}, 403, "forbidden"},
			{"not JSON", "{", 400, "validation"},
		} {
			r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/realtime/broadcast", Key: user, Body: c.body})
			if r.StatusCode != c.status {
				t.Errorf("%s: POST /api/realtime/broadcast = %d, want %d: %s", c.name, r.StatusCode, c.status, r.Body)
			} else if got := r.Code(t); got != c.code {
				t.Errorf("%s: code %s, want %s", c.name, got, c.code)
			}
		}
		// Data of up to 7 KiB of JSON, spaces aside, goes; no data is null.
		st, _ := chOpen(t, s, user, "rooms", "")
		big := strings.Repeat("a", 7<<10-2)
		r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/realtime/broadcast", Key: user,
			Body: `{"channel":"rooms","event":"big","data":   "` + big + `"  }`})
		if r.StatusCode != http.StatusAccepted {
			t.Fatalf("a broadcast of 7 KiB = %d %s", r.StatusCode, r.Body)
		}
		if f := st.next(t, "broadcast"); string(f.Data) != `"`+big+`"` {
			t.Errorf("the 7 KiB broadcast arrived as %d bytes", len(f.Data))
		}
		mustBroadcast(t, s, user, "rooms", "empty", nil)
		if f := st.next(t, "broadcast"); string(f.Data) != "null" || f.Event != "empty" {
			t.Errorf("a broadcast without data arrived as %s", f)
		}
	})
}

// TestChannelsWithRecords checks a stream with record subscriptions and
// channels at once: events keep their ids, channel frames have none, so
// the last event id (what a client resumes from) stays the last event's.
func TestChannelsWithRecords(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "rooms", "fields": []map[string]any{{"name": "title", "type": "text"}},
			"rules": map[string]any{"list": "", "view": ""}}, http.StatusCreated)
		st := chConnect(t, s, "/api/realtime?subscribe=items&channel=rooms", s.AdminKey)
		st.next(t, "joined")
		id := rtCreate(t, s, "", "items", map[string]any{"n": 1})
		e := st.next(t, "create")
		if !strings.Contains(e.Raw, id) || e.LastID == "" {
			t.Fatalf("first event = %s (id %q), want the create of %s", e, e.LastID, id)
		}
		mustBroadcast(t, s, s.AdminKey, "rooms", "x", 1)
		if f := st.next(t, "broadcast"); f.LastID != e.LastID {
			t.Errorf("a broadcast after event %s has the last event id %q", e.LastID, f.LastID)
		}
		id2 := rtCreate(t, s, "", "items", map[string]any{"n": 2})
		if e2 := st.next(t, "create"); !strings.Contains(e2.Raw, id2) || e2.LastID <= e.LastID {
			t.Errorf("next event = %s (id %s), want the create of %s", e2, e2.LastID, id2)
		}
	})
}

// chPoll waits for cond, as rtPoll, with a shorter deadline for what
// must happen within a presence TTL.
func chPoll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChannelsAcrossNodes runs two servers on one PostgreSQL database:
// broadcasts and presence reach the members on both, once each, and a
// server that shuts down takes its members' presence with it.
func TestChannelsAcrossNodes(t *testing.T) {
	t.Parallel()
	cfg := apitest.Config(t, apitest.Postgres)
	cfg.RealtimeAuthCheck = 20 * time.Millisecond
	a := apitest.StartConfig(t, cfg)
	b := apitest.StartConfig(t, cfg)
	a.Admin(t, "POST", "/api/collections", chDocs, http.StatusCreated)
	ada, bob := signup(t, a, "ada@example.com"), signup(t, b, "bob@example.com")
	adaID, bobID := rtUserID(t, b, ada), rtUserID(t, a, bob)
	rtPoll(t, "node b to know docs", func() bool {
		return b.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/docs/records", Key: bob}).StatusCode == http.StatusOK
	})
	doc := rtCreate(t, a, ada, "docs", map[string]any{"owner": adaID, "reader": bobID})
	room := "docs/" + doc

	adaSt, adaKey := chOpen(t, a, ada, room, `{"node":"a"}`)
	adaSt.next(t, "presence") // her own join
	bobSt, bobKey := chOpen(t, b, bob, room, `{"node":"b"}`)
	if f := adaSt.next(t, "presence"); f.Op != "join" || f.Key != bobKey || f.ID != bobID {
		t.Errorf("ada, on node a, sees %s; want bob's join on node b", f)
	}
	bobSt.next(t, "presence")
	for _, s := range []*apitest.Server{a, b} {
		wantList(t, "the presence on "+s.URL, chPresence(t, s, ada, room), `user `+adaID+` {"node":"a"}`, `user `+bobID+` {"node":"b"}`)
	}

	// Broadcasts through either node reach both members, in order, once:
	// a repeat would show as the next frame.
	for i, via := range []*apitest.Server{a, b, a, b} {
		mustBroadcast(t, via, bob, room, "n", i)
	}
	for who, st := range map[string]*chStream{"ada": adaSt, "bob": bobSt} {
		for i := range 4 {
			if f := st.next(t, "broadcast"); string(f.Data) != fmt.Sprint(i) || f.From.ID != bobID {
				t.Errorf("%s's broadcast %d = %s", who, i, f)
			}
		}
	}
	mustBroadcast(t, b, ada, room, "marker", "end")
	for who, st := range map[string]*chStream{"ada": adaSt, "bob": bobSt} {
		if f := st.next(t, "broadcast"); f.Event != "marker" {
			t.Errorf("%s got %s, want the marker next", who, f)
		}
	}

	// Node a shuts down: ada's stream ends, and node b tells bob she left.
	a.Close()
	if f := bobSt.next(t, "presence"); f.Op != "leave" || f.Key != adaKey {
		t.Errorf("bob sees %s, want ada's leave", f)
	}
	wantList(t, "the presence once node a is gone", chPresence(t, b, bob, room), `user `+bobID+` {"node":"b"}`)
}

// TestChannelsWebSocket checks channels over WebSocket: join with
// presence, broadcast (not echoed to the sender), leave, refusals as
// error messages, and a channel lost when the record changes.
func TestChannelsWebSocket(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, func(c *app.Config) { c.RealtimeMaxSubscriptions = 2 })
		s.Admin(t, "POST", "/api/collections", chDocs, http.StatusCreated)
		ada, bob, eve := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com"), signup(t, s, "eve@example.com")
		adaID, bobID := rtUserID(t, s, ada), rtUserID(t, s, bob)
		doc := rtCreate(t, s, ada, "docs", map[string]any{"owner": adaID, "reader": bobID})
		room := "docs/" + doc

		adaWS := wsDial(t, s, ada, "")
		adaWS.send(map[string]any{"type": "join", "id": "j1", "channel": room, "presence": map[string]any{"name": "Ada"}})
		j := adaWS.next("joined")
		adaKey, _ := j["key"].(string)
		if j["id"] != "j1" || j["channel"] != room || adaKey == "" || j["presence"] != true {
			t.Fatalf("joined = %v", j)
		}
		if p, _ := j["present"].([]any); len(p) != 1 || p[0].(map[string]any)["key"] != adaKey {
			t.Errorf("ada's joined says %v were there, want herself alone", j["present"])
		}
		if p := adaWS.next("presence"); p["op"] != "join" || p["key"] != adaKey || p["id"] != adaID {
			t.Errorf("ada's own join = %v", p)
		}
		bobSt, bobKey := chOpen(t, s, bob, room, `{"name":"Bob"}`)
		bobSt.next(t, "presence")
		if p := adaWS.next("presence"); p["op"] != "join" || p["key"] != bobKey {
			t.Errorf("ada sees %v, want bob's join", p)
		}

		// Ada's broadcast reaches Bob with her connection's key; hers does
		// not come back to her, Bob's does reach her.
		adaWS.send(map[string]any{"type": "broadcast", "id": "b1", "channel": room, "event": "cursor", "data": map[string]any{"x": 1}})
		adaWS.next("sent")
		if f := bobSt.next(t, "broadcast"); f.Event != "cursor" || string(f.Data) != `{"x":1}` || f.From.ID != adaID || f.From.Key != adaKey || f.From.Kind != "user" {
			t.Errorf("bob received %s", f)
		}
		adaWS.send(map[string]any{"type": "broadcast", "channel": room, "event": "quiet", "data": 2}) // no id: no answer
		mustBroadcast(t, s, bob, room, "reply", "hi")
		if m := adaWS.next("broadcast"); m["event"] != "reply" || m["channel"] != room || m["data"] != "hi" {
			t.Errorf("ada's next message = %v, want bob's reply (not her own broadcast)", m)
		}
		// Bob's stream gets both, in whichever order ada's connection and
		// his request published them: once it has, no later member of
		// the room can get the quiet one.
		var got []string
		for range 2 {
			got = append(got, bobSt.next(t, "broadcast").Event)
		}
		if slices.Sort(got); !slices.Equal(got, []string{"quiet", "reply"}) {
			t.Errorf("bob's stream got %v, want ada's quiet broadcast and his own reply", got)
		}

		// Refusals are error messages; the connection stays.
		eveWS := wsDial(t, s, eve, "")
		for _, c := range []struct {
			msg    map[string]any
			status float64
			code   string
		}{
			{map[string]any{"type": "join", "channel": room}, 404, "not_found"},
			{map[string]any{"type": "join", "channel": "docs"}, 403, "forbidden"},
			{map[string]any{"type": "join"}, 400, "validation"},
			{map[string]any{"type": "join", "channel": room, "presence": []any{}}, 400, "validation"},
			{map[string]any{"type": "broadcast", "channel": room, "event": "x"}, 400, "validation"},
		} {
			c.msg["id"] = "e"
			eveWS.send(c.msg)
			if m := eveWS.next("error"); m["status"] != c.status || m["code"] != c.code || m["id"] != "e" {
				t.Errorf("%v answered %v, want %v %s", c.msg, m, c.status, c.code)
			}
		}
		adaWS.send(map[string]any{"type": "broadcast", "id": "big", "channel": room, "event": "x", "data": strings.Repeat("a", 7<<10)})
		if m := adaWS.next("error"); m["status"] != 413.0 {
			t.Errorf("a broadcast of more than 7 KiB answered %v", m)
		}
		// Channels count toward --realtime-max-subscriptions (2 here).
		adaWS.send(map[string]any{"type": "subscribe", "subscribe": []string{"docs/a", "docs/b"}, "id": "s"})
		if m := adaWS.next("error"); m["code"] != "validation" {
			t.Errorf("a channel and two subscriptions answered %v, want too many", m)
		}

		// Bob loses the document: his connection is told and leaves the
		// room, which Ada sees.
		bobWS := wsDial(t, s, bob, "")
		bobWS.send(map[string]any{"type": "join", "channel": room, "presence": nil})
		j = bobWS.next("joined")
		if j["presence"] != false {
			t.Errorf("a join with null presence = %v", j)
		}
		// He is not present, but learns who is: Ada's WebSocket and his
		// own SSE stream.
		var there []string
		for _, p := range j["present"].([]any) {
			there = append(there, p.(map[string]any)["key"].(string))
		}
		slices.Sort(there)
		if want := []string{adaKey, bobKey}; !slices.Equal(there, want) && !slices.Equal(there, []string{bobKey, adaKey}) {
			t.Errorf("bob's WebSocket joined says %v were there, want %v", there, want)
		}
		as(t, s, ada, "PATCH", "/api/collections/docs/records/"+doc, map[string]any{"reader": ""}, http.StatusOK)
		for {
			// His SSE stream's leave may come first: both lose the room.
			m, err := bobWS.read()
			if err != nil {
				t.Fatal(err)
			}
			if m["type"] == "presence" && m["op"] == "leave" && m["key"] == bobKey {
				continue
			}
			if m["type"] != "left" || m["channel"] != room || m["code"] != "not_found" || m["status"] != 404.0 {
				t.Errorf("bob's connection once he is not the reader = %v", m)
			}
			break
		}
		if m := adaWS.next("presence"); m["op"] != "leave" || m["key"] != bobKey {
			t.Errorf("ada sees %v, want bob's SSE stream leave", m)
		}

		// Ada leaves.
		adaWS.send(map[string]any{"type": "leave", "id": "l", "channel": room})
		if m := adaWS.next("left"); m["id"] != "l" || m["channel"] != room || m["code"] != nil {
			t.Errorf("leave answered %v", m)
		}
		if got := chPresence(t, s, ada, room); len(got) != 0 {
			t.Errorf("presence after everyone left = %q", got)
		}
	})
}
