package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

func benchDB(b *testing.B, n int) (*sqlite.DB, *basalt.Collection, []string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.Migrate(ctx)
	c := storetest.MustCollection(b, db, &basalt.Collection{Name: "posts", Fields: []basalt.Field{
		{Name: "title", Type: basalt.TypeText}, {Name: "views", Type: basalt.TypeNumber}, {Name: "draft", Type: basalt.TypeBool}, {Name: "body", Type: basalt.TypeText}},
		Indexes: []basalt.Index{{Fields: []string{"views"}}}})
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%026d", i)
		storetest.MustInsert(b, db, basalt.DefaultTenant, c, storetest.NewRecord(ids[i], map[string]any{
			"title": fmt.Sprint("Post number ", i), "views": float64(rand.IntN(100000)), "draft": i%3 == 0, "body": "A short body of text for a record."}))
	}
	return db, c, ids
}

func BenchmarkRecordGet(b *testing.B) {
	db, c, ids := benchDB(b, 10000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: ids[rand.IntN(len(ids))]}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordList(b *testing.B) {
	db, c, _ := benchDB(b, 10000)
	ctx := context.Background()
	sort, _ := filter.ParseSort("views", c)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e, _ := filter.Parse(fmt.Sprint("views >= ", rand.IntN(99000)))
		if _, err := db.RecordList(ctx, &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: e, Sort: sort, Limit: 21}); err != nil {
			b.Fatal(err)
		}
	}
}
