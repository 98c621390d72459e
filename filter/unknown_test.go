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
