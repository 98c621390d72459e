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

const userColumns = `id, email, name, password, verified, totp_secret, totp_enabled, recovery_codes, created, updated`

func (s *Identity) scanUser(u *store.User) []any {
	return []any{&u.ID, &u.Email, &u.Name, &u.Password, dbq.BoolDest{B: &u.Verified}, dbq.StringDest{S: &u.TOTPSecret},
		dbq.BoolDest{B: &u.TOTPEnabled}, recoveryDest{&u.RecoveryCodes}, dbq.TimeDest{T: &u.Created}, dbq.TimeDest{T: &u.Updated}}
}

// recoveryDest scans the JSON array of recovery code digests.
type recoveryDest struct{ codes *[]string }

func (d recoveryDest) Scan(v any) error {
	var s string
	if err := (dbq.StringDest{S: &s}).Scan(v); err != nil {
		return err
	}
	*d.codes = nil
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), d.codes)
}

func (s *Identity) codes(u *store.User) string {
	c := u.RecoveryCodes
	if c == nil {
		c = []string{}
	}
	data, _ := json.Marshal(c)
	return string(data)
}

func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// UserCreate implements store.Identity.
func (s *Identity) UserCreate(ctx context.Context, u *store.User, m *store.Membership, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		_, err := tx.Exec(ctx, (`INSERT INTO _users (` + userColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.ID, u.Email, u.Name, u.Password, s.b(u.Verified), nullable(u.TOTPSecret), s.b(u.TOTPEnabled), s.codes(u), s.t(u.Created), s.t(u.Updated))
		if err != nil {
			if s.db.IsUnique(err) {
				return &basalt.Error{Code: basalt.CodeConflict, Message: "An account with this email already exists.", Err: err,
					Fields: []basalt.FieldError{{Field: "email", Code: "unique", Message: "email is already registered"}}}
			}
			return fmt.Errorf("sqlstore: insert user: %w", err)
		}
		if m != nil {
			if err := s.insertMembership(ctx, tx, m); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, a)
	})
}

// UserGet implements store.Identity.
func (s *Identity) UserGet(ctx context.Context, id string) (*store.User, error) {
	u := new(store.User)
	if err := s.one(ctx, s.db, "user", id, `SELECT `+userColumns+` FROM _users WHERE id = ?`, []any{id}, s.scanUser(u)...); err != nil {
		return nil, err
	}
	return u, nil
}

// UserByEmail implements store.Identity.
func (s *Identity) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	u := new(store.User)
	if err := s.one(ctx, s.db, "user", email, `SELECT `+userColumns+` FROM _users WHERE email = ?`, []any{email}, s.scanUser(u)...); err != nil {
		return nil, err
	}
	return u, nil
}

// UserUpdate implements store.Identity.
func (s *Identity) UserUpdate(ctx context.Context, u *store.User, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		n, err := tx.Exec(ctx, (`UPDATE _users SET name = ?, password = ?, verified = ?, totp_secret = ?, totp_enabled = ?, recovery_codes = ?, updated = ? WHERE id = ?`),
			u.Name, u.Password, s.b(u.Verified), nullable(u.TOTPSecret), s.b(u.TOTPEnabled), s.codes(u), s.t(u.Updated), u.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: update user: %w", err)
		}
		if n == 0 {
			return notFound("user", u.ID)
		}
		return s.appendAudit(ctx, tx, a)
	})
}

func (s *Identity) insertMembership(ctx context.Context, tx dbq.Q, m *store.Membership) error {
	_, err := tx.Exec(ctx, (`INSERT INTO _memberships (tenant_id, user_id, role, created) VALUES (?, ?, ?, ?)`),
		m.TenantID, m.UserID, m.Role, s.t(m.Created))
	if err != nil {
		if s.db.IsUnique(err) {
			return basalt.Errorf(basalt.CodeConflict, "The user is already a member of this tenant.")
		}
		return fmt.Errorf("sqlstore: insert membership: %w", err)
	}
	return nil
}

// TenantCreate implements store.Identity.
func (s *Identity) TenantCreate(ctx context.Context, t *store.Tenant, owner *store.Membership, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		_, err := tx.Exec(ctx, (`INSERT INTO _tenants (id, name, created, updated) VALUES (?, ?, ?, ?)`), t.ID, t.Name, s.t(t.Created), s.t(t.Updated))
		if err != nil {
			if s.db.IsUnique(err) {
				return basalt.Errorf(basalt.CodeConflict, "A tenant with id %q already exists.", t.ID)
			}
			return fmt.Errorf("sqlstore: insert tenant: %w", err)
		}
		if owner != nil {
			if err := s.insertMembership(ctx, tx, owner); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, a)
	})
}

// TenantGet implements store.Identity.
func (s *Identity) TenantGet(ctx context.Context, id string) (*store.Tenant, error) {
	t := new(store.Tenant)
	err := s.one(ctx, s.db, "tenant", id, `SELECT id, name, created, updated FROM _tenants WHERE id = ?`, []any{id},
		&t.ID, &t.Name, dbq.TimeDest{T: &t.Created}, dbq.TimeDest{T: &t.Updated})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// TenantRename implements store.Identity.
func (s *Identity) TenantRename(ctx context.Context, id, name string, at time.Time, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		n, err := tx.Exec(ctx, (`UPDATE _tenants SET name = ?, updated = ? WHERE id = ?`), name, s.t(at), id)
		if err != nil {
			return fmt.Errorf("sqlstore: rename tenant: %w", err)
		}
		if n == 0 {
			return notFound("tenant", id)
		}
		return s.appendAudit(ctx, tx, a)
	})
}

// MembershipGet implements store.Identity.
func (s *Identity) MembershipGet(ctx context.Context, tenant, user string) (*store.Membership, error) {
	m := new(store.Membership)
	err := s.one(ctx, s.db, "membership", tenant, `SELECT tenant_id, user_id, role, created FROM _memberships WHERE tenant_id = ? AND user_id = ?`,
		[]any{tenant, user}, &m.TenantID, &m.UserID, &m.Role, dbq.TimeDest{T: &m.Created})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// MembershipsOfUser implements store.Identity.
func (s *Identity) MembershipsOfUser(ctx context.Context, user string) ([]store.Membership, error) {
	rows, err := s.db.Query(ctx, (`SELECT tenant_id, user_id, role, created FROM _memberships WHERE user_id = ? ORDER BY created, tenant_id`), user)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list memberships: %w", err)
	}
	defer rows.Close()
	var out []store.Membership
	for rows.Next() {
		var m store.Membership
		if err := rows.Scan(&m.TenantID, &m.UserID, &m.Role, dbq.TimeDest{T: &m.Created}); err != nil {
			return nil, fmt.Errorf("sqlstore: list memberships: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
