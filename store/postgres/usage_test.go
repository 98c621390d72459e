package postgres_test

import (
	"context"
	"testing"

	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store/postgres"
	"basalt.dev/basalt/store/storetest"
	"github.com/jackc/pgx/v5"
)

// TestUsageBackfill: a database made before the usage tables gets its
// records counted by the migration that makes them, under row-level
// security as an ordinary role.
func TestUsageBackfill(t *testing.T) {
	ctx := context.Background()
	roleURL, schema := testdb.Role(t, testdb.PostgresURL(t))
	db, err := postgres.Open(ctx, roleURL, postgres.Options{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.UsageBackfill(t, db, func(t *testing.T) {
		conn, err := pgx.Connect(ctx, testdb.WithSearchPath(roleURL, schema))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP TABLE _usage, _requests, _quotas; DELETE FROM _migrations WHERE name = 'usage'`); err != nil {
			t.Fatal(err)
		}
	})
}
