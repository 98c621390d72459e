package tenants

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// MemberView is a member as the API shows it.
type MemberView struct {
	User    string    `json:"user"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
}

// Members lists a tenant's members (any member may).
func (s *Service) Members(ctx context.Context, tenant string) ([]MemberView, error) {
	if _, err := s.roleOf(ctx, tenant); err != nil {
		return nil, err
	}
	ms, err := s.store.MembershipsOfTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]MemberView, 0, len(ms))
	for _, m := range ms {
		out = append(out, MemberView{User: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, Created: m.Created})
	}
	return out, nil
}

// checkRole accepts a built-in role or one the tenant defined.
func (s *Service) checkRole(ctx context.Context, tenant, role string) error {
	switch role {
	case RoleOwner, RoleAdmin, RoleMember:
		return nil
	}
	roles, err := s.store.Roles(ctx, tenant)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r == role {
			return nil
		}
	}
	return basalt.Invalid("Unknown role.", basalt.FieldError{Field: "role", Code: "unknown_role",
		Message: fmt.Sprintf("%q is not owner, admin, member or a role of this tenant", role)})
}

// SetRole changes a member's role. Only an owner grants or takes away
// ownership, and the last owner stays one.
func (s *Service) SetRole(ctx context.Context, tenant, user, role string) error {
	mine, err := s.manager(ctx, tenant)
	if err != nil {
		return err
	}
	if err := s.checkRole(ctx, tenant, role); err != nil {
		return err
	}
	cur, err := s.store.MembershipGet(ctx, tenant, user)
	if err != nil {
		return err
	}
	if (role == RoleOwner || cur.Role == RoleOwner) && mine != RoleOwner {
		return basalt.Errorf(basalt.CodeForbidden, "Only an owner can grant or take away ownership.")
	}
	if cur.Role == RoleOwner && role != RoleOwner {
		if err := s.keepAnOwner(ctx, tenant, user); err != nil {
			return err
		}
	}
	cur.Role = role
	return s.revoked(ctx, s.store.MembershipPut(ctx, cur, s.audit(ctx, tenant, "member.role", user, map[string]string{"role": role})))
}

func (s *Service) keepAnOwner(ctx context.Context, tenant, leaving string) error {
	ms, err := s.store.MembershipsOfTenant(ctx, tenant)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role == RoleOwner && m.UserID != leaving {
			return nil
		}
	}
	return basalt.Errorf(basalt.CodeConflict, "A tenant keeps at least one owner; make someone else owner first.")
}

// RemoveMember removes a member; members may remove themselves.
func (s *Service) RemoveMember(ctx context.Context, tenant, user string) error {
	p := basalt.PrincipalFrom(ctx)
	self := p != nil && p.Kind == "user" && p.ID == user
	mine, err := s.roleOf(ctx, tenant)
	if err != nil {
		return err
	}
	if !self && mine != RoleOwner && mine != RoleAdmin && mine != string(basalt.RoleAdmin)+" key" {
		return basalt.Errorf(basalt.CodeForbidden, "Removing members needs the owner or admin role.")
	}
	cur, err := s.store.MembershipGet(ctx, tenant, user)
	if err != nil {
		return err
	}
	if cur.Role == RoleOwner {
		if !self && mine != RoleOwner {
			return basalt.Errorf(basalt.CodeForbidden, "Only an owner can remove an owner.")
		}
		if err := s.keepAnOwner(ctx, tenant, user); err != nil {
			return err
		}
	}
	return s.revoked(ctx, s.store.MembershipDelete(ctx, tenant, user, s.audit(ctx, tenant, "member.remove", user, nil)))
}

// Roles lists the tenant's custom roles.
func (s *Service) Roles(ctx context.Context, tenant string) ([]string, error) {
	if _, err := s.roleOf(ctx, tenant); err != nil {
		return nil, err
	}
	return s.store.Roles(ctx, tenant)
}

// CreateRole defines a custom role, usable in access rules as @auth.role.
func (s *Service) CreateRole(ctx context.Context, tenant, name string) error {
	if _, err := s.manager(ctx, tenant); err != nil {
		return err
	}
	if !basalt.ValidName(name) || len(name) > 63 || name == RoleOwner || name == RoleAdmin || name == RoleMember {
		return basalt.Invalid("Invalid role.", basalt.FieldError{Field: "name", Code: "invalid",
			Message: "name must match [a-z][a-z0-9_]* and not be owner, admin or member"})
	}
	return s.store.RoleCreate(ctx, tenant, name, s.now().UTC(), s.audit(ctx, tenant, "role.create", name, nil))
}

// DeleteRole removes a custom role no member holds.
func (s *Service) DeleteRole(ctx context.Context, tenant, name string) error {
	if _, err := s.manager(ctx, tenant); err != nil {
		return err
	}
	return s.store.RoleDelete(ctx, tenant, name, s.audit(ctx, tenant, "role.delete", name, nil))
}

// InviteView is an invitation as the API shows it. AcceptURL is given
// to the inviter only when the server sends no mail.
type InviteView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	AcceptURL string    `json:"accept_url,omitempty"`
}

const inviteTTL = 7 * 24 * time.Hour

// Invite invites email to join tenant with role and mails the link.
func (s *Service) Invite(ctx context.Context, tenant, email, role string) (*InviteView, error) {
	mine, err := s.manager(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if role == "" {
		role = RoleMember
	}
	if err := s.checkRole(ctx, tenant, role); err != nil {
		return nil, err
	}
	if role == RoleOwner && mine != RoleOwner {
		return nil, basalt.Errorf(basalt.CodeForbidden, "Only an owner can invite owners.")
	}
	email, err = normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	token, hash := newToken()
	p := basalt.PrincipalFrom(ctx)
	inv := &store.Invite{TenantID: tenant, ID: newID(now), Email: email, Role: role, Hash: hash, Inviter: p.Kind + ":" + p.ID, Created: now, Expires: now.Add(inviteTTL)}
	if err := s.store.InviteCreate(ctx, inv, s.audit(ctx, tenant, "invite.create", inv.ID, map[string]string{"email": email, "role": role})); err != nil {
		return nil, err
	}
	link := s.publicURL + "/api/invites/accept?token=" + url.QueryEscape(token)
	v := &InviteView{ID: inv.ID, Email: email, Role: role, Created: inv.Created, Expires: inv.Expires}
	if s.mail == nil {
		v.AcceptURL = link
		return v, nil
	}
	t, _ := s.store.TenantGet(ctx, tenant)
	name := tenant
	if t != nil {
		name = t.Name
	}
	body := fmt.Sprintf("You are invited to join %s as %s.\n\nSign in (or sign up with this address), then open:\n\n%s\n\nThe invitation works once, for 7 days.\n", name, role, link)
	if err := s.mail.Send(ctx, email, "Invitation to "+name, body); err != nil {
		return nil, fmt.Errorf("tenants: mail invitation: %w", err)
	}
	return v, nil
}

// Accept accepts an invitation for the signed-in caller, whose email must
// be the invited one.
func (s *Service) Accept(ctx context.Context, token string) (*View, error) {
	p := basalt.PrincipalFrom(ctx)
	if p == nil || p.Kind != "user" {
		return nil, basalt.Errorf(basalt.CodeUnauthenticated, "Sign in to accept an invitation.")
	}
	user, err := s.store.UserGet(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(token, "bsi_") || len(token) > 200 {
		return nil, basalt.Errorf(basalt.CodeNotFound, "The invitation is not valid any more; ask for a new one.")
	}
	hash := newDigest(token)
	inv, err := s.store.InviteAccept(ctx, hash, user.ID, user.Email, s.now().UTC())
	if err != nil {
		return nil, err
	}
	t, err := s.store.TenantGet(ctx, inv.TenantID)
	if err != nil {
		return nil, err
	}
	return &View{ID: t.ID, Name: t.Name, Role: inv.Role, Created: t.Created, Updated: t.Updated}, nil
}

// Invites lists a tenant's open invitations.
func (s *Service) Invites(ctx context.Context, tenant string) ([]InviteView, error) {
	if _, err := s.manager(ctx, tenant); err != nil {
		return nil, err
	}
	invs, err := s.store.Invites(ctx, tenant, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]InviteView, 0, len(invs))
	for _, i := range invs {
		out = append(out, InviteView{ID: i.ID, Email: i.Email, Role: i.Role, Created: i.Created, Expires: i.Expires})
	}
	return out, nil
}

// WithdrawInvite deletes an open invitation.
func (s *Service) WithdrawInvite(ctx context.Context, tenant, id string) error {
	if _, err := s.manager(ctx, tenant); err != nil {
		return err
	}
	return s.store.InviteDelete(ctx, tenant, id, s.audit(ctx, tenant, "invite.withdraw", id, nil))
}

// Audit lists the tenant's audit trail (owners and admins).
func (s *Service) Audit(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditEntry, error) {
	if _, err := s.manager(ctx, tenant); err != nil {
		return nil, err
	}
	return s.store.AuditList(ctx, tenant, after, limit)
}
