package postgres

import (
	"context"
	"fmt"

	"basalt.dev/basalt/store"
	"github.com/jackc/pgx/v5"
)

// RecordCount implements store.Store, under the tenant's row-level
// security like every read.
func (db *DB) RecordCount(ctx context.Context, p *store.RecordCountParams) (int64, error) {
	if p.TenantID == "" {
		return 0, errNoTenant
	}
	s, err := db.records(p.Collection).Count(p)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.read(ctx, p.TenantID, s.SQL, s.Args, func(rows pgx.Rows) error {
		if !rows.Next() {
			return rows.Err()
		}
		return rows.Scan(&n)
	})
	if err != nil {
		if e := interpretError(err, p.Collection); e != err {
			return 0, e
		}
		return 0, fmt.Errorf("postgres: count %s: %w", p.Collection.Name, err)
	}
	return n, nil
}
