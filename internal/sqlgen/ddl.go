// Package sqlgen writes the SQL that both database drivers share: the
// table and index definitions of collections, the statements on records
// and the keyset predicate of lists. It only writes text and converts
// values; running statements is the drivers' job.
package sqlgen

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
)

// columnType is the SQL type of a field in a dialect. Text in PostgreSQL
// uses the "C" collation so that text orders by bytes, as in SQLite and in
// the in-memory evaluator.
func columnType(d filter.Dialect, t basalt.FieldType) string {
	if d == filter.Postgres {
		switch t {
		case basalt.TypeText:
			return `text COLLATE "C"`
		case basalt.TypeNumber:
			return "double precision"
		case basalt.TypeBool:
			return "boolean"
		case basalt.TypeDate:
			return "timestamptz"
		case basalt.TypeJSON:
			// json, not jsonb: it keeps the document exactly as sent,
			// as SQLite does, so both stores return the same bytes.
			return "json"
		}
		return "text"
	}
	switch t {
	case basalt.TypeNumber:
		return "REAL"
	case basalt.TypeBool:
		return "INTEGER"
	}
	return "TEXT"
}

// CreateCollection returns the statements that create c's table and indexes.
func CreateCollection(d filter.Dialect, c *basalt.Collection) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", filter.Quote(basalt.TableName(c.Name)))
	fmt.Fprintf(&b, "  tenant_id %s NOT NULL,\n  id %s NOT NULL,\n", columnType(d, basalt.TypeText), columnType(d, basalt.TypeText))
	fmt.Fprintf(&b, "  created %s NOT NULL,\n  updated %s NOT NULL,\n", columnType(d, basalt.TypeDate), columnType(d, basalt.TypeDate))
	if d == filter.Postgres {
		b.WriteString("  _v bigint NOT NULL,\n")
	} else {
		b.WriteString("  _v INTEGER NOT NULL,\n")
	}
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "  %s %s,\n", filter.Quote(f.Name), columnType(d, f.Type))
	}
	b.WriteString("  PRIMARY KEY (tenant_id, id)\n)")
	if d == filter.SQLite {
		// STRICT makes SQLite enforce the column types; WITHOUT ROWID
		// clusters rows by (tenant_id, id), so a read by id is one lookup.
		b.WriteString(" STRICT, WITHOUT ROWID")
	}
	stmts := []string{b.String()}
	if d == filter.Postgres {
		stmts = append(stmts, rowSecurity(c.Name)...)
	}
	for _, f := range c.Fields {
		if f.Unique {
			stmts = append(stmts, createUniqueField(d, c.Name, f.Name))
		}
	}
	for _, ix := range c.Indexes {
		stmts = append(stmts, createIndex(d, c.Name, ix))
	}
	return stmts
}

// rowSecurity turns on PostgreSQL's row-level security for a collection's
// table, as migration 0003 does for the tables made before it: only the
// rows of the tenant in the setting basalt.tenant are visible and
// writable, or every row when it is "*".
func rowSecurity(coll string) []string {
	t := filter.Quote(basalt.TableName(coll))
	return []string{
		"ALTER TABLE " + t + " ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
		"CREATE POLICY tenant_isolation ON " + t + ` USING (tenant_id = (SELECT current_setting('basalt.tenant', true)) COLLATE "C" OR (SELECT current_setting('basalt.tenant', true)) = '*')`,
	}
}

// DropCollection returns the statement that drops c's table and, with it,
// its indexes.
func DropCollection(c *basalt.Collection) string {
	return "DROP TABLE " + filter.Quote(basalt.TableName(c.Name))
}

func createUniqueField(d filter.Dialect, coll, field string) string {
	return fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (tenant_id, %s)",
		filter.Quote(basalt.UniqueIndexTableName(coll, field)), filter.Quote(basalt.TableName(coll)), filter.Quote(field))
}

// createIndex leads every index with tenant_id. A non-unique index ends
// with id, so it serves a sort on its fields with the id tie-break that
// keyset pagination adds. In PostgreSQL user columns are NULLS FIRST: nulls
// sort lowest in both databases, and the index still serves the sort.
func createIndex(d filter.Dialect, coll string, ix basalt.Index) string {
	cols := []string{"tenant_id"}
	for _, f := range ix.Fields {
		col := filter.Quote(f)
		if d == filter.Postgres && f != "id" && f != "created" && f != "updated" {
			col += " NULLS FIRST"
		}
		cols = append(cols, col)
	}
	unique := ""
	if ix.Unique {
		unique = "UNIQUE "
	} else if !slices.Contains(ix.Fields, "id") {
		cols = append(cols, "id")
	}
	return fmt.Sprintf("CREATE %sINDEX %s ON %s (%s)", unique,
		filter.Quote(basalt.IndexTableName(coll, ix.Name)), filter.Quote(basalt.TableName(coll)), strings.Join(cols, ", "))
}

func dropIndex(name string) string { return "DROP INDEX " + filter.Quote(name) }

// Stmt is one statement with its parameters.
type Stmt struct {
	SQL  string
	Args []any
}

// Alter returns the statements that change a collection from old to new,
// in an order every database accepts: indexes that change go first, then
// renames, drops and additions of columns, then new indexes. Fields whose
// type changes are refused by the caller before this point.
func Alter(d filter.Dialect, old, new *basalt.Collection, renames map[string]string) []Stmt {
	var stmts []string
	var backfills []Stmt
	table := filter.Quote(basalt.TableName(new.Name))
	renamed := func(name string) string {
		if to, ok := renames[name]; ok {
			return to
		}
		return name
	}
	// Indexes: identify by name; an index whose definition changes (after
	// renames) is dropped and created again.
	newIdx := map[string]basalt.Index{}
	for _, ix := range new.Indexes {
		newIdx[ix.Name] = ix
	}
	oldIdx := map[string]bool{}
	for _, ix := range old.Indexes {
		oldIdx[ix.Name] = true
		n, ok := newIdx[ix.Name]
		moved := make([]string, len(ix.Fields))
		for i, f := range ix.Fields {
			moved[i] = renamed(f)
		}
		if !ok || n.Unique != ix.Unique || !slices.Equal(moved, n.Fields) {
			stmts = append(stmts, dropIndex(basalt.IndexTableName(old.Name, ix.Name)))
			delete(oldIdx, ix.Name)
		}
	}
	// Unique field indexes are named after the field, so a rename rebuilds
	// them too.
	for _, f := range old.Fields {
		if !f.Unique {
			continue
		}
		nf := new.Field(renamed(f.Name))
		if nf == nil || !nf.Unique || nf.Name != f.Name {
			stmts = append(stmts, dropIndex(basalt.UniqueIndexTableName(old.Name, f.Name)))
		}
	}
	for _, from := range slices.Sorted(maps.Keys(renames)) {
		to := renames[from]
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", table, filter.Quote(from), filter.Quote(to)))
	}
	kept := map[string]bool{}
	for _, f := range old.Fields {
		name := renamed(f.Name)
		if new.Field(name) == nil {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", table, filter.Quote(name)))
			continue
		}
		kept[name] = true
	}
	for _, f := range new.Fields {
		if kept[f.Name] {
			if of := oldField(old, renames, f.Name); f.Required && !of.Required && len(f.Default) > 0 {
				backfills = append(backfills, fillMissing(d, table, f))
			}
			continue
		}
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", table, filter.Quote(f.Name), columnType(d, f.Type)))
		if len(f.Default) > 0 {
			v, _ := basalt.DecodeValue(&f, f.Default)
			backfills = append(backfills, Stmt{
				SQL:  fmt.Sprintf("UPDATE %s SET %s = %s", table, filter.Quote(f.Name), d.Placeholder(1)),
				Args: []any{d.Arg(f.Type, v)},
			})
		}
	}
	out := make([]Stmt, 0, len(stmts)+len(backfills))
	for _, s := range stmts {
		out = append(out, Stmt{SQL: s})
	}
	out = append(out, backfills...)
	stmts = stmts[:0]
	for _, f := range new.Fields {
		if !f.Unique {
			continue
		}
		if of := oldField(old, renames, f.Name); of == nil || !of.Unique || of.Name != f.Name {
			stmts = append(stmts, createUniqueField(d, new.Name, f.Name))
		}
	}
	for _, ix := range new.Indexes {
		if !oldIdx[ix.Name] {
			stmts = append(stmts, createIndex(d, new.Name, ix))
		}
	}
	for _, s := range stmts {
		out = append(out, Stmt{SQL: s})
	}
	return out
}

// oldField returns the field of old that is called name after renames.
func oldField(old *basalt.Collection, renames map[string]string, name string) *basalt.Field {
	for i := range old.Fields {
		n := old.Fields[i].Name
		if to, ok := renames[n]; ok {
			n = to
		}
		if n == name {
			return &old.Fields[i]
		}
	}
	return nil
}

// fillMissing sets a field that became required to its default in the
// records that have no value (null, or empty text).
func fillMissing(d filter.Dialect, table string, f basalt.Field) Stmt {
	v, _ := basalt.DecodeValue(&f, f.Default)
	col := filter.Quote(f.Name)
	where := col + " IS NULL"
	if f.Type == basalt.TypeText {
		where += " OR " + col + " = ''"
	}
	return Stmt{SQL: fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s", table, col, d.Placeholder(1), where), Args: []any{d.Arg(f.Type, v)}}
}
