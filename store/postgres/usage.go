package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlstore"
	"github.com/jackc/pgx/v5"
)

// usageShards is how many rows a tenant's counts in one collection are
// spread over. A write adds to one picked at random and holds its row
// lock until it commits; with 16, two concurrent writers of a tenant wait
// for each other one time in 16, and a read sums at most 16 rows per
// collection.
const usageShards = 16

// newUsage returns the usage storage; every statement runs in a
// transaction acting as the tenant it names, under row-level security.
func newUsage(db *DB) *sqlstore.Usage {
	as := func(ctx context.Context, tenant string, fn func(dbq.Q) error) error {
		return db.txAs(ctx, tenant, func(tx pgx.Tx) error { return fn(txQueries{tx}) })
	}
	return sqlstore.NewUsage(queries{db}, as, as)
}

// countInsert adds a new record to its tenant's usage and enforces the
// quota of the insert.
func countInsert(ctx context.Context, tx pgx.Tx, p *store.RecordInsertParams) error {
	b := sqlgen.RecordBytes(p.Collection, p.Record.Data, nil)
	if err := sqlstore.UsageAdd(ctx, txQueries{tx}, p.TenantID, p.Collection.Name, rand.IntN(usageShards), 1, b); err != nil {
		return err
	}
	return sqlstore.UsageCheck(ctx, txQueries{tx}, p.TenantID, p.Quota, 1, b)
}

// bytesBefore reads the stored bytes of the fields an update changes and
// locks the record, so that no other writer changes it before the
// update; 0 when the record is missing (the update then fails on its own).
func bytesBefore(ctx context.Context, tx pgx.Tx, q *sqlgen.Records, p *store.RecordUpdateParams) (int64, error) {
	s := q.Bytes(p.TenantID, p.ID, p.Values, true)
	var n int64
	err := tx.QueryRow(ctx, s.SQL, s.Args...).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: usage of %s/%s: %w", p.Collection.Name, p.ID, err)
	}
	return n, nil
}

// countUpdate adds an update's change of size to its tenant's usage and
// enforces the quota of a record that grew.
func countUpdate(ctx context.Context, tx pgx.Tx, p *store.RecordUpdateParams, rec *basalt.Record, before int64) error {
	delta := sqlgen.RecordBytes(p.Collection, rec.Data, p.Values) - before
	if err := sqlstore.UsageAdd(ctx, txQueries{tx}, p.TenantID, p.Collection.Name, rand.IntN(usageShards), 0, delta); err != nil {
		return err
	}
	return sqlstore.UsageCheck(ctx, txQueries{tx}, p.TenantID, p.Quota, 0, delta)
}

// countDelete takes a deleted record off its tenant's usage.
func countDelete(ctx context.Context, tx pgx.Tx, p *store.RecordDeleteParams, rec *basalt.Record) error {
	b := sqlgen.RecordBytes(p.Collection, rec.Data, nil)
	return sqlstore.UsageAdd(ctx, txQueries{tx}, p.TenantID, p.Collection.Name, rand.IntN(usageShards), -1, -b)
}

// backfillUsage counts the records of every collection, right after the
// migration that made the usage tables, under its lock.
func backfillUsage(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT definition FROM _collections`)
	if err != nil {
		return fmt.Errorf("postgres: usage backfill: %w", err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return fmt.Errorf("postgres: usage backfill: %w", err)
	}
	for _, def := range defs {
		c := new(basalt.Collection)
		if err := json.Unmarshal(def, c); err != nil {
			return fmt.Errorf("postgres: usage backfill: %w", err)
		}
		if err := sqlstore.UsageRecount(ctx, txQueries{tx}, filter.Postgres, c); err != nil {
			return err
		}
	}
	return nil
}
