package store

import (
	"context"
	"encoding/json"
	"time"

	"basalt.dev/basalt"
)

// Identity is the storage of users, tenants, memberships, sessions,
// signing keys and the audit trail. Users and sessions are global; the
// tenant-scoped tables lead with the tenant. Writes that change who may
// do what take an optional *AuditEntry, appended in the same transaction.
type Identity interface {
	// UserCreate stores a new user and, with m, its first membership.
	// CodeConflict if the email is taken.
	UserCreate(ctx context.Context, u *User, m *Membership, a *AuditEntry) error
	// UserGet returns a user by id. CodeNotFound.
	UserGet(ctx context.Context, id string) (*User, error)
	// UserByEmail returns a user by lower-case email. CodeNotFound.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UserUpdate writes the mutable parts of u (name, password, verified,
	// TOTP). CodeNotFound.
	UserUpdate(ctx context.Context, u *User, a *AuditEntry) error

	// TenantCreate stores a tenant with its first member, the owner.
	TenantCreate(ctx context.Context, t *Tenant, owner *Membership, a *AuditEntry) error
	// TenantGet returns a tenant. CodeNotFound.
	TenantGet(ctx context.Context, id string) (*Tenant, error)
	// TenantRename renames a tenant. CodeNotFound.
	TenantRename(ctx context.Context, id, name string, at time.Time, a *AuditEntry) error

	// TenantDelete deletes a tenant and all its data: the records of every
	// collection (tables, the names of the collection tables), its events,
	// memberships, roles, invitations, API keys and audit trail; sessions
	// acting in it are revoked. CodeNotFound.
	TenantDelete(ctx context.Context, id string, tables []string, at time.Time) error

	// MembershipGet returns a user's membership of a tenant. CodeNotFound.
	MembershipGet(ctx context.Context, tenant, user string) (*Membership, error)
	// MembershipsOfUser lists the tenants a user belongs to, oldest first.
	MembershipsOfUser(ctx context.Context, user string) ([]Membership, error)
	// MembershipsOfTenant lists a tenant's members with their emails.
	MembershipsOfTenant(ctx context.Context, tenant string) ([]Member, error)
	// MembershipPut adds a member or changes a member's role; a change
	// revokes the member's sessions acting in the tenant (their access
	// tokens carry the old role).
	MembershipPut(ctx context.Context, m *Membership, a *AuditEntry) error
	// MembershipDelete removes a member and revokes the member's sessions
	// acting in the tenant. CodeNotFound.
	MembershipDelete(ctx context.Context, tenant, user string, a *AuditEntry) error

	// RoleCreate defines a custom role in a tenant. CodeConflict.
	RoleCreate(ctx context.Context, tenant, name string, at time.Time, a *AuditEntry) error
	// Roles lists a tenant's custom roles.
	Roles(ctx context.Context, tenant string) ([]string, error)
	// RoleDelete removes a custom role. CodeNotFound; CodeConflict while
	// members hold it.
	RoleDelete(ctx context.Context, tenant, name string, a *AuditEntry) error

	// InviteCreate stores an invitation. InviteAccept spends the one whose
	// token hash is hash, making its user a member; CodeNotFound if it is
	// unknown, used or expired. Invites lists a tenant's open invitations;
	// InviteDelete withdraws one.
	InviteCreate(ctx context.Context, inv *Invite, a *AuditEntry) error
	InviteAccept(ctx context.Context, hash, user, email string, now time.Time) (*Invite, error)
	Invites(ctx context.Context, tenant string, now time.Time) ([]Invite, error)
	InviteDelete(ctx context.Context, tenant, id string, a *AuditEntry) error

	// SessionCreate stores a session and its first refresh token.
	SessionCreate(ctx context.Context, s *Session, refreshHash string, a *AuditEntry) error
	// SessionGet returns a session. CodeNotFound.
	SessionGet(ctx context.Context, id string) (*Session, error)
	// SessionsOfUser lists a user's sessions that are neither revoked nor
	// expired at now, newest first.
	SessionsOfUser(ctx context.Context, user string, now time.Time) ([]Session, error)
	// SessionRefresh spends the refresh token hash of a live session and
	// issues next in its place, moving the session to tenant (unchanged
	// if ""). A token that was already spent revokes its whole session
	// (reuse: the token was stolen) and returns a *RefreshReusedError;
	// unknown tokens and revoked or expired sessions return
	// CodeUnauthenticated.
	SessionRefresh(ctx context.Context, hash, next, tenant string, now time.Time) (*Session, error)
	// SessionSwitch moves a live session of user to tenant: every refresh
	// token of the session is spent and next becomes its only one.
	// CodeNotFound, CodeUnauthenticated (revoked or expired).
	SessionSwitch(ctx context.Context, user, id, tenant, next string, now time.Time) (*Session, error)
	// SessionRevoke revokes sessions of user: one (id), or every one but
	// except (id ""). It returns how many it revoked.
	SessionRevoke(ctx context.Context, user, id, except, why string, now time.Time, a *AuditEntry) (int, error)
	// TicketPut stores a one-use ticket: the hash of its secret and the
	// principal it stands for (JSON), until expires. Expired tickets are
	// removed on the way.
	TicketPut(ctx context.Context, hash string, principal []byte, expires, now time.Time) error
	// TicketTake removes the ticket and returns its principal.
	// CodeNotFound if unknown, already taken or expired.
	TicketTake(ctx context.Context, hash string, now time.Time) ([]byte, error)
	// SessionsRevokedSince lists sessions revoked at or after since, for
	// nodes that keep revocations in memory.
	SessionsRevokedSince(ctx context.Context, since time.Time) ([]string, error)

	// SigningKeys lists the token signing keys, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// SigningKeyInsert stores a new signing key.
	SigningKeyInsert(ctx context.Context, k *SigningKey) error

	// LoginFailures returns the failure count of key (zero if none).
	LoginFailures(ctx context.Context, key string) (*LoginFailures, error)
	// LoginFailed counts one more failure of key at now and returns the count.
	LoginFailed(ctx context.Context, key string, now time.Time, lockAfter int) (*LoginFailures, error)
	// LoginSucceeded forgets the failures of keys.
	LoginSucceeded(ctx context.Context, keys ...string) error

	// EmailTokenCreate stores a one-use mailed token.
	EmailTokenCreate(ctx context.Context, t *EmailToken) error
	// EmailTokenUse spends a token of kind and returns it. CodeNotFound if
	// it is unknown, spent, expired or of another kind.
	EmailTokenUse(ctx context.Context, hash, kind string, now time.Time) (*EmailToken, error)

	// AuditAppend writes an audit entry on its own.
	AuditAppend(ctx context.Context, a *AuditEntry) error
	// AuditList returns a tenant's audit entries after id, oldest first.
	AuditList(ctx context.Context, tenant string, after int64, limit int) ([]AuditEntry, error)
}

// User is an account. Email is lower case; Password is an argon2id PHC
// string; TOTPSecret is encrypted with the server's secret key.
type User struct {
	ID            string
	Email         string
	Name          string
	Password      string
	Verified      bool
	TOTPSecret    string
	TOTPEnabled   bool
	RecoveryCodes []string // SHA-256 hex of each unused code
	Created       time.Time
	Updated       time.Time
}

// Tenant is an organisation.
type Tenant struct {
	ID      string
	Name    string
	Created time.Time
	Updated time.Time
}

// Membership is a user's role in a tenant.
type Membership struct {
	TenantID string
	UserID   string
	Role     string
	Created  time.Time
}

// Member is a membership with the member's email.
type Member struct {
	Membership
	Email string
	Name  string
}

// Invite is an invitation to join a tenant, sent by mail.
type Invite struct {
	TenantID string
	ID       string
	Email    string
	Role     string
	Hash     string // SHA-256 hex of the mailed token
	Inviter  string
	Created  time.Time
	Expires  time.Time
	Accepted time.Time
}

// RefreshReusedError is SessionRefresh's answer to a refresh token used
// twice: the session it names was revoked, so the caller can refuse the
// session's access tokens at once. Its code is CodeUnauthenticated.
type RefreshReusedError struct {
	Session string
	Err     error
}

func (e *RefreshReusedError) Error() string { return e.Err.Error() }
func (e *RefreshReusedError) Unwrap() error { return e.Err }

// Session is one sign-in: a family of refresh tokens of which only the
// newest may be used.
type Session struct {
	ID         string
	UserID     string
	TenantID   string
	Created    time.Time
	LastUsed   time.Time
	Expires    time.Time
	Revoked    time.Time // zero while live
	RevokedWhy string
	UserAgent  string
	IP         string
}

// SigningKey signs access tokens. Private is encrypted.
type SigningKey struct {
	KID     string
	Alg     string
	Private string
	Public  string
	Created time.Time
}

// LoginFailures counts failed sign-ins of an account or an address.
type LoginFailures struct {
	Key      string
	Failures int
	Last     time.Time
	Locked   bool
}

// EmailToken is a one-use token sent by mail.
type EmailToken struct {
	Hash    string
	UserID  string
	Kind    string // verify, reset, unlock
	Expires time.Time
}

// AuditEntry is one line of a tenant's audit trail.
type AuditEntry struct {
	ID       int64           `json:"id"`
	TenantID string          `json:"tenant"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	IP       string          `json:"ip"`
	Details  json.RawMessage `json:"details"`
}

// NewAuditEntry describes an action of the caller in ctx (its principal
// and client address) on target in tenant, at now. details is encoded as
// JSON; nil is {}.
func NewAuditEntry(ctx context.Context, now time.Time, tenant, action, target string, details any) *AuditEntry {
	actor := "anonymous"
	if p := basalt.PrincipalFrom(ctx); p != nil {
		actor = p.Kind + ":" + p.ID
	}
	data := json.RawMessage("{}")
	if details != nil {
		if b, err := json.Marshal(details); err == nil {
			data = b
		}
	}
	return &AuditEntry{TenantID: tenant, Time: now.UTC(), Actor: actor, Action: action, Target: target, IP: basalt.ClientIP(ctx), Details: data}
}
