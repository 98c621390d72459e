package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/cache"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

// database is one database that nodes open.
type database struct {
	postgres bool
	raw      func(t *testing.T) store.Store // a new node's store
}

// open opens a new node's store and migrates the database.
func (d *database) open(t *testing.T) store.Store {
	t.Helper()
	s := d.raw(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// node opens a node of d with the caches of o in front of its store.
func (d *database) node(t *testing.T, o cache.Options) *cache.Store {
	t.Helper()
	s := cache.New(d.open(t), o)
	head, err := s.EventHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Follow(head)
	return s
}

func sqliteDB(t *testing.T) *database {
	dir := t.TempDir()
	return &database{raw: func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
		if err != nil {
			t.Fatalf("sqlite.Open() = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

func postgresDB(t *testing.T) *database {
	roleURL, schema := testdb.Role(t, testdb.PostgresURL(t))
	return &database{postgres: true, raw: func(t *testing.T) store.Store {
		db, err := postgres.Open(context.Background(), roleURL, postgres.Options{Schema: schema, MaxConns: 8})
		if err != nil {
			t.Fatalf("postgres.Open() = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

// eachDriver runs fn on a fresh database of each driver.
func eachDriver(t *testing.T, fn func(t *testing.T, d *database)) {
	for name, open := range map[string]func(*testing.T) *database{"sqlite": sqliteDB, "postgres": postgresDB} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

// TestStoreCached runs the store conformance suite through the caches,
// on both drivers; every "node" of the suite is the same cached store.
func TestStoreCached(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *database{"sqlite": sqliteDB, "postgres": postgresDB} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Opener {
				d := open(t)
				var s store.Store
				return func(t *testing.T) store.Store {
					if s == nil {
						s = cache.New(d.raw(t), cache.Options{Records: 1000, Lists: 1000})
					}
					return s
				}
			})
		})
	}
}

var ctx = context.Background()

func postsDef() *basalt.Collection {
	return &basalt.Collection{Name: "posts", Fields: []basalt.Field{{Name: "n", Type: basalt.TypeNumber}, {Name: "owner", Type: basalt.TypeText}},
		Indexes: []basalt.Index{{Fields: []string{"n"}}}, Updated: time.Unix(1, 0)}
}

func get(t *testing.T, s store.Store, ctx context.Context, tenant string, c *basalt.Collection, id string) *basalt.Record {
	t.Helper()
	r, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: tenant, Collection: c, ID: id})
	if err != nil {
		t.Fatalf("RecordGet(%s) = %v", id, err)
	}
	return r
}

func list(t *testing.T, s store.Store, ctx context.Context, tenant string, c *basalt.Collection, src string) []*basalt.Record {
	t.Helper()
	p := &store.RecordListParams{TenantID: tenant, Collection: c, Limit: 50}
	p.Sort, _ = filter.ParseSort("n", c)
	if src != "" {
		e, err := filter.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		p.Filter = e
	}
	recs, err := s.RecordList(ctx, p)
	if err != nil {
		t.Fatalf("RecordList(%q) = %v", src, err)
	}
	return recs
}

func ids(recs []*basalt.Record) string {
	out := ""
	for _, r := range recs {
		out += r.ID + " "
	}
	return out
}

func update(t *testing.T, s store.Store, tenant string, c *basalt.Collection, id string, n float64) *basalt.Event {
	t.Helper()
	_, e, err := s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: tenant, Collection: c, ID: id,
		Values: map[string]any{"n": n}, Updated: time.Now()})
	if err != nil {
		t.Fatalf("RecordUpdate(%s) = %v", id, err)
	}
	return e
}

// TestReadYourWrites has writers update their own records while readers
// read every record by id and through a cached list: each writer must
// read back what it wrote at once, by id and in the list, and no list
// page may hold a record that fails its filter.
func TestReadYourWrites(t *testing.T) {
	eachDriver(t, func(t *testing.T, d *database) {
		s := d.node(t, cache.Options{Records: 1000, Lists: 1000, Single: !d.postgres})
		c := storetest.MustCollection(t, s, postsDef())
		const writers, rounds = 4, 40
		for w := range writers {
			storetest.MustInsert(t, s, basalt.DefaultTenant, c, storetest.NewRecord(fmt.Sprint("w", w), map[string]any{"n": 0.0}))
		}
		stop := make(chan struct{})
		var readers, wg sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for w := range writers {
						get(t, s, ctx, basalt.DefaultTenant, c, fmt.Sprint("w", w))
					}
					for _, r := range list(t, s, ctx, basalt.DefaultTenant, c, "n >= 20") {
						if r.Data["n"].(float64) < 20 {
							t.Errorf("list n >= 20 holds %s with n=%v", r.ID, r.Data["n"])
						}
					}
				}
			})
		}
		for w := range writers {
			wg.Go(func() {
				id := fmt.Sprint("w", w)
				for i := 1; i <= rounds; i++ {
					update(t, s, basalt.DefaultTenant, c, id, float64(i))
					if r := get(t, s, ctx, basalt.DefaultTenant, c, id); r.Data["n"] != float64(i) {
						t.Errorf("after writing n=%d to %s, read n=%v", i, id, r.Data["n"])
					}
					found := false
					for _, r := range list(t, s, ctx, basalt.DefaultTenant, c, fmt.Sprintf("n = %d", i)) {
						found = found || r.ID == id
					}
					if !found {
						t.Errorf("after writing n=%d to %s, the list n = %d lacks it", i, id, i)
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		if st := s.ListStats(); st.LocalHits == 0 {
			t.Errorf("ListStats() = %+v: the readers never hit the list cache", st)
		}
	})
}

// TestListPagesFollowChanges caches a page, then creates, updates and
// deletes records of the collection: each change shows in the next list.
func TestListPagesFollowChanges(t *testing.T) {
	eachDriver(t, func(t *testing.T, d *database) {
		s := d.node(t, cache.Options{Records: 100, Lists: 100, Single: !d.postgres})
		c := storetest.MustCollection(t, s, postsDef())
		other := storetest.MustCollection(t, s, &basalt.Collection{Name: "other", Fields: []basalt.Field{{Name: "n", Type: basalt.TypeNumber}}})
		for i := range 3 {
			storetest.MustInsert(t, s, basalt.DefaultTenant, c, storetest.NewRecord(fmt.Sprint("r", i), map[string]any{"n": float64(i)}))
		}
		want := func(step, w string) {
			t.Helper()
			for range 2 { // the second is served from the cache
				if got := ids(list(t, s, ctx, basalt.DefaultTenant, c, "n < 10")); got != w {
					t.Fatalf("%s: list = %q, want %q", step, got, w)
				}
			}
		}
		want("start", "r0 r1 r2 ")
		hits := s.ListStats().LocalHits
		storetest.MustInsert(t, s, basalt.DefaultTenant, other, storetest.NewRecord("x", map[string]any{"n": 1.0}))
		want("a change in another collection", "r0 r1 r2 ")
		if s.ListStats().LocalHits < hits+2 {
			t.Errorf("a change in another collection dropped the page: %+v", s.ListStats())
		}
		storetest.MustInsert(t, s, basalt.DefaultTenant, c, storetest.NewRecord("r3", map[string]any{"n": 3.0}))
		want("create", "r0 r1 r2 r3 ")
		update(t, s, basalt.DefaultTenant, c, "r0", 20)
		want("update out of the filter", "r1 r2 r3 ")
		update(t, s, basalt.DefaultTenant, c, "r3", -1)
		want("update of the order", "r3 r1 r2 ")
		if _, err := s.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: basalt.DefaultTenant, Collection: c, ID: "r1"}); err != nil {
			t.Fatal(err)
		}
		want("delete", "r3 r2 ")
		if st := s.ListStats(); st.Invalidations == 0 || st.LocalHits == 0 {
			t.Errorf("ListStats() = %+v, want hits and invalidations", st)
		}
	})
}

// TestTenantsAndRulesApart makes the same list as two tenants, and with
// two different access rules: no page is shared between them.
func TestTenantsAndRulesApart(t *testing.T) {
	eachDriver(t, func(t *testing.T, d *database) {
		s := d.node(t, cache.Options{Records: 100, Lists: 100, Single: !d.postgres})
		c := storetest.MustCollection(t, s, postsDef())
		for i, tenant := range []string{basalt.DefaultTenant, "t2"} {
			for j := range 2 {
				storetest.MustInsert(t, s, tenant, c, storetest.NewRecord(fmt.Sprintf("%s%d", tenant[:1], j),
					map[string]any{"n": float64(i*10 + j), "owner": fmt.Sprint("u", j)}))
			}
		}
		for range 2 {
			if got := ids(list(t, s, ctx, basalt.DefaultTenant, c, "")); got != "d0 d1 " {
				t.Fatalf("default tenant's list = %q", got)
			}
			if got := ids(list(t, s, ctx, "t2", c, "")); got != "t0 t1 " {
				t.Fatalf("t2's list = %q", got)
			}
			if got := ids(list(t, s, ctx, basalt.DefaultTenant, c, `owner = "u0"`)); got != "d0 " {
				t.Fatalf("u0's list = %q", got)
			}
			if got := ids(list(t, s, ctx, basalt.DefaultTenant, c, `owner = "u1"`)); got != "d1 " {
				t.Fatalf("u1's list = %q", got)
			}
			if r := get(t, s, ctx, "t2", c, "t0"); r.Data["n"] != 10.0 {
				t.Fatalf("t2's t0 = %v", r.Data)
			}
			if _, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: "t0"}); basalt.ErrorCode(err) != basalt.CodeNotFound {
				t.Fatalf("t2's record read as the default tenant: %v", err)
			}
		}
		// A rule applied to a cached record in memory.
		rule, _ := filter.Parse(`owner = "u1"`)
		if _, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: "d0", Filter: rule}); basalt.ErrorCode(err) != basalt.CodeNotFound {
			t.Fatalf("a cached record that fails the rule = %v, want not found", err)
		}
	})
}

// TestSchemaChangeDropsEntries reads under one definition, changes it,
// and reads under the new one: nothing of the old comes back.
func TestSchemaChangeDropsEntries(t *testing.T) {
	eachDriver(t, func(t *testing.T, d *database) {
		s := d.node(t, cache.Options{Records: 100, Lists: 100, Single: !d.postgres})
		old := storetest.MustCollection(t, s, postsDef())
		storetest.MustInsert(t, s, basalt.DefaultTenant, old, storetest.NewRecord("r", map[string]any{"n": 1.0}))
		get(t, s, ctx, basalt.DefaultTenant, old, "r")
		list(t, s, ctx, basalt.DefaultTenant, old, "")
		next := postsDef()
		next.Fields = append(next.Fields, basalt.Field{Name: "extra", Type: basalt.TypeText})
		next.Updated = time.Unix(2, 0)
		next.Normalize()
		if err := s.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: old, New: next}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: basalt.DefaultTenant, Collection: next, ID: "r",
			Values: map[string]any{"extra": "x"}, Updated: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if r := get(t, s, ctx, basalt.DefaultTenant, next, "r"); r.Data["extra"] != "x" {
			t.Errorf("after adding a field, the record = %v, want extra x", r.Data)
		}
		if recs := list(t, s, ctx, basalt.DefaultTenant, next, ""); len(recs) != 1 || recs[0].Data["extra"] != "x" {
			t.Errorf("after adding a field, the list = %v", recs)
		}
		if got := string(basalt.AppendRecordJSON(nil, next, get(t, s, ctx, basalt.DefaultTenant, next, "r"), nil)); !strings.Contains(got, `"extra":"x"`) {
			t.Errorf("the record's JSON under the new definition = %s", got)
		}
	})
}

// follow reads the log as the realtime hub does, until node s has
// applied it up to pos.
func follow(t *testing.T, s *cache.Store, pos int64) {
	t.Helper()
	for s.Position() < pos {
		if _, err := s.EventList(ctx, &store.EventListParams{AllTenants: true, After: s.Position(), Limit: 1000}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoPostgresNodes writes on one node and reads on another that has
// the old values cached: a read that carries the write's position sees
// the write at once, and every read does once the node has followed the
// log past it.
func TestTwoPostgresNodes(t *testing.T) {
	d := postgresDB(t)
	a := d.node(t, cache.Options{Records: 100, Lists: 100})
	b := d.node(t, cache.Options{Records: 100, Lists: 100})
	c := storetest.MustCollection(t, a, postsDef())
	storetest.MustInsert(t, a, basalt.DefaultTenant, c, storetest.NewRecord("r", map[string]any{"n": 1.0}))
	get(t, b, ctx, basalt.DefaultTenant, c, "r")
	list(t, b, ctx, basalt.DefaultTenant, c, "n >= 1")
	for i := 2; i <= 5; i++ {
		e := update(t, a, basalt.DefaultTenant, c, "r", float64(i))
		after := cache.WithMinPosition(ctx, e.Position)
		if r := get(t, b, after, basalt.DefaultTenant, c, "r"); r.Data["n"] != float64(i) {
			t.Fatalf("node b read n=%v with the position of a's write of %d", r.Data["n"], i)
		}
		if recs := list(t, b, after, basalt.DefaultTenant, c, "n >= 1"); len(recs) != 1 || recs[0].Data["n"] != float64(i) {
			t.Fatalf("node b listed %v with the position of a's write of %d", recs, i)
		}
		follow(t, b, e.Position)
		if r := get(t, b, ctx, basalt.DefaultTenant, c, "r"); r.Data["n"] != float64(i) {
			t.Fatalf("node b, past a's write of %d in the log, read n=%v", i, r.Data["n"])
		}
		if recs := list(t, b, ctx, basalt.DefaultTenant, c, "n >= 1"); len(recs) != 1 || recs[0].Data["n"] != float64(i) {
			t.Fatalf("node b, past a's write of %d in the log, listed %v", i, recs)
		}
	}
}
