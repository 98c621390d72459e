package filter

import (
	"slices"
	"strings"

	"basalt.dev/basalt"
)

// Compile checks e against collection c and returns it as a SQL boolean
// expression over c's table, whose columns are named after the fields.
// Values become parameters appended to args, never SQL text; on error
// args is left as it was.
//
// Contains (~) is LIKE in SQLite and ILIKE in PostgreSQL: a substring
// match that ignores the case of ASCII letters only, as Eval does.
func Compile(e Expr, c *basalt.Collection, args *Args) (string, error) {
	n, err := prepare(e, c)
	if err != nil {
		return "", err
	}
	// One allocation each for the text and the arguments in most filters:
	// a rule is compiled again on every request that binds it.
	var b strings.Builder
	b.Grow(24 * count(e))
	if p := n.params(); p > 0 {
		args.Values = slices.Grow(args.Values, p)
	}
	writeSQL(&b, n, args)
	return b.String(), nil
}

// params returns the number of parameters that n's SQL takes.
func (n *node) params() int {
	switch {
	case n.op == "!":
		return n.l.params()
	case n.op != "":
		return n.l.params() + n.r.params()
	case n.cond.unknown || n.cond.set || n.cond.other != nil || n.cond.value == nil:
		return 0
	}
	return 1
}

func writeSQL(b *strings.Builder, n *node, a *Args) {
	switch n.op {
	case "&&", "||":
		op := " AND "
		if n.op == "||" {
			op = " OR "
		}
		b.WriteByte('(')
		writeSQL(b, n.l, a)
		b.WriteString(op)
		writeSQL(b, n.r, a)
		b.WriteByte(')')
	case "!":
		b.WriteString("(NOT ")
		writeSQL(b, n.l, a)
		b.WriteByte(')')
	default:
		writeCond(b, &n.cond, a)
	}
}

var sqlOps = map[string]string{"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func writeCond(b *strings.Builder, k *cond, a *Args) {
	if k.unknown || (k.set && k.constant == triUnknown) {
		b.WriteString("CAST(NULL AS BOOLEAN)")
		return
	}
	if k.set {
		// 1 = 1 rather than TRUE: both databases, any version.
		if k.constant == triTrue {
			b.WriteString("(1 = 1)")
		} else {
			b.WriteString("(1 = 0)")
		}
		return
	}
	writeName(b, k.field.Name)
	switch {
	case k.other != nil:
		b.WriteString(" " + sqlOps[k.op] + " ")
		writeName(b, k.other.Name)
	case k.value == nil && k.op == "=":
		b.WriteString(" IS NULL")
	case k.value == nil:
		b.WriteString(" IS NOT NULL")
	case isContains(k.op):
		writeLike(b, k, a)
	default:
		b.WriteString(" " + sqlOps[k.op] + " ")
		a.write(b, a.Dialect.Arg(k.field.Type, k.value))
	}
}

// writeName writes Quote(name) without making the string.
func writeName(b *strings.Builder, name string) {
	if strings.IndexByte(name, '"') >= 0 {
		b.WriteString(Quote(name))
		return
	}
	b.WriteByte('"')
	b.WriteString(name)
	b.WriteByte('"')
}

// writeLike writes the LIKE for ~ and !~. PostgreSQL's LIKE is case
// sensitive, so it gets ILIKE; its text columns use COLLATE "C", under
// which ILIKE folds ASCII letters only, as SQLite's LIKE does.
func writeLike(b *strings.Builder, k *cond, a *Args) {
	if k.op == "!~" {
		b.WriteString(" NOT")
	}
	if a.Dialect == Postgres {
		b.WriteString(" ILIKE ")
	} else {
		b.WriteString(" LIKE ")
	}
	a.write(b, likePattern(k.value.(string)))
	b.WriteString(` ESCAPE '\'`)
}

// likeEscaper makes LIKE's wildcards and the escape character literal.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likePattern returns the LIKE pattern that matches text containing s.
func likePattern(s string) string {
	return "%" + likeEscaper.Replace(s) + "%"
}
