package sqlite

import (
	"context"
	"fmt"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
)

// listCached answers a list from the ids the database selects and the
// bodies the cache holds, reading only the missing bodies. ok is false
// when the cache is off or a commit ran meanwhile (see recordCache); the
// caller then reads the page from the database alone.
func (db *DB) listCached(ctx context.Context, q *sqlgen.Records, p *store.RecordListParams) ([]*basalt.Record, bool, error) {
	stamp, ok := db.cache.stamp()
	if !ok {
		return nil, false, nil
	}
	ids, err := db.listIDs(ctx, q, p)
	if err != nil {
		return nil, false, err
	}
	out := make([]*basalt.Record, len(ids))
	var missing []string
	for i, id := range ids {
		if r, ok := db.cache.get(p.Collection, p.TenantID, id); ok {
			out[i] = r
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if err := db.fillMissing(ctx, q, p, missing, out, ids, stamp); err != nil {
			return nil, false, err
		}
	}
	if !db.cache.unchanged(stamp) {
		return nil, false, nil
	}
	for _, r := range out {
		if r == nil {
			return nil, false, nil // deleted between the two reads; cannot happen unchanged, but be safe
		}
	}
	return out, true, nil
}

func (db *DB) listIDs(ctx context.Context, q *sqlgen.Records, p *store.RecordListParams) ([]string, error) {
	s, err := q.ListIDs(p)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, s.SQL, s.Args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
	}
	defer rows.Close()
	ids := make([]string, 0, p.Limit)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
	}
	return ids, nil
}

// fillMissing reads the records of missing ids into their places in out
// and caches them.
func (db *DB) fillMissing(ctx context.Context, q *sqlgen.Records, p *store.RecordListParams, missing []string, out []*basalt.Record, ids []string, stamp uint64) error {
	s := q.ByIDs(p.TenantID, missing)
	rows, err := db.query(ctx, s.SQL, s.Args...)
	if err != nil {
		return fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
	}
	defer rows.Close()
	byID := make(map[string]*basalt.Record, len(missing))
	vals, ptrs := scanDest(q.Columns())
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
		}
		r, err := q.Scan(vals)
		if err != nil {
			return err
		}
		byID[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: list %s: %w", p.Collection.Name, err)
	}
	for i, id := range ids {
		if out[i] == nil {
			if r := byID[id]; r != nil {
				out[i] = r
				db.cache.fill(p.Collection, p.TenantID, r, stamp)
			}
		}
	}
	return nil
}
