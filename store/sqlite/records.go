package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
)

// errNoTenant guards the tenant predicate: no statement on tenant data
// runs without a tenant.
var errNoTenant = errors.New("sqlite: tenant-scoped operation without a tenant")

// RecordInsert implements store.Store.
func (db *DB) RecordInsert(ctx context.Context, p *store.RecordInsertParams) (*basalt.Event, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	q := db.records(p.Collection)
	ins := q.Insert(p.TenantID, p.Record)
	var ev *basalt.Event
	err := db.do(ctx, func(t *txn) error {
		if _, err := t.exec(ins.SQL, ins.Args...); err != nil {
			if e := interpretError(err, p.Collection); e != err {
				return e
			}
			return fmt.Errorf("sqlite: insert into %s: %w", p.Collection.Name, err)
		}
		if err := countInsert(t, p); err != nil {
			return err
		}
		var err error
		ev, err = appendEvent(t, sqlgen.NewEvent(p.TenantID, p.Collection, basalt.OpCreate, p.Record, p.Record.Updated))
		t.afterCommit(func(rc *recordCache) { rc.put(p.Collection, p.TenantID, p.Record) })
		return err
	})
	return ev, err
}

// RecordGet implements store.Store.
func (db *DB) RecordGet(ctx context.Context, p *store.RecordGetParams) (*basalt.Record, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	if r, ok := db.cache.get(p.Collection, p.TenantID, p.ID); ok {
		return p.Match(r)
	}
	stamp, _ := db.cache.stamp()
	q := db.records(p.Collection)
	s, err := q.Get(p.TenantID, p.ID, p.Filter)
	if err != nil {
		return nil, err
	}
	vals, ptrs := scanDest(q.Columns())
	if err := db.queryRow(ctx, s.SQL, s.Args...).Scan(ptrs...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sqlgen.NotFound(p.Collection, p.ID)
		}
		return nil, fmt.Errorf("sqlite: get %s/%s: %w", p.Collection.Name, p.ID, err)
	}
	r, err := q.Scan(vals)
	if err != nil {
		return nil, err
	}
	db.cache.fill(p.Collection, p.TenantID, r, stamp)
	return r, nil
}

// RecordUpdate implements store.Store.
func (db *DB) RecordUpdate(ctx context.Context, p *store.RecordUpdateParams) (*basalt.Record, *basalt.Event, error) {
	if p.TenantID == "" {
		return nil, nil, errNoTenant
	}
	q := db.records(p.Collection)
	s, err := q.Update(p)
	if err != nil {
		return nil, nil, err
	}
	var rec *basalt.Record
	var ev *basalt.Event
	err = db.do(ctx, func(t *txn) error {
		before, err := bytesBefore(t, q, p)
		if err != nil {
			return err
		}
		vals, ptrs := scanDest(q.Columns())
		if err := t.tx.QueryRow(s.SQL, s.Args...).Scan(ptrs...); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return missingOrStale(t, q, p.TenantID, p.ID, p.Filter)
			}
			if e := interpretError(err, p.Collection); e != err {
				return e
			}
			return fmt.Errorf("sqlite: update %s/%s: %w", p.Collection.Name, p.ID, err)
		}
		if rec, err = q.Scan(vals); err != nil {
			return err
		}
		if p.Check != nil {
			if err := p.Check(rec); err != nil {
				return err
			}
		}
		if err := countUpdate(t, p, rec, before); err != nil {
			return err
		}
		ev, err = appendEvent(t, sqlgen.NewEvent(p.TenantID, p.Collection, basalt.OpUpdate, rec, rec.Updated))
		t.afterCommit(func(rc *recordCache) { rc.put(p.Collection, p.TenantID, rec) })
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return rec, ev, nil
}

// RecordDelete implements store.Store.
func (db *DB) RecordDelete(ctx context.Context, p *store.RecordDeleteParams) (*basalt.Event, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	q := db.records(p.Collection)
	s, err := q.Delete(p)
	if err != nil {
		return nil, err
	}
	var ev *basalt.Event
	err = db.do(ctx, func(t *txn) error {
		vals, ptrs := scanDest(q.Columns())
		if err := t.tx.QueryRow(s.SQL, s.Args...).Scan(ptrs...); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return missingOrStale(t, q, p.TenantID, p.ID, p.Filter)
			}
			return fmt.Errorf("sqlite: delete %s/%s: %w", p.Collection.Name, p.ID, err)
		}
		rec, err := q.Scan(vals)
		if err != nil {
			return err
		}
		if err := countDelete(t, p, rec); err != nil {
			return err
		}
		ev, err = appendEvent(t, sqlgen.NewEvent(p.TenantID, p.Collection, basalt.OpDelete, rec, db.now()))
		t.afterCommit(func(rc *recordCache) { rc.drop(p.Collection, p.TenantID, p.ID) })
		return err
	})
	return ev, err
}

// missingOrStale tells why a conditional write matched no row.
func missingOrStale(t *txn, q *sqlgen.Records, tenant, id string, f filter.Expr) error {
	s, err := q.Exists(tenant, id, f)
	if err != nil {
		return err
	}
	var v int64
	err = t.tx.QueryRow(s.SQL, s.Args...).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return sqlgen.NotFound(q.Collection(), id)
	case err != nil:
		return fmt.Errorf("sqlite: check %s/%s: %w", q.Collection().Name, id, err)
	}
	return sqlgen.Stale(q.Collection(), id)
}

// RecordList implements store.Store.
func (db *DB) RecordList(ctx context.Context, p *store.RecordListParams) ([]*basalt.Record, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	q := db.records(p.Collection)
	if recs, ok, err := db.listCached(ctx, q, p); ok || err != nil {
		return recs, err
	}
	s, err := q.List(p)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, s.SQL, s.Args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
	}
	defer rows.Close()
	out := make([]*basalt.Record, 0, p.Limit)
	vals, ptrs := scanDest(q.Columns())
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
		}
		r, err := q.Scan(vals)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
	}
	return out, nil
}

// scanDest returns n values and pointers to them for Scan.
func scanDest(n int) ([]any, []any) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, ptrs
}

// ExplainList implements store.Explainer: SQLite's query plan, one step a line.
func (db *DB) ExplainList(ctx context.Context, p *store.RecordListParams) (string, error) {
	s, err := db.records(p.Collection).List(p)
	if err != nil {
		return "", err
	}
	rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+s.SQL, s.Args...)
	if err != nil {
		return "", fmt.Errorf("sqlite: explain: %w", err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", fmt.Errorf("sqlite: explain: %w", err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n"), rows.Err()
}

// Analyze implements store.Analyzer.
func (db *DB) Analyze(ctx context.Context, collection string) error {
	return db.do(ctx, func(t *txn) error {
		_, err := t.execOnce("ANALYZE " + filter.Quote(basalt.TableName(collection)))
		return err
	})
}

// query runs a read on the reader pool with a cached prepared statement:
// a list's text depends only on the shape of its filter and sort, so
// the same few statements serve most requests.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if stmt, err := db.rstmts.get(db.r, query); err == nil && stmt != nil {
		return stmt.QueryContext(ctx, args...)
	}
	return db.r.QueryContext(ctx, query, args...)
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if stmt, err := db.rstmts.get(db.r, query); err == nil && stmt != nil {
		return stmt.QueryRowContext(ctx, args...)
	}
	return db.r.QueryRowContext(ctx, query, args...)
}
