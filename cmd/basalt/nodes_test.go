package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sse "github.com/tmaxmax/go-sse"
)

// TestRealtimeAcrossNodes runs three servers on one PostgreSQL database,
// subscribes realtime clients to all three, writes through all three at
// once, kills one server with SIGKILL mid-stream, and checks what every
// client got against the event log in the database: each client of a
// tenant received every event of that tenant exactly once, in position
// order, and nothing else; the clients of the killed server resumed on a
// survivor from their last event id, as a browser's EventSource does.
//
// The clients are github.com/tmaxmax/go-sse connections, which follow the
// SSE spec (retry, Last-Event-ID on reconnect); a small transport plays
// the load balancer, sending each connection to the client's own server
// and, when that one refuses connections, to the next.
func TestRealtimeAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills servers")
	}
	env, dbURL := postgresEnv(t)
	admin := createKey(t, env)
	tenants := []string{"acme", "globex"}
	keys := map[string]string{}
	for _, tn := range tenants {
		keys[tn] = createKey(t, env, "--tenant", tn)
	}
	var nodes []*server
	var hosts []string
	for range 3 {
		s := start(t, env)
		nodes = append(nodes, s)
		u, _ := url.Parse(s.url)
		hosts = append(hosts, u.Host)
	}
	resp, body, err := call(nodes[0].url, admin, "POST", "/api/collections", map[string]any{"name": "log",
		"fields": []map[string]any{{"name": "tag", "type": "text"}, {"name": "n", "type": "number"}, {"name": "pad", "type": "text"}}})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create collection: %v %s", err, body)
	}
	// The other nodes learn of the collection from the database.
	for _, s := range nodes {
		waitFor(t, 10*time.Second, "every node knows the collection", func() bool {
			resp, _, err := call(s.url, keys["acme"], "GET", "/api/collections/log/records?limit=1", nil)
			return err == nil && resp.StatusCode == 200
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const killed = 1
	var clients []*rtClient
	for i := range 9 {
		tn := tenants[0]
		if i%3 == 2 {
			tn = tenants[1]
		}
		c := &rtClient{name: fmt.Sprintf("client %d (%s, server %d)", i, tn, i%3), tenant: tn}
		c.connect(ctx, t, hosts, i%3, keys[tn])
		clients = append(clients, c)
	}

	// Writers: six in acme, three in globex, each starting on its own
	// server and moving to the next when a request fails.
	var (
		mu       sync.Mutex
		acked    = map[string][]string{} // tenant → ids of acknowledged creates
		ackedN   int
		writers  sync.WaitGroup
		stop     = make(chan struct{})
		writeErr = make(chan error, 16)
	)
	// Events of a few hundred bytes make bursts that fill a stream's
	// write buffer, where an event can go missing between two flushes.
	pad := strings.Repeat("x", 300)
	for w := range 9 {
		tn := tenants[0]
		if w%3 == 2 {
			tn = tenants[1]
		}
		writers.Go(func() {
			node := w % 3
			var last string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				method, path, body := "POST", "/api/collections/log/records", map[string]any{"tag": tn, "n": w*1000000 + i, "pad": pad}
				if i%5 == 4 && last != "" {
					method, path = "PATCH", path+"/"+last
				}
				resp, b, err := call(nodes[node].url, keys[tn], method, path, body)
				if err != nil {
					node = (node + 1) % len(nodes) // the server is gone: the client tries another
					continue
				}
				if resp.StatusCode/100 != 2 {
					writeErr <- fmt.Errorf("%s %s on server %d: %d %s", method, path, node, resp.StatusCode, b)
					return
				}
				if method == "POST" {
					var rec struct{ ID string }
					json.Unmarshal(b, &rec)
					last = rec.ID
					mu.Lock()
					acked[tn] = append(acked[tn], rec.ID)
					mu.Unlock()
				}
				mu.Lock()
				ackedN++
				mu.Unlock()
			}
		})
	}
	writes := func() int { mu.Lock(); defer mu.Unlock(); return ackedN }
	stopWriters := sync.OnceFunc(func() { close(stop); writers.Wait() })
	defer stopWriters()

	// Kill a server once its clients are well into their live streams.
	waitFor(t, 15*time.Second, "every client receives events", func() bool {
		for _, c := range clients {
			if c.count() < 20 {
				return false
			}
		}
		return true
	})
	if err := nodes[killed].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nodes[killed].cmd.Wait()
	atKill := writes()
	// Keep writing until the killed server's clients are back on a
	// survivor, and a while after.
	waitFor(t, 15*time.Second, "the killed server's clients reconnect to a survivor", func() bool {
		for _, c := range clients {
			if c.first() == killed && !c.movedOff(killed) {
				return false
			}
		}
		return true
	})
	waitFor(t, 10*time.Second, "writes go on through the survivors", func() bool { return writes() >= atKill+150 })
	stopWriters()
	select {
	case err := <-writeErr:
		t.Fatal(err)
	default:
	}

	// The log in the database is the reference: each tenant's events, in
	// position order, including writes that committed on the killed server
	// without an acknowledgement.
	want := map[string][]rtEvent{}
	for _, tn := range tenants {
		want[tn] = eventLog(t, dbURL, tn)
		ids := map[string]bool{}
		for _, e := range want[tn] {
			if e.Op == "create" {
				ids[e.RecordID] = true
			}
		}
		for _, id := range acked[tn] {
			if !ids[id] {
				t.Fatalf("acknowledged create of %s in %s is not in the event log", id, tn)
			}
		}
	}
	for _, c := range clients {
		n := len(want[c.tenant])
		// A client that falls short is reported below with what it lacks.
		poll(15*time.Second, func() bool { return c.count() >= n })
	}
	cancel()
	for _, c := range clients {
		c.wait()
		c.mu.Lock()
		if len(c.errs) > 0 {
			t.Errorf("%s: %v", c.name, c.errs)
		}
		got, w := c.events, want[c.tenant]
		if !slices.Equal(got, w) {
			t.Errorf("%s (servers %v) received %d events, the log of %s has %d; first difference: %s", c.name, c.conns, len(got), c.tenant, len(w), firstDiff(got, w))
		}
		c.mu.Unlock()
	}
	var moved int
	for _, c := range clients {
		if c.first() == killed {
			moved++
		}
	}
	t.Logf("%d writes acknowledged, %d after the kill; %d clients, %d of them moved off the killed server; %d and %d events per client",
		writes(), writes()-atKill, len(clients), moved, len(want[tenants[0]]), len(want[tenants[1]]))
}

// rtEvent is what a client checks of an event.
type rtEvent struct {
	Position int64
	Op       string
	RecordID string
	Tag      string
}

// rtClient is one realtime subscriber with its own server.
type rtClient struct {
	name, tenant string
	done         chan struct{}

	mu     sync.Mutex
	events []rtEvent
	errs   []string
	conns  []int // the server of each connection made
}

func (c *rtClient) connect(ctx context.Context, t *testing.T, hosts []string, pref int, key string) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+hosts[pref]+"/api/realtime?subscribe=log", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	// Resume from the start of the log, so the client's history is the
	// whole log however late its stream opens.
	req.Header.Set("Last-Event-ID", "0")
	lb := &failover{base: &http.Transport{}, hosts: hosts, pref: pref, used: func(n int) {
		c.mu.Lock()
		c.conns = append(c.conns, n)
		c.mu.Unlock()
	}}
	client := &sse.Client{HTTPClient: &http.Client{Transport: lb},
		Backoff: sse.Backoff{InitialInterval: 50 * time.Millisecond, Multiplier: 1.5, Jitter: -1, MaxInterval: time.Second}}
	conn := client.NewConnection(req)
	conn.SubscribeToAll(c.receive)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		if err := conn.Connect(); err != nil && !errors.Is(err, context.Canceled) {
			c.fail("connection ended: %v", err)
		}
	}()
}

func (c *rtClient) receive(e sse.Event) {
	if e.Type == "" && e.Data == "" {
		return // go-sse hands over the frame that only sets retry:; EventSource does not
	}
	var data struct {
		Position   int64
		Collection string
		Op         string
		Record     struct {
			ID  string
			Tag string
		}
	}
	if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
		c.fail("event %q: %v", e.Data, err)
		return
	}
	if id := strconv.FormatInt(data.Position, 10); e.LastEventID != id || e.Type != data.Op || data.Collection != "log" {
		c.fail("event id %q type %q: %s", e.LastEventID, e.Type, e.Data)
	}
	if data.Record.Tag != c.tenant {
		c.fail("an event of another tenant: %s", e.Data)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, rtEvent{Position: data.Position, Op: data.Op, RecordID: data.Record.ID, Tag: data.Record.Tag})
}

func (c *rtClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *rtClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// first is the server of the client's first connection.
func (c *rtClient) first() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.conns) == 0 {
		return -1
	}
	return c.conns[0]
}

// movedOff reports whether the client's latest connection is to a server
// other than n.
func (c *rtClient) movedOff(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns) > 0 && c.conns[len(c.conns)-1] != n
}

func (c *rtClient) wait() { <-c.done }

// failover sends a request to the preferred server and, when it refuses
// the connection, to the next one: a load balancer with health checks,
// as far as a client can tell.
type failover struct {
	base  http.RoundTripper
	hosts []string
	pref  int
	used  func(int)
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	var err error
	for i := range f.hosts {
		n := (f.pref + i) % len(f.hosts)
		r := req.Clone(req.Context())
		r.URL.Host, r.Host = f.hosts[n], ""
		var resp *http.Response
		resp, err = f.base.RoundTrip(r)
		if err == nil {
			f.used(n)
			return resp, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
	}
	return nil, err
}

// eventLog reads a tenant's events from the database, as its superuser.
func eventLog(t *testing.T, url, tenant string) []rtEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT position, op, record_id, coalesce(record->>'tag', '') FROM _events WHERE tenant_id = $1 AND collection = 'log' ORDER BY position`, tenant)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rtEvent, error) {
		var e rtEvent
		return e, r.Scan(&e.Position, &e.Op, &e.RecordID, &e.Tag)
	})
	if err != nil {
		t.Fatalf("read the event log: %v", err)
	}
	return out
}

func firstDiff(got, want []rtEvent) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("at %d missing %+v", i, want[i])
		case i >= len(want):
			return fmt.Sprintf("at %d extra %+v", i, got[i])
		case got[i] != want[i]:
			return fmt.Sprintf("at %d got %+v, want %+v", i, got[i], want[i])
		}
	}
	return "none"
}

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("timed out after %v waiting until %s", d, what)
	}
}

// poll reports whether cond holds within d.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
