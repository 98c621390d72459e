package sqlgen

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// Records writes the statements on one collection's records. Build it once
// per definition with NewRecords; it is safe for concurrent use.
type Records struct {
	d      filter.Dialect
	c      *basalt.Collection
	table  string
	cols   string // the select list, in Scan order
	insert string
	get    string
}

// NewRecords prepares the statements for collection c.
func NewRecords(d filter.Dialect, c *basalt.Collection) *Records {
	q := &Records{d: d, c: c, table: filter.Quote(basalt.TableName(c.Name))}
	cols := []string{"id", "created", "updated", "_v"}
	ins := []string{"tenant_id", "id", "created", "updated", "_v"}
	for _, f := range c.Fields {
		col := filter.Quote(f.Name)
		ins = append(ins, col)
		if d == filter.Postgres && f.Type == basalt.TypeJSON {
			// json reads as decoded Go values; text keeps the JSON as stored.
			col += "::text"
		}
		cols = append(cols, col)
	}
	q.cols = strings.Join(cols, ", ")
	ph := make([]string, len(ins))
	for i := range ph {
		ph[i] = d.Placeholder(i + 1)
	}
	q.insert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", q.table, strings.Join(ins, ", "), strings.Join(ph, ", "))
	q.get = fmt.Sprintf("SELECT %s FROM %s WHERE tenant_id = %s AND id = %s", q.cols, q.table, d.Placeholder(1), d.Placeholder(2))
	return q
}

// Collection returns the definition the statements were built for.
func (q *Records) Collection() *basalt.Collection { return q.c }

// Columns returns how many values Scan expects.
func (q *Records) Columns() int { return 4 + len(q.c.Fields) }

// Insert returns the insert statement of record r.
func (q *Records) Insert(tenant string, r *basalt.Record) Stmt {
	args := make([]any, 0, 5+len(q.c.Fields))
	args = append(args, tenant, r.ID, q.d.Arg(basalt.TypeDate, r.Created), q.d.Arg(basalt.TypeDate, r.Updated), r.Version)
	for _, f := range q.c.Fields {
		args = append(args, q.d.Arg(f.Type, r.Data[f.Name]))
	}
	return Stmt{SQL: q.insert, Args: args}
}

// Get returns the statement that reads one record; with f, only if
// the record meets it.
func (q *Records) Get(tenant, id string, f filter.Expr) (Stmt, error) {
	if f == nil {
		return Stmt{SQL: q.get, Args: []any{tenant, id}}, nil
	}
	a := filter.Args{Dialect: q.d}
	where, err := q.whereID(&a, tenant, id, nil, f)
	if err != nil {
		return Stmt{}, err
	}
	return Stmt{SQL: fmt.Sprintf("SELECT %s FROM %s WHERE %s", q.cols, q.table, where), Args: a.Values}, nil
}

// Update returns the statement that changes p.Values, bumps the version
// and returns the record after the change; it matches no row when the
// record is missing or, with p.IfMatch, stale.
func (q *Records) Update(p *store.RecordUpdateParams) (Stmt, error) {
	a := filter.Args{Dialect: q.d}
	var set []string
	for _, f := range q.c.Fields {
		if v, ok := p.Values[f.Name]; ok {
			set = append(set, filter.Quote(f.Name)+" = "+a.Add(q.d.Arg(f.Type, v)))
		}
	}
	set = append(set, "updated = "+a.Add(q.d.Arg(basalt.TypeDate, p.Updated)), "_v = _v + 1")
	where, err := q.whereID(&a, p.TenantID, p.ID, p.IfMatch, p.Filter)
	if err != nil {
		return Stmt{}, err
	}
	return Stmt{
		SQL:  fmt.Sprintf("UPDATE %s SET %s WHERE %s RETURNING %s", q.table, strings.Join(set, ", "), where, q.cols),
		Args: a.Values,
	}, nil
}

// Delete returns the statement that deletes one record and returns it.
func (q *Records) Delete(p *store.RecordDeleteParams) (Stmt, error) {
	a := filter.Args{Dialect: q.d}
	where, err := q.whereID(&a, p.TenantID, p.ID, p.IfMatch, p.Filter)
	if err != nil {
		return Stmt{}, err
	}
	return Stmt{SQL: fmt.Sprintf("DELETE FROM %s WHERE %s RETURNING %s", q.table, where, q.cols), Args: a.Values}, nil
}

func (q *Records) whereID(a *filter.Args, tenant, id string, ifMatch *store.Version, f filter.Expr) (string, error) {
	where := "tenant_id = " + a.Add(tenant) + " AND id = " + a.Add(id)
	if ifMatch != nil {
		where += " AND _v = " + a.Add(ifMatch.Version) + " AND updated = " + a.Add(q.d.Arg(basalt.TypeDate, ifMatch.Updated))
	}
	if f != nil {
		cond, err := filter.Compile(f, q.c, a)
		if err != nil {
			return "", err
		}
		where += " AND " + cond
	}
	return where, nil
}

// Exists returns the statement that tells whether a record exists (and
// meets f), to tell a missing record from a stale version after a
// conditional write.
func (q *Records) Exists(tenant, id string, f filter.Expr) (Stmt, error) {
	a := filter.Args{Dialect: q.d}
	where, err := q.whereID(&a, tenant, id, nil, f)
	if err != nil {
		return Stmt{}, err
	}
	return Stmt{SQL: fmt.Sprintf("SELECT _v FROM %s WHERE %s", q.table, where), Args: a.Values}, nil
}

// Scan converts the values of one row, as the driver scanned them into
// []any, into a record.
func (q *Records) Scan(vals []any) (*basalt.Record, error) {
	if len(vals) != q.Columns() {
		return nil, fmt.Errorf("sqlgen: scan %s: %d values, want %d", q.c.Name, len(vals), q.Columns())
	}
	id, ok := vals[0].(string)
	if !ok {
		return nil, fmt.Errorf("sqlgen: scan %s: id is %T", q.c.Name, vals[0])
	}
	r := &basalt.Record{ID: id, Data: make(map[string]any, len(q.c.Fields))}
	var err error
	if r.Created, err = toTime(vals[1]); err != nil {
		return nil, fmt.Errorf("sqlgen: scan %s.created: %w", q.c.Name, err)
	}
	if r.Updated, err = toTime(vals[2]); err != nil {
		return nil, fmt.Errorf("sqlgen: scan %s.updated: %w", q.c.Name, err)
	}
	if r.Version, ok = vals[3].(int64); !ok {
		return nil, fmt.Errorf("sqlgen: scan %s._v: %T", q.c.Name, vals[3])
	}
	for i, f := range q.c.Fields {
		v, err := FromDB(f.Type, vals[4+i])
		if err != nil {
			return nil, fmt.Errorf("sqlgen: scan %s.%s: %w", q.c.Name, f.Name, err)
		}
		if v != nil {
			r.Data[f.Name] = v
		}
	}
	return r, nil
}

// FromDB converts a value scanned from either database into the record
// value of a field of type t.
func FromDB(t basalt.FieldType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case basalt.TypeText:
		switch v := v.(type) {
		case string:
			return v, nil
		case []byte:
			return string(v), nil
		}
	case basalt.TypeNumber:
		switch v := v.(type) {
		case float64:
			return v, nil
		case int64:
			return float64(v), nil
		}
	case basalt.TypeBool:
		switch v := v.(type) {
		case bool:
			return v, nil
		case int64:
			return v != 0, nil
		}
	case basalt.TypeDate:
		return toTime(v)
	case basalt.TypeJSON:
		switch v := v.(type) {
		case string:
			return json.RawMessage(v), nil
		case []byte:
			return json.RawMessage(append([]byte(nil), v...)), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a %s field", v, t)
}

func toTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		return basalt.ParseStoredTime(v)
	}
	return time.Time{}, fmt.Errorf("unexpected %T for a date", v)
}
