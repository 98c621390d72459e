// Package sqlstore is storage code written once for both drivers, on the
// small dbq interface each driver adapts to: the identity tables (users,
// tenants, sessions, keys, audit). The drivers embed it.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

// Identity implements store.Identity on a dbq.DB.
type Identity struct {
	db dbq.DB
}

var _ store.Identity = (*Identity)(nil)

// NewIdentity returns the identity storage on db.
func NewIdentity(db dbq.DB) *Identity { return &Identity{db: db} }

func (s *Identity) t(t time.Time) any { return dbq.Time(s.db.Dialect(), t) }
func (s *Identity) b(b bool) any      { return dbq.Bool(s.db.Dialect(), b) }
func (s *Identity) j(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte("null")
	}
	return dbq.JSON(s.db.Dialect(), data)
}

func notFound(what, id string) error {
	return basalt.Errorf(basalt.CodeNotFound, "No %s %q.", what, id)
}

// appendAudit writes an audit entry in tx when a is not nil.
func (s *Identity) appendAudit(ctx context.Context, tx dbq.Q, a *store.AuditEntry) error {
	if a == nil {
		return nil
	}
	query, args := AuditInsert(s.db.Dialect(), a)
	if _, err := tx.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("sqlstore: audit %s: %w", a.Action, err)
	}
	return nil
}

// AuditInsert returns the statement that appends a, with ? placeholders
// (dbq.Rebind turns them into d's), for the drivers to run in the
// transaction of the change it records.
func AuditInsert(d filter.Dialect, a *store.AuditEntry) (string, []any) {
	details := a.Details
	if len(details) == 0 {
		details = json.RawMessage("{}")
	}
	return `INSERT INTO _audit (tenant_id, time, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		[]any{a.TenantID, dbq.Time(d, a.Time), a.Actor, a.Action, a.Target, a.IP, dbq.JSON(d, details)}
}

// AuditAppend implements store.Identity.
func (s *Identity) AuditAppend(ctx context.Context, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error { return s.appendAudit(ctx, tx, a) })
}

// AuditList implements store.Identity.
func (s *Identity) AuditList(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditEntry, error) {
	rows, err := s.db.Query(ctx, (`SELECT id, tenant_id, time, actor, action, target, ip, details FROM _audit
		WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`), tenant, after, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var a store.AuditEntry
		var details string
		if err := rows.Scan(&a.ID, &a.TenantID, dbq.TimeDest{T: &a.Time}, &a.Actor, &a.Action, &a.Target, &a.IP, dbq.StringDest{S: &details}); err != nil {
			return nil, fmt.Errorf("sqlstore: list audit: %w", err)
		}
		a.Details = json.RawMessage(details)
		out = append(out, a)
	}
	return out, rows.Err()
}

// one runs a query for one row; sql.ErrNoRows becomes notFound(what, id).
func (s *Identity) one(ctx context.Context, q dbq.Q, what, id, query string, args []any, dest ...any) error {
	err := dbq.QueryRow(ctx, q, query, args, dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what, id)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: get %s: %w", what, err)
	}
	return nil
}
