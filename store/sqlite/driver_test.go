package sqlite_test

import (
	"context"
	"testing"

	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		return func(t *testing.T) store.Store {
			db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}

// TestStoreCached runs the suite with the record cache on. The cache
// needs the one store to be the only writer, so every "node" of the suite
// is the same store.
func TestStoreCached(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dir := t.TempDir()
		var db *sqlite.DB
		return func(t *testing.T) store.Store {
			if db == nil {
				var err error
				if db, err = sqlite.Open(context.Background(), dir, sqlite.Options{RecordCache: 1000}); err != nil {
					t.Fatalf("Open() = %v", err)
				}
				t.Cleanup(func() { db.Close() })
			}
			return db
		}
	})
}
