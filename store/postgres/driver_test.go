package postgres_test

import (
	"context"
	"testing"

	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"basalt.dev/basalt/store/storetest"
)

// TestStore runs the conformance suite as an ordinary role, the way
// production should connect: row-level security applies to every
// statement, so the suite also proves the store sets the tenant right.
func TestStore(t *testing.T) {
	url := testdb.PostgresURL(t)
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		roleURL, schema := testdb.Role(t, url)
		return func(t *testing.T) store.Store {
			db, err := postgres.Open(context.Background(), roleURL, postgres.Options{Schema: schema, MaxConns: 8})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}
