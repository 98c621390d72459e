package cache_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/cache"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

// benchStore seeds 10,000 posts in SQLite (without the driver's own
// record cache) behind caches of o.
func benchStore(b *testing.B, o cache.Options) (*cache.Store, *basalt.Collection, []string) {
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	s := cache.New(db, o)
	c := storetest.MustCollection(b, s, postsDef())
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%026d", i)
		storetest.MustInsert(b, s, basalt.DefaultTenant, c, storetest.NewRecord(ids[i], map[string]any{"n": float64(rand.IntN(100000)), "owner": "someone"}))
	}
	return s, c, ids
}

func BenchmarkRecordGet(b *testing.B) {
	for _, o := range []struct {
		name string
		opts cache.Options
	}{{"hit", cache.Options{Records: 20000, Single: true}}, {"uncached", cache.Options{}}} {
		b.Run(o.name, func(b *testing.B) {
			s, c, ids := benchStore(b, o.opts)
			for _, id := range ids { // fill the cache
				s.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: id})
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: ids[rand.IntN(len(ids))]}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordList lists 21 records with an indexed filter and sort,
// from 100 different pages: all hits once the cache holds them.
func BenchmarkRecordList(b *testing.B) {
	for _, o := range []struct {
		name string
		opts cache.Options
	}{{"hit", cache.Options{Lists: 20000, Single: true}}, {"uncached", cache.Options{}}} {
		b.Run(o.name, func(b *testing.B) {
			s, c, _ := benchStore(b, o.opts)
			sort, _ := filter.ParseSort("n", c)
			filters := make([]filter.Expr, 100)
			for i := range filters {
				filters[i], _ = filter.Parse(fmt.Sprint("n >= ", i*900))
			}
			for _, f := range filters { // fill the cache
				s.RecordList(ctx, &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: f, Sort: sort, Limit: 21})
			}
			b.ReportAllocs()
			for b.Loop() {
				p := &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: filters[rand.IntN(len(filters))], Sort: sort, Limit: 21}
				if _, err := s.RecordList(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
