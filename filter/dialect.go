package filter

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
)

// Dialect is a SQL dialect that filters compile to.
type Dialect int

// The dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// Placeholder returns the marker of the n-th parameter, counting from 1.
func (d Dialect) Placeholder(n int) string {
	if d == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// Arg converts a record value of type t (see basalt.Field) to the argument
// the dialect's driver expects: SQLite stores dates as TimeLayout text,
// booleans as 0 and 1 and JSON as text.
func (d Dialect) Arg(t basalt.FieldType, v any) any {
	if v == nil {
		return nil
	}
	switch v := v.(type) {
	case time.Time:
		if d == SQLite {
			return basalt.FormatTime(v)
		}
		return v.UTC()
	case bool:
		if d == SQLite {
			if v {
				return int64(1)
			}
			return int64(0)
		}
		return v
	case json.RawMessage:
		if d == SQLite {
			return string(v)
		}
		return []byte(v)
	}
	return v
}

// Quote quotes an identifier. Names are validated to [a-z][a-z0-9_]*
// before they reach SQL; quoting also makes SQL keywords safe as names.
func Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Args collects the parameters of one SQL statement.
type Args struct {
	Dialect Dialect
	Values  []any
}

// Add appends a parameter and returns its placeholder.
func (a *Args) Add(v any) string {
	a.Values = append(a.Values, v)
	return a.Dialect.Placeholder(len(a.Values))
}

// write appends a parameter and writes its placeholder to b.
func (a *Args) write(b *strings.Builder, v any) {
	a.Values = append(a.Values, v)
	if a.Dialect == Postgres {
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(a.Values)))
		return
	}
	b.WriteByte('?')
}
