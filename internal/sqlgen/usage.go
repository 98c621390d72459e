package sqlgen

import (
	"encoding/json"
	"fmt"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
)

// Sizes of the fixed-width values in a record's stored bytes (see
// store.Usage).
const (
	numberBytes = 8
	dateBytes   = 8
	boolBytes   = 1
)

// ValueBytes returns the stored bytes of one record value of type t: the
// UTF-8 length of a text or json value, a fixed width for the others,
// nothing for null. BytesExpr computes the same in SQL.
func ValueBytes(t basalt.FieldType, v any) int64 {
	switch v := v.(type) {
	case nil:
		return 0
	case string:
		return int64(len(v))
	case json.RawMessage:
		return int64(len(v))
	}
	switch t {
	case basalt.TypeNumber:
		return numberBytes
	case basalt.TypeDate:
		return dateBytes
	case basalt.TypeBool:
		return boolBytes
	}
	return 0
}

// RecordBytes returns the stored bytes of the values in data of the
// fields of c named in only (every field when only is nil).
func RecordBytes(c *basalt.Collection, data map[string]any, only map[string]any) int64 {
	var n int64
	for _, f := range c.Fields {
		if only != nil {
			if _, ok := only[f.Name]; !ok {
				continue
			}
		}
		n += ValueBytes(f.Type, data[f.Name])
	}
	return n
}

// BytesExpr returns the SQL expression of the stored bytes of a row of
// c's table, counting the fields named in only (every field when only is
// nil). It must agree with RecordBytes: the conformance suite checks it.
func BytesExpr(d filter.Dialect, c *basalt.Collection, only map[string]any) string {
	var terms []string
	for _, f := range c.Fields {
		if only != nil {
			if _, ok := only[f.Name]; !ok {
				continue
			}
		}
		col := filter.Quote(f.Name)
		var term string
		switch f.Type {
		case basalt.TypeText:
			term = "octet_length(" + col + ")"
			if d == filter.SQLite {
				term = "length(CAST(" + col + " AS BLOB))"
			}
		case basalt.TypeJSON:
			term = "octet_length(" + col + "::text)"
			if d == filter.SQLite {
				term = "length(CAST(" + col + " AS BLOB))"
			}
		case basalt.TypeNumber, basalt.TypeDate, basalt.TypeBool:
			term = fmt.Sprintf("CASE WHEN %s IS NULL THEN 0 ELSE %d END", col, ValueBytes(f.Type, true))
		default:
			continue
		}
		terms = append(terms, "coalesce("+term+", 0)")
	}
	if len(terms) == 0 {
		return "0"
	}
	return strings.Join(terms, " + ")
}

// Bytes returns the statement that reads the stored bytes of the fields
// named in only of one record, before an update changes them. With lock
// (PostgreSQL) it locks the row, so no other writer changes it between
// this read and the update.
func (q *Records) Bytes(tenant, id string, only map[string]any, lock bool) Stmt {
	s := fmt.Sprintf("SELECT %s FROM %s WHERE tenant_id = %s AND id = %s",
		BytesExpr(q.d, q.c, only), q.table, q.d.Placeholder(1), q.d.Placeholder(2))
	if lock {
		s += " FOR UPDATE"
	}
	return Stmt{SQL: s, Args: []any{tenant, id}}
}

// CountUsage returns the query of each tenant's usage in c's table, as
// rows of _usage: tenant_id, the collection (the one parameter), shard 0,
// its records and its stored bytes.
func CountUsage(d filter.Dialect, c *basalt.Collection) string {
	coll := "?"
	if d == filter.Postgres {
		coll = "$1::text"
	}
	return fmt.Sprintf("SELECT tenant_id, %s, 0, count(*), coalesce(sum(%s), 0) FROM %s GROUP BY tenant_id",
		coll, BytesExpr(d, c, nil), filter.Quote(basalt.TableName(c.Name)))
}

// Rewrites reports whether the statements of an Alter change stored
// values (a dropped column, values filled in), so that the collection's
// usage must be counted again.
func Rewrites(stmts []Stmt) bool {
	for _, s := range stmts {
		if strings.HasPrefix(s.SQL, "UPDATE ") || strings.Contains(s.SQL, " DROP COLUMN ") {
			return true
		}
	}
	return false
}
