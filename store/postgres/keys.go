package postgres

import (
	"context"
	"errors"
	"fmt"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/jackc/pgx/v5"
)

// KeyInsert implements store.Store.
func (db *DB) KeyInsert(ctx context.Context, k *store.Key) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO _keys (id, tenant_id, name, role, hash, created) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.TenantID, k.Name, string(k.Role), k.Hash, k.Created)
	if err != nil {
		if e := interpretError(err, nil); basalt.ErrorCode(e) == basalt.CodeConflict {
			return basalt.Errorf(basalt.CodeConflict, "An API key with id %q already exists.", k.ID)
		}
		return fmt.Errorf("postgres: insert key: %w", err)
	}
	return nil
}

// KeyGet implements store.Store.
func (db *DB) KeyGet(ctx context.Context, id string) (*store.Key, error) {
	k := &store.Key{ID: id}
	var role string
	err := db.pool.QueryRow(ctx, `SELECT tenant_id, name, role, hash, created FROM _keys WHERE id = $1`, id).
		Scan(&k.TenantID, &k.Name, &role, &k.Hash, &k.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, basalt.Errorf(basalt.CodeNotFound, "No API key %q.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get key: %w", err)
	}
	k.Role = basalt.Role(role)
	k.Created = k.Created.UTC()
	return k, nil
}
