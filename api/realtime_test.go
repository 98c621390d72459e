package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/api/apitest"
	"basalt.dev/basalt/app"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/store"
	sse "github.com/tmaxmax/go-sse"
)

// Realtime over HTTP on both stores, read by a real SSE client
// (go-sse, which reconnects with Last-Event-ID as EventSource does).
// Each assertion waits for what it expects with a deadline; none sleeps
// and hopes.

const rtWait = 20 * time.Second

// rtServer starts a server whose streams check their credentials often,
// so revocations show within a test's patience.
func rtServer(t *testing.T, d apitest.Driver, edit func(*app.Config)) *apitest.Server {
	t.Helper()
	cfg := apitest.Config(t, d)
	cfg.RealtimeAuthCheck = 20 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	return apitest.StartConfig(t, cfg)
}

// rtEvent is one event of a stream: the SSE fields and the decoded data.
type rtEvent struct {
	ID, Type   string
	Data       string
	Position   int64          `json:"position"`
	Collection string         `json:"collection"`
	Op         string         `json:"op"`
	Time       time.Time      `json:"time"`
	Record     map[string]any `json:"record"`
}

func (e rtEvent) String() string { return fmt.Sprintf("%s %s %s", e.ID, e.Type, e.Data) }

// rtStream is an open realtime connection.
type rtStream struct {
	events    chan rtEvent
	done      chan struct{} // closed when the stream is over, for good
	err       error         // why, once done is closed
	connected atomic.Int32
	cancel    context.CancelFunc
}

type rtOpts struct {
	token  string            // bearer credential; "" for none
	header map[string]string // more request headers (Last-Event-ID)
	retry  bool              // reconnect with Last-Event-ID when the stream ends, as EventSource does
	gate   chan struct{}     // if set, the client reads nothing more until it is closed
	frame  func(sse.Event)   // if set, takes each frame instead of events
}

// rtOpen connects to path with go-sse. Connection failures show on
// done; events on events.
func rtOpen(t *testing.T, s *apitest.Server, path string, o rtOpts) *rtStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	for k, v := range o.header {
		req.Header.Set(k, v)
	}
	st := &rtStream{events: make(chan rtEvent, 100000), done: make(chan struct{}), cancel: cancel}
	c := &sse.Client{
		HTTPClient: s.Client,
		Backoff:    sse.Backoff{InitialInterval: 10 * time.Millisecond, MaxRetries: -1},
		ResponseValidator: func(r *http.Response) error {
			err := sse.DefaultValidator(r)
			if err == nil {
				st.connected.Add(1)
			}
			return err
		},
	}
	if o.retry {
		c.Backoff.MaxRetries = 0 // forever
	}
	conn := c.NewConnection(req)
	conn.Buffer(nil, 4<<20)
	conn.SubscribeToAll(func(e sse.Event) {
		if o.gate != nil {
			<-o.gate
		}
		if e.Data == "" {
			return // go-sse dispatches the retry: frame, which EventSource does not
		}
		if o.frame != nil {
			o.frame(e)
			return
		}
		ev := rtEvent{ID: e.LastEventID, Type: e.Type, Data: e.Data}
		if e.Type != "end" {
			if err := json.Unmarshal([]byte(e.Data), &ev); err != nil {
				t.Errorf("event data is not JSON: %v: %q", err, e.Data)
			}
		}
		st.events <- ev
	})
	go func() {
		st.err = conn.Connect()
		close(st.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-st.done
	})
	return st
}

// waitConnected waits for the n-th successful connection: the server has
// subscribed before it answers, so later writes reach the stream.
func (st *rtStream) waitConnected(t *testing.T, n int32) {
	t.Helper()
	rtPoll(t, "the stream to connect", func() bool {
		select {
		case <-st.done:
			t.Fatalf("the stream ended before connecting: %v", st.err)
		default:
		}
		return st.connected.Load() >= n
	})
}

// next returns the next event.
func (st *rtStream) next(t *testing.T) rtEvent {
	t.Helper()
	select {
	case e := <-st.events:
		return e
	case <-st.done:
		t.Fatalf("the stream ended: %v", st.err)
	case <-time.After(rtWait):
		t.Fatal("no event before the deadline")
	}
	return rtEvent{}
}

// until reads events up to and including the first for which stop holds.
func (st *rtStream) until(t *testing.T, stop func(rtEvent) bool) []rtEvent {
	t.Helper()
	var got []rtEvent
	for {
		e := st.next(t)
		got = append(got, e)
		if stop(e) {
			return got
		}
	}
}

// untilRecord reads up to the first event of record id.
func (st *rtStream) untilRecord(t *testing.T, id string) []rtEvent {
	t.Helper()
	return st.until(t, func(e rtEvent) bool { return e.Record["id"] == id })
}

// ended waits for the server to end the stream and returns the events
// it sent before.
func (st *rtStream) ended(t *testing.T) []rtEvent {
	t.Helper()
	var got []rtEvent
	for {
		select {
		case e := <-st.events:
			got = append(got, e)
		case <-st.done:
			for {
				select {
				case e := <-st.events:
					got = append(got, e)
				default:
					return got
				}
			}
		case <-time.After(rtWait):
			t.Fatalf("the stream is still open; it sent %v", got)
		}
	}
}

func rtPoll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(rtWait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rtProbe makes a realtime request expected to be refused and returns the
// answer; an accepted stream is closed at once, its body empty.
func rtProbe(t *testing.T, s *apitest.Server, path, token string, header map[string]string) *apitest.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body []byte
	if resp.StatusCode != http.StatusOK {
		body, _ = io.ReadAll(resp.Body)
	}
	return &apitest.Response{Response: resp, Body: body}
}

// rtCreate writes a record as token (the admin key if ""), returning its id.
func rtCreate(t *testing.T, s *apitest.Server, token, coll string, body map[string]any) string {
	t.Helper()
	if token == "" {
		token = s.AdminKey
	}
	return as(t, s, token, "POST", "/api/collections/"+coll+"/records", body, http.StatusCreated)["id"].(string)
}

// rtPost creates a record from any goroutine.
func rtPost(s *apitest.Server, token, coll string, body map[string]any) error {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.URL+"/api/collections/"+coll+"/records", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s = %d %s", coll, resp.StatusCode, b)
	}
	return nil
}

// rtLog lists the positions of the tenant's events of collection
// coll, read with token from GET /api/events: what a stream must match.
func rtLog(t *testing.T, s *apitest.Server, token, coll string) []int64 {
	t.Helper()
	var out []int64
	for after := int64(0); ; {
		page := as(t, s, token, "GET", fmt.Sprintf("/api/events?after=%d&limit=1000", after), nil, http.StatusOK)
		items := page["items"].([]any)
		for _, it := range items {
			e := it.(map[string]any)
			if e["collection"] == coll {
				out = append(out, int64(e["position"].(float64)))
			}
		}
		if len(items) < 1000 {
			return out
		}
		after = int64(page["next_after"].(float64))
	}
}

// rtCheck fails unless the events are the positions want, in order,
// each once, with id = position and event = op.
func rtCheck(t *testing.T, what string, got []rtEvent, want []int64) {
	t.Helper()
	var pos []int64
	for _, e := range got {
		if e.ID != strconv.FormatInt(e.Position, 10) || e.Type != e.Op {
			t.Errorf("%s: event id %q, type %q for position %d, op %q", what, e.ID, e.Type, e.Position, e.Op)
		}
		pos = append(pos, e.Position)
	}
	if !slices.Equal(pos, want) {
		t.Errorf("%s: positions\n got %v\nwant %v", what, pos, want)
	}
}

var rtItems = map[string]any{"name": "items", "fields": []map[string]any{{"name": "n", "type": "number"}, {"name": "body", "type": "text"}}}

func TestRealtimeOrder(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		before := rtCreate(t, s, "", "items", map[string]any{"n": -1})

		// Without a position, the stream starts live, after what the hub
		// has handed out: history is not sent.
		rtPoll(t, "the hub to hand out the first record", func() bool {
			return rtMetric(t, s, "basalt_realtime_position") >= float64(rtLog(t, s, s.AdminKey, "items")[0])
		})
		live := rtOpen(t, s, "/api/realtime?subscribe=items", rtOpts{token: s.AdminKey})
		live.waitConnected(t, 1)
		var ids []string
		for i := range 20 {
			ids = append(ids, rtCreate(t, s, "", "items", map[string]any{"n": i}))
		}
		as(t, s, s.AdminKey, "PATCH", "/api/collections/items/records/"+ids[3], map[string]any{"n": 100}, http.StatusOK)
		as(t, s, s.AdminKey, "DELETE", "/api/collections/items/records/"+ids[4], nil, http.StatusNoContent)
		last := rtCreate(t, s, "", "items", map[string]any{"n": 99})
		got := live.untilRecord(t, last)
		all := rtLog(t, s, s.AdminKey, "items")
		rtCheck(t, "live", got, all[1:])
		ops := []string{}
		for _, e := range got {
			ops = append(ops, e.Op)
		}
		if want := append(slices.Repeat([]string{"create"}, 20), "update", "delete", "create"); !slices.Equal(ops, want) {
			t.Errorf("ops = %v, want %v", ops, want)
		}
		if e := got[20]; e.Record["id"] != ids[3] || e.Record["n"] != 100.0 || e.Collection != "items" || e.Time.IsZero() {
			t.Errorf("update event = %+v, want record %s with n 100", e, ids[3])
		}

		// after=0 replays the whole history, then goes on live.
		replay := rtOpen(t, s, "/api/realtime?subscribe=items&after=0", rtOpts{token: s.AdminKey})
		got = replay.untilRecord(t, last)
		if got[0].Record["id"] != before {
			t.Errorf("replay starts with %v, want the record made before any stream", got[0])
		}
		rtCheck(t, "replay", got, all)
		more := rtCreate(t, s, "", "items", map[string]any{"n": 1000})
		if e := replay.next(t); e.Record["id"] != more {
			t.Errorf("after the replay: %v, want the live record %s", e, more)
		}
	})
}

// TestRealtimeResume: a client that drops and reconnects with
// Last-Event-ID, while others write, gets every later event once, in
// order.
func TestRealtimeResume(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		const writers, writes = 4, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range writes {
					if err := rtPost(s, s.AdminKey, "items", map[string]any{"n": w*1000 + i}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		var got []rtEvent
		lastID := ""
		for round := 0; ; round++ {
			h := map[string]string{}
			if lastID != "" {
				h["Last-Event-ID"] = lastID
			}
			path := "/api/realtime?subscribe=items"
			if round == 0 {
				path += "&after=0"
			}
			st := rtOpen(t, s, path, rtOpts{token: s.AdminKey, header: h})
			// Take a few events, then drop the connection mid-stream.
			for range 15 {
				got = append(got, st.next(t))
			}
			st.cancel()
			lastID = got[len(got)-1].ID
			if round >= 3 {
				break
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		marker := rtCreate(t, s, "", "items", map[string]any{"n": -1})
		st := rtOpen(t, s, "/api/realtime?subscribe=items", rtOpts{token: s.AdminKey, header: map[string]string{"Last-Event-ID": lastID}})
		got = append(got, st.untilRecord(t, marker)...)
		rtCheck(t, "resumed streams", got, rtLog(t, s, s.AdminKey, "items"))
	})
}

func TestRealtimeTenantIsolation(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "board", "fields": []map[string]any{{"name": "text", "type": "text"}},
			"rules": map[string]any{"list": "", "view": "", "create": ""}}, http.StatusCreated)
		ada := signup(t, s, "ada@example.com")
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, http.StatusCreated)["id"].(string)
		adaAcme := switchTo(t, s, ada, acme)
		acmeKey := s.MustKey(t, "acme", basalt.RoleAdmin, acme)

		// Both tenants write, interleaved, before and while the streams run.
		var mine, theirs []string
		for i := range 5 {
			theirs = append(theirs, rtCreate(t, s, "", "board", map[string]any{"text": fmt.Sprint("default ", i)}))
			mine = append(mine, rtCreate(t, s, adaAcme, "board", map[string]any{"text": fmt.Sprint("acme ", i)}))
		}
		byUser := rtOpen(t, s, "/api/realtime?subscribe=board&after=0", rtOpts{token: adaAcme})
		byKey := rtOpen(t, s, "/api/realtime?subscribe=board&after=0", rtOpts{token: acmeKey})
		other := rtOpen(t, s, "/api/realtime?subscribe=board&after=0", rtOpts{token: ada}) // ada in the default tenant
		for i := range 5 {
			theirs = append(theirs, rtCreate(t, s, "", "board", map[string]any{"text": fmt.Sprint("default live ", i)}))
			mine = append(mine, rtCreate(t, s, adaAcme, "board", map[string]any{"text": fmt.Sprint("acme live ", i)}))
		}
		acmeLog := rtLog(t, s, acmeKey, "board")
		for name, st := range map[string]*rtStream{"ada in acme": byUser, "acme's key": byKey} {
			got := st.untilRecord(t, mine[len(mine)-1])
			rtCheck(t, name, got, acmeLog)
			for _, e := range got {
				if !slices.Contains(mine, e.Record["id"].(string)) {
					t.Errorf("%s received %v of the other tenant", name, e)
				}
			}
		}
		got := other.untilRecord(t, theirs[len(theirs)-1])
		rtCheck(t, "ada in default", got, rtLog(t, s, s.AdminKey, "board"))
		for _, e := range got {
			if slices.Contains(mine, e.Record["id"].(string)) {
				t.Errorf("the default tenant's stream received %v of acme", e)
			}
		}
	})
}

// notesCollection: owners list their notes; anyone may view a shared
// one; the secret is hidden from users.
var rtNotes = map[string]any{
	"name": "notes",
	"fields": []map[string]any{
		{"name": "owner", "type": "text"}, {"name": "text", "type": "text"}, {"name": "shared", "type": "bool"},
		{"name": "secret", "type": "text", "hidden": true},
	},
	"rules": rtNotesRules("owner = @auth.id"),
}

// rtNotesRules are the rules of notes with list rule list (nil: closed).
func rtNotesRules(list any) map[string]any {
	return map[string]any{"list": list, "view": "owner = @auth.id || shared = true", "create": "owner = @auth.id", "update": "owner = @auth.id"}
}

func rtUserID(t *testing.T, s *apitest.Server, token string) string {
	t.Helper()
	return as(t, s, token, "GET", "/api/auth/me", nil, http.StatusOK)["id"].(string)
}

func TestRealtimeRules(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtNotes, http.StatusCreated)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "board", "fields": []map[string]any{{"name": "text", "type": "text"}}, "rules": map[string]any{"list": ""}}, http.StatusCreated)
		ada, bob := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com")
		adaID, bobID := rtUserID(t, s, ada), rtUserID(t, s, bob)
		const notes = "/api/collections/notes/records/"

		private := rtCreate(t, s, ada, "notes", map[string]any{"owner": adaID, "text": "private"})
		shared := rtCreate(t, s, ada, "notes", map[string]any{"owner": adaID, "text": "shared", "shared": true})
		s.Admin(t, "PATCH", "/api/collections/notes/records/"+shared, map[string]any{"secret": "s3cret"}, http.StatusOK)
		bobs := rtCreate(t, s, bob, "notes", map[string]any{"owner": bobID, "text": "bob's"})

		adaAll := rtOpen(t, s, "/api/realtime?subscribe=notes&after=0", rtOpts{token: ada})
		adaFiltered := rtOpen(t, s, "/api/realtime?subscribe=notes,board&after=0&filter="+q(`text = "shared"`), rtOpts{token: ada})
		bobAll := rtOpen(t, s, "/api/realtime?subscribe=notes,board&after=0", rtOpts{token: bob})
		// One record each: the view rule decides, and bob may view the
		// shared note but not the private one; his own note is the marker.
		bobRecords := rtOpen(t, s, "/api/realtime?after=0&subscribe=notes/"+shared+",notes/"+private+",notes/"+bobs, rtOpts{token: bob})
		admin := rtOpen(t, s, "/api/realtime?subscribe=notes&after=0", rtOpts{token: s.AdminKey})

		as(t, s, ada, "PATCH", notes+private, map[string]any{"text": "private, edited"}, http.StatusOK)
		as(t, s, bob, "PATCH", notes+bobs, map[string]any{"text": "marker"}, http.StatusOK)

		ids := func(es []rtEvent) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.Op+" "+e.Record["id"].(string))
				if _, ok := e.Record["secret"]; ok && e.Record["id"] == shared {
					t.Errorf("a user's stream sent the hidden field: %v", e)
				}
			}
			return out
		}
		if got, want := ids(adaAll.untilRecord(t, private)[0:1]), []string{"create " + private}; !slices.Equal(got, want) {
			t.Errorf("ada's stream starts with %v, want %v", got, want)
		}
		if got, want := ids(adaAll.until(t, func(e rtEvent) bool { return e.Op == "update" && e.Record["id"] == private })), []string{"create " + shared, "update " + shared, "update " + private}; !slices.Equal(got, want) {
			t.Errorf("ada's stream then = %v, want %v", got, want)
		}
		if got, want := ids(adaFiltered.until(t, func(e rtEvent) bool { return e.Op == "update" })), []string{"create " + shared, "update " + shared}; !slices.Equal(got, want) {
			t.Errorf("ada's filtered stream = %v, want %v", got, want)
		}
		if got, want := ids(bobAll.until(t, func(e rtEvent) bool { return e.Op == "update" })), []string{"create " + bobs, "update " + bobs}; !slices.Equal(got, want) {
			t.Errorf("bob's stream = %v, want only his note: %v", got, want)
		}
		if got, want := ids(bobRecords.until(t, func(e rtEvent) bool { return e.Op == "update" && e.Record["id"] == bobs })), []string{"create " + shared, "update " + shared, "create " + bobs, "update " + bobs}; !slices.Equal(got, want) {
			t.Errorf("bob's record stream = %v, want the shared note and his: %v", got, want)
		}
		for _, e := range admin.until(t, func(e rtEvent) bool { return e.Op == "update" && e.Record["id"] == bobs }) {
			if e.Record["id"] == shared && e.Op == "update" && e.Record["secret"] != "s3cret" {
				t.Errorf("an admin key's stream = %v, want the hidden field", e)
			}
		}

		// A rule changed while the streams are open applies to the next
		// event: bob's open stream now gets public notes.
		s.Admin(t, "PATCH", "/api/collections/notes", map[string]any{"rules": rtNotesRules(`owner = @auth.id || text = "public"`)}, http.StatusOK)
		public := rtCreate(t, s, ada, "notes", map[string]any{"owner": adaID, "text": "public"})
		as(t, s, ada, "PATCH", notes+private, map[string]any{"text": "still private"}, http.StatusOK)
		marker := rtCreate(t, s, bob, "notes", map[string]any{"owner": bobID, "text": "marker 2"})
		if got, want := ids(bobAll.untilRecord(t, marker)), []string{"create " + public, "create " + marker}; !slices.Equal(got, want) {
			t.Errorf("bob's stream after the rule change = %v, want %v", got, want)
		}
		// Closing the rule stops the flow to users; the stream stays. The
		// board record, later in the log, shows bob's stream went past the
		// note while the rule was closed.
		s.Admin(t, "PATCH", "/api/collections/notes", map[string]any{"rules": rtNotesRules(nil)}, http.StatusOK)
		rtCreate(t, s, "", "notes", map[string]any{"owner": bobID, "text": "public"})
		marker = rtCreate(t, s, "", "board", map[string]any{"text": "marker 3"})
		if got, want := ids(bobAll.untilRecord(t, marker)), []string{"create " + marker}; !slices.Equal(got, want) {
			t.Errorf("bob's stream across a closed rule = %v, want %v", got, want)
		}
		s.Admin(t, "PATCH", "/api/collections/notes", map[string]any{"rules": rtNotesRules("owner = @auth.id")}, http.StatusOK)
		marker = rtCreate(t, s, bob, "notes", map[string]any{"owner": bobID, "text": "marker 4"})
		if got, want := ids(bobAll.untilRecord(t, marker)), []string{"create " + marker}; !slices.Equal(got, want) {
			t.Errorf("bob's stream once the rule reopened = %v, want %v", got, want)
		}

		// A field hidden while a filter names it stops the filter: it
		// would tell the field's value, event by event. The board record
		// passes the same filter and shows the stream went past.
		fields := slices.Clone(rtNotes["fields"].([]map[string]any))
		fields[1] = map[string]any{"name": "text", "type": "text", "hidden": true}
		s.Admin(t, "PATCH", "/api/collections/notes", map[string]any{"fields": fields}, http.StatusOK)
		as(t, s, ada, "PATCH", notes+shared, map[string]any{"shared": true}, http.StatusOK)
		marker = rtCreate(t, s, "", "board", map[string]any{"text": "shared"})
		if got, want := ids(adaFiltered.untilRecord(t, marker)), []string{"create " + marker}; !slices.Equal(got, want) {
			t.Errorf("ada's filtered stream once the field is hidden = %v, want %v", got, want)
		}

		// A filter cannot probe a hidden field; a user cannot follow a
		// collection whose list rule is closed to users.
		wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=notes&filter="+q(`secret = "s3cret"`), ada, nil), http.StatusBadRequest, "validation")
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "closed", "fields": []map[string]any{{"name": "text", "type": "text"}}}, http.StatusCreated)
		wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=closed", ada, nil), http.StatusForbidden, "forbidden")
		wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=closed", "", nil), http.StatusForbidden, "forbidden")
		wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=notes,closed", ada, nil), http.StatusForbidden, "forbidden")
	})
}

func TestRealtimeTickets(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtNotes, http.StatusCreated)
		ada := signup(t, s, "ada@example.com")
		adaID := rtUserID(t, s, ada)
		mine := rtCreate(t, s, ada, "notes", map[string]any{"owner": adaID, "text": "mine"})
		rtCreate(t, s, "", "notes", map[string]any{"owner": "someone else", "text": "not mine"})

		wantProblem(t, s.Do(t, apitest.Request{Method: "POST", Path: "/api/realtime/tickets"}), http.StatusUnauthorized, "unauthenticated")
		issue := s.Do(t, apitest.Request{Method: "POST", Path: "/api/realtime/tickets", Key: ada})
		wantStatus(t, issue, http.StatusCreated)
		tk := issue.JSON(t)
		ticket, _ := tk["ticket"].(string)
		expires, err := time.Parse(time.RFC3339Nano, fmt.Sprint(tk["expires"]))
		if !strings.HasPrefix(ticket, "bst_") || err != nil || expires.Before(time.Now()) || expires.After(time.Now().Add(auth.TicketTTL+time.Second)) {
			t.Errorf("ticket = %s, want bst_... expiring within %v", issue.Body, auth.TicketTTL)
		}
		if cc := issue.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("ticket Cache-Control = %q, want no-store", cc)
		}

		// The ticket stands for ada: her rules apply.
		path := "/api/realtime?subscribe=notes&after=0&ticket=" + ticket
		st := rtOpen(t, s, path, rtOpts{})
		if e := st.next(t); e.Record["id"] != mine {
			t.Errorf("the ticket's stream starts with %v, want ada's note %s", e, mine)
		}
		// Used once, it opens nothing more.
		wantProblem(t, rtProbe(t, s, path, "", nil), http.StatusUnauthorized, "unauthenticated")

		fresh := as(t, s, ada, "POST", "/api/realtime/tickets", nil, http.StatusCreated)["ticket"].(string)
		wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=notes&ticket="+fresh, ada, nil), http.StatusBadRequest, "bad_request")
		for _, bad := range []string{"bst_unknown", "nope", strings.Repeat("bst_", 40)} {
			wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=notes&ticket="+bad, "", nil), http.StatusUnauthorized, "unauthenticated")
		}
		// A ticket a minute old is worthless: one issued by a clock two
		// minutes behind has expired.
		old, _, err := auth.NewTickets(s.App.Store(), func() time.Time { return time.Now().Add(-2 * auth.TicketTTL) }).
			Issue(context.Background(), &basalt.Principal{Kind: "user", ID: adaID, TenantID: basalt.DefaultTenant})
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=notes&ticket="+old, "", nil), http.StatusUnauthorized, "unauthenticated")
		// The fresh ticket, refused with a header, was not spent.
		st = rtOpen(t, s, "/api/realtime?subscribe=notes&after=0&ticket="+fresh, rtOpts{})
		if e := st.next(t); e.Record["id"] != mine {
			t.Errorf("the second ticket's stream starts with %v, want %s", e, mine)
		}
	})
}

// TestRealtimeRevocation: a stream ends with event: end when its session
// or key is revoked, however it authenticated.
func TestRealtimeRevocation(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		s.Admin(t, "PATCH", "/api/collections/items", map[string]any{"rules": map[string]any{"list": ""}}, http.StatusOK)
		first := mustSignup(t, s, "ada@example.com")
		second := mustLogin(t, s, "ada@example.com", authPassword)
		third := mustLogin(t, s, "ada@example.com", authPassword)
		secret, key, err := s.App.Keys().Create(context.Background(), "doomed", basalt.RoleService, basalt.DefaultTenant)
		if err != nil {
			t.Fatal(err)
		}
		ticket := as(t, s, third.AccessToken, "POST", "/api/realtime/tickets", nil, http.StatusCreated)["ticket"].(string)

		open := func(token, ticket string) *rtStream {
			path := "/api/realtime?subscribe=items"
			if ticket != "" {
				path += "&ticket=" + ticket
			}
			st := rtOpen(t, s, path, rtOpts{token: token})
			st.waitConnected(t, 1)
			return st
		}
		bySession, byLogout, byTicket, byKey := open(second.AccessToken, ""), open(first.AccessToken, ""), open("", ticket), open(secret, "")
		survivor := open(s.AdminKey, "")
		id := rtCreate(t, s, "", "items", map[string]any{"n": 1})
		for _, st := range []*rtStream{bySession, byLogout, byTicket, byKey, survivor} {
			if e := st.next(t); e.Record["id"] != id {
				t.Fatalf("before any revocation: %v, want %s", e, id)
			}
		}

		wantEnd := func(name string, st *rtStream) {
			t.Helper()
			got := st.ended(t)
			if len(got) != 1 || got[0].Type != "end" || !strings.Contains(got[0].Data, "revoked") {
				t.Errorf("%s: the stream ended with %v, want one event: end", name, got)
			}
		}
		wantStatus(t, s.Do(t, apitest.Request{Method: "DELETE", Path: "/api/auth/sessions/" + sessionID(t, s, second.AccessToken), Key: first.AccessToken}), http.StatusNoContent)
		wantEnd("revoked session", bySession)
		wantStatus(t, s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/logout", Key: first.AccessToken}), http.StatusNoContent)
		wantEnd("logged out", byLogout)
		wantStatus(t, s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/logout", Key: third.AccessToken}), http.StatusNoContent)
		wantEnd("ticket of a logged out session", byTicket)
		wantStatus(t, s.Do(t, apitest.Request{Method: "DELETE", Path: "/api/keys/" + key.ID, Key: s.AdminKey}), http.StatusNoContent)
		wantEnd("revoked key", byKey)

		// The others go on.
		id = rtCreate(t, s, "", "items", map[string]any{"n": 2})
		if e := survivor.next(t); e.Record["id"] != id {
			t.Errorf("the admin's stream after the revocations: %v, want %s", e, id)
		}
	})
}

func TestRealtimeLimits(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, func(c *app.Config) {
			c.RealtimeMaxPerUser, c.RealtimeMaxPerTenant, c.RealtimeMaxSubscriptions = 2, 3, 2
		})
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "other", "fields": []map[string]any{}}, http.StatusCreated)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "third", "fields": []map[string]any{}}, http.StatusCreated)
		key2 := s.MustKey(t, "second", basalt.RoleAdmin, basalt.DefaultTenant)
		acme := s.MustKey(t, "acme", basalt.RoleAdmin, "acme")
		const path = "/api/realtime?subscribe=items,other"

		a1 := rtOpen(t, s, path, rtOpts{token: s.AdminKey})
		a1.waitConnected(t, 1)
		a2 := rtOpen(t, s, path, rtOpts{token: s.AdminKey})
		a2.waitConnected(t, 1)
		r := wantProblem(t, rtProbe(t, s, path, s.AdminKey, nil), http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(fmt.Sprint(r["detail"]), "you have") {
			t.Errorf("per-principal refusal = %v, want it to say the caller has too many", r)
		}
		rtOpen(t, s, path, rtOpts{token: key2}).waitConnected(t, 1)
		r = wantProblem(t, rtProbe(t, s, path, key2, nil), http.StatusTooManyRequests, "rate_limited")
		if !strings.Contains(fmt.Sprint(r["detail"]), "tenant") {
			t.Errorf("per-tenant refusal = %v, want it to name the tenant", r)
		}
		rtOpen(t, s, path, rtOpts{token: acme}).waitConnected(t, 1) // another tenant is not affected

		// A closed stream gives its slot back.
		a1.cancel()
		rtPoll(t, "the closed stream's slot", func() bool {
			r := rtProbe(t, s, path, s.AdminKey, nil)
			if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("GET %s = %d %s", path, r.StatusCode, r.Body)
			}
			return r.StatusCode == http.StatusOK
		})

		r = wantProblem(t, rtProbe(t, s, "/api/realtime?subscribe=items,other,third", acme, nil), http.StatusBadRequest, "validation")
		if !namesField(r, "subscribe") {
			t.Errorf("too many subscriptions: %v, want the subscribe field named", r)
		}
	})
}

func TestRealtimeBadRequests(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		for _, c := range []struct {
			query  string
			header map[string]string
			status int
			code   string
			field  string
		}{
			{"subscribe=nope", nil, 404, "not_found", ""},
			{"subscribe=items,nope", nil, 404, "not_found", ""},
			{"", nil, 400, "validation", "subscribe"},
			{"subscribe=,", nil, 400, "validation", "subscribe"},
			{"subscribe=items/bad%20id", nil, 400, "validation", "subscribe"},
			{"subscribe=items&after=x", nil, 400, "validation", "after"},
			{"subscribe=items&after=-1", nil, 400, "validation", "after"},
			{"subscribe=items", map[string]string{"Last-Event-ID": "1.5"}, 400, "validation", "after"},
			{"subscribe=items&filter=" + q("n >"), nil, 400, "validation", ""},
			{"subscribe=items&filter=" + q("nope = 1"), nil, 400, "validation", ""},
		} {
			r := rtProbe(t, s, "/api/realtime?"+c.query, s.AdminKey, c.header)
			p := wantProblem(t, r, c.status, c.code)
			if c.field != "" && !namesField(p, c.field) {
				t.Errorf("?%s: problem %v does not name %s", c.query, p, c.field)
			}
			if p["status"] != float64(c.status) || p["title"] == nil || p["type"] == nil {
				t.Errorf("?%s: problem %v lacks RFC 9457 members", c.query, p)
			}
		}
	})
}

// rtMetric reads a counter or gauge from /metrics.
func rtMetric(t *testing.T, s *apitest.Server, name string) float64 {
	t.Helper()
	r := s.Do(t, apitest.Request{Method: "GET", Path: "/metrics"})
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", name)
	return 0
}

// TestRealtimeSlowConsumer: a client that stops reading is cut off once
// it falls behind by the buffer, without holding up the others; when it
// reads again it reconnects by itself from its last event and misses
// nothing.
func TestRealtimeSlowConsumer(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, func(c *app.Config) { c.RealtimeBuffer = 4 })
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		gate := make(chan struct{})
		slow := rtOpen(t, s, "/api/realtime?subscribe=items", rtOpts{token: s.AdminKey, retry: true, gate: gate})
		fast := rtOpen(t, s, "/api/realtime?subscribe=items", rtOpts{token: s.AdminKey})
		slow.waitConnected(t, 1)
		fast.waitConnected(t, 1)

		// Large records fill the socket buffers, then the hub's buffer.
		body := strings.Repeat("x", 128<<10)
		var ids []string
		for rtMetric(t, s, "basalt_realtime_cutoffs_total") == 0 {
			if len(ids) > 2000 {
				t.Fatal("the slow client was never cut off")
			}
			ids = append(ids, rtCreate(t, s, "", "items", map[string]any{"body": body}))
			if e := fast.next(t); e.Record["id"] != ids[len(ids)-1] {
				t.Fatalf("the fast client got %s, want %s", e.Record["id"], ids[len(ids)-1])
			}
		}
		close(gate)
		marker := rtCreate(t, s, "", "items", map[string]any{"n": -1})
		got := slow.untilRecord(t, marker)
		rtCheck(t, "the slow client", got, rtLog(t, s, s.AdminKey, "items"))
		if n := slow.connected.Load(); n < 2 {
			t.Errorf("the slow client connected %d times, want a reconnection after the cut-off", n)
		}
		t.Logf("cut off after %d records of %d KiB", len(ids), len(body)>>10)
	})
}

// TestRealtimeBurst: events that reach the hub together (writes of
// another node, found by one read of the log) all reach the client,
// however large.
func TestRealtimeBurst(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := rtServer(t, d, nil)
		s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
		st := rtOpen(t, s, "/api/realtime?subscribe=items", rtOpts{token: s.AdminKey})
		st.waitConnected(t, 1)
		ctx := context.Background()
		c, err := s.App.Records().Collection(ctx, "items")
		if err != nil {
			t.Fatal(err)
		}
		// Straight to the store, so nothing wakes the hub: its next poll
		// finds them all at once.
		var ids []string
		for i := range 6 {
			now := time.Now().UTC().Truncate(time.Microsecond)
			id := fmt.Sprintf("burst%d", i)
			r := &basalt.Record{ID: id, Created: now, Updated: now, Version: 1, Data: map[string]any{"n": float64(i), "body": strings.Repeat("y", 40<<10)}}
			if _, err := s.App.Store().RecordInsert(ctx, &store.RecordInsertParams{TenantID: basalt.DefaultTenant, Collection: c, Record: r}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		got := st.untilRecord(t, ids[len(ids)-1])
		rtCheck(t, "burst", got, rtLog(t, s, s.AdminKey, "items"))
	})
}

// TestRealtimeOutlivesTimeouts: a stream is not a request to time out:
// it outlives the server's read and write timeouts, and keeps idle
// connections open with comments.
func TestRealtimeOutlivesTimeouts(t *testing.T) {
	s := rtServer(t, apitest.SQLite, func(c *app.Config) { c.RealtimeHeartbeat = 50 * time.Millisecond })
	s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
	hs := httptest.NewUnstartedServer(s.App.Handler())
	hs.Config.ReadTimeout, hs.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	hs.Start()
	t.Cleanup(hs.Close)
	req, _ := http.NewRequest("GET", hs.URL+"/api/realtime?subscribe=items", nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("GET /api/realtime = %d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Heartbeats for twice the timeouts, then an event.
	start := time.Now()
	for pings := 0; time.Since(start) < time.Second; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended after %v and %d pings", time.Since(start), pings)
			}
			if l == ": ping" {
				pings++
			}
		case <-time.After(rtWait):
			t.Fatal("no heartbeat")
		}
	}
	id := rtCreate(t, s, "", "items", map[string]any{"n": 1})
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended before the event")
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, id) {
				return
			}
		case <-time.After(rtWait):
			t.Fatal("no event")
		}
	}
}

// TestRealtimeDrain: a server that drains ends its streams, so clients
// reconnect elsewhere instead of holding up the shutdown.
func TestRealtimeDrain(t *testing.T) {
	s := rtServer(t, apitest.SQLite, nil)
	s.Admin(t, "POST", "/api/collections", rtItems, http.StatusCreated)
	st := rtOpen(t, s, "/api/realtime?subscribe=items", rtOpts{token: s.AdminKey})
	st.waitConnected(t, 1)
	s.App.Drain()
	if got := st.ended(t); len(got) != 0 {
		t.Errorf("a draining server sent %v", got)
	}
}
