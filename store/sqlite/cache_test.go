package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

func openCached(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{RecordCache: 10000})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCacheLocksTheDirectory(t *testing.T) {
	dir := t.TempDir()
	openCached(t, dir)
	if _, err := sqlite.Open(context.Background(), dir, sqlite.Options{RecordCache: 10}); err == nil || !strings.Contains(err.Error(), "another basalt server") {
		t.Errorf("a second cached Open on one directory = %v, want it refused", err)
	}
	// Tools that only read or add keys still open it.
	other, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("uncached Open beside a cached one = %v", err)
	}
	other.Close()
}

// TestCacheReadsYourWrites updates records from many goroutines, each
// reading its record back at once: the read must show the write.
func TestCacheReadsYourWrites(t *testing.T) {
	ctx := context.Background()
	db := openCached(t, t.TempDir())
	c := storetest.MustCollection(t, db, &basalt.Collection{Name: "c", Fields: []basalt.Field{{Name: "n", Type: basalt.TypeNumber}}})
	var wg sync.WaitGroup
	for g := range 8 {
		id := fmt.Sprint("r", g)
		storetest.MustInsert(t, db, basalt.DefaultTenant, c, storetest.NewRecord(id, map[string]any{"n": 0.0}))
		wg.Go(func() {
			for i := 1; i <= 100; i++ {
				if _, _, err := db.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id,
					Values: map[string]any{"n": float64(i)}, Updated: time.Now()}); err != nil {
					t.Error(err)
					return
				}
				r, err := db.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id})
				if err != nil || r.Data["n"] != float64(i) || r.Version != int64(i+1) {
					t.Errorf("after writing n=%d, read %v (v%d), %v", i, r.Data, r.Version, err)
					return
				}
			}
			if _, err := db.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id}); err != nil {
				t.Error(err)
			}
			if _, err := db.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id}); basalt.ErrorCode(err) != basalt.CodeNotFound {
				t.Errorf("read after delete = %v, want not found", err)
			}
		})
	}
	wg.Wait()
}

// TestCachedListsAreConsistent lists with a filter and a sort while other
// goroutines change the filtered field: every page must hold only records
// that match, in order. A page whose ids and bodies came from different
// states would fail this.
func TestCachedListsAreConsistent(t *testing.T) {
	ctx := context.Background()
	db := openCached(t, t.TempDir())
	c := storetest.MustCollection(t, db, &basalt.Collection{Name: "c", Fields: []basalt.Field{{Name: "n", Type: basalt.TypeNumber}},
		Indexes: []basalt.Index{{Fields: []string{"n"}}}})
	for i := range 200 {
		storetest.MustInsert(t, db, basalt.DefaultTenant, c, storetest.NewRecord(fmt.Sprintf("r%03d", i), map[string]any{"n": float64(i % 100)}))
	}
	f, _ := filter.Parse("n >= 50")
	sort, _ := filter.ParseSort("n", c)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("r%03d", rng.IntN(200))
				db.RecordUpdate(ctx, &store.RecordUpdateParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id,
					Values: map[string]any{"n": float64(rng.IntN(100))}, Updated: time.Now()})
			}
		})
	}
	for range 3000 {
		page, err := db.RecordList(ctx, &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: f, Sort: sort, Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		prev := -1.0
		for _, r := range page {
			n := r.Data["n"].(float64)
			if n < 50 || n < prev {
				t.Fatalf("page holds n=%v after %v: does not match n >= 50 in order", n, prev)
			}
			prev = n
		}
	}
	close(stop)
	wg.Wait()
}
