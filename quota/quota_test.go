package quota_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/quota"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"basalt.dev/basalt/store/sqlite"
)

// stores opens a migrated store of each driver, PostgreSQL in its own
// schema (skipped without a server outside CI).
var stores = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return migrated(t, db)
	},
	"postgres": func(t *testing.T) store.Store {
		roleURL, schema := testdb.Role(t, testdb.PostgresURL(t))
		db, err := postgres.Open(context.Background(), roleURL, postgres.Options{Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return migrated(t, db)
	},
}

func migrated(t *testing.T, s store.Store) store.Store {
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRequestQuotaPeriods: a tenant's request quotas count per UTC day
// and per UTC month; a request over one is refused with Retry-After
// until the period ends, and the next period starts from nothing. A node
// that starts later reads the totals the others flushed.
func TestRequestQuotaPeriods(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			ctx := context.Background()
			clock := time.Date(2026, 1, 30, 23, 59, 0, 0, time.UTC)
			now := func() time.Time { return clock }
			limits := quota.Limits{RequestsDay: 3, RequestsMonth: 5}
			node := quota.New(st, limits, now, nil)
			admit := func(s *quota.Service, n int) {
				t.Helper()
				for i := range n {
					if err := s.Admit(ctx, "acme", true); err != nil {
						t.Fatalf("%s: request %d of %d: %v", clock.Format(time.RFC3339), i+1, n, err)
					}
				}
			}
			refused := func(s *quota.Service, period, retryAfter string) {
				t.Helper()
				err := s.Admit(ctx, "acme", true)
				var e *basalt.Error
				var r interface{ Seconds() string }
				if !errors.As(err, &e) || e.Code != basalt.CodeQuotaExceeded || !strings.Contains(e.Message, period) ||
					!errors.As(err, &r) || r.Seconds() != retryAfter {
					t.Fatalf("%s: over the quota: %v, want %s for %q, retry after %s s", clock.Format(time.RFC3339), err, basalt.CodeQuotaExceeded, period, retryAfter)
				}
			}
			flush := func(s *quota.Service) {
				t.Helper()
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}

			admit(node, 3)
			refused(node, "requests per day", "60") // a minute to midnight
			flush(node)

			clock = time.Date(2026, 1, 31, 0, 0, 30, 0, time.UTC)
			admit(node, 2) // a new day; the month's five are used
			refused(node, "requests per month", "86370")
			flush(node)

			// A node started now starts from the shared totals.
			late := quota.New(st, limits, now, nil)
			refused(late, "requests per month", "86370")

			clock = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
			admit(node, 3) // a new month
			refused(node, "requests per day", "86400")
			flush(node)
			refused(late, "requests per day", "86400")

			// Requests that are not enforced are counted all the same.
			if err := node.Admit(ctx, "acme", false); err != nil {
				t.Fatalf("unenforced request: %v", err)
			}
			flush(node)
			totals, err := st.RequestTotals(ctx, []string{"acme"}, clock)
			if err != nil {
				t.Fatal(err)
			}
			if got := totals["acme"]; got.Day != 4 || got.Month != 4 {
				t.Errorf("totals on %s = %+v, want 4 today and 4 this month", clock.Format(time.DateOnly), got)
			}
		})
	}
}
