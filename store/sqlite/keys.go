package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// KeyInsert implements store.Store.
func (db *DB) KeyInsert(ctx context.Context, k *store.Key) error {
	return db.do(ctx, func(t *txn) error {
		_, err := t.execOnce(`INSERT INTO _keys (id, tenant_id, name, role, hash, created) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.TenantID, k.Name, string(k.Role), k.Hash, basalt.FormatTime(k.Created))
		if err != nil {
			if e := interpretError(err, nil); basalt.ErrorCode(e) == basalt.CodeConflict {
				return basalt.Errorf(basalt.CodeConflict, "An API key with id %q already exists.", k.ID)
			}
			return fmt.Errorf("sqlite: insert key: %w", err)
		}
		return nil
	})
}

// KeyGet implements store.Store.
func (db *DB) KeyGet(ctx context.Context, id string) (*store.Key, error) {
	k := &store.Key{ID: id}
	var role, created string
	err := db.r.QueryRowContext(ctx, `SELECT tenant_id, name, role, hash, created FROM _keys WHERE id = ?`, id).
		Scan(&k.TenantID, &k.Name, &role, &k.Hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, basalt.Errorf(basalt.CodeNotFound, "No API key %q.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key: %w", err)
	}
	k.Role = basalt.Role(role)
	k.Created, _ = time.Parse(basalt.TimeLayout, created)
	return k, nil
}
