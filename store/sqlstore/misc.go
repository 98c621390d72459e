package sqlstore

import (
	"context"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

// SigningKeys implements store.Identity.
func (s *Identity) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.db.Query(ctx, `SELECT kid, alg, private, public, created FROM _signing_keys ORDER BY created DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list signing keys: %w", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		if err := rows.Scan(&k.KID, &k.Alg, &k.Private, &k.Public, dbq.TimeDest{T: &k.Created}); err != nil {
			return nil, fmt.Errorf("sqlstore: list signing keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// SigningKeyInsert implements store.Identity.
func (s *Identity) SigningKeyInsert(ctx context.Context, k *store.SigningKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO _signing_keys (kid, alg, private, public, created) VALUES (?, ?, ?, ?, ?)`, k.KID, k.Alg, k.Private, k.Public, s.t(k.Created))
	if err != nil {
		if s.db.IsUnique(err) {
			return basalt.Errorf(basalt.CodeConflict, "Signing key %q exists.", k.KID)
		}
		return fmt.Errorf("sqlstore: insert signing key: %w", err)
	}
	return nil
}

// LoginFailures implements store.Identity.
func (s *Identity) LoginFailures(ctx context.Context, key string) (*store.LoginFailures, error) {
	f := &store.LoginFailures{Key: key}
	err := s.one(ctx, s.db, "failures", key, `SELECT failures, last, locked FROM _login_failures WHERE key = ?`, []any{key},
		&f.Failures, dbq.TimeDest{T: &f.Last}, dbq.BoolDest{B: &f.Locked})
	if basalt.ErrorCode(err) == basalt.CodeNotFound {
		return f, nil
	}
	return f, err
}

// LoginFailed implements store.Identity.
func (s *Identity) LoginFailed(ctx context.Context, key string, now time.Time, lockAfter int) (*store.LoginFailures, error) {
	f := &store.LoginFailures{Key: key}
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		err := s.one(ctx, tx, "failures", key, `SELECT failures, last, locked FROM _login_failures WHERE key = ?`, []any{key},
			&f.Failures, dbq.TimeDest{T: &f.Last}, dbq.BoolDest{B: &f.Locked})
		exists := err == nil
		if err != nil && basalt.ErrorCode(err) != basalt.CodeNotFound {
			return err
		}
		f.Failures++
		f.Last = now
		f.Locked = f.Locked || (lockAfter > 0 && f.Failures >= lockAfter)
		if exists {
			_, err = tx.Exec(ctx, `UPDATE _login_failures SET failures = ?, last = ?, locked = ? WHERE key = ?`, int64(f.Failures), s.t(now), s.b(f.Locked), key)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO _login_failures (key, failures, last, locked) VALUES (?, ?, ?, ?)`, key, int64(f.Failures), s.t(now), s.b(f.Locked))
		}
		if err != nil {
			return fmt.Errorf("sqlstore: count login failure: %w", err)
		}
		return nil
	})
	return f, err
}

// LoginSucceeded implements store.Identity.
func (s *Identity) LoginSucceeded(ctx context.Context, keys ...string) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `DELETE FROM _login_failures WHERE key = ?`, k); err != nil {
				return fmt.Errorf("sqlstore: clear login failures: %w", err)
			}
		}
		return nil
	})
}

// EmailTokenCreate implements store.Identity.
func (s *Identity) EmailTokenCreate(ctx context.Context, t *store.EmailToken) error {
	_, err := s.db.Exec(ctx, `INSERT INTO _email_tokens (hash, user_id, kind, expires) VALUES (?, ?, ?, ?)`, t.Hash, t.UserID, t.Kind, s.t(t.Expires))
	if err != nil {
		return fmt.Errorf("sqlstore: insert email token: %w", err)
	}
	return nil
}

// EmailTokenUse implements store.Identity.
func (s *Identity) EmailTokenUse(ctx context.Context, hash, kind string, now time.Time) (*store.EmailToken, error) {
	t := &store.EmailToken{Hash: hash}
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		var used time.Time
		err := s.one(ctx, tx, "token", "", `SELECT user_id, kind, expires, used FROM _email_tokens WHERE hash = ?`, []any{hash},
			&t.UserID, &t.Kind, dbq.TimeDest{T: &t.Expires}, dbq.TimeDest{T: &used})
		if err != nil {
			return err
		}
		if t.Kind != kind || !used.IsZero() || !now.Before(t.Expires) {
			return basalt.Errorf(basalt.CodeNotFound, "The link is not valid any more; ask for a new one.")
		}
		_, err = tx.Exec(ctx, `UPDATE _email_tokens SET used = ? WHERE hash = ?`, s.t(now), hash)
		return err
	})
	if err != nil {
		if basalt.ErrorCode(err) == basalt.CodeNotFound {
			return nil, basalt.Errorf(basalt.CodeNotFound, "The link is not valid any more; ask for a new one.")
		}
		return nil, err
	}
	return t, nil
}
