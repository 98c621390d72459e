package realtime_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

// The hub against a real SQLite store: what it hands out is what the log
// holds, in the log's order.

type bundle struct {
	db       *sqlite.DB
	hub      *realtime.Hub
	posts    *basalt.Collection
	comments *basalt.Collection
	stop     func() // stops the hub and waits for Run to return
	ids      atomic.Int64
}

// openSQLite opens a migrated store in a temporary directory.
func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// setup opens a store with two collections and starts a hub after its
// head. poll is the hub's poll interval; 0 keeps the default.
func setup(t *testing.T, poll time.Duration) *bundle {
	t.Helper()
	ctx := context.Background()
	db := openSQLite(t)
	b := &bundle{db: db}
	b.posts = storetest.MustCollection(t, db, &basalt.Collection{Name: "posts", Fields: []basalt.Field{{Name: "title", Type: basalt.TypeText}}})
	b.comments = storetest.MustCollection(t, db, &basalt.Collection{Name: "comments", Fields: []basalt.Field{{Name: "text", Type: basalt.TypeText}}})
	head, err := db.EventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.hub = realtime.NewHub(db, head, nil)
	if poll > 0 {
		b.hub.Poll = poll
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.hub.Run(hctx)
	}()
	b.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(b.stop)
	return b
}

// insert writes a record and wakes the hub, as the app does after a
// local write; it returns the event.
func (b *bundle) insert(t testing.TB, tenant string, c *basalt.Collection) *basalt.Event {
	t.Helper()
	e := b.insertQuiet(t, tenant, c)
	b.hub.Wake()
	return e
}

// insertQuiet writes a record without waking the hub: the write of
// another node whose notification was lost.
func (b *bundle) insertQuiet(t testing.TB, tenant string, c *basalt.Collection) *basalt.Event {
	t.Helper()
	id := fmt.Sprintf("%026d", b.ids.Add(1))
	e, err := b.db.RecordInsert(context.Background(), &store.RecordInsertParams{TenantID: tenant, Collection: c, Record: storetest.NewRecord(id, map[string]any{})})
	if err != nil {
		t.Errorf("RecordInsert(%s, %s) = %v", tenant, c.Name, err)
		return nil
	}
	return e
}

func interest(coll string, tenants ...string) realtime.Interest {
	return realtime.Interest{Tenants: tenants, Collections: map[string]bool{coll: true}}
}

// takers hold what tests took from a subscription but have not read.
var takers sync.Map // *realtime.Sub -> *taker

type taker struct {
	mu      sync.Mutex
	pending []*basalt.Event
	ended   bool
}

// next returns the next event of s, waiting up to wait for it: open is
// false when s has ended, timedOut true when nothing came in time.
func next(s *realtime.Sub, wait time.Duration) (e *basalt.Event, open, timedOut bool) {
	v, _ := takers.LoadOrStore(s, &taker{})
	tk := v.(*taker)
	tk.mu.Lock()
	defer tk.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if len(tk.pending) > 0 {
			e, tk.pending = tk.pending[0], tk.pending[1:]
			return e, true, false
		}
		if tk.ended {
			return nil, false, false
		}
		events, open := s.Take(nil)
		tk.pending = append(tk.pending, events...)
		tk.ended = !open
		if len(events) > 0 || !open {
			continue
		}
		select {
		case <-s.Ready():
		case <-timer.C:
			return nil, true, true
		}
	}
}

// receive takes n events from s, failing after a deadline or if s ends.
func receive(t *testing.T, s *realtime.Sub, n int) []int64 {
	t.Helper()
	var got []int64
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		e, open, timedOut := next(s, time.Until(deadline))
		switch {
		case timedOut:
			t.Fatalf("received %d of %d events %v before the deadline", len(got), n, got)
		case !open:
			t.Fatalf("the subscription ended after %d of %d events %v (lagged %v)", len(got), n, got, s.Lagged())
		}
		got = append(got, e.Position)
	}
	return got
}

// quiet fails if s receives anything before the hub has handed out
// position pos: the hub dispatches in order, so whatever s wanted up to
// pos would be in its buffer by then.
func quiet(t *testing.T, b *bundle, s *realtime.Sub, pos int64) {
	t.Helper()
	waitFor(t, func() bool { return b.hub.Position() >= pos }, "the hub to reach %d", pos)
	if e, open, timedOut := next(s, 0); !timedOut {
		t.Errorf("received %+v (open %v), want nothing", e, open)
	}
}

func waitFor(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+what, args...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func positions(es []*basalt.Event) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Position
	}
	return out
}

func TestHubFansOutInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	subs := []*realtime.Sub{
		b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 100),
		b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 100),
	}
	if n := b.hub.Subscribers(); n != 2 {
		t.Errorf("Subscribers() = %d, want 2", n)
	}
	var want []*basalt.Event
	for range 30 {
		want = append(want, b.insert(t, basalt.DefaultTenant, b.posts))
	}
	for i, s := range subs {
		if got := receive(t, s, len(want)); !slices.Equal(got, positions(want)) {
			t.Errorf("subscriber %d received %v, want %v", i, got, positions(want))
		}
	}
	if delivered, dropped := b.hub.Stats(); delivered != 60 || dropped != 0 {
		t.Errorf("Stats() = %d, %d; want 60 delivered, none dropped", delivered, dropped)
	}
}

func TestHubEventsCarryTheRecord(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	s := b.hub.Subscribe(interest("posts", "acme"), 10)
	want := b.insert(t, "acme", b.posts)
	got, open, timedOut := next(s, 10*time.Second)
	if timedOut || !open {
		t.Fatalf("no event (ended %v)", !open)
	}
	if got.Position != want.Position || got.TenantID != "acme" || got.Collection != "posts" || got.Op != basalt.OpCreate || got.RecordID != want.RecordID || len(got.Record) == 0 {
		t.Errorf("event = %+v, want %+v", got, want)
	}
}

func TestHubInterest(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	acmePosts := b.hub.Subscribe(interest("posts", "acme"), 100)
	initechPosts := b.hub.Subscribe(interest("posts", "initech"), 100)
	acmeComments := b.hub.Subscribe(interest("comments", "acme"), 100)
	acmeAndGlobal := b.hub.Subscribe(interest("posts", "acme", basalt.GlobalTenant), 100)

	var ap, ip, ac, gp []int64
	for i := range 40 {
		switch i % 4 {
		case 0:
			ap = append(ap, b.insert(t, "acme", b.posts).Position)
		case 1:
			ip = append(ip, b.insert(t, "initech", b.posts).Position)
		case 2:
			ac = append(ac, b.insert(t, "acme", b.comments).Position)
		case 3:
			gp = append(gp, b.insert(t, basalt.GlobalTenant, b.posts).Position)
		}
	}
	for _, c := range []struct {
		name string
		sub  *realtime.Sub
		want []int64
	}{
		{"acme posts", acmePosts, ap},
		{"initech posts", initechPosts, ip},
		{"acme comments", acmeComments, ac},
		{"acme and global posts", acmeAndGlobal, slices.Sorted(slices.Values(append(slices.Clone(ap), gp...)))},
	} {
		if got := receive(t, c.sub, len(c.want)); !slices.Equal(got, c.want) {
			t.Errorf("%s received %v, want %v", c.name, got, c.want)
		}
		quiet(t, b, c.sub, b.hub.Position())
	}

	// A changed interest applies to the events that follow.
	acmePosts.SetInterest(interest("comments", "initech"))
	skipped := b.insert(t, "acme", b.posts).Position
	quiet(t, b, acmePosts, skipped)
	want := b.insert(t, "initech", b.comments).Position
	if got := receive(t, acmePosts, 1); got[0] != want {
		t.Errorf("after SetInterest received %v, want [%d]", got, want)
	}
}

func TestHubCutsOffSlowSubscriber(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	slow := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 3)
	fast := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 3)
	var want []int64
	for range 20 {
		want = append(want, b.insert(t, basalt.DefaultTenant, b.posts).Position)
		// The fast subscriber keeps up: it takes each event before the
		// next is written.
		if got := receive(t, fast, 1); got[0] != want[len(want)-1] {
			t.Fatalf("fast subscriber received %v, want [%d]", got, want[len(want)-1])
		}
	}
	// The slow one never read: it got what its buffer held, then the end.
	var got []int64
	for {
		e, open, timedOut := next(slow, 10*time.Second)
		if timedOut {
			t.Fatalf("the slow subscription neither ended nor received after %v", got)
		}
		if !open {
			break
		}
		got = append(got, e.Position)
	}
	if !slices.Equal(got, want[:3]) || !slow.Lagged() {
		t.Errorf("slow subscriber received %v then the end (lagged %v), want %v and lagged", got, slow.Lagged(), want[:3])
	}
	if fast.Lagged() {
		t.Error("the fast subscriber is marked lagged")
	}
	if _, dropped := b.hub.Stats(); dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	if n := b.hub.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d after the cut-off, want 1", n)
	}
	slow.Close() // closing a cut-off subscription is harmless

	// What the slow subscriber missed is in the log: it resumes there.
	resumed := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 3)
	var replayed []int64
	if err := resumed.Replay(context.Background(), got[len(got)-1], func(e *basalt.Event) error {
		replayed = append(replayed, e.Position)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(replayed, want[3:]) {
		t.Errorf("Replay after %d = %v, want %v", got[len(got)-1], replayed, want[3:])
	}
}

// TestHubPolls: a write nobody announced (another node's notification
// lost) still reaches subscribers, within the poll interval.
func TestHubPolls(t *testing.T) {
	t.Parallel()
	b := setup(t, 20*time.Millisecond)
	s := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 10)
	want := b.insertQuiet(t, basalt.DefaultTenant, b.posts).Position
	if got := receive(t, s, 1); got[0] != want {
		t.Errorf("received %v, want [%d]", got, want)
	}
}

// TestHubReplayThenLive: subscribers join while writers write to two
// tenants; each replays from a position of its choice to its start, then
// takes the live events, and must see every event of its tenant after
// that position exactly once, in order.
func TestHubReplayThenLive(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	tenants := []string{"acme", "initech"}
	const writers, writes, subscribers = 4, 60, 12

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				c := b.posts
				if i%5 == 4 {
					c = b.comments // not of interest: must not show up
				}
				b.insert(t, tenants[(w+i)%2], c)
			}
		})
	}
	type result struct {
		tenant       string
		after, start int64
		got          []int64
		err          error
	}
	results := make(chan result, subscribers)
	start := b.hub.Position()
	var subWG sync.WaitGroup
	for i := range subscribers {
		subWG.Go(func() {
			// Join at staggered moments, while the writers write.
			for b.hub.Position() < start+int64(i*writers*writes/subscribers) {
				time.Sleep(time.Millisecond)
			}
			r := result{tenant: tenants[i%2]}
			s := b.hub.Subscribe(interest("posts", r.tenant), writers*writes)
			defer s.Close()
			r.start = s.Start()
			r.after = rand.Int64N(r.start + 1) // any position up to its start
			r.err = s.Replay(context.Background(), r.after, func(e *basalt.Event) error {
				if e.Collection == "posts" {
					r.got = append(r.got, e.Position)
				}
				return nil
			})
			// Live, until the writers are done and the hub has handed out
			// everything: then the buffer holds the rest.
			wg.Wait()
			head, _ := b.db.EventHead(context.Background())
			for b.hub.Position() < head {
				time.Sleep(time.Millisecond)
			}
			for {
				e, open, timedOut := next(s, 0)
				if timedOut || !open {
					break
				}
				r.got = append(r.got, e.Position)
			}
			results <- r
		})
	}
	subWG.Wait()
	close(results)

	all := map[string][]int64{}
	for _, tenant := range tenants {
		events, err := b.db.EventList(context.Background(), &store.EventListParams{TenantID: tenant, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Collection == "posts" {
				all[tenant] = append(all[tenant], e.Position)
			}
		}
	}
	head, _ := b.db.EventHead(context.Background())
	midway := 0
	for r := range results {
		if r.start > all[r.tenant][0] && r.start < head {
			midway++
		}
		if r.err != nil {
			t.Errorf("Replay = %v", r.err)
			continue
		}
		var want []int64
		for _, p := range all[r.tenant] {
			if p > r.after {
				want = append(want, p)
			}
		}
		if !slices.Equal(r.got, want) {
			t.Errorf("%s after %d: got %d events, want %d\n got %v\nwant %v", r.tenant, r.after, len(r.got), len(want), r.got, want)
		}
	}
	if midway == 0 {
		t.Error("no subscriber joined while the writers wrote: the test proved nothing")
	}
}

func TestHubStop(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	s := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 10)
	closed := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 10)
	closed.Close()
	closed.Close() // twice is harmless
	if _, open, _ := next(closed, 10*time.Second); open {
		t.Error("a closed subscription is open")
	}
	b.stop()
	if _, open, _ := next(s, 10*time.Second); open || s.Lagged() {
		t.Errorf("after the hub stopped: open %v, lagged %v; want ended, not lagged", open, s.Lagged())
	}
	if n := b.hub.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d after the stop, want 0", n)
	}
	s.Close()
	// A subscription to a stopped hub ends at once rather than wait for
	// events that will never come.
	late := b.hub.Subscribe(interest("posts", basalt.DefaultTenant), 10)
	switch e, open, timedOut := next(late, 10*time.Second); {
	case timedOut:
		t.Fatal("a subscription to a stopped hub stays open")
	case open:
		t.Errorf("a stopped hub sent %+v", e)
	}
}

// countingLog counts the hub's reads of event pages from the real store.
type countingLog struct {
	realtime.Log
	lists atomic.Int64
}

func (l *countingLog) EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error) {
	l.lists.Add(1)
	return l.Log.EventList(ctx, p)
}

// TestHubIdleFollowsHead: with no subscription open, the hub reads only
// the log's head, never its events, and keeps its position there; a
// subscription opened afterwards gets the events written after it, and
// none before.
func TestHubIdleFollowsHead(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t)
	posts := storetest.MustCollection(t, db, &basalt.Collection{Name: "posts", Fields: []basalt.Field{{Name: "title", Type: basalt.TypeText}}})
	log := &countingLog{Log: db}
	hub := realtime.NewHub(log, 0, nil)
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(hctx) }()
	t.Cleanup(func() { cancel(); <-done })
	b := &bundle{db: db, hub: hub, posts: posts}

	var last *basalt.Event
	for range 20 {
		last = b.insert(t, "acme", posts)
	}
	deadline := time.Now().Add(5 * time.Second)
	for hub.Position() < last.Position && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if hub.Position() != last.Position {
		t.Fatalf("idle hub at position %d, want the head %d", hub.Position(), last.Position)
	}
	if n := log.lists.Load(); n != 0 {
		t.Errorf("idle hub read %d pages of events, want none", n)
	}

	s := hub.Subscribe(interest("posts", "acme"), 100)
	if s.Start() != last.Position {
		t.Errorf("subscription starts at %d, want %d", s.Start(), last.Position)
	}
	want := b.insert(t, "acme", posts)
	e, open, timedOut := next(s, 5*time.Second)
	if !open || timedOut || e.Position != want.Position {
		t.Fatalf("after subscribing got %v (open %v, timed out %v), want the event at %d", e, open, timedOut, want.Position)
	}
	if log.lists.Load() == 0 {
		t.Error("with a subscription open, the hub read no events")
	}
}
