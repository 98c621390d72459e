package filter

import (
	"slices"
	"testing"
)

// TestUnknownVariable checks that a variable with no value selects no
// record however it is compared or negated, in SQL and in Eval alike.
func TestUnknownVariable(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			o := newOracle(t, d)
			for _, src := range []string{"t = @x", "t != @x", "!(t = @x)", "!(t != @x)", "n > @x", "j = @x", "(t = @x || n > 0)", "!(t = @x && n > 0)"} {
				e, err := Parse(src)
				if err != nil {
					t.Fatal(err)
				}
				e, err = Bind(e, func([]string) (any, bool) { return Unknown, true })
				if err != nil {
					t.Fatalf("Bind(%q) = %v", src, err)
				}
				a := Args{Dialect: d}
				where, err := Compile(e, things, &a)
				if err != nil {
					t.Fatalf("Compile(%q) = %v", src, err)
				}
				got, err := o.selectIDs(where, a.Values)
				if err != nil {
					t.Fatalf("%q: %s: %v", src, where, err)
				}
				var want []string
				for _, r := range o.records {
					if ok, _ := Eval(e, things, r); ok {
						want = append(want, r.ID)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%q: SQL selects %v, Eval %v", src, got, want)
				}
				if src != "(t = @x || n > 0)" && src != "!(t = @x && n > 0)" && len(got) != 0 {
					t.Errorf("%q with no value selects %v, want nothing", src, got)
				}
			}
		})
	}
}

// TestBoundComparisons checks comparisons between bound variables, as
// rules write them: decided at compile time, the same in SQL and Eval.
func TestBoundComparisons(t *testing.T) {
	vars := map[string]any{"me": "u1", "owner": "u1", "other": "u2", "none": nil, "unknown": Unknown, "n": 3.0,
		"now": date("2026-05-01T12:00:00.5Z")}
	o := newOracle(t, SQLite)
	for _, tc := range []struct {
		src  string
		all  bool // every record, or none
		fail bool // refused by Check
	}{
		{src: "@owner = @me", all: true},
		{src: "@owner = @other", all: false},
		{src: "@none = null", all: true},
		{src: "@owner = null", all: false},
		{src: "!(@none != null)", all: true},
		{src: "@unknown = @me", all: false},
		{src: "!(@unknown = @me)", all: false},
		{src: "@n > 2", all: true},
		{src: "@owner ~ \"U\"", all: true},
		{src: "@none > 2", all: false},
		{src: "!(@none <= @n)", all: false},
		{src: "@none ~ \"x\"", all: false},
		{src: "n > @none", all: false},
		{src: "!(n <= @none)", all: false},
		{src: "t ~ @none", all: false},
		{src: "@now < \"2027-01-01\"", all: true},
		{src: "\"2026-05-01T12:00:00.500001Z\" <= @now", all: false},
		{src: "@now = \"2026-05-01T12:00:00.5Z\"", all: true},
		{src: "@now < \"tomorrow\"", fail: true},
		{src: "@now ~ \"2026\"", fail: true},
		{src: "null > @n", fail: true},
		{src: "n > null", fail: true},
		{src: "@owner > 2", fail: true},
		{src: "1 = 1", fail: true}, // user filters compare fields
	} {
		e, err := Parse(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		e, err = Bind(e, func(p []string) (any, bool) { v, ok := vars[p[0]]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		a := Args{Dialect: SQLite}
		where, err := Compile(e, things, &a)
		if tc.fail {
			if err == nil {
				t.Errorf("%q compiled to %s, want a type error", tc.src, where)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Compile(%q) = %v", tc.src, err)
		}
		got, err := o.selectIDs(where, a.Values)
		if err != nil {
			t.Fatalf("%q: %s: %v", tc.src, where, err)
		}
		if (len(got) == len(o.records)) != tc.all || (!tc.all && len(got) != 0) {
			t.Errorf("%q selects %d of %d records, want all=%v", tc.src, len(got), len(o.records), tc.all)
		}
		for _, r := range o.records {
			if ok, _ := Eval(e, things, r); ok != tc.all {
				t.Errorf("Eval(%q, %s) = %v, want %v", tc.src, r.ID, ok, tc.all)
				break
			}
		}
	}
}
