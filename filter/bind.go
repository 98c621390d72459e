package filter

import (
	"fmt"
	"time"
)

// Bind returns a copy of e with each variable replaced by a literal of its
// value. vars returns the value of a variable's path, such as
// ["auth", "id"] for @auth.id, and false when there is no such variable,
// which is a validation error. A value is a string, float64, bool,
// time.Time or nil; any other type is a fault of vars, returned as a plain
// error. The tree e is not modified: the result shares the parts of e
// that hold no variable, so binding a rule per request copies only the
// path to each variable.
func Bind(e Expr, vars func(path []string) (any, bool)) (Expr, error) {
	switch e := e.(type) {
	case *Logical:
		l, err := Bind(e.L, vars)
		if err != nil {
			return nil, err
		}
		r, err := Bind(e.R, vars)
		if err != nil {
			return nil, err
		}
		if l == e.L && r == e.R {
			return e, nil
		}
		return &Logical{Op: e.Op, L: l, R: r, Offset: e.Offset}, nil
	case *Not:
		x, err := Bind(e.X, vars)
		if err != nil {
			return nil, err
		}
		if x == e.X {
			return e, nil
		}
		return &Not{X: x, Offset: e.Offset}, nil
	case *Compare:
		l, err := bindOperand(e.L, vars)
		if err != nil {
			return nil, err
		}
		r, err := bindOperand(e.R, vars)
		if err != nil {
			return nil, err
		}
		if l == e.L && r == e.R {
			return e, nil
		}
		return &Compare{Op: e.Op, L: l, R: r, Offset: e.Offset}, nil
	}
	return e, nil
}

func bindOperand(o Operand, vars func(path []string) (any, bool)) (Operand, error) {
	v, ok := o.(*Variable)
	if !ok {
		return o, nil
	}
	var val any
	found := false
	if vars != nil {
		val, found = vars(v.Path)
	}
	if !found {
		return nil, filterError(v.Offset, codeUnknownVariable, "unknown variable %s", brief(v.String()))
	}
	switch val.(type) {
	case nil, string, float64, bool, time.Time, unknown:
		return &Literal{Value: val, Offset: v.Offset, Bound: true}, nil
	}
	return nil, fmt.Errorf("filter: variable %s has a value of type %T; want string, float64, bool, time.Time or nil", v, val)
}

// unknown is the type of Unknown.
type unknown struct{}

// Unknown is a variable's value when it has none: SQL's NULL as a value,
// not the null keyword. A comparison with it is unknown, neither true nor
// false, in SQL and in Eval alike, so "owner = @auth.id" holds for no
// record when nobody is signed in, and neither does "owner != @auth.id";
// binding the keyword null instead would make the first "owner IS NULL".
var Unknown any = unknown{}
