package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"
)

// UsersConfig configures accounts and sessions.
type UsersConfig struct {
	// SignupTenant is the tenant a new user joins as a member; "" for
	// none (the user creates a tenant or accepts an invitation).
	SignupTenant string
	// SessionTTL is how long a session lives without being refreshed.
	SessionTTL time.Duration
	// PublicURL is where clients reach the server, for links in mail.
	PublicURL string
	// Issuer names the server in TOTP apps.
	Issuer string
	// Password are the argon2id parameters for new hashes.
	Password PasswordParams
	// Throttle bounds guessing.
	Throttle ThrottleConfig
}

// Users is the account service: sign-up, sign-in, sessions, passwords,
// mailed links and second factors.
type Users struct {
	store  store.Store
	tokens *Tokens
	box    *SecretBox
	mail   Mailer
	cfg    UsersConfig
	now    func() time.Time
	log    *slog.Logger
	dummy  string // a hash to verify against for unknown accounts
	revoke *revocations
}

// Mailer sends one plain-text mail.
type Mailer interface {
	Send(ctx context.Context, to, subject, text string) error
}

// NewUsers returns the account service. mail may be nil: then no mail is
// sent and flows that need it answer that mail is not configured.
func NewUsers(s store.Store, tokens *Tokens, box *SecretBox, m Mailer, cfg UsersConfig, now func() time.Time, log *slog.Logger) (*Users, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.Password == (PasswordParams{}) {
		cfg.Password = DefaultPasswordParams()
	}
	cfg.Throttle = cfg.Throttle.withDefaults()
	dummy, err := HashPassword("not a password of anyone", cfg.Password)
	if err != nil {
		return nil, err
	}
	return &Users{store: s, tokens: tokens, box: box, mail: m, cfg: cfg, now: now, log: log, dummy: dummy,
		revoke: newRevocations(s, now)}, nil
}

// Meta is what a request tells about its client.
type Meta struct {
	IP        string
	UserAgent string
}

// TokenPair is the answer to a sign-in: an access token and the refresh
// token that renews it.
type TokenPair struct {
	User         *UserView `json:"user"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	Tenant       string    `json:"tenant"`
	Role         string    `json:"role"`
}

// UserView is a user as the API shows it: never the hash or secrets.
type UserView struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Verified    bool      `json:"verified"`
	TOTPEnabled bool      `json:"totp_enabled"`
	Created     time.Time `json:"created"`
}

func view(u *store.User) *UserView {
	return &UserView{ID: u.ID, Email: u.Email, Name: u.Name, Verified: u.Verified, TOTPEnabled: u.TOTPEnabled, Created: u.Created}
}

// SignupInput is a new account.
type SignupInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// NormalizeEmail checks an address and returns it in lower case.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 || !strings.Contains(email, "@") {
		return "", basalt.Invalid("Invalid email.", basalt.FieldError{Field: "email", Code: "invalid", Message: "email must be an address such as ada@example.com"})
	}
	return strings.ToLower(email), nil
}

// Signup creates an account, signs it in and, with mail configured,
// sends the link that verifies the address.
func (u *Users) Signup(ctx context.Context, in SignupInput, meta Meta) (*TokenPair, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(in.Password, email); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if len(name) > 200 || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return nil, basalt.Invalid("Invalid name.", basalt.FieldError{Field: "name", Code: "invalid", Message: "name must be up to 200 characters of text"})
	}
	hash, err := HashPassword(in.Password, u.cfg.Password)
	if err != nil {
		return nil, err
	}
	now := u.now().UTC().Truncate(time.Microsecond)
	user := &store.User{ID: newID(now), Email: email, Name: name, Password: hash, Created: now, Updated: now}
	var m *store.Membership
	if u.cfg.SignupTenant != "" {
		m = &store.Membership{TenantID: u.cfg.SignupTenant, UserID: user.ID, Role: RoleMember, Created: now}
	}
	if err := u.store.UserCreate(ctx, user, m, u.audit(u.cfg.SignupTenant, "user:"+user.ID, "user.signup", user.ID, meta, nil)); err != nil {
		return nil, err
	}
	if u.mail != nil {
		if err := u.sendVerify(ctx, user); err != nil {
			u.log.Warn("auth: verification mail not sent", "user", user.ID, "err", err)
		}
	}
	return u.startSession(ctx, user, u.cfg.SignupTenant, meta)
}

// Built-in roles of tenant members.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// startSession opens a session for user in tenant ("" for none; a tenant
// the user is not a member of is refused) and issues its tokens.
func (u *Users) startSession(ctx context.Context, user *store.User, tenant string, meta Meta) (*TokenPair, error) {
	role, err := u.roleIn(ctx, user.ID, tenant)
	if err != nil {
		return nil, err
	}
	now := u.now().UTC().Truncate(time.Microsecond)
	s := &store.Session{ID: newID(now), UserID: user.ID, TenantID: tenant, Created: now, LastUsed: now,
		Expires: now.Add(u.cfg.SessionTTL), UserAgent: clip(meta.UserAgent, 300), IP: meta.IP}
	refresh, hash := newSecret("bsr_")
	if err := u.store.SessionCreate(ctx, s, hash, u.audit(tenant, "user:"+user.ID, "session.create", s.ID, meta, nil)); err != nil {
		return nil, err
	}
	return u.pair(user, s, role, refresh)
}

func (u *Users) roleIn(ctx context.Context, user, tenant string) (string, error) {
	if tenant == "" {
		return "", nil
	}
	m, err := u.store.MembershipGet(ctx, tenant, user)
	if basalt.ErrorCode(err) == basalt.CodeNotFound {
		return "", basalt.Errorf(basalt.CodeForbidden, "You are not a member of tenant %q.", tenant)
	}
	if err != nil {
		return "", err
	}
	return m.Role, nil
}

func (u *Users) pair(user *store.User, s *store.Session, role, refresh string) (*TokenPair, error) {
	access, exp, err := u.tokens.Issue(Claims{Session: s.ID, Tenant: s.TenantID, Role: role, RegisteredClaims: subject(user.ID)})
	if err != nil {
		return nil, err
	}
	return &TokenPair{User: view(user), AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(exp.Sub(u.now()).Round(time.Second).Seconds()), Tenant: s.TenantID, Role: role}, nil
}

// Refresh exchanges a refresh token for a new pair. A token used twice
// revokes its session.
func (u *Users) Refresh(ctx context.Context, token string, meta Meta) (*TokenPair, error) {
	if !strings.HasPrefix(token, "bsr_") || len(token) > 200 {
		return nil, errBadRefresh
	}
	next, nextHash := newSecret("bsr_")
	s, err := u.store.SessionRefresh(ctx, hashSecret(token), nextHash, "", u.now().UTC())
	var reused *store.RefreshReusedError
	if errors.As(err, &reused) {
		u.revoke.add(reused.Session) // its access tokens stop now, not at the next poll
	}
	if err != nil {
		return nil, err
	}
	user, err := u.store.UserGet(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	role, err := u.roleIn(ctx, user.ID, s.TenantID)
	if basalt.ErrorCode(err) == basalt.CodeForbidden {
		// Removed from the tenant since: the session continues without it.
		s, err = u.store.SessionSwitch(ctx, user.ID, s.ID, "", nextHash, u.now().UTC())
		if err != nil {
			return nil, err
		}
		role = ""
	} else if err != nil {
		return nil, err
	}
	return u.pair(user, s, role, next)
}

var errBadRefresh = basalt.Errorf(basalt.CodeUnauthenticated, "The refresh token is not valid; sign in again.")

// Switch moves the caller's session to another tenant it is a member of
// and returns tokens acting there. The old refresh token is spent.
func (u *Users) Switch(ctx context.Context, p *basalt.Principal, tenant string) (*TokenPair, error) {
	user, err := u.user(ctx, p)
	if err != nil {
		return nil, err
	}
	role, err := u.roleIn(ctx, user.ID, tenant)
	if err != nil {
		return nil, err
	}
	next, hash := newSecret("bsr_")
	s, err := u.store.SessionSwitch(ctx, user.ID, p.Session, tenant, hash, u.now().UTC())
	if err != nil {
		return nil, err
	}
	return u.pair(user, s, role, next)
}

// user returns the signed-in user of p. CodeForbidden for API keys.
func (u *Users) user(ctx context.Context, p *basalt.Principal) (*store.User, error) {
	if p == nil || p.Kind != "user" {
		return nil, basalt.Errorf(basalt.CodeForbidden, "This needs a signed-in user, not an API key.")
	}
	return u.store.UserGet(ctx, p.ID)
}

// Logout revokes the caller's session.
func (u *Users) Logout(ctx context.Context, p *basalt.Principal, meta Meta) error {
	if _, err := u.user(ctx, p); err != nil {
		return err
	}
	_, err := u.store.SessionRevoke(ctx, p.ID, p.Session, "", "logout", u.now().UTC(), u.audit(p.TenantID, "user:"+p.ID, "session.logout", p.Session, meta, nil))
	u.revoke.add(p.Session)
	return err
}

// Me describes the caller.
type Me struct {
	*UserView
	Tenant      string             `json:"tenant"`
	Role        string             `json:"role"`
	Session     string             `json:"session"`
	Memberships []store.Membership `json:"-"`
	Tenants     []MembershipView   `json:"tenants"`
}

// MembershipView is a membership as the API shows it.
type MembershipView struct {
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
}

// Me returns the caller and the tenants it belongs to.
func (u *Users) Me(ctx context.Context, p *basalt.Principal) (*Me, error) {
	user, err := u.user(ctx, p)
	if err != nil {
		return nil, err
	}
	ms, err := u.store.MembershipsOfUser(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	me := &Me{UserView: view(user), Tenant: p.TenantID, Role: string(p.Role), Session: p.Session, Tenants: []MembershipView{}}
	for _, m := range ms {
		me.Tenants = append(me.Tenants, MembershipView{Tenant: m.TenantID, Role: m.Role})
	}
	return me, nil
}

// SessionView is a session as its user sees it.
type SessionView struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

// Sessions lists the caller's live sessions.
func (u *Users) Sessions(ctx context.Context, p *basalt.Principal) ([]SessionView, error) {
	if _, err := u.user(ctx, p); err != nil {
		return nil, err
	}
	ss, err := u.store.SessionsOfUser(ctx, p.ID, u.now())
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(ss))
	for _, s := range ss {
		out = append(out, SessionView{ID: s.ID, Tenant: s.TenantID, Created: s.Created, LastUsed: s.LastUsed, Expires: s.Expires,
			UserAgent: s.UserAgent, IP: s.IP, Current: s.ID == p.Session})
	}
	return out, nil
}

// RevokeSession revokes one of the caller's sessions. CodeNotFound for a
// session of someone else.
func (u *Users) RevokeSession(ctx context.Context, p *basalt.Principal, id string, meta Meta) error {
	if _, err := u.user(ctx, p); err != nil {
		return err
	}
	if _, err := u.store.SessionRevoke(ctx, p.ID, id, "", "revoked by the user", u.now().UTC(), u.audit(p.TenantID, "user:"+p.ID, "session.revoke", id, meta, nil)); err != nil {
		return err
	}
	u.revoke.add(id)
	return nil
}

// Authenticate returns the principal of an access token, refusing
// tokens of revoked sessions.
func (u *Users) Authenticate(ctx context.Context, token string) (*basalt.Principal, error) {
	c, err := u.tokens.Verify(token)
	if err != nil {
		return nil, err
	}
	if u.revoke.has(c.Session) {
		return nil, basalt.Errorf(basalt.CodeUnauthenticated, "This session has ended; sign in again.")
	}
	return &basalt.Principal{Kind: "user", ID: c.Subject, TenantID: c.Tenant, Role: basalt.Role(c.Role), Session: c.Session}, nil
}

// Start keeps the set of revoked sessions current until ctx ends: other
// nodes' revocations arrive within interval.
func (u *Users) Start(ctx context.Context, interval time.Duration) {
	u.revoke.follow(ctx, interval, u.log)
}

func (u *Users) audit(tenant, actor, action, target string, meta Meta, details any) *store.AuditEntry {
	if tenant == "" {
		return nil
	}
	data, _ := json.Marshal(details)
	if details == nil {
		data = []byte("{}")
	}
	return &store.AuditEntry{TenantID: tenant, Time: u.now().UTC(), Actor: actor, Action: action, Target: target, IP: meta.IP, Details: data}
}

func subject(id string) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Subject: id}
}

func newID(now time.Time) string {
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String())
}

// newSecret returns a random token with prefix and its stored digest.
func newSecret(prefix string) (token, digest string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = prefix + encoding.EncodeToString(b)
	return token, hashSecret(token)
}

func hashSecret(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
