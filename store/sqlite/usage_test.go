package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

// TestUsageBackfill: a database made before the usage tables gets its
// records counted by the migration that makes them.
func TestUsageBackfill(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.UsageBackfill(t, db, func(t *testing.T) {
		raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "data.db")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for _, s := range []string{`DROP TABLE _usage`, `DROP TABLE _requests`, `DROP TABLE _quotas`, `DELETE FROM _migrations WHERE name = 'usage'`} {
			if _, err := raw.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	})
}
