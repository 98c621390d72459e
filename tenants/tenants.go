// Package tenants manages organisations: creating, renaming and deleting
// them, their members and roles, invitations by mail, and exporting a
// tenant's data. Who may do what is decided here from the store, not from
// the claims of a token, so a role change takes effect at once.
package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
	"basalt.dev/basalt/store"
	"github.com/oklog/ulid/v2"
)

// Built-in roles.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Mailer sends one plain-text mail.
type Mailer interface {
	Send(ctx context.Context, to, subject, text string) error
}

// Service is the tenant service.
type Service struct {
	store     store.Store
	records   *records.Service
	mail      Mailer // nil: invitations hand the link to the inviter
	publicURL string
	now       func() time.Time
	log       *slog.Logger

	// SessionsRevoked, if set, is called after a change that revoked
	// sessions (a member removed, a role changed, the tenant deleted), so
	// the node stops honouring their access tokens at once.
	SessionsRevoked func(context.Context)
}

// revoked reports a change that revoked sessions.
func (s *Service) revoked(ctx context.Context, err error) error {
	if err == nil && s.SessionsRevoked != nil {
		s.SessionsRevoked(ctx)
	}
	return err
}

// New returns the service.
func New(s store.Store, recs *records.Service, m Mailer, publicURL string, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: s, records: recs, mail: m, publicURL: strings.TrimSuffix(publicURL, "/"), now: now, log: log}
}

// View is a tenant as the API shows it, with the caller's role.
type View struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    string    `json:"role,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return "", basalt.Invalid("Invalid tenant.", basalt.FieldError{Field: "name", Code: "invalid", Message: "name must be 1 to 200 characters of text"})
	}
	return name, nil
}

// Create makes a tenant; a signed-in caller becomes its owner.
func (s *Service) Create(ctx context.Context, name string) (*View, error) {
	p := basalt.PrincipalFrom(ctx)
	if p == nil || (p.Kind == "key" && p.Role != basalt.RoleAdmin) {
		return nil, basalt.Errorf(basalt.CodeForbidden, "Creating a tenant needs a signed-in user or an admin key.")
	}
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	t := &store.Tenant{ID: newID(now), Name: name, Created: now, Updated: now}
	var owner *store.Membership
	if p.Kind == "user" {
		owner = &store.Membership{TenantID: t.ID, UserID: p.ID, Role: RoleOwner, Created: now}
	}
	if err := s.store.TenantCreate(ctx, t, owner, s.audit(ctx, t.ID, "tenant.create", t.ID, map[string]string{"name": name})); err != nil {
		return nil, err
	}
	v := &View{ID: t.ID, Name: t.Name, Created: t.Created, Updated: t.Updated}
	if owner != nil {
		v.Role = RoleOwner
	}
	return v, nil
}

// Mine lists the tenants the caller belongs to.
func (s *Service) Mine(ctx context.Context) ([]View, error) {
	p := basalt.PrincipalFrom(ctx)
	if p == nil {
		return nil, basalt.Errorf(basalt.CodeUnauthenticated, "Sign in to list your tenants.")
	}
	if p.Kind != "user" {
		t, err := s.store.TenantGet(ctx, p.TenantID)
		if err != nil {
			return nil, err
		}
		return []View{{ID: t.ID, Name: t.Name, Role: string(p.Role), Created: t.Created, Updated: t.Updated}}, nil
	}
	ms, err := s.store.MembershipsOfUser(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(ms))
	for _, m := range ms {
		t, err := s.store.TenantGet(ctx, m.TenantID)
		if err != nil {
			continue
		}
		out = append(out, View{ID: t.ID, Name: t.Name, Role: m.Role, Created: t.Created, Updated: t.Updated})
	}
	return out, nil
}

// Get returns a tenant the caller belongs to. CodeNotFound otherwise:
// a stranger learns nothing, not even that the tenant exists.
func (s *Service) Get(ctx context.Context, id string) (*View, error) {
	role, err := s.roleOf(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := s.store.TenantGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if p := basalt.PrincipalFrom(ctx); p.Kind == "key" {
		role = string(p.Role) // as GET /api/tenants shows a key's role
	}
	return &View{ID: t.ID, Name: t.Name, Role: role, Created: t.Created, Updated: t.Updated}, nil
}

// Rename renames a tenant (owners and admins).
func (s *Service) Rename(ctx context.Context, id, name string) (*View, error) {
	if _, err := s.manager(ctx, id); err != nil {
		return nil, err
	}
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	if err := s.store.TenantRename(ctx, id, name, s.now().UTC(), s.audit(ctx, id, "tenant.rename", id, map[string]string{"name": name})); err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Delete deletes a tenant and all its data (owners, or an admin key of
// the tenant). The default tenant cannot be deleted.
func (s *Service) Delete(ctx context.Context, id string) error {
	role, err := s.roleOf(ctx, id)
	if err != nil {
		return err
	}
	if role != RoleOwner && role != string(basalt.RoleAdmin)+" key" {
		return basalt.Errorf(basalt.CodeForbidden, "Only an owner can delete a tenant.")
	}
	if id == basalt.DefaultTenant {
		return basalt.Errorf(basalt.CodeConflict, "The default tenant cannot be deleted.")
	}
	var tables []string
	for _, c := range s.records.Collections(ctx) {
		tables = append(tables, basalt.TableName(c.Name))
	}
	return s.revoked(ctx, s.store.TenantDelete(ctx, id, tables, s.now().UTC()))
}

// roleOf returns the caller's role in tenant: the membership's role for a
// user, "admin key"/"service key" for a key bound to it. CodeNotFound for
// anyone else.
func (s *Service) roleOf(ctx context.Context, tenant string) (string, error) {
	p := basalt.PrincipalFrom(ctx)
	notFound := basalt.Errorf(basalt.CodeNotFound, "No tenant %q.", tenant)
	switch {
	case p == nil:
		return "", basalt.Errorf(basalt.CodeUnauthenticated, "Sign in to see tenants.")
	case p.Kind == "key":
		if p.TenantID != tenant {
			return "", notFound
		}
		if p.Can(basalt.ScopeTenant) {
			return string(basalt.RoleAdmin) + " key", nil
		}
		return "key", nil
	}
	m, err := s.store.MembershipGet(ctx, tenant, p.ID)
	if basalt.ErrorCode(err) == basalt.CodeNotFound {
		return "", notFound
	}
	if err != nil {
		return "", err
	}
	return m.Role, nil
}

// manager checks that the caller may manage tenant: an owner, an admin,
// or an admin key of the tenant. Members get 403, strangers 404.
func (s *Service) manager(ctx context.Context, tenant string) (string, error) {
	role, err := s.roleOf(ctx, tenant)
	if err != nil {
		return "", err
	}
	switch role {
	case RoleOwner, RoleAdmin, string(basalt.RoleAdmin) + " key":
		return role, nil
	}
	return "", basalt.Errorf(basalt.CodeForbidden, "Managing the tenant needs the owner or admin role.")
}

func (s *Service) audit(ctx context.Context, tenant, action, target string, details any) *store.AuditEntry {
	return store.NewAuditEntry(ctx, s.now(), tenant, action, target, details)
}

func newID(now time.Time) string {
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String())
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newToken() (token, digest string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = "bsi_" + b32.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(h[:])
}
