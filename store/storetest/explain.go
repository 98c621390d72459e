package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// testExplain proves with the database's own plan that a filter or a sort
// on an indexed field uses the index, for drivers that can explain.
func testExplain(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	ex, ok := s.(store.Explainer)
	if !ok {
		t.Skip("the driver cannot explain plans")
	}
	c := MustCollection(t, s, postsDef())
	for i := range 3000 {
		MustInsert(t, s, basalt.DefaultTenant, c, NewRecord(fmt.Sprintf("r%05d", i), map[string]any{"title": fmt.Sprint("t", i%7), "views": float64(i)}))
	}
	if a, ok := s.(store.Analyzer); ok {
		if err := a.Analyze(ctx, c.Name); err != nil {
			t.Fatalf("Analyze() = %v", err)
		}
	}
	index := basalt.IndexTableName(c.Name, c.Indexes[0].Name)
	for _, tc := range []struct{ filter, sort string }{
		{"views > 2990", ""},
		{"views >= 100 && views < 120", "views"},
		{"", "-views"},
		{"views > 10", "views"},
	} {
		p := &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Limit: 20}
		if tc.filter != "" {
			p.Filter = mustFilter(t, tc.filter, c)
		}
		p.Sort, _ = filter.ParseSort(tc.sort, c)
		plan, err := ex.ExplainList(ctx, p)
		if err != nil {
			t.Fatalf("ExplainList(%q, %q) = %v", tc.filter, tc.sort, err)
		}
		if !strings.Contains(plan, index) {
			t.Errorf("filter %q sort %q does not use index %s:\n%s", tc.filter, tc.sort, index, plan)
		}
	}
}

func mustFilter(t *testing.T, src string, c *basalt.Collection) filter.Expr {
	t.Helper()
	e, err := filter.Parse(src)
	if err == nil {
		err = filter.Check(e, c)
	}
	if err != nil {
		t.Fatalf("filter %q: %v", src, err)
	}
	return e
}
