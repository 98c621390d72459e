package storetest

import (
	"context"
	"sync"
	"testing"
)

func testMigrations(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	before, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus() before Migrate = %v", err)
	}
	if len(before) == 0 {
		t.Fatal("MigrationStatus() lists no migrations")
	}
	for _, m := range before {
		if !m.Applied.IsZero() {
			t.Errorf("migration %d applied before Migrate", m.Version)
		}
	}
	// Nodes starting together: every one migrates, each migration once.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		other := open(t)
		wg.Go(func() { errs[i] = other.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate() #%d = %v", i, err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() again = %v", err)
	}
	after, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus() = %v", err)
	}
	for _, m := range after {
		if m.Applied.IsZero() {
			t.Errorf("migration %d %s not applied", m.Version, m.Name)
		}
	}
}
