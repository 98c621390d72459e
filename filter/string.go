package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
)

// The canonical form puts spaces around operators, writes strings in
// double quotes with JSON escapes, and parenthesizes every chain of && or
// || and everything under a !, so that parsing it gives the same tree
// without knowing the precedence rules.

func (e *Logical) String() string  { return exprString(e) }
func (e *Not) String() string      { return exprString(e) }
func (e *Compare) String() string  { return exprString(e) }
func (e *Field) String() string    { return e.Name }
func (e *Literal) String() string  { return exprString(e) }
func (e *Variable) String() string { return "@" + strings.Join(e.Path, ".") }

func exprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Logical:
		b.WriteByte('(')
		writeChain(b, e)
		b.WriteByte(')')
	case *Not:
		b.WriteByte('!')
		if _, ok := e.X.(*Logical); ok {
			writeExpr(b, e.X) // already in parentheses
			return
		}
		b.WriteByte('(')
		writeExpr(b, e.X)
		b.WriteByte(')')
	case *Compare:
		writeExpr(b, e.L)
		b.WriteString(" " + e.Op + " ")
		writeExpr(b, e.R)
	case *Literal:
		writeLiteral(b, e.Value)
	case nil:
		b.WriteString("<nil>")
	default:
		b.WriteString(e.String())
	}
}

// writeChain writes a chain of the same operator, a && b && c, without
// inner parentheses: the parser rebuilds the same left-leaning tree.
func writeChain(b *strings.Builder, e *Logical) {
	if l, ok := e.L.(*Logical); ok && l.Op == e.Op {
		writeChain(b, l)
	} else {
		writeExpr(b, e.L)
	}
	b.WriteString(" " + e.Op + " ")
	writeExpr(b, e.R)
}

func writeLiteral(b *strings.Builder, v any) {
	switch v := v.(type) {
	case unknown:
		b.WriteString("@unknown")
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case float64:
		b.Write(appendNumber(nil, v))
	case string:
		writeQuoted(b, v)
	case time.Time:
		writeQuoted(b, basalt.FormatTime(v))
	default:
		fmt.Fprintf(b, "%v", v)
	}
}

// appendNumber formats f as encoding/json does: the shortest text that
// parses back to f, in exponent form only for very large or small values.
func appendNumber(dst []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Write e-07 as e-7, as JSON does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// writeQuoted writes s in double quotes with JSON escapes. Other
// characters are written as they are, so the text stays readable.
func writeQuoted(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	// Ranging over s turns invalid UTF-8, possible only in a literal built
	// by hand, into U+FFFD.
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
