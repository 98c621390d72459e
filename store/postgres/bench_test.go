package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"basalt.dev/basalt/store/storetest"
)

// benchDB opens a store as an ordinary role (row-level security on) with
// n posts, and a plain connection as the same role for the baselines.
func benchDB(b *testing.B, n int) (*postgres.DB, *pgx.Conn, *basalt.Collection, []string) {
	url := testdb.PostgresURL(b)
	roleURL, schema := testdb.Role(b, url)
	ctx := context.Background()
	db, err := postgres.Open(ctx, roleURL, postgres.Options{Schema: schema, MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	c := storetest.MustCollection(b, db, &basalt.Collection{Name: "posts", Fields: []basalt.Field{
		{Name: "title", Type: basalt.TypeText}, {Name: "views", Type: basalt.TypeNumber}},
		Indexes: []basalt.Index{{Fields: []string{"views"}}}})
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%026d", i)
		storetest.MustInsert(b, db, basalt.DefaultTenant, c, storetest.NewRecord(ids[i], map[string]any{
			"title": fmt.Sprint("Post number ", i), "views": float64(rand.IntN(100000))}))
	}
	conn, err := pgx.Connect(ctx, testdb.WithSearchPath(roleURL, schema))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	// The baseline's connection may see every row: it measures the query
	// alone, without the store's tenant setting.
	if _, err := conn.Exec(ctx, `SELECT set_config('basalt.tenant', '*', false)`); err != nil {
		b.Fatal(err)
	}
	return db, conn, c, ids
}

// BenchmarkRecordGet compares a read through the store (the tenant
// setting and the query pipelined in one round trip, under row-level
// security) with the bare query on one connection.
func BenchmarkRecordGet(b *testing.B) {
	db, conn, c, ids := benchDB(b, 2000)
	ctx := context.Background()
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.RecordGet(ctx, &store.RecordGetParams{TenantID: basalt.DefaultTenant, Collection: c, ID: ids[rand.IntN(len(ids))]}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-query", func(b *testing.B) {
		b.ReportAllocs()
		var title string
		for b.Loop() {
			if err := conn.QueryRow(ctx, `SELECT title FROM c_posts WHERE tenant_id = $1 AND id = $2`, basalt.DefaultTenant, ids[rand.IntN(len(ids))]).Scan(&title); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordList is the same for a filtered, sorted page of 20.
func BenchmarkRecordList(b *testing.B) {
	db, conn, c, _ := benchDB(b, 2000)
	ctx := context.Background()
	sort, _ := filter.ParseSort("views", c)
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, _ := filter.Parse(fmt.Sprint("views >= ", rand.IntN(99000)))
			if _, err := db.RecordList(ctx, &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: e, Sort: sort, Limit: 21}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := conn.Query(ctx, `SELECT id, title, views FROM c_posts WHERE tenant_id = $1 AND views >= $2 ORDER BY views NULLS FIRST, id LIMIT 21`, basalt.DefaultTenant, float64(rand.IntN(99000)))
			if err != nil {
				b.Fatal(err)
			}
			rows.Close()
		}
	})
}
