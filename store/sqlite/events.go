package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
)

// appendEvent appends e in the write's transaction and sets its position.
func appendEvent(t *txn, e *basalt.Event) (*basalt.Event, error) {
	dest := []any{&e.Position}
	if err := t.queryRow(sqlgen.EventInsert(filter.SQLite), dest, sqlgen.EventArgs(filter.SQLite, e)...); err != nil {
		return nil, fmt.Errorf("sqlite: append event: %w", err)
	}
	return e, nil
}

// EventList implements store.Store. One writer commits positions in
// order, so every visible event is settled.
func (db *DB) EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error) {
	if !p.AllTenants && p.TenantID == "" {
		return nil, errNoTenant
	}
	s := sqlgen.EventList(filter.SQLite, p, 1<<62)
	rows, err := db.r.QueryContext(ctx, s.SQL, s.Args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var out []basalt.Event
	for rows.Next() {
		var (
			pos                      int64
			tenant, coll, id, op, at string
			rec                      sql.NullString
		)
		if err := rows.Scan(&pos, &tenant, &coll, &id, &op, &rec, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list events: %w", err)
		}
		var raw []byte
		if rec.Valid {
			raw = []byte(rec.String)
		}
		e, err := sqlgen.ScanEvent(pos, tenant, coll, id, op, raw, at)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	return out, nil
}

// EventHead implements store.Store.
func (db *DB) EventHead(ctx context.Context) (int64, error) {
	var head int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) FROM _events`).Scan(&head); err != nil {
		return 0, fmt.Errorf("sqlite: event head: %w", err)
	}
	return head, nil
}
