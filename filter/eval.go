package filter

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"basalt.dev/basalt"
)

// Eval checks e against collection c and reports whether record r
// matches it: true exactly when the SQL that Compile writes would select
// the row. It follows SQL's three-valued logic, in which a comparison with
// null is unknown, ! of unknown is unknown, and only true matches.
//
// A record value whose Go type does not fit its field (see basalt.Field)
// is a fault of the caller, returned as a plain error.
func Eval(e Expr, c *basalt.Collection, r *basalt.Record) (bool, error) {
	n, err := prepare(e, c)
	if err != nil {
		return false, err
	}
	t, err := n.eval(c, r)
	return t == triTrue, err
}

// tri is a truth value of SQL: true, false or unknown.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// and, or and not follow Kleene's logic, as SQL does.
func and(a, b tri) tri {
	if a == triFalse || b == triFalse {
		return triFalse
	}
	if a == triTrue && b == triTrue {
		return triTrue
	}
	return triUnknown
}

func or(a, b tri) tri {
	if a == triTrue || b == triTrue {
		return triTrue
	}
	if a == triFalse && b == triFalse {
		return triFalse
	}
	return triUnknown
}

func not(a tri) tri {
	if a == triUnknown {
		return a
	}
	return triOf(a == triFalse)
}

// eval evaluates every node, without short cuts, so that a bad record
// value is reported wherever it is.
func (n *node) eval(c *basalt.Collection, r *basalt.Record) (tri, error) {
	if n.op == "" {
		return n.cond.eval(c, r)
	}
	l, err := n.l.eval(c, r)
	if err != nil || n.op == "!" {
		return not(l), err
	}
	rt, err := n.r.eval(c, r)
	if n.op == "&&" {
		return and(l, rt), err
	}
	return or(l, rt), err
}

func (k *cond) eval(c *basalt.Collection, r *basalt.Record) (tri, error) {
	if k.unknown {
		return triUnknown, nil
	}
	if k.set {
		return k.constant, nil
	}
	lv, err := recordValue(c, r, k.field)
	if err != nil {
		return triUnknown, err
	}
	rv := k.value
	if k.other != nil {
		if rv, err = recordValue(c, r, k.other); err != nil {
			return triUnknown, err
		}
	} else if rv == nil { // IS NULL or IS NOT NULL
		return triOf((lv == nil) == (k.op == "=")), nil
	}
	if lv == nil || rv == nil {
		return triUnknown, nil
	}
	if isContains(k.op) {
		return triOf(containsFold(lv.(string), rv.(string)) == (k.op == "~")), nil
	}
	return triOf(holds(k.op, compareValues(lv, rv))), nil
}

// recordValue returns r's value of field f, checked against f's type:
// a string, float64, bool, time.Time truncated to microseconds as the
// databases store it, any JSON value, or nil for null.
func recordValue(c *basalt.Collection, r *basalt.Record, f *basalt.Field) (any, error) {
	var v any
	switch {
	case c.Field(f.Name) != nil:
		v = r.Data[f.Name]
	case f.Name == "id":
		v = r.ID
	case f.Name == "created":
		v = r.Created
	case f.Name == "updated":
		v = r.Updated
	}
	var ok bool
	switch f.Type {
	case basalt.TypeText:
		_, ok = v.(string)
	case basalt.TypeNumber:
		_, ok = v.(float64)
	case basalt.TypeBool:
		_, ok = v.(bool)
	case basalt.TypeDate:
		var t time.Time
		if t, ok = v.(time.Time); ok {
			v = t.Truncate(time.Microsecond)
		}
	default:
		ok = true // only compared with null
	}
	if v != nil && !ok {
		return nil, fmt.Errorf("filter: field %s of type %s holds a %T", f.Name, f.Type, v)
	}
	return v, nil
}

// compareValues compares two non-null values of the same field type.
// Strings compare by bytes, as SQLite's BINARY and PostgreSQL's "C"
// collation do.
func compareValues(a, b any) int {
	switch a := a.(type) {
	case string:
		return strings.Compare(a, b.(string))
	case float64:
		return cmp.Compare(a, b.(float64))
	case bool:
		return cmp.Compare(b2i(a), b2i(b.(bool)))
	case time.Time:
		return a.Compare(b.(time.Time))
	}
	panic(fmt.Sprintf("filter: compare %T", a)) // prepare and recordValue rule this out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// holds reports whether a comparison with result c satisfies op.
func holds(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

// containsFold reports whether s contains sub, ignoring the case of ASCII
// letters only, like SQLite's LIKE.
func containsFold(s, sub string) bool {
	return strings.Contains(asciiLower(s), asciiLower(sub))
}

func asciiLower(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
