// Package filter is Basalt's one small expression language: record
// filters, sorts and (later) access rules. An expression is parsed once
// into a syntax tree, then either compiled to parameterized SQL for a
// dialect or evaluated in memory against a record; both paths give the
// same answer, including SQL's three-valued treatment of null.
//
// Grammar:
//
//	expr    = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | "(" expr ")" | compare
//	compare = operand op operand
//	op      = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "!~"
//	operand = field | string | number | "true" | "false" | "null" | variable
//	field   = [a-z_][a-z0-9_]*
//	variable = "@" name { "." name }        (such as @now, @auth.id)
//
// Strings are written in double or single quotes with JSON escapes;
// numbers as in JSON. The words true, false and null are literals, never
// field names.
package filter

// Expr is a node of a parsed filter.
type Expr interface {
	// String returns the expression in canonical source form; parsing it
	// gives an equal tree.
	String() string
	// Pos returns the byte offset of the node in the source.
	Pos() int
	// expr seals the interface: Check, Compile and Eval know every node.
	expr()
}

// Logical is a && or || of two expressions.
type Logical struct {
	Op     string // "&&" or "||"
	L, R   Expr
	Offset int
}

// Not negates an expression.
type Not struct {
	X      Expr
	Offset int
}

// Compare compares two operands.
type Compare struct {
	Op     string // "=", "!=", ">", ">=", "<", "<=", "~", "!~"
	L, R   Operand
	Offset int
}

// Operand is a Field, a Literal or a Variable.
type Operand interface {
	Expr
	operand()
}

// Field names a record field.
type Field struct {
	Name   string
	Offset int
}

// Literal is a constant: string, float64, bool or nil (null). Bind also
// makes time.Time literals, which String writes as quoted dates.
type Literal struct {
	Value  any
	Offset int
	// Bound marks a literal that Bind put in place of a variable: a
	// comparison of such values (@request.body.owner = @auth.id) is
	// decided when the filter is compiled.
	Bound bool
}

// Variable is a value known when the filter runs, such as @now or
// @auth.id. Bind replaces variables with literals.
type Variable struct {
	Path   []string // "auth", "id" for @auth.id
	Offset int
}

// SortField is one key of a sort: a field name and a direction.
type SortField struct {
	Field string
	Desc  bool
}

// Pos returns the offset of the operator, where errors about it point.
func (e *Logical) Pos() int { return e.Offset }

// Pos returns the offset of the "!".
func (e *Not) Pos() int { return e.Offset }

// Pos returns the offset of the operator, where errors about it point.
func (e *Compare) Pos() int { return e.Offset }

func (e *Field) Pos() int    { return e.Offset }
func (e *Literal) Pos() int  { return e.Offset }
func (e *Variable) Pos() int { return e.Offset }

func (*Logical) expr()  {}
func (*Not) expr()      {}
func (*Compare) expr()  {}
func (*Field) expr()    {}
func (*Literal) expr()  {}
func (*Variable) expr() {}

func (*Field) operand()    {}
func (*Literal) operand()  {}
func (*Variable) operand() {}
