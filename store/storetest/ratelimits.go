package storetest

import (
	"context"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/google/go-cmp/cmp"
)

// testRateLimits checks the stored rate-limit policies: put replaces by
// name, list is by name and the same on every node, delete removes.
func testRateLimits(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoNodes(t, newDB(t))

	if got, err := a.RateLimitList(ctx); err != nil || len(got) != 0 {
		t.Fatalf("RateLimitList(empty) = %v, %v; want none", got, err)
	}
	api := store.RateLimit{Name: "api", By: "ip", Class: "all", Quota: 600, Window: time.Minute, Burst: 100, Updated: testNow.Truncate(time.Microsecond)}
	auth := store.RateLimit{Name: "auth-ip", By: "ip", Class: "auth", Quota: 10, Window: 24 * time.Hour, Burst: 5, Updated: testNow.Truncate(time.Microsecond)}
	for _, r := range []store.RateLimit{auth, api} {
		if err := a.RateLimitPut(ctx, &r); err != nil {
			t.Fatalf("RateLimitPut(%s) = %v", r.Name, err)
		}
	}
	list := func(s store.Store, want ...store.RateLimit) {
		t.Helper()
		got, err := s.RateLimitList(ctx)
		if err != nil {
			t.Fatalf("RateLimitList() = %v", err)
		}
		for i := range got {
			got[i].Updated = got[i].Updated.UTC()
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("RateLimitList() mismatch (-want +got):\n%s", diff)
		}
	}
	list(b, api, auth)

	api.Quota, api.Burst, api.By = 1200, 1, "key"
	if err := b.RateLimitPut(ctx, &api); err != nil {
		t.Fatalf("RateLimitPut(replace) = %v", err)
	}
	list(a, api, auth)

	if err := a.RateLimitDelete(ctx, "api"); err != nil {
		t.Fatalf("RateLimitDelete() = %v", err)
	}
	wantCode(t, "RateLimitDelete(again)", b.RateLimitDelete(ctx, "api"), basalt.CodeNotFound)
	list(b, auth)
}
