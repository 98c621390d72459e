package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

const keyColumns = `id, tenant_id, name, role, scopes, hash, created, expires, revoked`

func scanKey(k *store.Key) []any {
	return []any{&k.ID, &k.TenantID, &k.Name, roleDest{&k.Role}, scopesDest{&k.Scopes}, &k.Hash,
		dbq.TimeDest{T: &k.Created}, dbq.TimeDest{T: &k.Expires}, dbq.TimeDest{T: &k.Revoked}}
}

type roleDest struct{ r *basalt.Role }

func (d roleDest) Scan(v any) error {
	var s string
	if err := (dbq.StringDest{S: &s}).Scan(v); err != nil {
		return err
	}
	*d.r = basalt.Role(s)
	return nil
}

type scopesDest struct{ s *[]string }

func (d scopesDest) Scan(v any) error {
	var s string
	if err := (dbq.StringDest{S: &s}).Scan(v); err != nil {
		return err
	}
	*d.s = nil
	if s == "" || s == "[]" {
		return nil
	}
	return json.Unmarshal([]byte(s), d.s)
}

// KeyInsert implements store.Store.
func (s *Identity) KeyInsert(ctx context.Context, k *store.Key) error {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	data, _ := json.Marshal(scopes)
	_, err := s.db.Exec(ctx, `INSERT INTO _keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.TenantID, k.Name, string(k.Role), dbq.JSON(s.db.Dialect(), data), k.Hash, s.t(k.Created), s.t(k.Expires), s.t(k.Revoked))
	if err != nil {
		if s.db.IsUnique(err) {
			return basalt.Errorf(basalt.CodeConflict, "An API key with id %q already exists.", k.ID)
		}
		return fmt.Errorf("sqlstore: insert key: %w", err)
	}
	return nil
}

// KeyGet implements store.Store.
func (s *Identity) KeyGet(ctx context.Context, id string) (*store.Key, error) {
	k := new(store.Key)
	err := s.one(ctx, s.db, "API key", id, `SELECT `+keyColumns+` FROM _keys WHERE id = ?`, []any{id}, scanKey(k)...)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// KeyList implements store.Store.
func (s *Identity) KeyList(ctx context.Context, tenant string) ([]store.Key, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM _keys WHERE tenant_id = ? ORDER BY created DESC, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list keys: %w", err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		var k store.Key
		if err := rows.Scan(scanKey(&k)...); err != nil {
			return nil, fmt.Errorf("sqlstore: list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// KeyRevoke implements store.Store.
func (s *Identity) KeyRevoke(ctx context.Context, tenant, id string, at time.Time, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		n, err := tx.Exec(ctx, `UPDATE _keys SET revoked = ? WHERE tenant_id = ? AND id = ? AND revoked IS NULL`, s.t(at), tenant, id)
		if err != nil {
			return fmt.Errorf("sqlstore: revoke key: %w", err)
		}
		if n == 0 {
			return notFound("API key", id)
		}
		return s.appendAudit(ctx, tx, a)
	})
}
