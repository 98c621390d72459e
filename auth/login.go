package auth

import (
	"context"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// ThrottleConfig bounds password guessing. Failures count per account and
// per client address. After DelayAfter failures each further attempt must
// wait twice as long as the last (1 s, 2 s, 4 s... up to MaxDelay); after
// LockAfter failures the account is locked for LockFor, and the owner
// gets a mail whose link lifts the lock at once. Failures older than
// Window are forgotten. Unknown accounts count the same, and every answer
// is the same, so the responses do not reveal whether an account exists.
type ThrottleConfig struct {
	DelayAfter   int
	IPDelayAfter int
	LockAfter    int
	MaxDelay     time.Duration
	LockFor      time.Duration
	Window       time.Duration
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.DelayAfter == 0 {
		c.DelayAfter = 3
	}
	if c.IPDelayAfter == 0 {
		c.IPDelayAfter = 20
	}
	if c.LockAfter == 0 {
		c.LockAfter = 10
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 15 * time.Minute
	}
	if c.LockFor == 0 {
		c.LockFor = time.Hour
	}
	if c.Window == 0 {
		c.Window = time.Hour
	}
	return c
}

// LoginInput is a sign-in.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Tenant   string `json:"tenant"`
	TOTP     string `json:"totp"`
}

var errBadLogin = basalt.Errorf(basalt.CodeUnauthenticated, "The email or the password is wrong.")

// Login signs a user in. It acts in in.Tenant, or in the user's first
// tenant, or in none.
func (u *Users) Login(ctx context.Context, in LoginInput, meta Meta) (*TokenPair, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil || len(in.Password) > 1024 {
		return nil, errBadLogin
	}
	acct, ip := "acct:"+email, "ip:"+meta.IP
	if err := u.checkThrottle(ctx, acct, u.cfg.Throttle.DelayAfter, true); err != nil {
		return nil, err
	}
	if err := u.checkThrottle(ctx, ip, u.cfg.Throttle.IPDelayAfter, false); err != nil {
		return nil, err
	}
	user, err := u.store.UserByEmail(ctx, email)
	if err != nil && basalt.ErrorCode(err) != basalt.CodeNotFound {
		return nil, err
	}
	if user == nil {
		// The same work as for a real account, so time tells nothing.
		_, _, _ = VerifyPassword(in.Password, u.dummy, u.cfg.Password)
		return nil, u.failed(ctx, nil, acct, ip, meta)
	}
	ok, rehash, err := VerifyPassword(in.Password, user.Password, u.cfg.Password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, u.failed(ctx, user, acct, ip, meta)
	}
	if err := u.checkSecondFactor(ctx, user, in.TOTP, acct, ip, meta); err != nil {
		return nil, err
	}
	if err := u.store.LoginSucceeded(ctx, acct); err != nil {
		return nil, err
	}
	if rehash {
		u.upgradeHash(ctx, user, in.Password)
	}
	tenant, err := u.loginTenant(ctx, user, in.Tenant)
	if err != nil {
		return nil, err
	}
	return u.startSession(ctx, user, tenant, meta)
}

// checkThrottle refuses an attempt that comes too soon after failures,
// with 429 and Retry-After, or while the account is locked.
func (u *Users) checkThrottle(ctx context.Context, key string, after int, lockable bool) error {
	f, err := u.store.LoginFailures(ctx, key)
	if err != nil {
		return err
	}
	now := u.now()
	if now.Sub(f.Last) > u.cfg.Throttle.Window && !(f.Locked && now.Sub(f.Last) < u.cfg.Throttle.LockFor) {
		return nil
	}
	if lockable && f.Locked && now.Sub(f.Last) < u.cfg.Throttle.LockFor {
		return retryAfter(f.Last.Add(u.cfg.Throttle.LockFor).Sub(now),
			"Too many failed sign-ins: sign-in is paused. Wait, or use the link we mailed to the account's address.")
	}
	if f.Failures < after {
		return nil
	}
	delay := time.Second << min(f.Failures-after, 20)
	if delay > u.cfg.Throttle.MaxDelay {
		delay = u.cfg.Throttle.MaxDelay
	}
	if wait := f.Last.Add(delay).Sub(now); wait > 0 {
		return retryAfter(wait, "Too many failed sign-ins: wait before trying again.")
	}
	return nil
}

// RetryAfterError is a 429 that says when to come back.
type RetryAfterError struct {
	Err   *basalt.Error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

func retryAfter(d time.Duration, msg string) error {
	return &RetryAfterError{Err: &basalt.Error{Code: basalt.CodeRateLimited, Message: msg}, After: d}
}

// Seconds is the Retry-After value, rounded up.
func (e *RetryAfterError) Seconds() string {
	return strconv.Itoa(int((e.After + time.Second - 1) / time.Second))
}

// failed counts a failure and, when it locks an existing account, mails
// the owner the link that lifts the lock.
func (u *Users) failed(ctx context.Context, user *store.User, acct, ip string, meta Meta) error {
	now := u.now().UTC()
	f, err := u.store.LoginFailed(ctx, acct, now, u.cfg.Throttle.LockAfter)
	if err != nil {
		return err
	}
	if _, err := u.store.LoginFailed(ctx, ip, now, 0); err != nil {
		return err
	}
	if user != nil && f.Locked && f.Failures == u.cfg.Throttle.LockAfter {
		if err := u.sendUnlock(ctx, user); err != nil {
			u.log.Warn("auth: unlock mail not sent", "user", user.ID, "err", err)
		}
	}
	if user != nil {
		for _, m := range u.memberships(ctx, user.ID) {
			u.auditOnly(ctx, m, "user:"+user.ID, "login.failed", user.ID, meta)
		}
	}
	return errBadLogin
}

func (u *Users) memberships(ctx context.Context, user string) []string {
	ms, err := u.store.MembershipsOfUser(ctx, user)
	if err != nil {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.TenantID
	}
	return out
}

// auditOnly writes an audit entry that accompanies no other change.
func (u *Users) auditOnly(ctx context.Context, tenant, actor, action, target string, meta Meta) {
	if a := u.audit(tenant, actor, action, target, meta, nil); a != nil {
		if err := u.store.AuditAppend(ctx, a); err != nil {
			u.log.Error("auth: audit", "action", action, "err", err)
		}
	}
}

func (u *Users) upgradeHash(ctx context.Context, user *store.User, password string) {
	hash, err := HashPassword(password, u.cfg.Password)
	if err != nil {
		return
	}
	user.Password, user.Updated = hash, u.now().UTC()
	if err := u.store.UserUpdate(ctx, user, nil); err != nil {
		u.log.Warn("auth: password hash not upgraded", "user", user.ID, "err", err)
	}
}

// loginTenant picks the tenant a sign-in acts in.
func (u *Users) loginTenant(ctx context.Context, user *store.User, want string) (string, error) {
	if want = strings.TrimSpace(want); want != "" {
		return want, nil // startSession checks the membership
	}
	ms, err := u.store.MembershipsOfUser(ctx, user.ID)
	if err != nil || len(ms) == 0 {
		return "", err
	}
	return ms[0].TenantID, nil
}
