package storetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

func testList(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("KeysetOrder", func(t *testing.T) {
		t.Parallel()
		s := open(t, newDB)
		c := MustCollection(t, s, postsDef())
		recs := seed(t, s, c, 120, rand.New(rand.NewPCG(1, 2)))
		for _, sort := range []string{"", "id", "-id", "views", "-views", "title,-views", "-draft,published", "order,-created", "-published,views,title"} {
			keys, err := filter.ParseSort(sort, c)
			if err != nil {
				t.Fatalf("ParseSort(%q) = %v", sort, err)
			}
			want := ids(sorted(recs, store.SortKeys(keys)))
			for _, page := range []int{1, 7, 500} {
				if got := ids(paginate(t, s, c, keys, nil, page)); !slices.Equal(got, want) {
					t.Errorf("sort %q, pages of %d:\n got %v\nwant %v", sort, page, got, want)
				}
			}
		}
	})
	t.Run("KeysetUnderInserts", func(t *testing.T) {
		t.Parallel()
		testPaginateUnderInserts(t, open(t, newDB))
	})
	t.Run("FilterSQLMatchesEval", func(t *testing.T) {
		t.Parallel()
		testFilterDifferential(t, open(t, newDB))
	})
	t.Run("Count", func(t *testing.T) {
		t.Parallel()
		testCount(t, open(t, newDB))
	})
}

// seed inserts n records with varied values, many of them null, and
// returns them.
func seed(t *testing.T, s store.Store, c *basalt.Collection, n int, rng *rand.Rand) []*basalt.Record {
	t.Helper()
	words := []string{"go", "Go", "GO lang", "rust", "gö", "Ω", "", "a%b", "a_b", `back\slash`, "zeta", "alpha", "ALPHA"}
	var out []*basalt.Record
	for i := range n {
		data := map[string]any{"title": words[rng.IntN(len(words))] + fmt.Sprint(i%5)}
		maybe := func(name string, v any) {
			if rng.IntN(4) > 0 {
				data[name] = v
			}
		}
		maybe("views", float64(rng.IntN(20)-5)/2)
		maybe("draft", rng.IntN(2) == 0)
		maybe("published", time.Date(2020+rng.IntN(3), time.Month(1+rng.IntN(12)), 1+rng.IntN(3), 0, 0, 0, rng.IntN(3)*1000, time.UTC))
		maybe("order", words[rng.IntN(len(words))])
		r := NewRecord(fmt.Sprintf("r%03d", i), data)
		r.Created = testNow.Add(time.Duration(rng.IntN(50)) * time.Second)
		r.Updated = r.Created
		MustInsert(t, s, basalt.DefaultTenant, c, r)
		out = append(out, r)
	}
	return out
}

// paginate reads every page of a list, following the keyset position.
func paginate(t *testing.T, s store.Store, c *basalt.Collection, sort []filter.SortField, f filter.Expr, size int) []*basalt.Record {
	t.Helper()
	var all []*basalt.Record
	var after []any
	for range 10000 {
		page, err := s.RecordList(context.Background(), &store.RecordListParams{
			TenantID: basalt.DefaultTenant, Collection: c, Filter: f, Sort: sort, After: after, Limit: size})
		if err != nil {
			t.Fatalf("RecordList() = %v", err)
		}
		all = append(all, page...)
		if len(page) < size {
			return all
		}
		after = keyOf(page[len(page)-1], store.SortKeys(sort))
	}
	t.Fatal("pagination does not end")
	return nil
}

func keyOf(r *basalt.Record, keys []filter.SortField) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = valueOf(r, k.Field)
	}
	return out
}

func valueOf(r *basalt.Record, field string) any {
	switch field {
	case "id":
		return r.ID
	case "created":
		return r.Created
	case "updated":
		return r.Updated
	}
	return r.Data[field]
}

// sorted orders records as the store must: nulls lowest, text by bytes.
func sorted(recs []*basalt.Record, keys []filter.SortField) []*basalt.Record {
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b *basalt.Record) int {
		for _, k := range keys {
			c := compareValues(valueOf(a, k.Field), valueOf(b, k.Field))
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	switch a := a.(type) {
	case string:
		return strings.Compare(a, b.(string))
	case float64:
		return cmp.Compare(a, b.(float64))
	case bool:
		return cmp.Compare(boolInt(a), boolInt(b.(bool)))
	case time.Time:
		return a.Compare(b.(time.Time))
	case []byte:
		return bytes.Compare(a, b.([]byte))
	}
	panic(fmt.Sprintf("storetest: cannot compare %T", a))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ids(recs []*basalt.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// testPaginateUnderInserts pages through a collection while records are
// inserted everywhere in the order: every record that existed before the
// first page must be seen exactly once.
func testPaginateUnderInserts(t *testing.T, s store.Store) {
	c := MustCollection(t, s, postsDef())
	before := seed(t, s, c, 200, rand.New(rand.NewPCG(3, 4)))
	keys, _ := filter.ParseSort("-views,title", c)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(5, 6))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := NewRecord(fmt.Sprintf("new%04d", i), map[string]any{"title": fmt.Sprint(rng.IntN(100)), "views": float64(rng.IntN(20) - 5)})
			if _, err := s.RecordInsert(context.Background(), &store.RecordInsertParams{TenantID: basalt.DefaultTenant, Collection: c, Record: r}); err != nil {
				t.Errorf("concurrent insert: %v", err)
				return
			}
		}
	})
	got := paginate(t, s, c, keys, nil, 9)
	close(stop)
	wg.Wait()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.ID]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("record %s seen %d times", id, n)
		}
	}
	for _, r := range before {
		if seen[r.ID] != 1 {
			t.Errorf("record %s that existed before the first page was seen %d times, want 1", r.ID, seen[r.ID])
		}
	}
}
