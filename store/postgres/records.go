package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"github.com/jackc/pgx/v5"
)

// errNoTenant guards the tenant predicate: no statement on tenant data
// runs without a tenant.
var errNoTenant = errors.New("postgres: tenant-scoped operation without a tenant")

// RecordInsert implements store.Store.
func (db *DB) RecordInsert(ctx context.Context, p *store.RecordInsertParams) (*basalt.Event, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	q := db.records(p.Collection)
	ins := q.Insert(p.TenantID, p.Record)
	ev := sqlgen.NewEvent(p.TenantID, p.Collection, basalt.OpCreate, p.Record, p.Record.Updated)
	err := db.txAs(ctx, p.TenantID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, ins.SQL, ins.Args...); err != nil {
			if e := interpretError(err, p.Collection); e != err {
				return e
			}
			return fmt.Errorf("postgres: insert into %s: %w", p.Collection.Name, err)
		}
		if err := countInsert(ctx, tx, p); err != nil {
			return err
		}
		return appendEvent(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// RecordGet implements store.Store.
func (db *DB) RecordGet(ctx context.Context, p *store.RecordGetParams) (*basalt.Record, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	q := db.records(p.Collection)
	s, err := q.Get(p.TenantID, p.ID, p.Filter)
	if err != nil {
		return nil, err
	}
	vals, ptrs := scanDest(q.Columns())
	err = db.read(ctx, p.TenantID, s.SQL, s.Args, func(rows pgx.Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return pgx.ErrNoRows
		}
		return rows.Scan(ptrs...)
	})
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, sqlgen.NotFound(p.Collection, p.ID)
		}
		if e := interpretError(err, p.Collection); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("postgres: get %s/%s: %w", p.Collection.Name, p.ID, err)
	}
	return q.Scan(vals)
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
	err = db.txAs(ctx, p.TenantID, func(tx pgx.Tx) error {
		before, err := bytesBefore(ctx, tx, q, p)
		if err != nil {
			return err
		}
		vals, ptrs := scanDest(q.Columns())
		if err := tx.QueryRow(ctx, s.SQL, s.Args...).Scan(ptrs...); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return missingOrStale(ctx, tx, q, p.TenantID, p.ID, p.Filter)
			}
			if e := interpretError(err, p.Collection); e != err {
				return e
			}
			return fmt.Errorf("postgres: update %s/%s: %w", p.Collection.Name, p.ID, err)
		}
		if rec, err = q.Scan(vals); err != nil {
			return err
		}
		if p.Check != nil {
			if err := p.Check(rec); err != nil {
				return err
			}
		}
		if err := countUpdate(ctx, tx, p, rec, before); err != nil {
			return err
		}
		ev = sqlgen.NewEvent(p.TenantID, p.Collection, basalt.OpUpdate, rec, rec.Updated)
		return appendEvent(ctx, tx, ev)
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
	err = db.txAs(ctx, p.TenantID, func(tx pgx.Tx) error {
		vals, ptrs := scanDest(q.Columns())
		if err := tx.QueryRow(ctx, s.SQL, s.Args...).Scan(ptrs...); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return missingOrStale(ctx, tx, q, p.TenantID, p.ID, p.Filter)
			}
			if e := interpretError(err, p.Collection); e != err {
				return e
			}
			return fmt.Errorf("postgres: delete %s/%s: %w", p.Collection.Name, p.ID, err)
		}
		rec, err := q.Scan(vals)
		if err != nil {
			return err
		}
		if err := countDelete(ctx, tx, p, rec); err != nil {
			return err
		}
		ev = sqlgen.NewEvent(p.TenantID, p.Collection, basalt.OpDelete, rec, db.now())
		return appendEvent(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// missingOrStale tells why a conditional write matched no row.
func missingOrStale(ctx context.Context, tx pgx.Tx, q *sqlgen.Records, tenant, id string, f filter.Expr) error {
	s, err := q.Exists(tenant, id, f)
	if err != nil {
		return err
	}
	var v int64
	err = tx.QueryRow(ctx, s.SQL, s.Args...).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return sqlgen.NotFound(q.Collection(), id)
	case err != nil:
		return fmt.Errorf("postgres: check %s/%s: %w", q.Collection().Name, id, err)
	}
	return sqlgen.Stale(q.Collection(), id)
}

// RecordList implements store.Store.
func (db *DB) RecordList(ctx context.Context, p *store.RecordListParams) ([]*basalt.Record, error) {
	if p.TenantID == "" {
		return nil, errNoTenant
	}
	q := db.records(p.Collection)
	s, err := q.List(p)
	if err != nil {
		return nil, err
	}
	out := make([]*basalt.Record, 0, p.Limit)
	vals, ptrs := scanDest(q.Columns())
	err = db.read(ctx, p.TenantID, s.SQL, s.Args, func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			r, err := q.Scan(vals)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		if e := interpretError(err, p.Collection); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("postgres: list %s: %w", p.Collection.Name, err)
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

// ExplainList implements store.Explainer: PostgreSQL's text plan.
func (db *DB) ExplainList(ctx context.Context, p *store.RecordListParams) (string, error) {
	s, err := db.records(p.Collection).List(p)
	if err != nil {
		return "", err
	}
	var lines []string
	err = db.read(ctx, p.TenantID, "EXPLAIN "+s.SQL, s.Args, func(rows pgx.Rows) error {
		var err error
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return "", fmt.Errorf("postgres: explain: %w", err)
	}
	return strings.Join(lines, "\n"), nil
}

// Analyze implements store.Analyzer.
func (db *DB) Analyze(ctx context.Context, collection string) error {
	if _, err := db.pool.Exec(ctx, "ANALYZE "+filter.Quote(basalt.TableName(collection))); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}
