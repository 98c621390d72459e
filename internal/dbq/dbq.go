// Package dbq lets storage code be written once for both databases: a
// small interface that each driver adapts its connection to, statements
// written with ? placeholders (renumbered as $n for PostgreSQL), and
// scanners that accept either database's form of a value.
package dbq

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
)

// Q runs statements.
type Q interface {
	// Exec runs a statement and returns the rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a query.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Rows is the result of a query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// DB is a database that storage code uses: reads on Q, writes in Tx.
type DB interface {
	Q
	// Tx runs fn in a transaction, committed when fn returns nil.
	Tx(ctx context.Context, fn func(Q) error) error
	Dialect() filter.Dialect
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique(err error) bool
}

// RecordCacheInvalidator is implemented by transactions of stores that
// cache records: statements that change records behind the store's back
// (a tenant's deletion) ask for the cache to be dropped at commit.
type RecordCacheInvalidator interface {
	InvalidateRecordsAtCommit()
}

// QueryRow runs a query expected to return one row and scans it;
// sql.ErrNoRows when there is none.
func QueryRow(ctx context.Context, q Q, query string, args []any, dest ...any) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

var rebound sync.Map // query with ? -> query with $n

// Rebind renumbers the ? placeholders of query as $1, $2... for
// PostgreSQL. Statements passed here hold no ? inside literals.
func Rebind(d filter.Dialect, query string) string {
	if d != filter.Postgres || !strings.Contains(query, "?") {
		return query
	}
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	rebound.Store(query, b.String())
	return b.String()
}

// Time converts a time to the dialect's argument; the zero time is null.
func Time(d filter.Dialect, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.Arg(basalt.TypeDate, t)
}

// Bool converts a bool to the dialect's argument.
func Bool(d filter.Dialect, b bool) any { return d.Arg(basalt.TypeBool, b) }

// JSON converts a JSON document to the dialect's argument.
func JSON(d filter.Dialect, v json.RawMessage) any { return d.Arg(basalt.TypeJSON, v) }

// TimeDest scans a date from either database into *t; null is the zero
// time.
type TimeDest struct{ T *time.Time }

// Scan implements sql.Scanner.
func (d TimeDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.T = time.Time{}
	case time.Time:
		*d.T = v.UTC()
	case string:
		t, err := basalt.ParseStoredTime(v)
		if err != nil {
			return err
		}
		*d.T = t
	case []byte:
		return d.Scan(string(v))
	default:
		return fmt.Errorf("dbq: %T is not a date", v)
	}
	return nil
}

// BoolDest scans a bool stored as a boolean or as 0 and 1.
type BoolDest struct{ B *bool }

// Scan implements sql.Scanner.
func (d BoolDest) Scan(v any) error {
	switch v := v.(type) {
	case bool:
		*d.B = v
	case int64:
		*d.B = v != 0
	case nil:
		*d.B = false
	default:
		return fmt.Errorf("dbq: %T is not a bool", v)
	}
	return nil
}

// StringDest scans text that may be null ("").
type StringDest struct{ S *string }

// Scan implements sql.Scanner.
func (d StringDest) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*d.S = ""
	case string:
		*d.S = v
	case []byte:
		*d.S = string(v)
	default:
		return fmt.Errorf("dbq: %T is not text", v)
	}
	return nil
}
