package natsexport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		e    basalt.Event
		want string
	}{
		{basalt.Event{TenantID: "acme", Collection: "posts", Op: basalt.OpCreate}, "basalt.acme.posts.create"},
		{basalt.Event{TenantID: basalt.GlobalTenant, Collection: "plans", Op: basalt.OpDelete}, "basalt._global.plans.delete"},
		{basalt.Event{Collection: "posts", Op: basalt.OpSchema}, "basalt._.posts.schema"},
		// Keys may name any tenant; what a token cannot hold is escaped,
		// and so is the escape character.
		{basalt.Event{TenantID: "a.b c*>%d\x00é", Collection: "posts", Op: basalt.OpUpdate}, "basalt.a%2Eb%20c%2A%3E%25d%00%C3%A9.posts.update"},
	} {
		if got := Subject("basalt", &tc.e); got != tc.want {
			t.Errorf("Subject(%q) = %q; want %q", tc.e.TenantID, got, tc.want)
		}
	}
}

// env is one test's store, NATS stream and subjects, apart from every
// other test's on the shared server.
type env struct {
	t      *testing.T
	url    string
	db     store.Store   // the first node's store
	nodes  []store.Store // every node's, db first; writes go through all
	coll   *basalt.Collection
	stream string
	prefix string
	js     jetstream.JetStream
	n      atomic.Int64
}

// drivers are the stores the tests run on: SQLite, one node; and
// PostgreSQL, two nodes on one schema as an ordinary role.
var drivers = []string{"sqlite", "postgres"}

func newEnv(t *testing.T, driver string) *env {
	url := testdb.NATSURL(t)
	ctx := context.Background()
	var nodes []store.Store
	switch driver {
	case "sqlite":
		db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes = append(nodes, db)
	case "postgres":
		roleURL, schema := testdb.Role(t, testdb.PostgresURL(t))
		for range 2 {
			db, err := postgres.Open(ctx, roleURL, postgres.Options{Schema: schema, MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			nodes = append(nodes, db)
		}
	}
	db := nodes[0]
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, url: url, db: db, nodes: nodes, stream: "TEST_" + id, prefix: "basalt_test_" + id, js: js}
	t.Cleanup(func() { js.DeleteStream(context.Background(), e.stream) })
	e.coll = storetest.MustCollection(t, db, &basalt.Collection{Name: "posts", Fields: []basalt.Field{{Name: "title", Type: basalt.TypeText}}})
	return e
}

// config returns an exporter's configuration with short timings.
func (e *env) config(holder string) Config {
	return Config{URL: e.url, Stream: e.stream, Prefix: e.prefix, Holder: holder, Lease: time.Second, Poll: 20 * time.Millisecond,
		Batch: 50, Timeout: 2 * time.Second, MaxBackoff: 200 * time.Millisecond}
}

// write appends n events: creates in two tenants, with updates and
// deletes among them.
func (e *env) write(n int) {
	ctx := context.Background()
	for range n {
		i := e.n.Add(1)
		tenant := []string{"acme", "globex"}[i%2]
		id := fmt.Sprintf("r%06d", i)
		db := e.nodes[int(i/2)%len(e.nodes)] // writes through every node
		var err error
		switch {
		case i%7 == 0 && i > 2:
			_, err = db.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: tenant, Collection: e.coll, ID: fmt.Sprintf("r%06d", i-2)})
		case i%5 == 0 && i > 2:
			_, _, err = db.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: tenant, Collection: e.coll, ID: fmt.Sprintf("r%06d", i-2),
				Values: map[string]any{"title": "changed"}, Updated: time.Now()})
		default:
			_, err = db.RecordInsert(ctx, &store.RecordInsertParams{TenantID: tenant, Collection: e.coll, Record: storetest.NewRecord(id, map[string]any{"title": id})})
		}
		// Concurrent writers may change or delete one record at once.
		if code := basalt.ErrorCode(err); err != nil && code != basalt.CodeNotFound && code != basalt.CodePreconditionFailed {
			e.t.Errorf("write %d: %v", i, err)
		}
	}
}

// log returns the whole event log.
func (e *env) log() []basalt.Event {
	e.t.Helper()
	var out []basalt.Event
	for {
		page, err := e.db.EventList(context.Background(), &store.EventListParams{AllTenants: true, After: lastPos(out), Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
}

func lastPos(es []basalt.Event) int64 {
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Position
}

// start runs an exporter until the returned stop is called.
func (e *env) start(l Log, cfg Config) (x *Exporter, stop func()) {
	x = New(l, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); x.Run(ctx) }()
	stop = sync.OnceFunc(func() { cancel(); <-done })
	e.t.Cleanup(stop)
	return x, stop
}

// waitExported waits until the cursor reaches the end of the log.
func (e *env) waitExported(d time.Duration) {
	e.t.Helper()
	head := lastPos(e.log())
	waitFor(e.t, d, fmt.Sprintf("the cursor reaches position %d", head), func() bool {
		pos, err := e.db.CursorGet(context.Background(), "nats:"+e.stream)
		return err == nil && pos == head
	})
}

// checkStream reads the stream with a JetStream consumer and checks that
// it holds the event log exactly: each event once, in position order, on
// its subject, with its position as message id and its JSON as payload.
func (e *env) checkStream() {
	t := e.t
	t.Helper()
	want := e.log()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := e.js.OrderedConsumer(ctx, e.stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for len(got) < len(want) && ctx.Err() == nil {
		batch, err := cons.Fetch(len(want)-len(got), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got = append(got, m)
		}
	}
	info, err := e.js.Stream(ctx, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != uint64(len(want)) || len(got) != len(want) {
		t.Fatalf("the stream holds %d messages (the consumer read %d); the log has %d events", n, len(got), len(want))
	}
	for i, m := range got {
		w := &want[i]
		var ev basalt.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		wantJSON, _ := json.Marshal(w)
		if id := m.Headers().Get(jetstream.MsgIDHeader); id != strconv.FormatInt(w.Position, 10) || m.Subject() != Subject(e.prefix, w) || string(m.Data()) != string(wantJSON) {
			t.Fatalf("message %d: id %s subject %s data %s; want id %d subject %s data %s", i, id, m.Subject(), m.Data(), w.Position, Subject(e.prefix, w), wantJSON)
		}
	}
}

// lastID returns the message id of the stream's last message.
func (e *env) lastID() int64 {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, e.stream)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, e.prefix+".>")
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := strconv.ParseInt(m.Header.Get(jetstream.MsgIDHeader), 10, 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// noDuplicates checks that JetStream had no duplicate to drop: no
// exporter sent an event the stream already held.
func noDuplicates(t *testing.T, xs ...*Exporter) {
	t.Helper()
	for i, x := range xs {
		if d := x.acked.Load() - x.published.Load(); d != 0 {
			t.Errorf("exporter %d sent %d events the stream held already", i+1, d)
		}
	}
}

func TestExportInOrder(t *testing.T) { forEachDriver(t, testExportInOrder) }

func testExportInOrder(t *testing.T, e *env) {
	e.write(120)
	x, _ := e.start(e.db, e.config("n1"))
	e.waitExported(10 * time.Second)
	e.checkStream()
	if !x.Leader() || x.Position() != lastPos(e.log()) {
		t.Errorf("Leader() = %v, Position() = %d; want true, %d", x.Leader(), x.Position(), lastPos(e.log()))
	}
	// The stream was made as configured.
	s, err := e.js.Stream(context.Background(), e.stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != e.prefix+".>" || cfg.Duplicates != 10*time.Minute {
		t.Errorf("stream subjects %v, duplicates window %v; want [%s.>], 10m", cfg.Subjects, cfg.Duplicates, e.prefix)
	}
	// Subjects as consumers filter them.
	first := e.log()[0]
	if first.Op != basalt.OpSchema || Subject(e.prefix, &first) != e.prefix+"._.posts.schema" {
		t.Errorf("the first event is %s on %s; want the collection's schema event on %s._.posts.schema", first.Op, Subject(e.prefix, &first), e.prefix)
	}
	// Events written while it runs follow.
	e.write(30)
	e.waitExported(10 * time.Second)
	e.checkStream()
}

// recordingLog notes where each exporter session starts reading.
type recordingLog struct {
	Log
	mu     sync.Mutex
	afters []int64
}

func (l *recordingLog) EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error) {
	l.mu.Lock()
	l.afters = append(l.afters, p.After)
	l.mu.Unlock()
	return l.Log.EventList(ctx, p)
}

func (l *recordingLog) first() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.afters) == 0 {
		return -1
	}
	return l.afters[0]
}

// TestExportResumes stops the exporter mid-way while writes go on, and
// starts another: it starts from the cursor, and the stream holds every
// event once.
func TestExportResumes(t *testing.T) { forEachDriver(t, testExportResumes) }

func testExportResumes(t *testing.T, e *env) {
	stopWriting := e.writeOn()
	x1, stop1 := e.start(e.db, e.config("n1"))
	waitFor(t, 10*time.Second, "the first exporter gets going", func() bool { return x1.Position() >= 60 })
	stop1()
	cursor, err := e.db.CursorGet(context.Background(), "nats:"+e.stream)
	if err != nil || cursor != x1.Position() {
		t.Fatalf("after a stop, the cursor is at %d (%v); the exporter had %d acknowledged", cursor, err, x1.Position())
	}
	lastID := e.lastID()
	rec := &recordingLog{Log: e.last()}
	x2, _ := e.start(rec, e.config("n2"))
	waitFor(t, 10*time.Second, "the second exporter gets going", func() bool { return x2.Position() > cursor+30 })
	stopWriting()
	e.waitExported(10 * time.Second)
	e.checkStream()
	// A publish cut short by the stop may have reached the stream with its
	// acknowledgement lost: the next exporter starts after it.
	if start := max(cursor, lastID); rec.first() != start {
		t.Errorf("the second exporter read the log from %d; the cursor was at %d, the stream's last message at %d", rec.first(), cursor, lastID)
	}
	noDuplicates(t, x1, x2)
}

// writeOn writes from one writer per node until the returned function
// is called. On PostgreSQL the writers commit out of position order,
// which the log's reader settles.
func (e *env) writeOn() (stop func()) {
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for range e.nodes {
		wg.Go(func() {
			for {
				select {
				case <-quit:
					return
				default:
				}
				e.write(3)
				time.Sleep(time.Millisecond)
			}
		})
	}
	stop = sync.OnceFunc(func() { close(quit); wg.Wait() })
	e.t.Cleanup(stop) // before the store closes
	return stop
}

// failingCursor acknowledges nothing to the cursor after the first n
// moves: a node that dies after JetStream acknowledged events and before
// its cursor moved.
type failingCursor struct {
	Log
	n atomic.Int64
}

func (l *failingCursor) CursorSet(ctx context.Context, name, holder string, pos int64) error {
	if l.n.Add(-1) < 0 {
		return errors.New("the node died")
	}
	return l.Log.CursorSet(ctx, name, holder, pos)
}

func (l *failingCursor) CursorLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	if until.Equal(now) {
		return false, errors.New("the node died") // it cannot give the lease up either
	}
	return l.Log.CursorLease(ctx, name, holder, now, until)
}

// TestExportAfterCrash: a node dies after JetStream acknowledged events
// that its cursor does not show, holding the lease. Another node takes
// over when the lease expires, and goes on from the last event in the
// stream rather than from the cursor, sending nothing twice.
func TestExportAfterCrash(t *testing.T) { forEachDriver(t, testExportAfterCrash) }

func testExportAfterCrash(t *testing.T, e *env) {
	e.write(200)
	dying := &failingCursor{Log: e.db}
	dying.n.Store(2)
	cfg := e.config("n1")
	cfg.MaxBackoff = time.Hour // once failed, it stays down
	x1, stop1 := e.start(dying, cfg)
	waitFor(t, 10*time.Second, "the first node fails", func() bool { return dying.n.Load() < 0 })
	stop1()
	cursor, _ := e.db.CursorGet(context.Background(), "nats:"+e.stream)
	if x1.Position() <= cursor {
		t.Fatalf("the dead node's acknowledged position %d is not past the cursor %d; the test proves nothing", x1.Position(), cursor)
	}
	x2, _ := e.start(e.last(), e.config("n2"))
	e.waitExported(10 * time.Second)
	e.checkStream()
	noDuplicates(t, x1, x2)
}

// countingHandler counts the warnings logged.
type countingHandler struct {
	slog.Handler
	warnings atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warnings.Add(1)
	}
	return nil
}

// TestExportThroughOutage starts the exporter while NATS cannot be
// reached, then lets it through, then cuts it off in the middle of the
// export, and checks that the stream ends up with every event once.
func TestExportThroughOutage(t *testing.T) { forEachDriver(t, testExportThroughOutage) }

func testExportThroughOutage(t *testing.T, e *env) {
	p := testdb.NewProxy(t, hostOf(e.url))
	p.Cut() // down until up
	cfg := e.config("n1")
	cfg.URL = "nats://" + p.Addr()
	h := &countingHandler{Handler: slog.DiscardHandler}
	cfg.Log = slog.New(h)
	e.write(100)
	x, _ := e.start(e.db, cfg)
	waitFor(t, 10*time.Second, "the exporter fails to connect three times", func() bool { return h.warnings.Load() >= 3 })
	if pos, _ := e.db.CursorGet(context.Background(), "nats:"+e.stream); pos != 0 || x.Position() != 0 {
		t.Fatalf("with NATS unreachable, the cursor moved to %d (exporter at %d)", pos, x.Position())
	}
	p.Restore()
	e.waitExported(10 * time.Second)

	// An outage in the middle of the export.
	stopWriting := e.writeOn()
	at := x.Position()
	waitFor(t, 10*time.Second, "the export goes on", func() bool { return x.Position() > at+20 })
	warned := h.warnings.Load()
	p.Cut()
	waitFor(t, 10*time.Second, "the exporter notices the outage", func() bool { return h.warnings.Load() > warned })
	stalled := x.Position()
	e.write(50)
	p.Restore()
	waitFor(t, 10*time.Second, "the export resumes", func() bool { return x.Position() > stalled+50 })
	stopWriting()
	e.waitExported(10 * time.Second)
	e.checkStream()
}

// hostOf returns the host:port of the first server of a NATS URL.
func hostOf(s string) string {
	u, err := neturl.Parse(strings.Split(s, ",")[0])
	if err != nil || u.Host == "" {
		return s
	}
	return u.Host
}

// TestExportOneNodeAtATime runs two exporters on one database: one
// exports while the other waits; when it stops, the other takes over.
func TestExportOneNodeAtATime(t *testing.T) { forEachDriver(t, testExportOneNodeAtATime) }

func testExportOneNodeAtATime(t *testing.T, e *env) {
	stopWriting := e.writeOn()
	x1, stop1 := e.start(e.db, e.config("n1"))
	waitFor(t, 10*time.Second, "the first node exports", func() bool { return x1.Position() > 30 })
	x2, _ := e.start(e.last(), e.config("n2"))
	at := x1.Position()
	waitFor(t, 10*time.Second, "the export goes on", func() bool { return x1.Position() > at+30 })
	if x2.Leader() || x2.acked.Load() != 0 {
		t.Fatalf("the second node exports (leader %v, %d published) while the first holds the lease", x2.Leader(), x2.acked.Load())
	}
	stop1() // gives the lease up
	waitFor(t, 5*time.Second, "the second node takes over", func() bool { return x2.Leader() && x2.Position() > x1.Position() })
	stopWriting()
	e.waitExported(10 * time.Second)
	e.checkStream()
	noDuplicates(t, x1, x2)
}

// forEachDriver runs test on each store, in parallel.
func forEachDriver(t *testing.T, test func(*testing.T, *env)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, d))
		})
	}
}

// last is the last node's store: the first node's on SQLite.
func (e *env) last() store.Store { return e.nodes[len(e.nodes)-1] }

// waitFor polls cond until it holds, failing the test at the deadline.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
