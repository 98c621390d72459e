package storetest

import (
	"context"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// testCount checks RecordCount beyond the filters that
// testFilterDifferential compares with Eval: an empty collection, the
// tenant predicate, and the refusal to count without a tenant.
func testCount(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := MustCollection(t, s, postsDef())
	count := func(tenant, src string) (int64, error) {
		var e filter.Expr
		if src != "" {
			var err error
			if e, err = filter.Parse(src); err != nil {
				t.Fatal(err)
			}
		}
		return s.RecordCount(ctx, &store.RecordCountParams{TenantID: tenant, Collection: c, Filter: e})
	}
	if n, err := count(basalt.DefaultTenant, ""); n != 0 || err != nil {
		t.Errorf("RecordCount(empty) = %d, %v; want 0", n, err)
	}
	const other = "other"
	for i, views := range []float64{1, 2, 3, 4} {
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord("d"+string(rune('a'+i)), map[string]any{"title": "t", "views": views}))
	}
	MustInsert(t, s, other, c, NewRecord("oa", map[string]any{"title": "t", "views": 9.0}))
	for _, tc := range []struct {
		tenant, filter string
		want           int64
	}{
		{basalt.DefaultTenant, "", 4},
		{basalt.DefaultTenant, "views >= 3", 2},
		{basalt.DefaultTenant, "views = 9", 0}, // the other tenant's record
		{other, "", 1},
	} {
		if n, err := count(tc.tenant, tc.filter); n != tc.want || err != nil {
			t.Errorf("RecordCount(tenant %s, %q) = %d, %v; want %d", tc.tenant, tc.filter, n, err, tc.want)
		}
	}
	if _, err := count("", ""); err == nil {
		t.Error("RecordCount without a tenant succeeded, want an error")
	}
}
