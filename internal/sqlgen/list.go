package sqlgen

import (
	"fmt"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// List returns the statement of one page: the tenant predicate, the
// filter, the keyset predicate after p.After, the order and the limit.
//
// Nulls sort lowest in both databases (SQLite's rule; PostgreSQL is told
// NULLS FIRST/LAST), and the id breaks ties in the direction of the last
// key, so the order is total and a keyset position is exact.
func (q *Records) List(p *store.RecordListParams) (Stmt, error) {
	return q.list(p, q.cols)
}

// ListIDs is List selecting only the ids: with an index over the filter
// and sort fields, the database answers it from the index alone.
func (q *Records) ListIDs(p *store.RecordListParams) (Stmt, error) {
	return q.list(p, "id")
}

// ByIDs returns the statement that reads the records whose ids are in
// the JSON array of its second parameter (SQLite's json_each): one
// statement text for any number of ids.
func (q *Records) ByIDs(tenant string, ids []string) Stmt {
	arr := make([]byte, 0, 32*len(ids))
	arr = append(arr, '[')
	for i, id := range ids {
		if i > 0 {
			arr = append(arr, ',')
		}
		arr = basalt.AppendJSONString(arr, id)
	}
	arr = append(arr, ']')
	return Stmt{
		SQL:  fmt.Sprintf("SELECT %s FROM %s WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))", q.cols, q.table),
		Args: []any{tenant, string(arr)},
	}
}

// Count returns the statement that counts the records of p's tenant that
// match p.Filter.
func (q *Records) Count(p *store.RecordCountParams) (Stmt, error) {
	a := filter.Args{Dialect: q.d}
	where, err := q.matching(&a, p.TenantID, p.Filter)
	if err != nil {
		return Stmt{}, err
	}
	return Stmt{SQL: fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", q.table, strings.Join(where, " AND ")), Args: a.Values}, nil
}

// matching returns the conditions of a tenant's records that match f
// (nil for all).
func (q *Records) matching(a *filter.Args, tenant string, f filter.Expr) ([]string, error) {
	where := []string{"tenant_id = " + a.Add(tenant)}
	if f != nil {
		cond, err := filter.Compile(f, q.c, a)
		if err != nil {
			return nil, err
		}
		where = append(where, cond)
	}
	return where, nil
}

func (q *Records) list(p *store.RecordListParams, cols string) (Stmt, error) {
	a := filter.Args{Dialect: q.d}
	where, err := q.matching(&a, p.TenantID, p.Filter)
	if err != nil {
		return Stmt{}, err
	}
	keys := store.SortKeys(p.Sort)
	if p.After != nil {
		if len(p.After) != len(keys) {
			return Stmt{}, fmt.Errorf("sqlgen: keyset position has %d values for %d keys", len(p.After), len(keys))
		}
		where = append(where, q.keyset(&a, keys, p.After))
	}
	order := make([]string, len(keys))
	for i, k := range keys {
		order[i] = q.orderTerm(k)
	}
	limit := a.Add(int64(p.Limit))
	return Stmt{
		SQL: fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %s",
			cols, q.table, strings.Join(where, " AND "), strings.Join(order, ", "), limit),
		Args: a.Values,
	}, nil
}

func (q *Records) orderTerm(k filter.SortField) string {
	term := filter.Quote(k.Field)
	nullable := q.c.Field(k.Field) != nil
	switch {
	case k.Desc && nullable && q.d == filter.Postgres:
		term += " DESC NULLS LAST"
	case k.Desc:
		term += " DESC"
	case nullable && q.d == filter.Postgres:
		term += " NULLS FIRST"
	}
	return term
}

// keyset returns the predicate "row comes after the position": the
// disjunction over i of (keys before i equal, key i after). Every use of
// a value adds its own parameter, as SQLite's ? are positional.
func (q *Records) keyset(a *filter.Args, keys []filter.SortField, after []any) string {
	var ors []string
	for i, k := range keys {
		if after[i] == nil && k.Desc {
			continue // nothing sorts after null in descending order
		}
		var and []string
		for j := range i {
			and = append(and, q.equal(a, keys[j].Field, after[j]))
		}
		gt := q.after(a, k.Field, k.Desc, after[i])
		ors = append(ors, "("+strings.Join(append(and, gt), " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

func (q *Records) equal(a *filter.Args, field string, v any) string {
	col := filter.Quote(field)
	if v == nil {
		return col + " IS NULL"
	}
	return col + " = " + a.Add(q.d.Arg(q.c.SchemaField(field).Type, v))
}

// after returns the condition "column value comes after v" in the sort
// direction; v is not null when desc.
func (q *Records) after(a *filter.Args, field string, desc bool, v any) string {
	col := filter.Quote(field)
	t := q.c.SchemaField(field).Type
	nullable := q.c.Field(field) != nil // system fields are never null
	switch {
	case v == nil:
		return col + " IS NOT NULL"
	case desc && nullable:
		return "(" + col + " < " + a.Add(q.d.Arg(t, v)) + " OR " + col + " IS NULL)"
	case desc:
		return col + " < " + a.Add(q.d.Arg(t, v))
	}
	return col + " > " + a.Add(q.d.Arg(t, v))
}
