package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
)

// TestRowSecurity checks the second wall: connected as the role Basalt
// uses, a statement that names another tenant, or none, gets nothing,
// whatever its WHERE clause says.
func TestRowSecurity(t *testing.T) {
	url := testdb.PostgresURL(t)
	roleURL, schema := testdb.Role(t, url)
	ctx := context.Background()
	db, err := postgres.Open(ctx, roleURL, postgres.Options{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if db.BypassesRLS(ctx) {
		t.Fatal("BypassesRLS() = true for an ordinary role")
	}
	posts := &basalt.Collection{Name: "posts", Created: time.Now(), Updated: time.Now(), Fields: []basalt.Field{{Name: "title", Type: basalt.TypeText}}}
	if err := db.CollectionCreate(ctx, posts, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, tenant := range []string{"a", "b"} {
		rec := &basalt.Record{ID: "r" + tenant, Created: now, Updated: now, Version: 1, Data: map[string]any{"title": tenant}}
		if _, err := db.RecordInsert(ctx, &store.RecordInsertParams{TenantID: tenant, Collection: posts, Record: rec}); err != nil {
			t.Fatal(err)
		}
	}

	conn, err := pgx.Connect(ctx, testdb.WithSearchPath(roleURL, schema))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	// Migration 0003 turns row-level security on for the collections made
	// before it: undo it, apply it again, and it is back.
	for _, stmt := range []string{
		`DROP POLICY tenant_isolation ON c_posts`, `ALTER TABLE c_posts NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY`,
		`DROP POLICY tenant_isolation ON _events`, `ALTER TABLE _events NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY`,
		`DELETE FROM _migrations WHERE version = 3`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid
		WHERE c.relnamespace = $1::regnamespace AND c.relname IN ('c_posts', '_events') AND c.relrowsecurity AND c.relforcerowsecurity`, schema); n != 2 {
		t.Fatalf("after migration 0003, %d of c_posts and _events have forced row-level security with a policy, want 2", n)
	}

	for _, table := range []string{"c_posts", "_events"} {
		if n := count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("%s without a tenant: %d rows visible, want 0", table, n)
		}
	}
	if _, err := conn.Exec(ctx, `SELECT set_config('basalt.tenant', 'a', false)`); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"c_posts", "_events"} {
		if n := count(`SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, "b"); n != 0 {
			t.Errorf("%s as tenant a: %d of b's rows visible, want 0", table, n)
		}
		if n := count(`SELECT count(*) FROM ` + table); n != 1 {
			t.Errorf("%s as tenant a: %d rows visible, want a's 1", table, n)
		}
	}
	tag, err := conn.Exec(ctx, `UPDATE c_posts SET title = 'taken' WHERE tenant_id = 'b'`)
	if err != nil || tag.RowsAffected() != 0 {
		t.Errorf("update of b's row as a: %v rows, err %v; want 0 rows", tag.RowsAffected(), err)
	}
	tag, err = conn.Exec(ctx, `DELETE FROM c_posts WHERE tenant_id = 'b'`)
	if err != nil || tag.RowsAffected() != 0 {
		t.Errorf("delete of b's row as a: %v rows, err %v; want 0 rows", tag.RowsAffected(), err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO c_posts (tenant_id, id, created, updated, _v, title) VALUES ('b', 'planted', now(), now(), 1, 'x')`); err == nil {
		t.Error("insert of a row for b as a succeeded; want a row-level security error")
	}
	if _, err := conn.Exec(ctx, `UPDATE c_posts SET tenant_id = 'b' WHERE id = 'ra'`); err == nil {
		t.Error("moving a's row to b succeeded; want a row-level security error")
	}

	// b's record is untouched, as the store reads it.
	got, err := db.RecordGet(ctx, &store.RecordGetParams{TenantID: "b", Collection: posts, ID: "rb"})
	if err != nil || got.Data["title"] != "b" {
		t.Errorf("b's record after the attempts = %v, %v", got, err)
	}

	// A superuser passes row-level security, which the server warns of.
	super, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	if !super.BypassesRLS(ctx) {
		t.Skip("the test server's default role is not a superuser")
	}
}
