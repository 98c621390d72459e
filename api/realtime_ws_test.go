package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
	"basalt.dev/basalt/app"
	"github.com/coder/websocket"
)

// wsClient is a test's WebSocket connection to /api/realtime/ws.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

// wsURL is the WebSocket address of path on s.
func wsURL(s *apitest.Server, path string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + path
}

// wsDialHeader opens /api/realtime/ws?query with the headers; it returns
// the handshake's response, and the connection when it upgraded.
func wsDialHeader(t *testing.T, s *apitest.Server, query string, h http.Header) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL(s, "/api/realtime/ws?"+query), &websocket.DialOptions{HTTPClient: s.Client, HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20) // events may be larger than the library's default
	return &wsClient{t: t, c: c}, resp, nil
}

// wsDial opens /api/realtime/ws?query as token ("" for anonymous).
func wsDial(t *testing.T, s *apitest.Server, token, query string) *wsClient {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	ws, resp, err := wsDialHeader(t, s, query, h)
	if err != nil {
		t.Fatalf("dial /api/realtime/ws?%s: %v (%v)", query, err, resp)
	}
	return ws
}

func (ws *wsClient) send(msg any) {
	ws.t.Helper()
	data, err := json.Marshal(msg)
	if err != nil {
		ws.t.Fatal(err)
	}
	ws.sendRaw(websocket.MessageText, data)
}

func (ws *wsClient) sendRaw(typ websocket.MessageType, data []byte) {
	ws.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.c.Write(ctx, typ, data); err != nil {
		ws.t.Fatalf("write %s: %v", data, err)
	}
}

// read returns the next message, or the error that ended the connection.
func (ws *wsClient) read() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, data, err := ws.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("message is not a JSON object: %w: %s", err, data)
	}
	return m, nil
}

// next returns the next message, which must be of type typ.
func (ws *wsClient) next(typ string) map[string]any {
	ws.t.Helper()
	m, err := ws.read()
	if err != nil {
		ws.t.Fatalf("read, waiting for a %s message: %v", typ, err)
	}
	if m["type"] != typ {
		ws.t.Fatalf("message = %v, want type %s", m, typ)
	}
	return m
}

// subscribe sends a subscribe message and returns the subscriptions the
// server answers with.
func (ws *wsClient) subscribe(msg map[string]any) []any {
	ws.t.Helper()
	msg["type"] = "subscribe"
	ws.send(msg)
	return ws.next("subscribed")["subscribe"].([]any)
}

// wsTitle is the title of an event's record.
func wsTitle(e map[string]any) string {
	r, _ := e["record"].(map[string]any)
	s, _ := r["title"].(string)
	return s
}

// wsPosition is an event's (or end message's) position.
func wsPosition(m map[string]any) int64 {
	p, _ := m["position"].(float64)
	return int64(p)
}

// wantTitles reads events until it has len(want), failing unless their
// titles are want in order and their positions increase.
func (ws *wsClient) wantTitles(want ...string) []map[string]any {
	ws.t.Helper()
	var got []map[string]any
	var last int64
	for range want {
		e := ws.next("event")
		if wsPosition(e) <= last {
			ws.t.Fatalf("event at %d after one at %d: positions must increase", wsPosition(e), last)
		}
		last = wsPosition(e)
		got = append(got, e)
	}
	for i, e := range got {
		if wsTitle(e) != want[i] {
			ws.t.Fatalf("event titles = %v, want %v", wsTitles(got), want)
		}
	}
	return got
}

func wsTitles(events []map[string]any) []string {
	var out []string
	for _, e := range events {
		out = append(out, wsTitle(e))
	}
	return out
}

// wsSetup starts a server on driver d with the posts collection and no
// record: a record written just before a subscription may still reach it
// live (the hub had not handed it out yet), which would muddle a test.
func wsSetup(t *testing.T, d apitest.Driver, edit func(*app.Config)) *apitest.Server {
	t.Helper()
	s := rtServer(t, d, edit)
	s.Admin(t, "POST", "/api/collections", postsCollection, http.StatusCreated)
	return s
}

// wsPost creates a post with title as the admin key.
func wsPost(t *testing.T, s *apitest.Server, title string) string {
	t.Helper()
	return s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": title}, 201)["id"].(string)
}

func TestWSEventsInOrder(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, nil)
		ws := wsDial(t, s, s.AdminKey, "")
		if got := ws.subscribe(map[string]any{"id": "s1", "subscribe": []string{"posts"}}); fmt.Sprint(got) != "[posts]" {
			t.Fatalf("subscribed = %v, want [posts]", got)
		}
		var ids []string
		for i := range 5 {
			ids = append(ids, wsPost(t, s, fmt.Sprint("p", i)))
		}
		events := ws.wantTitles("p0", "p1", "p2", "p3", "p4")
		for i, e := range events {
			r := e["record"].(map[string]any)
			if e["op"] != "create" || e["collection"] != "posts" || r["id"] != ids[i] || e["time"] == nil {
				t.Errorf("event %d = %v, want the create of %s", i, e, ids[i])
			}
		}
		s.Admin(t, "PATCH", "/api/collections/posts/records/"+ids[0], map[string]any{"title": "p0 again"}, 200)
		s.Admin(t, "DELETE", "/api/collections/posts/records/"+ids[1], nil, 204)
		if e := ws.next("event"); e["op"] != "update" || wsTitle(e) != "p0 again" {
			t.Errorf("after an update: %v", e)
		}
		if e := ws.next("event"); e["op"] != "delete" || e["record"].(map[string]any)["id"] != ids[1] {
			t.Errorf("after a delete: %v", e)
		}
		ws.send(map[string]any{"type": "ping", "id": "p"})
		if m := ws.next("pong"); m["id"] != "p" {
			t.Errorf("pong = %v, want the ping's id", m)
		}
	})
}

func TestWSResume(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, nil)
		ws := wsDial(t, s, s.AdminKey, "subscribe=posts")
		ws.next("subscribed")
		wsPost(t, s, "a")
		wsPost(t, s, "b")
		got := ws.wantTitles("a", "b")
		ws.c.Close(websocket.StatusNormalClosure, "")
		wsPost(t, s, "c") // while away
		after := wsPosition(got[0])

		// after in the URL: the history after it, then live, once each.
		ws = wsDial(t, s, s.AdminKey, fmt.Sprintf("after=%d", after))
		ws.subscribe(map[string]any{"subscribe": []string{"posts"}})
		ws.wantTitles("b", "c")
		wsPost(t, s, "d")
		ws.wantTitles("d")

		// after in the first subscribe message; a later one is refused.
		ws = wsDial(t, s, s.AdminKey, "")
		ws.subscribe(map[string]any{"subscribe": []string{"posts"}, "after": after})
		ws.wantTitles("b", "c", "d")
		ws.send(map[string]any{"type": "subscribe", "subscribe": []string{"posts"}, "after": 0})
		if m := ws.next("error"); m["status"] != 400.0 || !strings.Contains(fmt.Sprint(m["errors"]), "after") {
			t.Errorf("a later after = %v, want a 400 naming after", m)
		}
		wsPost(t, s, "e")
		ws.wantTitles("e")

		r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/realtime/ws?subscribe=posts&after=-1", Key: s.AdminKey})
		if r.StatusCode != 400 || r.Code(t) != "validation" {
			t.Errorf("after=-1 = %d %s, want a 400 problem", r.StatusCode, r.Body)
		}
	})
}

// TestWSChangeSubscriptions changes the subscriptions of an open socket
// while posts are written: the posts subscription, which stays, must see
// every post once and in order.
func TestWSChangeSubscriptions(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, nil)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "comments", "fields": []map[string]any{{"name": "title", "type": "text"}}}, 201)
		ws := wsDial(t, s, s.AdminKey, "")
		ws.subscribe(map[string]any{"subscribe": []string{"posts"}})

		const n = 30
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range n {
				wsPost(t, s, fmt.Sprint("p", i))
			}
		})
		var want []string
		for i := range n {
			want = append(want, fmt.Sprint("p", i))
		}
		seen := 0
		var comments []string
		// Change the subscriptions, read up to the answer, and again, until
		// every post has come and each change was made a few times.
		for step := 0; seen < n || step < 9; step++ {
			switch step % 3 {
			case 0:
				ws.send(map[string]any{"type": "subscribe", "subscribe": []string{"comments"}})
			case 1:
				ws.send(map[string]any{"type": "unsubscribe", "subscribe": []string{"comments", "nothing"}})
			case 2:
				ws.send(map[string]any{"type": "subscribe", "subscribe": []string{"posts/first"}})
			}
			for done := false; !done; {
				m, err := ws.read()
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				switch m["type"] {
				case "subscribed":
					done = true
				case "event":
					if m["collection"] != "posts" {
						comments = append(comments, wsTitle(m))
						continue
					}
					if seen == n || wsTitle(m) != want[seen] {
						t.Fatalf("event %d = %q, want %v in order: no gap, no repeat", seen, wsTitle(m), want)
					}
					seen++
				default:
					t.Fatalf("unexpected message %v", m)
				}
			}
		}
		wg.Wait()
		if len(comments) != 0 {
			t.Errorf("comment events %v, but none was written", comments)
		}

		// A new subscription starts live; one that ends stops.
		ws.send(map[string]any{"type": "unsubscribe", "subscribe": []string{"posts/first"}})
		ws.next("subscribed")
		if got := ws.subscribe(map[string]any{"subscribe": []string{"comments"}}); fmt.Sprint(got) != "[posts comments]" {
			t.Errorf("subscribed = %v, want [posts comments]", got)
		}
		s.Admin(t, "POST", "/api/collections/comments/records", map[string]any{"title": "c1"}, 201)
		wsPost(t, s, "p-last")
		ws.wantTitles("c1", "p-last")
		ws.send(map[string]any{"type": "unsubscribe", "subscribe": []string{"comments"}})
		if got := ws.next("subscribed")["subscribe"]; fmt.Sprint(got) != "[posts]" {
			t.Errorf("after unsubscribe: %v", got)
		}
		s.Admin(t, "POST", "/api/collections/comments/records", map[string]any{"title": "c2"}, 201)
		wsPost(t, s, "p-after")
		ws.wantTitles("p-after") // and not c2, written before it

		// A filter for a name already held replaces its filter.
		ws.subscribe(map[string]any{"subscribe": []string{"posts"}, "filter": `title ~ "keep"`})
		wsPost(t, s, "drop me")
		wsPost(t, s, "keep me")
		ws.wantTitles("keep me")
	})
}

// wsNotes: users list, read, write and follow only their own notes, and
// never see the secret.
var wsNotes = map[string]any{"name": "notes", "fields": []map[string]any{
	{"name": "owner", "type": "text"}, {"name": "title", "type": "text"}, {"name": "secret", "type": "text", "hidden": true}},
	"rules": map[string]any{"list": "owner = @auth.id", "view": "owner = @auth.id", "create": "owner = @auth.id", "update": "owner = @auth.id"}}

// TestWSRulesAndTenants checks that each subscriber sees only what the
// collection's rules let it see in its tenant, without hidden fields.
func TestWSRulesAndTenants(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		s.Admin(t, "POST", "/api/collections", wsNotes, 201)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "posts", "fields": []map[string]any{{"name": "title", "type": "text"}},
			"rules": map[string]any{"list": "", "view": "", "create": ""}}, 201)
		ada, bob := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com")
		adaID := as(t, s, ada, "GET", "/api/auth/me", nil, 200)["id"].(string)
		bobID := as(t, s, bob, "GET", "/api/auth/me", nil, 200)["id"].(string)
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, 201)["id"].(string)
		adaAcme := switchTo(t, s, ada, acme)

		// Bob comes in with a one-use ticket, as a browser would.
		ticket := as(t, s, bob, "POST", "/api/realtime/tickets", nil, 201)["ticket"].(string)
		bobWS, _, err := wsDialHeader(t, s, "ticket="+ticket+"&subscribe=notes,posts", nil)
		if err != nil {
			t.Fatalf("dial with a ticket: %v", err)
		}
		bobWS.next("subscribed")
		if _, resp, err := wsDialHeader(t, s, "ticket="+ticket+"&subscribe=notes", nil); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("a ticket used twice: %v %v, want 401", resp, err)
		}
		adaWS := wsDial(t, s, ada, "subscribe=notes,posts")
		adaWS.next("subscribed")
		acmeWS := wsDial(t, s, adaAcme, "subscribe=posts")
		acmeWS.next("subscribed")
		anonWS := wsDial(t, s, "", "subscribe=notes,posts")
		anonWS.next("subscribed")

		note := as(t, s, ada, "POST", "/api/collections/notes/records", map[string]any{"owner": adaID, "title": "ada's"}, 201)["id"].(string)
		s.Admin(t, "PATCH", "/api/collections/notes/records/"+note, map[string]any{"secret": "s3cret"}, 200)
		bobRecord := wsDial(t, s, bob, "subscribe=notes/"+note) // allowed, but the view rule hides every event
		bobRecord.next("subscribed")
		as(t, s, adaAcme, "POST", "/api/collections/posts/records", map[string]any{"title": "acme's"}, 201)
		as(t, s, bob, "POST", "/api/collections/notes/records", map[string]any{"owner": bobID, "title": "bob's"}, 201)
		as(t, s, ada, "PATCH", "/api/collections/notes/records/"+note, map[string]any{"title": "ada's again"}, 200)
		wsPost(t, s, "default's")

		got := adaWS.wantTitles("ada's", "ada's", "ada's again", "default's")
		for _, e := range got[:3] {
			if r := e["record"].(map[string]any); r["secret"] != nil || r["owner"] != adaID {
				t.Errorf("ada's event %v: hidden fields must stay hidden", e)
			}
		}
		bobWS.wantTitles("bob's", "default's")
		acmeWS.wantTitles("acme's")
		anonWS.wantTitles("default's")
		// Last on bob's record subscription, so that nothing was before it.
		as(t, s, bob, "PATCH", "/api/collections/notes/records/"+note, map[string]any{"title": "bob's now"}, 404)
		s.Admin(t, "PATCH", "/api/collections/notes/records/"+note, map[string]any{"owner": bobID, "title": "given to bob"}, 200)
		bobRecord.wantTitles("given to bob")

		// A rule that refuses the caller refuses the subscription.
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "locked", "fields": []map[string]any{{"name": "title", "type": "text"}}}, 201)
		adaWS.send(map[string]any{"type": "subscribe", "subscribe": []string{"locked"}})
		if m := adaWS.next("error"); m["status"] != 403.0 || m["code"] != "forbidden" {
			t.Errorf("subscribe to a collection without a list rule = %v, want 403", m)
		}
	})
}

// TestWSErrors checks that a refused message is answered with an error
// message and leaves the connection open, and that refusals before the
// upgrade are problems.
func TestWSErrors(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, nil)
		ws := wsDial(t, s, s.AdminKey, "")
		many := make([]string, 33)
		for i := range many {
			many[i] = fmt.Sprint("posts/r", i)
		}
		for _, c := range []struct {
			name   string
			msg    string
			binary bool
			status float64
			code   string
			field  string
		}{
			{name: "not JSON", msg: `{"type":`, status: 400, code: "validation"},
			{name: "binary", msg: `{"type":"ping"}`, binary: true, status: 400, code: "bad_request"},
			{name: "unknown type", msg: `{"type":"shout"}`, status: 400, code: "validation", field: "type"},
			{name: "unknown key", msg: `{"type":"ping","loud":true}`, status: 400, code: "validation", field: "loud"},
			{name: "no subscriptions", msg: `{"type":"subscribe","subscribe":[]}`, status: 400, code: "validation", field: "subscribe"},
			{name: "unknown collection", msg: `{"type":"subscribe","subscribe":["nope"]}`, status: 404, code: "not_found"},
			{name: "bad record id", msg: `{"type":"subscribe","subscribe":["posts/../x"]}`, status: 400, code: "validation", field: "subscribe"},
			{name: "bad filter", msg: `{"type":"subscribe","subscribe":["posts"],"filter":"titel = 1"}`, status: 400, code: "validation"},
			{name: "negative after", msg: `{"type":"subscribe","subscribe":["posts"],"after":-1}`, status: 400, code: "validation", field: "after"},
			{name: "too many", msg: `{"type":"subscribe","subscribe":["` + strings.Join(many, `","`) + `"]}`, status: 400, code: "validation", field: "subscribe"},
			{name: "nothing to unsubscribe", msg: `{"type":"unsubscribe"}`, status: 400, code: "validation", field: "subscribe"},
		} {
			typ := websocket.MessageText
			if c.binary {
				typ = websocket.MessageBinary
			}
			ws.sendRaw(typ, []byte(c.msg))
			m := ws.next("error")
			if m["status"] != c.status || m["code"] != c.code || m["detail"] == "" ||
				(c.field != "" && !strings.Contains(fmt.Sprint(m["errors"]), "field:"+c.field)) {
				t.Errorf("%s: %v, want %v %s naming %q", c.name, m, c.status, c.code, c.field)
			}
		}
		// Still open, and nothing was subscribed by the refused messages.
		ws.send(map[string]any{"type": "unsubscribe", "subscribe": []string{"posts"}, "id": "u"})
		if m := ws.next("subscribed"); m["id"] != "u" || len(m["subscribe"].([]any)) != 0 {
			t.Errorf("after the errors: %v, want no subscriptions", m)
		}
		// The total counts: 32 at most per connection.
		ws.subscribe(map[string]any{"subscribe": many[:32]})
		ws.send(map[string]any{"type": "subscribe", "subscribe": []string{"posts"}})
		if m := ws.next("error"); !strings.Contains(fmt.Sprint(m["errors"]), "too_many") {
			t.Errorf("a 33rd subscription: %v, want too_many", m)
		}

		// A message over the read limit closes the connection.
		ws.sendRaw(websocket.MessageText, []byte(`{"type":"ping","id":"`+strings.Repeat("x", 70<<10)+`"}`))
		// The server's close can overtake the rest of the message, which
		// the server never reads: then the client sees a reset.
		if _, err := ws.read(); websocket.CloseStatus(err) != websocket.StatusMessageTooBig && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("after a 70 KiB message: %v, want close 1009", err)
		}

		// Before the upgrade, refusals are problems.
		for _, c := range []struct {
			query  string
			key    string
			status int
		}{
			{"subscribe=nope", s.AdminKey, 404},
			{"subscribe=posts&filter=" + q("titel = 1"), s.AdminKey, 400},
			{"subscribe=posts&after=x", s.AdminKey, 400},
			{"subscribe=posts", "bsk_aaaaaaaaaaaaaaaa_notthesecret", 401},
			{"subscribe=posts&ticket=bst_nope", "", 401},
		} {
			h := http.Header{}
			if c.key != "" {
				h.Set("Authorization", "Bearer "+c.key)
			}
			_, resp, err := wsDialHeader(t, s, c.query, h)
			if err == nil || resp == nil || resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("dial ?%s: %v %v, want a %d problem", c.query, resp, err, c.status)
			}
		}
	})
}

// TestWSBadFirstMessage: a connection whose first message is wrong gets
// an error and can still subscribe.
func TestWSBadFirstMessage(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, nil)
		for i, first := range []string{`hello`, `{"subscribe":["posts"]}`, `{"type":"unsubscribe","subscribe":["posts"],"filter":1}`} {
			ws := wsDial(t, s, s.AdminKey, "")
			ws.sendRaw(websocket.MessageText, []byte(first))
			if m := ws.next("error"); m["status"] != 400.0 {
				t.Errorf("first message %s: %v, want a 400 error", first, m)
			}
			title := fmt.Sprint("after ", i) // the filter keeps out the posts of the rounds before
			ws.subscribe(map[string]any{"subscribe": []string{"posts"}, "filter": fmt.Sprintf("title = %q", title)})
			wsPost(t, s, title)
			ws.wantTitles(title)
		}
	})
}

// TestWSEndOnRevocation: a stream whose credential is revoked ends with
// an end message that gives the position to resume after.
func TestWSEndOnRevocation(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, nil)
		s.Admin(t, "PATCH", "/api/collections/posts", map[string]any{"rules": map[string]any{"list": ""}}, 200)
		ada := signup(t, s, "ada@example.com")
		ws := wsDial(t, s, ada, "subscribe=posts")
		ws.next("subscribed")
		wsPost(t, s, "seen")
		e := ws.wantTitles("seen")[0]
		as(t, s, ada, "POST", "/api/auth/logout", nil, 204)
		end := ws.next("end") // within --realtime-auth-check
		if end["reason"] != "credentials revoked" || wsPosition(end) != wsPosition(e) {
			t.Errorf("end = %v, want credentials revoked at %d", end, wsPosition(e))
		}
		if _, err := ws.read(); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("after the end message: %v, want close 1008", err)
		}
	})
}

// TestWSSlowConsumer: a client that stops reading is cut off once it
// falls behind by the buffer; what it reads next ends with the position
// to resume after, and resuming there misses nothing.
func TestWSSlowConsumer(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := wsSetup(t, d, func(c *app.Config) { c.RealtimeBuffer = 4 })
		slow := wsDial(t, s, s.AdminKey, "subscribe=posts")
		slow.next("subscribed")
		fast := wsDial(t, s, s.AdminKey, "subscribe=posts")
		fast.next("subscribed")

		// Large records fill the socket buffers, then the hub's buffer.
		body := strings.Repeat("x", 128<<10)
		var titles []string
		for rtMetric(t, s, "basalt_realtime_cutoffs_total") == 0 {
			if len(titles) > 2000 {
				t.Fatal("the slow client was never cut off")
			}
			titles = append(titles, fmt.Sprint("p", len(titles)))
			s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": titles[len(titles)-1], "select": body}, 201)
			fast.wantTitles(titles[len(titles)-1])
		}
		var got []map[string]any
		var end map[string]any
		for end == nil {
			m, err := slow.read()
			switch {
			case err != nil:
				t.Fatalf("the slow client, after %d events: %v", len(got), err)
			case m["type"] == "event":
				got = append(got, m)
			case m["type"] == "end":
				end = m
			default:
				t.Fatalf("the slow client got %v", m)
			}
		}
		if end["reason"] != "fell behind" || len(got) == 0 || wsPosition(end) != wsPosition(got[len(got)-1]) {
			t.Fatalf("after %d events, end = %v; want fell behind at the last event's position", len(got), end)
		}
		if _, err := slow.read(); websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
			t.Errorf("after the end message: %v, want close 1013", err)
		}
		wsPost(t, s, "marker")
		again := wsDial(t, s, s.AdminKey, fmt.Sprintf("subscribe=posts&after=%d", wsPosition(end)))
		again.next("subscribed")
		got = append(got, again.wantTitles(append(titles[len(got):], "marker")...)...)
		if fmt.Sprint(wsTitles(got)) != fmt.Sprint(append(titles, "marker")) {
			t.Errorf("the slow client got %v, want every post once", wsTitles(got))
		}
		t.Logf("cut off after %d records of %d KiB", len(titles), len(body)>>10)
	})
}

// TestWSDrain: a draining server ends its WebSocket streams with the
// position to resume after on another server.
func TestWSDrain(t *testing.T) {
	s := wsSetup(t, apitest.SQLite, nil)
	ws := wsDial(t, s, s.AdminKey, "subscribe=posts")
	ws.next("subscribed")
	wsPost(t, s, "before")
	e := ws.wantTitles("before")[0]
	s.App.Drain()
	if end := ws.next("end"); end["reason"] != "server stopping" || wsPosition(end) != wsPosition(e) {
		t.Errorf("end = %v, want server stopping at %d", end, wsPosition(e))
	}
	if _, err := ws.read(); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("after the end message: %v, want close 1001", err)
	}
}

// TestWSOrigin: browsers' cross-origin handshakes pass only from the CORS
// origins.
func TestWSOrigin(t *testing.T) {
	cfg := apitest.Config(t, apitest.SQLite)
	cfg.CORSOrigins = []string{"https://app.example.com"}
	s := apitest.StartConfig(t, cfg)
	for origin, ok := range map[string]bool{"https://app.example.com": true, "https://evil.example.com": false, "http://app.example.com": false, s.URL: true} {
		ws, resp, err := wsDialHeader(t, s, "", http.Header{"Origin": {origin}})
		if ok != (err == nil) {
			t.Errorf("Origin %s: %v %v, want allowed %v", origin, resp, err, ok)
		}
		if !ok && (resp == nil || resp.StatusCode != 403) {
			t.Errorf("Origin %s: %v, want 403", origin, resp)
		}
		if ws != nil {
			ws.c.Close(websocket.StatusNormalClosure, "")
		}
	}
	// Not a WebSocket handshake at all.
	r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/realtime/ws"})
	if r.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET = %d %s, want 426", r.StatusCode, r.Body)
	}
}
