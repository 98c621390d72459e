package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// testRulesDifferential binds generated access rules to generated callers,
// some without an identity, and checks that the database selects exactly
// the records the in-memory evaluator allows: lists use the SQL, reads of
// cached records and create and update checks use Eval.
func testRulesDifferential(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	s := open(t, newDB)
	c := MustCollection(t, s, &basalt.Collection{Name: "docs", Fields: []basalt.Field{
		{Name: "owner", Type: basalt.TypeText}, {Name: "team", Type: basalt.TypeText},
		{Name: "public", Type: basalt.TypeBool}, {Name: "level", Type: basalt.TypeNumber},
	}})
	rng := rand.New(rand.NewPCG(11, 12))
	people := []string{"u1", "u2", "u3", ""}
	var recs []*basalt.Record
	for i := range 60 {
		data := map[string]any{"level": float64(rng.IntN(4))}
		if o := people[rng.IntN(len(people))]; o != "" {
			data["owner"] = o
		}
		if rng.IntN(3) > 0 {
			data["team"] = []string{"red", "blue"}[rng.IntN(2)]
		}
		if rng.IntN(3) > 0 {
			data["public"] = rng.IntN(2) == 0
		}
		r := NewRecord(fmt.Sprintf("d%02d", i), data)
		MustInsert(t, s, basalt.DefaultTenant, c, r)
		recs = append(recs, r)
	}
	rules := []string{
		"owner = @auth.id",
		"owner != @auth.id",
		"owner = @auth.id || public = true",
		"!(owner = @auth.id) && level < 2",
		"(team = @auth.role || owner = @auth.id) && public != false",
		"@auth.role = \"admin\" || owner = @auth.id",
		"@auth.id != null && level >= 1",
		"!(@auth.role = \"member\" && team = \"red\")",
	}
	roles := []any{"member", "admin", "red", filter.Unknown}
	for _, src := range rules {
		for range 6 {
			id := []any{"u1", "u2", "u3", filter.Unknown}[rng.IntN(4)]
			role := roles[rng.IntN(len(roles))]
			e, err := filter.Parse(src)
			if err == nil {
				e, err = filter.Bind(e, func(p []string) (any, bool) {
					switch p[len(p)-1] {
					case "id":
						return id, true
					case "role":
						return role, true
					}
					return nil, false
				})
			}
			if err != nil {
				t.Fatalf("rule %q: %v", src, err)
			}
			var want []string
			for _, r := range recs {
				if ok, err := filter.Eval(e, c, r); err != nil {
					t.Fatalf("Eval(%q) = %v", src, err)
				} else if ok {
					want = append(want, r.ID)
				}
			}
			page, err := s.RecordList(context.Background(), &store.RecordListParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: e, Limit: 100})
			if err != nil {
				t.Fatalf("RecordList(%q) = %v", src, err)
			}
			got := ids(page)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("rule %q as id=%v role=%v:\n SQL  %v\n Eval %v", src, id, role, got, want)
			}
		}
	}
}
