package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The realtime API is checked here with the clients that applications
// use, not with Basalt's own code: the npm eventsource package and the
// EventSource of a real browser (headless Chromium through
// playwright-core); clients_ws_test.go adds the npm ws package and the
// browser's WebSocket. Their scripts live in clients/js-test with a
// package.json and package-lock.json; the first test that needs them
// runs npm ci there.
//
// Without Node.js or Chromium these tests skip, saying so; in CI
// (CI=true) they fail instead. internal/testall installs Debian's
// chromium in CI when it is missing.

var jsDir = filepath.Join("..", "..", "clients", "js-test")

func jsCI() bool { return os.Getenv("CI") == "true" }

// jsSkip skips the test, or fails it in CI, where every client must run.
func jsSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if jsCI() {
		t.Fatalf("CI must run the client tests: "+format, args...)
	}
	t.Skipf("SKIP: "+format, args...)
}

// jsInstall runs npm ci once, and again only when package-lock.json
// changes: a stamp in node_modules holds the digest of the lock file it
// installed.
var jsInstall = sync.OnceValue(func() error {
	lock, err := os.ReadFile(filepath.Join(jsDir, "package-lock.json"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(lock)
	digest := hex.EncodeToString(sum[:])
	stamp := filepath.Join(jsDir, "node_modules", ".basalt-lock-sha256")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == digest {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = jsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", jsDir, err, out)
	}
	return os.WriteFile(stamp, []byte(digest), 0o644)
})

// jsNeedNode skips without node and npm, and installs the scripts'
// packages.
func jsNeedNode(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Node.js clients against a built server")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			jsSkip(t, "%s is not installed; the realtime client tests need Node.js 20 or later", tool)
		}
	}
	if err := jsInstall(); err != nil {
		t.Fatal(err)
	}
}

// jsChromium returns the browser to drive: BASALT_TEST_CHROMIUM, else
// Debian's /usr/bin/chromium.
func jsChromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("BASALT_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		jsSkip(t, "no Chromium at %s for the browser EventSource test; install Debian's chromium (apt-get install chromium) or set BASALT_TEST_CHROMIUM", path)
	}
	return path
}

// jsLine is one line a client script printed: something that happened to
// one of its clients.
type jsLine struct {
	Client      string          `json:"client,omitempty"`
	Kind        string          `json:"kind"`        // connect, ready, event, error, refused, end...
	N           int             `json:"n,omitempty"` // connect: the how-manyth
	LastEventID *string         `json:"lastEventId,omitempty"`
	After       *string         `json:"after,omitempty"`
	ID          string          `json:"id,omitempty"`   // event: its id, the log position
	Type        string          `json:"type,omitempty"` // event: create, update, delete
	Data        json.RawMessage `json:"data,omitempty"`
	Message     string          `json:"message,omitempty"`
	ReadyState  int             `json:"readyState,omitempty"`
	At          string          `json:"at,omitempty"` // when the test read the line, since the script started
}

// jsEvent is the data of a realtime event.
type jsEvent struct {
	Position   int64          `json:"position"`
	Collection string         `json:"collection"`
	Op         string         `json:"op"`
	Record     map[string]any `json:"record"`
}

// jsScript is a running client script.
type jsScript struct {
	t      *testing.T
	name   string
	stdin  io.WriteCloser
	lines  chan jsLine
	got    []jsLine
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (s *jsScript) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.Write(p)
}

// runScript starts node on a script of clients/js-test with env; it ends
// when the test does (its stdin closes).
func runScript(t *testing.T, name string, env ...string) *jsScript {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, "node", name)
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(), env...)
	s := &jsScript{t: t, name: name, lines: make(chan jsLine, 256)}
	cmd.Stderr = s
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l jsLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = jsLine{Kind: "garbage", Message: sc.Text()}
			}
			l.At = time.Since(started).Round(time.Millisecond).String()
			s.lines <- l
		}
	}()
	t.Cleanup(func() {
		stdin.Close() // the script closes its clients and exits
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	return s
}

// until reads the script's lines until cond holds, and fails the test
// with everything the script said if it does not within d.
func (s *jsScript) until(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.After(d)
	for !cond() {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.fatalf("%s exited before %s", s.name, what)
			}
			s.got = append(s.got, l)
		case <-deadline:
			s.fatalf("%s: no %s within %v", s.name, what, d)
		}
	}
}

func (s *jsScript) fatalf(format string, args ...any) {
	s.t.Helper()
	var b strings.Builder
	for _, l := range s.got {
		j, _ := json.Marshal(l)
		fmt.Fprintf(&b, "\n  %s", j)
	}
	s.mu.Lock()
	stderr := s.stderr.String()
	s.mu.Unlock()
	s.t.Fatalf(format+"\nlines:%s\nstderr:\n%s", append(args, b.String(), stderr)...)
}

// of returns the lines of one client, of one kind.
func (s *jsScript) of(client, kind string) []jsLine {
	var out []jsLine
	for _, l := range s.got {
		if l.Client == client && l.Kind == kind {
			out = append(out, l)
		}
	}
	return out
}

// jsProxy stands between the clients and the server, as a network
// would, so that the test can cut every connection at once and hold new
// ones back until it lets them through: what the clients miss meanwhile
// they must get on reconnection.
type jsProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	gate   chan struct{} // closed while connections pass
	conns  map[net.Conn]bool
	done   chan struct{}
}

func newJSProxy(t *testing.T, target string) *jsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &jsProxy{ln: ln, target: target, gate: make(chan struct{}), conns: map[net.Conn]bool{}, done: make(chan struct{})}
	close(p.gate)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(p.done)
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *jsProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *jsProxy) handle(c net.Conn) {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
	case <-p.done:
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.gate != gate { // cut while dialling
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	closeBoth := func() {
		c.Close()
		up.Close()
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, up)
		p.mu.Unlock()
	}
	go func() { io.Copy(up, c); closeBoth() }()
	io.Copy(c, up)
	closeBoth()
}

// Cut closes every open connection and holds new ones until Resume.
func (p *jsProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = make(chan struct{})
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Resume lets connections through again.
func (p *jsProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.gate)
}

// jsFixture is a server with a posts collection whose rules let a user
// see only the posts she owns, and Ada, a user.
type jsFixture struct {
	srv    *server
	key    string // admin API key
	ada    string // Ada's access token
	adaID  string
	others int
}

// newJSFixture starts a server on a new SQLite database, with the extra
// serve flags.
func newJSFixture(t *testing.T, serveFlags ...string) *jsFixture {
	t.Helper()
	data := t.TempDir()
	f := &jsFixture{key: createKey(t, nil, "--data", data)}
	f.srv = start(t, nil, append([]string{"--data", data}, serveFlags...)...)
	f.must(t, f.key, "POST", "/api/collections", map[string]any{
		"name": "posts",
		"fields": []map[string]any{
			{"name": "owner", "type": "text"}, {"name": "title", "type": "text"},
			{"name": "secret", "type": "text", "hidden": true},
		},
		"rules": map[string]any{"list": "owner = @auth.id", "view": "owner = @auth.id"},
	}, 201)
	f.ada = f.must(t, "", "POST", "/api/auth/signup", map[string]any{"email": "ada@example.com", "password": "correct horse battery staple"}, 201)["access_token"].(string)
	f.adaID = f.must(t, f.ada, "GET", "/api/auth/me", nil, 200)["id"].(string)
	return f
}

func (f *jsFixture) must(t *testing.T, key, method, path string, body any, want int) map[string]any {
	t.Helper()
	resp, b, err := call(f.srv.url, key, method, path, body)
	if err != nil || resp.StatusCode != want {
		t.Fatalf("%s %s: %v %s, want %d", method, path, err, b, want)
	}
	var m map[string]any
	if len(b) > 0 {
		json.Unmarshal(b, &m)
	}
	return m
}

// ticket returns a one-use realtime ticket for Ada.
func (f *jsFixture) ticket(t *testing.T) string {
	t.Helper()
	return f.must(t, f.ada, "POST", "/api/realtime/tickets", nil, 201)["ticket"].(string)
}

// post writes as the admin: a post of Ada's, or with mine false one of
// someone else's, which Ada's clients must never see.
func (f *jsFixture) post(t *testing.T, mine bool, title string) string {
	t.Helper()
	owner := f.adaID
	if !mine {
		f.others++
		owner = fmt.Sprint("someone-", f.others)
	}
	return f.must(t, f.key, "POST", "/api/collections/posts/records", map[string]any{"owner": owner, "title": title, "secret": "s3cret"}, 201)["id"].(string)
}

// jsWant is an event a client must receive: an op on a record.
type jsWant struct{ op, id string }

// checkStreams runs the same story for every named client of script s,
// which reach the server through p: events before a cut, events written
// while every connection is down, events after the clients are back.
// Each client must receive each of Ada's events exactly once, in order,
// nobody else's, and no hidden field; it must have resumed after the
// last event it had. It returns the time from the cut to the last
// client's receiving the missed events.
// Every script says "ready" when a client is subscribed: an EventSource
// when it opens, a WebSocket client when Basalt confirms its subscribe
// message.
func (f *jsFixture) checkStreams(t *testing.T, s *jsScript, p *jsProxy, clients []string) time.Duration {
	t.Helper()
	all := func(cond func(c string) bool) func() bool {
		return func() bool {
			for _, c := range clients {
				if !cond(c) {
					return false
				}
			}
			return true
		}
	}
	events := func(c string) int { return len(s.of(c, "event")) }
	s.until(20*time.Second, "subscription on every client", all(func(c string) bool { return len(s.of(c, "ready")) > 0 }))

	a1 := f.post(t, true, "one")
	f.post(t, false, "not Ada's")
	a2 := f.post(t, true, "two")
	expect := []jsWant{{"create", a1}, {"create", a2}}
	s.until(10*time.Second, "first two events", all(func(c string) bool { return events(c) >= 2 }))

	p.Cut()
	cut := time.Now()
	f.must(t, f.key, "PATCH", "/api/collections/posts/records/"+a1, map[string]any{"title": "one, edited"}, 200)
	a3 := f.post(t, true, "three")
	f.post(t, false, "not Ada's either")
	f.must(t, f.key, "DELETE", "/api/collections/posts/records/"+a2, nil, 204)
	expect = append(expect, jsWant{"update", a1}, jsWant{"create", a3}, jsWant{"delete", a2})
	p.Resume()
	s.until(20*time.Second, "the events missed while cut off", all(func(c string) bool { return events(c) >= 5 }))
	resumed := time.Since(cut)

	a4 := f.post(t, true, "four")
	f.must(t, f.key, "PATCH", "/api/collections/posts/records/"+a3, map[string]any{"title": "three, edited"}, 200)
	// The last event marks the end: a stream delivers in order, so any
	// repeat of an earlier event would come before it.
	last := f.post(t, true, "last")
	expect = append(expect, jsWant{"create", a4}, jsWant{"update", a3}, jsWant{"create", last})
	s.until(10*time.Second, "the live events after the reconnection", all(func(c string) bool { return events(c) >= len(expect) }))

	for _, c := range clients {
		got := s.of(c, "event")
		var prev int64
		for i, l := range got {
			var e jsEvent
			if err := json.Unmarshal(l.Data, &e); err != nil {
				s.fatalf("%s: event data %s: %v", c, l.Data, err)
			}
			if i >= len(expect) || e.Op != expect[i].op || l.Type != e.Op || e.Record["id"] != expect[i].id {
				s.fatalf("%s: event %d is %s %v; want exactly %v, in order, once each", c, i, e.Op, e.Record["id"], expect)
			}
			if e.Record["owner"] != f.adaID || e.Record["secret"] != nil || e.Collection != "posts" {
				s.fatalf("%s: event %d shows %v; want Ada's post without its hidden field", c, i, e.Record)
			}
			if l.ID != fmt.Sprint(e.Position) || e.Position <= prev {
				s.fatalf("%s: event %d has id %q, position %d after %d; want the position as id, increasing", c, i, l.ID, e.Position, prev)
			}
			prev = e.Position
		}
		if len(got) != len(expect) {
			s.fatalf("%s: %d events, want %d", c, len(got), len(expect))
		}
		// The client resumed after the last event it had before the cut,
		// the second: by Last-Event-ID, which EventSource sends itself,
		// or by an after of its own.
		var from []string
		for _, l := range s.of(c, "connect") {
			switch {
			case l.After != nil:
				from = append(from, *l.After)
			case l.N > 1 && l.LastEventID != nil:
				from = append(from, *l.LastEventID)
			}
		}
		if len(from) == 0 || from[len(from)-1] != got[1].ID {
			s.fatalf("%s: resumed after %v; want a resumption after %s", c, from, got[1].ID)
		}
		if refused := s.of(c, "refused"); len(refused) > 0 {
			s.fatalf("%s: Basalt refused %v", c, refused)
		}
	}
	return resumed
}

// proxied starts a fixture, with the serve flags, and a proxy to it.
func proxied(t *testing.T, serveFlags ...string) (*jsFixture, *jsProxy) {
	t.Helper()
	f := newJSFixture(t, serveFlags...)
	return f, newJSProxy(t, strings.TrimPrefix(f.srv.url, "http://"))
}

// TestEventSourceNPM follows the stream with the npm eventsource package,
// authenticated by an Authorization header on one client and by tickets
// on the other, and cuts the network under both: the package reconnects
// by itself with Last-Event-ID and gets what it missed, once. The ticket
// client gets a fresh ticket for each connection through the package's
// fetch option, since a ticket is spent once used.
func TestEventSourceNPM(t *testing.T) { testNodeClients(t, "sse-node.mjs", "npm eventsource") }

// testNodeClients runs the header and ticket clients of a Node.js script
// through the story of checkStreams.
func testNodeClients(t *testing.T, script, what string) {
	jsNeedNode(t)
	t.Parallel()
	f, p := proxied(t)
	s := runScript(t, script, "BASALT_URL="+p.URL(), "BASALT_TOKEN="+f.ada, "BASALT_TICKET="+f.ticket(t), "BASALT_SUBSCRIBE=posts")
	resumed := f.checkStreams(t, s, p, []string{"header", "ticket"})
	t.Logf("%s: both clients had the missed events %v after the network came back", what, resumed.Round(time.Millisecond))
}

// TestBrowserEventSource serves a page, from an origin other than
// Basalt's (CORS), that follows the stream with headless Chromium's own
// EventSource, with tickets it gets with Ada's token. After the cut, the
// EventSource's own retry reuses its spent ticket and is refused; the
// page then gets a new ticket and resumes with after=.
func TestBrowserEventSource(t *testing.T) { testBrowser(t, "sse.html", "browser-sse") }

// testBrowser serves the page of clients/js-test named html, whose client
// reports as client, opens it in headless Chromium and runs it through
// the story of checkStreams.
func testBrowser(t *testing.T, html, client string) {
	jsNeedNode(t)
	chromium := jsChromium(t)
	t.Parallel()
	files := map[string]string{"/" + html: html, "/page.js": "page.js"}
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(jsDir, name))
	}))
	t.Cleanup(page.Close)
	f, p := proxied(t, "--cors-origins", page.URL)
	q := url.Values{"api": {p.URL()}, "token": {f.ada}, "subscribe": {"posts"}}
	s := runScript(t, "browser.mjs", "BASALT_PAGES="+page.URL+"/"+html+"?"+q.Encode(), "BASALT_CHROMIUM="+chromium)
	resumed := f.checkStreams(t, s, p, []string{client})
	if errs := s.of("browser", "pageerror"); len(errs) > 0 {
		s.fatalf("the page failed: %v", errs)
	}
	t.Logf("Chromium, %s: the page had the missed events %v after the network came back", html, resumed.Round(time.Millisecond))
}
