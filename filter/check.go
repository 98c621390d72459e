package filter

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"basalt.dev/basalt"
)

// Check reports whether e is a valid filter on collection c: every field
// exists, every comparison has a field on at least one side, and the types
// and operators fit. Variables must have been replaced by Bind.
func Check(e Expr, c *basalt.Collection) error {
	_, err := prepare(e, c)
	return err
}

// node is a checked filter, the form that Compile and Eval work on: a
// comparison in normal form, or && (and), || (or) or ! (not) over nodes.
type node struct {
	op   string // "&&", "||", "!" or "" for a comparison
	l, r *node  // the operands; only l for "!"
	cond cond   // the comparison when op is ""
}

// cond is a checked comparison with the field on the left: a literal on
// the left was moved to the right and the operator flipped.
type cond struct {
	op      string
	unknown bool // compared with Unknown: the result is unknown
	// constant is the decided result of a comparison without fields
	// (between bound variables, or one and a value); set is true then.
	constant tri
	set      bool
	field    *basalt.Field
	other    *basalt.Field // the right side when comparing two fields
	value    any           // else the value: nil (null), string, float64, bool or time.Time
}

// prepare checks e and returns it as a tree of nodes. The nodes share one
// allocation: a rule is bound and so prepared again on every request.
func prepare(e Expr, c *basalt.Collection) (*node, error) {
	nodes := make([]node, 0, count(e))
	return prepareIn(&nodes, e, c)
}

// count returns the number of nodes of e.
func count(e Expr) int {
	switch e := e.(type) {
	case *Logical:
		return 1 + count(e.L) + count(e.R)
	case *Not:
		return 1 + count(e.X)
	}
	return 1
}

// prepareIn prepares e with its nodes appended to nodes, which has room
// for them: no append moves the nodes that others point to.
func prepareIn(nodes *[]node, e Expr, c *basalt.Collection) (*node, error) {
	add := func(n node) *node {
		*nodes = append(*nodes, n)
		return &(*nodes)[len(*nodes)-1]
	}
	switch e := e.(type) {
	case *Logical:
		if e.Op != "&&" && e.Op != "||" {
			return nil, filterError(e.Offset, codeInvalid, "unknown operator %q; join comparisons with && or ||", e.Op)
		}
		l, err := prepareIn(nodes, e.L, c)
		if err != nil {
			return nil, err
		}
		r, err := prepareIn(nodes, e.R, c)
		return add(node{op: e.Op, l: l, r: r}), err
	case *Not:
		x, err := prepareIn(nodes, e.X, c)
		return add(node{op: "!", l: x}), err
	case *Compare:
		k, err := resolve(e, c)
		return add(node{cond: k}), err
	case nil:
		return nil, filterError(0, codeSyntax, "the filter is empty; write a comparison such as views > 500")
	}
	return nil, filterError(e.Pos(), codeSyntax, "expected a comparison operator after %q", brief(e.String()))
}

var flipped = map[string]string{"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=", "~": "", "!~": ""}

func isContains(op string) bool { return op == "~" || op == "!~" }

// resolve checks a comparison and puts it in normal form.
func resolve(e *Compare, c *basalt.Collection) (cond, error) {
	if _, ok := flipped[e.Op]; !ok {
		return cond{}, filterError(e.Offset, codeInvalid, "unknown operator %q; use = != > >= < <= ~ or !~", e.Op)
	}
	lf, err := lookup(e.L, c)
	if err != nil {
		return cond{}, err
	}
	rf, err := lookup(e.R, c)
	if err != nil {
		return cond{}, err
	}
	switch {
	case lf == nil && rf == nil && bound(e.L, e.R):
		return fold(e)
	case lf == nil && rf == nil:
		return cond{}, filterError(e.Offset, codeType, "compare a field with a value, such as views > 500")
	case lf == nil && isContains(e.Op):
		return cond{}, filterError(e.Offset, codeType, "%s needs a text field on the left, such as %s %s \"go\"", e.Op, rf.Name, e.Op)
	case lf == nil:
		return withValue(flipped[e.Op], e.Offset, e.R.(*Field), rf, e.L)
	case rf == nil:
		return withValue(e.Op, e.Offset, e.L.(*Field), lf, e.R)
	}
	return withField(e, lf, rf)
}

// lookup returns the schema field that o names, or nil if o is a value.
func lookup(o Operand, c *basalt.Collection) (*basalt.Field, error) {
	switch o := o.(type) {
	case *Field:
		f := c.SchemaField(o.Name)
		if f == nil {
			return nil, filterError(o.Offset, codeUnknownField, "unknown field %q", brief(o.Name))
		}
		switch f.Type {
		case basalt.TypeText, basalt.TypeNumber, basalt.TypeBool, basalt.TypeDate, basalt.TypeJSON:
			return f, nil
		}
		return nil, filterError(o.Offset, codeUnsupported, "%s is a %s field, which filters cannot use yet", f.Name, f.Type)
	case nil:
		return nil, filterError(0, codeSyntax, "a comparison is missing an operand")
	}
	return nil, nil
}

// withValue checks field f (named at ref) against the value o.
func withValue(op string, opPos int, ref *Field, f *basalt.Field, o Operand) (cond, error) {
	v, err := literalValue(o)
	if err != nil {
		return cond{}, err
	}
	if v == Unknown {
		return cond{op: op, field: f, unknown: true}, nil
	}
	if v == nil {
		switch {
		case op == "=" || op == "!=":
			return cond{op: op, field: f}, nil
		case boundNull(o):
			return cond{op: op, field: f, unknown: true}, nil
		}
		return cond{}, filterError(opPos, codeType, "null can only be compared with = or !=, such as %s = null", f.Name)
	}
	if f.Type == basalt.TypeJSON {
		return cond{}, jsonError(ref.Offset, f)
	}
	if isContains(op) {
		return contains(op, opPos, f, o, v)
	}
	if f.Type == basalt.TypeBool && op != "=" && op != "!=" {
		return cond{}, boolOpError(opPos, f, op)
	}
	if v, ok := convert(f.Type, v); ok {
		return cond{op: op, field: f, value: v}, nil
	}
	return cond{}, filterError(o.Pos(), codeType, "%s is %s; compare it with %s, not %s",
		f.Name, typeName(f.Type), typeWant(f.Type), brief(o.String()))
}

// contains checks field ~ value.
func contains(op string, opPos int, f *basalt.Field, o Operand, v any) (cond, error) {
	if f.Type != basalt.TypeText {
		return cond{}, filterError(opPos, codeType, "%s works on text fields only, and %s is %s", op, f.Name, typeName(f.Type))
	}
	if _, ok := v.(string); !ok {
		return cond{}, containsRightError(o.Pos(), op, f)
	}
	return cond{op: op, field: f, value: v}, nil
}

// withField checks a comparison of two fields.
func withField(e *Compare, lf, rf *basalt.Field) (cond, error) {
	switch {
	case lf.Type == basalt.TypeJSON:
		return cond{}, jsonError(e.L.Pos(), lf)
	case rf.Type == basalt.TypeJSON:
		return cond{}, jsonError(e.R.Pos(), rf)
	case isContains(e.Op):
		return cond{}, containsRightError(e.R.Pos(), e.Op, lf)
	case lf.Type != rf.Type:
		return cond{}, filterError(e.Offset, codeType, "%s is %s and %s is %s; compare fields of the same type",
			lf.Name, typeName(lf.Type), rf.Name, typeName(rf.Type))
	case lf.Type == basalt.TypeBool && e.Op != "=" && e.Op != "!=":
		return cond{}, boolOpError(e.Offset, lf, e.Op)
	}
	return cond{op: e.Op, field: lf, other: rf}, nil
}

func jsonError(pos int, f *basalt.Field) error {
	return filterError(pos, codeType, "%s is json; compare it only with null, such as %s = null or %s != null", f.Name, f.Name, f.Name)
}

func boolOpError(pos int, f *basalt.Field, op string) error {
	return filterError(pos, codeType, "%s is a bool; compare it with = or !=, not %s", f.Name, op)
}

func containsRightError(pos int, op string, f *basalt.Field) error {
	return filterError(pos, codeType, "%s needs a string on the right, such as %s %s \"go\"", op, f.Name, op)
}

// literalValue returns the value of an operand that is not a field. Bind
// has replaced the variables that exist, so any left is unknown. Literals
// built by hand are held to what Parse produces.
func literalValue(o Operand) (any, error) {
	switch o := o.(type) {
	case *Variable:
		return nil, filterError(o.Offset, codeUnknownVariable, "unknown variable %s", brief(o.String()))
	case *Literal:
		return checkLiteral(o)
	}
	return nil, filterError(o.Pos(), codeInvalid, "unsupported operand %s", brief(o.String()))
}

func checkLiteral(l *Literal) (any, error) {
	switch v := l.Value.(type) {
	case nil, bool, unknown:
		return v, nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, filterError(l.Offset, codeInvalid, "number %v is out of range; numbers must be finite", v)
		}
		return l.Value, nil // not v, which would box the number again
	case string:
		// The drivers' LIKE stops at NUL and reads UTF-8; keep both paths exact.
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return nil, filterError(l.Offset, codeInvalid, "strings must be valid UTF-8 without the NUL character")
		}
		return l.Value, nil
	case time.Time:
		// What ParseTime(FormatTime(v)) gives, without the text: @now is
		// bound on every request.
		u := v.UTC()
		if u.Year() < 1 || u.Year() > 9999 {
			return nil, filterError(l.Offset, codeInvalid, "date %s is out of range; dates are between the years 0001 and 9999", brief(l.String()))
		}
		if t := u.Truncate(time.Microsecond); !t.Equal(v) || v.Location() != time.UTC {
			return t, nil
		}
		return l.Value, nil
	}
	return nil, filterError(l.Offset, codeType, "unsupported value of type %T; use a string, a number, true, false or null", l.Value)
}

// convert returns v as the value of a field of type t: a date string
// becomes a time.Time.
func convert(t basalt.FieldType, v any) (any, bool) {
	switch s := v.(type) {
	case string:
		if t == basalt.TypeDate {
			d, ok := basalt.ParseTime(s)
			return d, ok
		}
		return v, t == basalt.TypeText
	case float64:
		return v, t == basalt.TypeNumber
	case bool:
		return v, t == basalt.TypeBool
	case time.Time:
		return v, t == basalt.TypeDate
	}
	return nil, false
}

// typeName names a field type after "is", as in "views is a number".
func typeName(t basalt.FieldType) string {
	switch t {
	case basalt.TypeText, basalt.TypeJSON:
		return string(t)
	}
	return "a " + string(t)
}

// typeWant says what a field of type t can be compared with.
func typeWant(t basalt.FieldType) string {
	switch t {
	case basalt.TypeText:
		return "a string in quotes"
	case basalt.TypeNumber:
		return "a number"
	case basalt.TypeBool:
		return "true or false"
	}
	return `a date such as "2024-05-01" or "2024-05-01T12:00:00Z"`
}

// bound reports whether a comparison without fields involves a bound
// variable: rules may compare variables, user filters compare fields.
func bound(l, r Operand) bool {
	ll, lok := l.(*Literal)
	rl, rok := r.(*Literal)
	return lok && rok && (ll.Bound || rl.Bound)
}

// fold decides a comparison of two values now. Its rules are those of a
// field compared with a value: = null and != null test for null, Unknown
// makes the result unknown, a date compares with a date string
// (@now < "2027-01-01"), other values must be of one type.
func fold(e *Compare) (cond, error) {
	lv, err := literalValue(e.L)
	if err != nil {
		return cond{}, err
	}
	rv, err := literalValue(e.R)
	if err != nil {
		return cond{}, err
	}
	lv, rv = asDates(lv, rv)
	switch {
	case lv == Unknown || rv == Unknown:
		return cond{set: true, constant: triUnknown}, nil
	case (boundNull(e.L) || boundNull(e.R)) && e.Op != "=" && e.Op != "!=":
		return cond{set: true, constant: triUnknown}, nil
	case lv == nil || rv == nil:
		if e.Op != "=" && e.Op != "!=" {
			return cond{}, filterError(e.Offset, codeType, "null can only be compared with = or !=")
		}
		return cond{set: true, constant: triOf((lv == nil && rv == nil) == (e.Op == "="))}, nil
	}
	if ls, ok := lv.(string); ok && isContains(e.Op) {
		rs, ok := rv.(string)
		if !ok {
			return cond{}, filterError(e.Offset, codeType, "%s compares text with text", e.Op)
		}
		return cond{set: true, constant: triOf(containsFold(ls, rs) == (e.Op == "~"))}, nil
	}
	if !sameKind(lv, rv) || isContains(e.Op) {
		return cond{}, filterError(e.Offset, codeType, "%s and %s are of different types", brief(e.L.String()), brief(e.R.String()))
	}
	if _, isBool := lv.(bool); isBool && e.Op != "=" && e.Op != "!=" {
		return cond{}, filterError(e.Offset, codeType, "true and false can only be compared with = or !=")
	}
	return cond{set: true, constant: triOf(holds(e.Op, compareValues(lv, rv)))}, nil
}

// asDates returns a and b with a date string made a date when the other
// is a date, as it would be to compare with a date field; a string that
// is no date stays as it is, for fold to refuse.
func asDates(a, b any) (any, any) {
	_, ad := a.(time.Time)
	_, bd := b.(time.Time)
	if s, ok := b.(string); ok && ad {
		if t, ok := basalt.ParseTime(s); ok {
			return a, t
		}
	}
	if s, ok := a.(string); ok && bd {
		if t, ok := basalt.ParseTime(s); ok {
			return t, b
		}
	}
	return a, b
}

// boundNull reports whether o is a null that Bind put in place of a
// variable, such as a field a request body leaves out. Compared with = or
// != it tests for null, as the keyword does; compared by order or with ~
// it is SQL's NULL, and the comparison is unknown. The keyword is refused
// there instead, but a rule cannot know which fields a body will hold.
func boundNull(o Operand) bool {
	l, ok := o.(*Literal)
	return ok && l.Bound && l.Value == nil
}

func sameKind(a, b any) bool {
	switch a.(type) {
	case string:
		_, ok := b.(string)
		return ok
	case float64:
		_, ok := b.(float64)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	case time.Time:
		_, ok := b.(time.Time)
		return ok
	}
	return false
}
