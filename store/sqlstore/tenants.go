package sqlstore

import (
	"context"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"basalt.dev/basalt/store"
)

// TenantDelete implements store.Identity. It is one transaction: the
// tenant is gone entirely or not at all.
func (s *Identity) TenantDelete(ctx context.Context, id string, tables []string, at time.Time) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		n, err := tx.Exec(ctx, `DELETE FROM _tenants WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlstore: delete tenant: %w", err)
		}
		if n == 0 {
			return notFound("tenant", id)
		}
		if inv, ok := tx.(dbq.RecordCacheInvalidator); ok {
			inv.InvalidateRecordsAtCommit()
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+filter.Quote(t)+` WHERE tenant_id = ?`, id); err != nil {
				return fmt.Errorf("sqlstore: delete tenant data in %s: %w", t, err)
			}
		}
		for _, t := range []string{"_events", "_memberships", "_roles", "_invites", "_keys", "_audit", "_usage", "_requests", "_quotas"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE tenant_id = ?`, id); err != nil {
				return fmt.Errorf("sqlstore: delete tenant data in %s: %w", t, err)
			}
		}
		// Access tokens name the tenant they act in and stay valid until
		// they expire; revoking their sessions is what stops them.
		return revokeTenantSessions(ctx, s, tx, id, "", at, "tenant deleted")
	})
}

// MembershipsOfTenant implements store.Identity.
func (s *Identity) MembershipsOfTenant(ctx context.Context, tenant string) ([]store.Member, error) {
	rows, err := s.db.Query(ctx, `SELECT m.tenant_id, m.user_id, m.role, m.created, u.email, u.name FROM _memberships m
		JOIN _users u ON u.id = m.user_id WHERE m.tenant_id = ? ORDER BY m.created, m.user_id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list members: %w", err)
	}
	defer rows.Close()
	var out []store.Member
	for rows.Next() {
		var m store.Member
		if err := rows.Scan(&m.TenantID, &m.UserID, &m.Role, dbq.TimeDest{T: &m.Created}, &m.Email, &m.Name); err != nil {
			return nil, fmt.Errorf("sqlstore: list members: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MembershipPut implements store.Identity.
// A changed role ends the member's sessions in the tenant: their access
// tokens carry the old role.
func (s *Identity) MembershipPut(ctx context.Context, m *store.Membership, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		changed, err := tx.Exec(ctx, `UPDATE _memberships SET role = ? WHERE tenant_id = ? AND user_id = ? AND role <> ?`, m.Role, m.TenantID, m.UserID, m.Role)
		if err != nil {
			return fmt.Errorf("sqlstore: set role: %w", err)
		}
		if changed > 0 {
			if err := revokeTenantSessions(ctx, s, tx, m.TenantID, m.UserID, auditTime(a), "role changed"); err != nil {
				return err
			}
			return s.appendAudit(ctx, tx, a)
		}
		var exists int64
		if err := dbq.QueryRow(ctx, tx, `SELECT count(*) FROM _memberships WHERE tenant_id = ? AND user_id = ?`, []any{m.TenantID, m.UserID}, &exists); err != nil {
			return fmt.Errorf("sqlstore: set role: %w", err)
		}
		if exists == 0 {
			if err := s.insertMembership(ctx, tx, m); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, a)
	})
}

// revokeTenantSessions revokes the live sessions acting in tenant: all of
// them, or only user's.
func revokeTenantSessions(ctx context.Context, s *Identity, tx dbq.Q, tenant, user string, at time.Time, why string) error {
	query := `UPDATE _sessions SET revoked = ?, revoked_why = ? WHERE tenant_id = ? AND revoked IS NULL`
	args := []any{s.t(at), why, tenant}
	if user != "" {
		query += ` AND user_id = ?`
		args = append(args, user)
	}
	if _, err := tx.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("sqlstore: revoke sessions in tenant: %w", err)
	}
	return nil
}

// auditTime is when an audited change happens: the audit entry's time, or
// now for a change made without one.
func auditTime(a *store.AuditEntry) time.Time {
	if a != nil {
		return a.Time
	}
	return time.Now().UTC()
}

// MembershipDelete implements store.Identity.
func (s *Identity) MembershipDelete(ctx context.Context, tenant, user string, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		n, err := tx.Exec(ctx, `DELETE FROM _memberships WHERE tenant_id = ? AND user_id = ?`, tenant, user)
		if err != nil {
			return fmt.Errorf("sqlstore: remove member: %w", err)
		}
		if n == 0 {
			return notFound("member", user)
		}
		if err := revokeTenantSessions(ctx, s, tx, tenant, user, auditTime(a), "removed from tenant"); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, a)
	})
}

// RoleCreate implements store.Identity.
func (s *Identity) RoleCreate(ctx context.Context, tenant, name string, at time.Time, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		if _, err := tx.Exec(ctx, `INSERT INTO _roles (tenant_id, name, created) VALUES (?, ?, ?)`, tenant, name, s.t(at)); err != nil {
			if s.db.IsUnique(err) {
				return basalt.Errorf(basalt.CodeConflict, "Role %q exists.", name)
			}
			return fmt.Errorf("sqlstore: create role: %w", err)
		}
		return s.appendAudit(ctx, tx, a)
	})
}

// Roles implements store.Identity.
func (s *Identity) Roles(ctx context.Context, tenant string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT name FROM _roles WHERE tenant_id = ? ORDER BY name`, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list roles: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// RoleDelete implements store.Identity.
func (s *Identity) RoleDelete(ctx context.Context, tenant, name string, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		var held int64
		if err := dbq.QueryRow(ctx, tx, `SELECT count(*) FROM _memberships WHERE tenant_id = ? AND role = ?`, []any{tenant, name}, &held); err != nil {
			return fmt.Errorf("sqlstore: delete role: %w", err)
		}
		if held > 0 {
			return basalt.Errorf(basalt.CodeConflict, "%d members hold role %q; give them another role first.", held, name)
		}
		n, err := tx.Exec(ctx, `DELETE FROM _roles WHERE tenant_id = ? AND name = ?`, tenant, name)
		if err != nil {
			return fmt.Errorf("sqlstore: delete role: %w", err)
		}
		if n == 0 {
			return notFound("role", name)
		}
		return s.appendAudit(ctx, tx, a)
	})
}

const inviteColumns = `tenant_id, id, email, role, hash, inviter, created, expires, accepted`

func scanInvite(i *store.Invite) []any {
	return []any{&i.TenantID, &i.ID, &i.Email, &i.Role, &i.Hash, &i.Inviter, dbq.TimeDest{T: &i.Created}, dbq.TimeDest{T: &i.Expires}, dbq.TimeDest{T: &i.Accepted}}
}

// InviteCreate implements store.Identity.
func (s *Identity) InviteCreate(ctx context.Context, inv *store.Invite, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		_, err := tx.Exec(ctx, `INSERT INTO _invites (`+inviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.TenantID, inv.ID, inv.Email, inv.Role, inv.Hash, inv.Inviter, s.t(inv.Created), s.t(inv.Expires), s.t(inv.Accepted))
		if err != nil {
			return fmt.Errorf("sqlstore: create invite: %w", err)
		}
		return s.appendAudit(ctx, tx, a)
	})
}

var errBadInvite = basalt.Errorf(basalt.CodeNotFound, "The invitation is not valid any more; ask for a new one.")

// InviteAccept implements store.Identity. The invitation must be for the
// accepting user's email.
func (s *Identity) InviteAccept(ctx context.Context, hash, user, email string, now time.Time) (*store.Invite, error) {
	inv := new(store.Invite)
	err := s.db.Tx(ctx, func(tx dbq.Q) error {
		if err := s.one(ctx, tx, "invitation", "", `SELECT `+inviteColumns+` FROM _invites WHERE hash = ?`, []any{hash}, scanInvite(inv)...); err != nil {
			return errBadInvite
		}
		if !inv.Accepted.IsZero() || !now.Before(inv.Expires) || inv.Email != email {
			return errBadInvite
		}
		n, err := tx.Exec(ctx, `UPDATE _invites SET accepted = ? WHERE hash = ? AND accepted IS NULL`, s.t(now), hash)
		if err != nil || n == 0 {
			return errBadInvite
		}
		var exists int64
		if err := dbq.QueryRow(ctx, tx, `SELECT count(*) FROM _memberships WHERE tenant_id = ? AND user_id = ?`, []any{inv.TenantID, user}, &exists); err != nil {
			return err
		}
		if exists > 0 {
			return basalt.Errorf(basalt.CodeConflict, "You are already a member of this tenant.")
		}
		m := &store.Membership{TenantID: inv.TenantID, UserID: user, Role: inv.Role, Created: now}
		if err := s.insertMembership(ctx, tx, m); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &store.AuditEntry{TenantID: inv.TenantID, Time: now, Actor: "user:" + user, Action: "invite.accept", Target: inv.ID, IP: basalt.ClientIP(ctx), Details: []byte(`{}`)})
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// Invites implements store.Identity.
func (s *Identity) Invites(ctx context.Context, tenant string, now time.Time) ([]store.Invite, error) {
	rows, err := s.db.Query(ctx, `SELECT `+inviteColumns+` FROM _invites WHERE tenant_id = ? AND accepted IS NULL AND expires > ? ORDER BY created`, tenant, s.t(now))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list invites: %w", err)
	}
	defer rows.Close()
	var out []store.Invite
	for rows.Next() {
		var i store.Invite
		if err := rows.Scan(scanInvite(&i)...); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// InviteDelete implements store.Identity.
func (s *Identity) InviteDelete(ctx context.Context, tenant, id string, a *store.AuditEntry) error {
	return s.db.Tx(ctx, func(tx dbq.Q) error {
		n, err := tx.Exec(ctx, `DELETE FROM _invites WHERE tenant_id = ? AND id = ?`, tenant, id)
		if err != nil {
			return fmt.Errorf("sqlstore: delete invite: %w", err)
		}
		if n == 0 {
			return notFound("invitation", id)
		}
		return s.appendAudit(ctx, tx, a)
	})
}
