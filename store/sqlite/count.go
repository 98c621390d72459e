package sqlite

import (
	"context"
	"fmt"

	"basalt.dev/basalt/store"
)

// RecordCount implements store.Store. It reads the database, not the
// record cache: a count needs every matching row, which only an index or
// the table can give.
func (db *DB) RecordCount(ctx context.Context, p *store.RecordCountParams) (int64, error) {
	if p.TenantID == "" {
		return 0, errNoTenant
	}
	s, err := db.records(p.Collection).Count(p)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := db.queryRow(ctx, s.SQL, s.Args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count %s: %w", p.Collection.Name, err)
	}
	return n, nil
}
