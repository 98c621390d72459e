package sqlstore

import (
	"context"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

const sessionColumns = `id, user_id, tenant_id, created, last_used, expires, revoked, revoked_why, user_agent, ip`

func scanSession(x *store.Session) []any {
	return []any{&x.ID, &x.UserID, &x.TenantID, dbq.TimeDest{T: &x.Created}, dbq.TimeDest{T: &x.LastUsed}, dbq.TimeDest{T: &x.Expires},
		dbq.TimeDest{T: &x.Revoked}, dbq.StringDest{S: &x.RevokedWhy}, &x.UserAgent, &x.IP}
}

// SessionCreate implements store.Identity.
func (s *Identity) SessionCreate(ctx context.Context, x *store.Session, refreshHash string, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		_, err := tx.Exec(ctx, `INSERT INTO _sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			x.ID, x.UserID, x.TenantID, s.t(x.Created), s.t(x.LastUsed), s.t(x.Expires), s.t(x.Revoked), nullable(x.RevokedWhy), x.UserAgent, x.IP)
		if err != nil {
			return fmt.Errorf("sqlstore: insert session: %w", err)
		}
		if err := s.insertRefresh(ctx, tx, refreshHash, x.ID, x.Created); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, a)
	})
}

func (s *Identity) insertRefresh(ctx context.Context, tx dbq.Q, hash, session string, at time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO _refresh_tokens (hash, session_id, created) VALUES (?, ?, ?)`, hash, session, s.t(at)); err != nil {
		return fmt.Errorf("sqlstore: insert refresh token: %w", err)
	}
	return nil
}

// SessionGet implements store.Identity.
func (s *Identity) SessionGet(ctx context.Context, id string) (*store.Session, error) {
	x := new(store.Session)
	if err := s.one(ctx, s.db, "session", id, `SELECT `+sessionColumns+` FROM _sessions WHERE id = ?`, []any{id}, scanSession(x)...); err != nil {
		return nil, err
	}
	return x, nil
}

// SessionsOfUser implements store.Identity.
func (s *Identity) SessionsOfUser(ctx context.Context, user string, now time.Time) ([]store.Session, error) {
	rows, err := s.db.Query(ctx, `SELECT `+sessionColumns+` FROM _sessions WHERE user_id = ? AND revoked IS NULL AND expires > ? ORDER BY created DESC`, user, s.t(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		var x store.Session
		if err := rows.Scan(scanSession(&x)...); err != nil {
			return nil, fmt.Errorf("sqlstore: list sessions: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

var errBadRefresh = basalt.Errorf(basalt.CodeUnauthenticated, "The refresh token is not valid; sign in again.")

// SessionRefresh implements store.Identity. The check and the swap are one
// transaction, so two uses of one token cannot both succeed.
func (s *Identity) SessionRefresh(ctx context.Context, hash, next, tenant string, now time.Time) (*store.Session, error) {
	var out *store.Session
	var reuse bool
	var session string
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		var spent time.Time
		if err := s.one(ctx, tx, "refresh token", "", `SELECT session_id, spent FROM _refresh_tokens WHERE hash = ?`, []any{hash}, &session, dbq.TimeDest{T: &spent}); err != nil {
			if basalt.ErrorCode(err) == basalt.CodeNotFound {
				return errBadRefresh
			}
			return err
		}
		x := new(store.Session)
		if err := s.one(ctx, tx, "session", session, `SELECT `+sessionColumns+` FROM _sessions WHERE id = ?`, []any{session}, scanSession(x)...); err != nil {
			return err
		}
		switch {
		case !spent.IsZero():
			reuse = true
			_, err := tx.Exec(ctx, `UPDATE _sessions SET revoked = ?, revoked_why = ? WHERE id = ? AND revoked IS NULL`, s.t(now), "refresh token reused", session)
			return err
		case !x.Revoked.IsZero() || !now.Before(x.Expires):
			return errBadRefresh
		}
		// "spent IS NULL" again: under PostgreSQL's read committed, a
		// concurrent use of the same token waits here and then finds it
		// spent.
		n, err := tx.Exec(ctx, `UPDATE _refresh_tokens SET spent = ? WHERE hash = ? AND spent IS NULL`, s.t(now), hash)
		if err != nil {
			return fmt.Errorf("sqlstore: spend refresh token: %w", err)
		}
		if n == 0 {
			reuse = true
			_, err := tx.Exec(ctx, `UPDATE _sessions SET revoked = ?, revoked_why = ? WHERE id = ? AND revoked IS NULL`, s.t(now), "refresh token reused", session)
			return err
		}
		if err := s.insertRefresh(ctx, tx, next, session, now); err != nil {
			return err
		}
		if tenant != "" {
			x.TenantID = tenant
		}
		x.LastUsed = now
		if _, err := tx.Exec(ctx, `UPDATE _sessions SET last_used = ?, tenant_id = ? WHERE id = ?`, s.t(now), x.TenantID, session); err != nil {
			return fmt.Errorf("sqlstore: touch session: %w", err)
		}
		out = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reuse {
		// The revocation committed; the caller learns only that the token failed.
		return nil, &store.RefreshReusedError{Session: session,
			Err: basalt.Errorf(basalt.CodeUnauthenticated, "The refresh token was already used, so its session is revoked; sign in again.")}
	}
	return out, nil
}

// SessionRevoke implements store.Identity.
func (s *Identity) SessionRevoke(ctx context.Context, user, id, except, why string, now time.Time, a *store.AuditEntry) (int, error) {
	var n int64
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		var err error
		if id != "" {
			n, err = tx.Exec(ctx, `UPDATE _sessions SET revoked = ?, revoked_why = ? WHERE user_id = ? AND id = ? AND revoked IS NULL`, s.t(now), why, user, id)
		} else {
			n, err = tx.Exec(ctx, `UPDATE _sessions SET revoked = ?, revoked_why = ? WHERE user_id = ? AND id <> ? AND revoked IS NULL`, s.t(now), why, user, except)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: revoke sessions: %w", err)
		}
		if n == 0 && id != "" {
			return notFound("session", id)
		}
		return s.appendAudit(ctx, tx, a)
	})
	return int(n), err
}

// SessionsRevokedSince implements store.Identity.
func (s *Identity) SessionsRevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM _sessions WHERE revoked >= ? AND expires > ?`, s.t(since), s.t(since))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: revoked sessions: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// SessionSwitch implements store.Identity.
func (s *Identity) SessionSwitch(ctx context.Context, user, id, tenant, next string, now time.Time) (*store.Session, error) {
	x := new(store.Session)
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		if err := s.one(ctx, tx, "session", id, `SELECT `+sessionColumns+` FROM _sessions WHERE id = ? AND user_id = ?`, []any{id, user}, scanSession(x)...); err != nil {
			return err
		}
		if !x.Revoked.IsZero() || !now.Before(x.Expires) {
			return errBadRefresh
		}
		if _, err := tx.Exec(ctx, `UPDATE _refresh_tokens SET spent = ? WHERE session_id = ? AND spent IS NULL`, s.t(now), id); err != nil {
			return fmt.Errorf("sqlstore: switch session: %w", err)
		}
		if err := s.insertRefresh(ctx, tx, next, id, now); err != nil {
			return err
		}
		x.TenantID, x.LastUsed = tenant, now
		_, err := tx.Exec(ctx, `UPDATE _sessions SET tenant_id = ?, last_used = ? WHERE id = ?`, tenant, s.t(now), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}
