package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// testFilterDifferential checks that, for many generated filters, the rows
// the database selects are exactly those the in-memory evaluator accepts:
// realtime will evaluate the same filters in memory.
func testFilterDifferential(t *testing.T, s store.Store) {
	c := MustCollection(t, s, postsDef())
	rng := rand.New(rand.NewPCG(7, 8))
	recs := seed(t, s, c, 80, rng)
	for i := 0; i < 400; i++ {
		src := genFilter(rng, 3)
		e, err := filter.Parse(src)
		if err != nil {
			t.Fatalf("generated filter %q does not parse: %v", src, err)
		}
		if err := filter.Check(e, c); err != nil {
			t.Fatalf("generated filter %q does not check: %v", src, err)
		}
		var want []string
		for _, r := range recs {
			ok, err := filter.Eval(e, c, r)
			if err != nil {
				t.Fatalf("Eval(%q) = %v", src, err)
			}
			if ok {
				want = append(want, r.ID)
			}
		}
		page, err := s.RecordList(context.Background(), &store.RecordListParams{
			TenantID: basalt.DefaultTenant, Collection: c, Filter: e, Limit: len(recs) + 1})
		if err != nil {
			t.Fatalf("RecordList(%q) = %v", src, err)
		}
		got := ids(page)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("filter %q:\n SQL  selects %v\n Eval selects %v", src, got, want)
		}
		n, err := s.RecordCount(context.Background(), &store.RecordCountParams{TenantID: basalt.DefaultTenant, Collection: c, Filter: e})
		if err != nil || n != int64(len(want)) {
			t.Fatalf("RecordCount(%q) = %d, %v; want %d, as Eval selects", src, n, err, len(want))
		}
	}
}

// genFilter writes a random, well-typed filter over postsDef's fields.
func genFilter(rng *rand.Rand, depth int) string {
	if depth == 0 || rng.IntN(3) == 0 {
		return genCompare(rng)
	}
	switch rng.IntN(3) {
	case 0:
		return "(" + genFilter(rng, depth-1) + " && " + genFilter(rng, depth-1) + ")"
	case 1:
		return "(" + genFilter(rng, depth-1) + " || " + genFilter(rng, depth-1) + ")"
	}
	return "!(" + genFilter(rng, depth-1) + ")"
}

func genCompare(rng *rand.Rand) string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	ordered := []string{"=", "!=", "<", "<=", ">", ">="}
	if rng.IntN(8) == 0 {
		return pick("title", "views", "draft", "published", "order", "meta") + " " + pick("=", "!=") + " null"
	}
	switch rng.IntN(5) {
	case 0:
		if rng.IntN(2) == 0 {
			return "title " + pick("~", "!~") + " " + strconv.Quote(pick("go", "GO", "ö", "Ö", "%", "_", `\`, "a", "", "LANG", "Ω"))
		}
		return pick("title", "order") + " " + pick(ordered...) + " " + strconv.Quote(pick("go", "Go", "alpha", "", "gö", "zeta0", "a_b1"))
	case 1:
		return "views " + pick(ordered...) + " " + pick("0", "-2.5", "1", "3.5", "100", "-0")
	case 2:
		return "draft " + pick("=", "!=") + " " + pick("true", "false")
	case 3:
		return "published " + pick(ordered...) + " " + strconv.Quote(pick("2021-01-01", "2022-06-01T00:00:00Z", "2020-01-01T00:00:00.000001Z", "2021-03-02T00:00:00.001Z"))
	}
	return fmt.Sprintf("%s %s %s", pick("created", "updated"), pick(ordered...), strconv.Quote(strings.Replace(basalt.FormatTime(testNow), "12:00:0", "12:00:2", 1)))
}
