package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

// Presence implements store.Presence on a dbq.DB.
type Presence struct {
	db dbq.DB
}

var _ store.Presence = (*Presence)(nil)

// NewPresence returns the presence storage on db.
func NewPresence(db dbq.DB) *Presence { return &Presence{db: db} }

const presenceColumns = `tenant_id, channel, key, kind, principal_id, meta, node, since, expires`

// PresencePut implements store.Presence.
func (s *Presence) PresencePut(ctx context.Context, e *store.PresenceEntry) error {
	d := s.db.Dialect()
	meta := e.Meta
	if len(meta) == 0 {
		meta = json.RawMessage("null")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO _presence (`+presenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, channel, key) DO UPDATE SET kind = excluded.kind, principal_id = excluded.principal_id,
		meta = excluded.meta, node = excluded.node, since = excluded.since, expires = excluded.expires`,
		e.TenantID, e.Channel, e.Key, e.Kind, e.PrincipalID, dbq.JSON(d, meta), e.Node, dbq.Time(d, e.Since), dbq.Time(d, e.Expires))
	if err != nil {
		return fmt.Errorf("sqlstore: put presence: %w", err)
	}
	return nil
}

// PresenceDelete implements store.Presence.
func (s *Presence) PresenceDelete(ctx context.Context, tenant, channel, key string) (bool, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM _presence WHERE tenant_id = ? AND channel = ? AND key = ?`, tenant, channel, key)
	if err != nil {
		return false, fmt.Errorf("sqlstore: delete presence: %w", err)
	}
	return n > 0, nil
}

// PresenceList implements store.Presence.
func (s *Presence) PresenceList(ctx context.Context, tenant, channel string, now time.Time, limit int) ([]store.PresenceEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT `+presenceColumns+` FROM _presence
		WHERE tenant_id = ? AND channel = ? AND expires > ? ORDER BY since, key LIMIT ?`,
		tenant, channel, dbq.Time(s.db.Dialect(), now), int64(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list presence: %w", err)
	}
	return scanPresence(rows)
}

// PresenceRefresh implements store.Presence.
func (s *Presence) PresenceRefresh(ctx context.Context, node string, expires time.Time) (int, error) {
	n, err := s.db.Exec(ctx, `UPDATE _presence SET expires = ? WHERE node = ?`, dbq.Time(s.db.Dialect(), expires), node)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: refresh presence: %w", err)
	}
	return int(n), nil
}

// PresenceExpire implements store.Presence. The delete is the claim: of
// two nodes sweeping at once, the second finds the rows gone (PostgreSQL
// re-checks a row that another transaction deleted; SQLite has one
// writer).
func (s *Presence) PresenceExpire(ctx context.Context, now time.Time, limit int) ([]store.PresenceEntry, error) {
	var out []store.PresenceEntry
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		rows, err := tx.Query(ctx, `DELETE FROM _presence WHERE (tenant_id, channel, key) IN
			(SELECT tenant_id, channel, key FROM _presence WHERE expires <= ? ORDER BY expires LIMIT ?)
			RETURNING `+presenceColumns, dbq.Time(s.db.Dialect(), now), int64(limit))
		if err != nil {
			return err
		}
		out, err = scanPresence(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: expire presence: %w", err)
	}
	return out, nil
}

func scanPresence(rows dbq.Rows) ([]store.PresenceEntry, error) {
	defer rows.Close()
	var out []store.PresenceEntry
	for rows.Next() {
		var e store.PresenceEntry
		var meta string
		if err := rows.Scan(&e.TenantID, &e.Channel, &e.Key, &e.Kind, &e.PrincipalID, dbq.StringDest{S: &meta}, &e.Node,
			dbq.TimeDest{T: &e.Since}, dbq.TimeDest{T: &e.Expires}); err != nil {
			return nil, fmt.Errorf("sqlstore: scan presence: %w", err)
		}
		e.Meta = json.RawMessage(meta)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: scan presence: %w", err)
	}
	return out, nil
}
