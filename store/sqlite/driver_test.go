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
