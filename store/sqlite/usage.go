package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlstore"
)

// The single writer never runs two writes at once, so the counts need no
// shards: every write adds to shard 0.
const usageShard = 0

// newUsage returns the usage storage: writes join the writer's
// transactions, reads use the reader pool (SQLite has no row-level
// security, so the tenant only selects rows).
func newUsage(db *DB) *sqlstore.Usage {
	q := queries{db}
	return sqlstore.NewUsage(q,
		func(ctx context.Context, _ string, fn func(dbq.Q) error) error { return q.Tx(ctx, fn) },
		func(ctx context.Context, _ string, fn func(dbq.Q) error) error { return fn(q) })
}

// cachedQueries runs the usage statements of record writes in the
// writer's transaction with its prepared statements.
type cachedQueries struct{ t *txn }

func (q cachedQueries) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q cachedQueries) Query(ctx context.Context, query string, args ...any) (dbq.Rows, error) {
	return q.t.query(query, args...)
}

// countInsert adds a new record to its tenant's usage and enforces the
// quota of the insert.
func countInsert(t *txn, p *store.RecordInsertParams) error {
	ctx := context.Background()
	b := sqlgen.RecordBytes(p.Collection, p.Record.Data, nil)
	if err := sqlstore.UsageAdd(ctx, cachedQueries{t}, p.TenantID, p.Collection.Name, usageShard, 1, b); err != nil {
		return err
	}
	return sqlstore.UsageCheck(ctx, cachedQueries{t}, p.TenantID, p.Quota, 1, b)
}

// bytesBefore reads the stored bytes of the fields an update changes,
// before it changes them; 0 when the record is missing (the update then
// fails on its own).
func bytesBefore(t *txn, q *sqlgen.Records, p *store.RecordUpdateParams) (int64, error) {
	s := q.Bytes(p.TenantID, p.ID, p.Values, false)
	var n int64
	err := t.queryRow(s.SQL, []any{&n}, s.Args...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: usage of %s/%s: %w", p.Collection.Name, p.ID, err)
	}
	return n, nil
}

// countUpdate adds an update's change of size to its tenant's usage and
// enforces the quota of a record that grew.
func countUpdate(t *txn, p *store.RecordUpdateParams, rec *basalt.Record, before int64) error {
	ctx := context.Background()
	delta := sqlgen.RecordBytes(p.Collection, rec.Data, p.Values) - before
	if err := sqlstore.UsageAdd(ctx, cachedQueries{t}, p.TenantID, p.Collection.Name, usageShard, 0, delta); err != nil {
		return err
	}
	return sqlstore.UsageCheck(ctx, cachedQueries{t}, p.TenantID, p.Quota, 0, delta)
}

// countDelete takes a deleted record off its tenant's usage.
func countDelete(t *txn, p *store.RecordDeleteParams, rec *basalt.Record) error {
	b := sqlgen.RecordBytes(p.Collection, rec.Data, nil)
	return sqlstore.UsageAdd(context.Background(), cachedQueries{t}, p.TenantID, p.Collection.Name, usageShard, -1, -b)
}

// backfillUsage counts the records of every collection, right after the
// migration that made the usage tables.
func backfillUsage(t *txn) error {
	rows, err := t.query(`SELECT definition FROM _collections`)
	if err != nil {
		return fmt.Errorf("sqlite: usage backfill: %w", err)
	}
	var cs []*basalt.Collection
	for rows.Next() {
		var def string
		if err := rows.Scan(&def); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: usage backfill: %w", err)
		}
		c := new(basalt.Collection)
		if err := json.Unmarshal([]byte(def), c); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: usage backfill: %w", err)
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: usage backfill: %w", err)
	}
	for _, c := range cs {
		if err := sqlstore.UsageRecount(context.Background(), txnQueries{t}, filter.SQLite, c); err != nil {
			return err
		}
	}
	return nil
}
