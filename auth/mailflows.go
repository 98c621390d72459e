package auth

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Kinds of mailed tokens and how long they last.
const (
	tokenVerify = "verify"
	tokenReset  = "reset"
	tokenUnlock = "unlock"

	verifyTTL = 48 * time.Hour
	resetTTL  = time.Hour
	unlockTTL = 24 * time.Hour
)

var errNoMail = basalt.Errorf(basalt.CodeUnprocessable, "This server sends no mail: configure --smtp-url to use mailed links.")

// mailToken stores a new token for user and returns the link that uses it:
// PublicURL + path + ?token=...
func (u *Users) mailToken(ctx context.Context, user *store.User, kind, path string, ttl time.Duration) (string, error) {
	token, hash := newSecret("bse_")
	if err := u.store.EmailTokenCreate(ctx, &store.EmailToken{Hash: hash, UserID: user.ID, Kind: kind, Expires: u.now().UTC().Add(ttl)}); err != nil {
		return "", err
	}
	return strings.TrimSuffix(u.cfg.PublicURL, "/") + path + "?token=" + url.QueryEscape(token), nil
}

func (u *Users) send(ctx context.Context, user *store.User, kind, path string, ttl time.Duration, subject, body string) error {
	if u.mail == nil {
		return errNoMail
	}
	link, err := u.mailToken(ctx, user, kind, path, ttl)
	if err != nil {
		return err
	}
	return u.mail.Send(ctx, user.Email, subject, fmt.Sprintf(body, link, ttl.Round(time.Hour)))
}

func (u *Users) sendVerify(ctx context.Context, user *store.User) error {
	return u.send(ctx, user, tokenVerify, "/api/auth/verify", verifyTTL, "Confirm your email address",
		"Open this link to confirm your email address:\n\n%s\n\nThe link works once, for %s. If you did not sign up, ignore this mail.\n")
}

func (u *Users) sendUnlock(ctx context.Context, user *store.User) error {
	return u.send(ctx, user, tokenUnlock, "/api/auth/unlock", unlockTTL, "Sign-in to your account is paused",
		"There were many failed attempts to sign in to your account, so sign-in is paused.\nIf it was you, open this link to resume at once:\n\n%s\n\nThe link works once, for %s. If it was not you, your password held; consider changing it.\n")
}

// RequestVerify mails the caller a new verification link.
func (u *Users) RequestVerify(ctx context.Context, p *basalt.Principal) error {
	user, err := u.user(ctx, p)
	if err != nil {
		return err
	}
	if user.Verified {
		return basalt.Errorf(basalt.CodeConflict, "The email address is already verified.")
	}
	return u.sendVerify(ctx, user)
}

// Verify uses a verification token.
func (u *Users) Verify(ctx context.Context, token string, meta Meta) error {
	t, err := u.useToken(ctx, token, tokenVerify)
	if err != nil {
		return err
	}
	user, err := u.store.UserGet(ctx, t.UserID)
	if err != nil {
		return err
	}
	user.Verified, user.Updated = true, u.now().UTC()
	return u.store.UserUpdate(ctx, user, nil)
}

func (u *Users) useToken(ctx context.Context, token, kind string) (*store.EmailToken, error) {
	if !strings.HasPrefix(token, "bse_") || len(token) > 200 {
		return nil, basalt.Errorf(basalt.CodeNotFound, "The link is not valid any more; ask for a new one.")
	}
	return u.store.EmailTokenUse(ctx, hashSecret(token), kind, u.now().UTC())
}

// RequestReset mails a password reset link if an account has email. It
// answers the same whether or not one does.
func (u *Users) RequestReset(ctx context.Context, email string) error {
	if u.mail == nil {
		return errNoMail
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	user, err := u.store.UserByEmail(ctx, email)
	if basalt.ErrorCode(err) == basalt.CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	return u.send(ctx, user, tokenReset, "/api/auth/reset", resetTTL, "Reset your password",
		"Open this link to choose a new password:\n\n%s\n\nThe link works once, for %s. If you did not ask for it, ignore this mail.\n")
}

// CheckResetToken tells whether a reset link is still valid, without using it.
func (u *Users) CheckResetToken(ctx context.Context, token string) error {
	if !strings.HasPrefix(token, "bse_") {
		return basalt.Errorf(basalt.CodeNotFound, "The link is not valid any more; ask for a new one.")
	}
	return nil
}

// Reset sets a new password with a reset token, signs out every session
// and lifts a lock.
func (u *Users) Reset(ctx context.Context, token, password string, meta Meta) error {
	t, err := u.useToken(ctx, token, tokenReset)
	if err != nil {
		return err
	}
	user, err := u.store.UserGet(ctx, t.UserID)
	if err != nil {
		return err
	}
	if err := u.setPassword(ctx, user, password, "", meta, "password.reset"); err != nil {
		return err
	}
	// Following the mailed link proves the address too.
	if !user.Verified {
		user.Verified = true
		_ = u.store.UserUpdate(ctx, user, nil)
	}
	return u.store.LoginSucceeded(ctx, "acct:"+user.Email)
}

// Unlock lifts a lock with an unlock token.
func (u *Users) Unlock(ctx context.Context, token string) error {
	t, err := u.useToken(ctx, token, tokenUnlock)
	if err != nil {
		return err
	}
	user, err := u.store.UserGet(ctx, t.UserID)
	if err != nil {
		return err
	}
	return u.store.LoginSucceeded(ctx, "acct:"+user.Email)
}

// ChangePassword sets a new password for the caller after checking the
// current one, and signs out its other sessions.
func (u *Users) ChangePassword(ctx context.Context, p *basalt.Principal, current, next string, meta Meta) error {
	user, err := u.user(ctx, p)
	if err != nil {
		return err
	}
	ok, _, err := VerifyPassword(current, user.Password, u.cfg.Password)
	if err != nil {
		return err
	}
	if !ok {
		return basalt.Invalid("The current password is wrong.", basalt.FieldError{Field: "current_password", Code: "wrong", Message: "current_password is not your password"})
	}
	return u.setPassword(ctx, user, next, p.Session, meta, "password.change")
}

// setPassword stores a new password and revokes every session of the
// user but keep.
func (u *Users) setPassword(ctx context.Context, user *store.User, password, keep string, meta Meta, action string) error {
	if err := CheckPassword(password, user.Email); err != nil {
		return err
	}
	hash, err := HashPassword(password, u.cfg.Password)
	if err != nil {
		return err
	}
	user.Password, user.Updated = hash, u.now().UTC()
	tenants := u.memberships(ctx, user.ID)
	var a *store.AuditEntry
	if len(tenants) > 0 {
		a = u.audit(tenants[0], "user:"+user.ID, action, user.ID, meta, nil)
	}
	if err := u.store.UserUpdate(ctx, user, a); err != nil {
		return err
	}
	ss, err := u.store.SessionsOfUser(ctx, user.ID, u.now())
	if err != nil {
		return err
	}
	if _, err := u.store.SessionRevoke(ctx, user.ID, "", keep, action, u.now().UTC(), nil); err != nil {
		return err
	}
	for _, s := range ss {
		if s.ID != keep {
			u.revoke.add(s.ID)
		}
	}
	return nil
}
