package auth

import (
	"context"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// checkSecondFactor asks for a TOTP code, or a recovery code, when the
// user enabled one. A wrong code counts as a failed sign-in.
func (u *Users) checkSecondFactor(ctx context.Context, user *store.User, code, acct, ip string, meta Meta) error {
	if !user.TOTPEnabled {
		return nil
	}
	if code == "" {
		return basalt.Errorf(basalt.CodeUnauthenticated, "This account has a second factor: send the code from your authenticator app as totp, or a recovery code.")
	}
	secret, err := u.box.Open(user.TOTPSecret)
	if err != nil {
		return err
	}
	if ValidTOTP(string(secret), code, u.now()) {
		return nil
	}
	if rest, ok := UseRecoveryCode(user.RecoveryCodes, code); ok {
		user.RecoveryCodes, user.Updated = rest, u.now().UTC()
		return u.store.UserUpdate(ctx, user, nil)
	}
	if err := u.failed(ctx, user, acct, ip, meta); err != nil && err != errBadLogin {
		return err
	}
	return basalt.Errorf(basalt.CodeUnauthenticated, "The second-factor code is wrong.")
}

// TOTPSetup is a new, not yet enabled second factor.
type TOTPSetup struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauth_url"`
}

// SetupTOTP makes a new TOTP secret for the caller; it takes effect when
// EnableTOTP confirms a code from it.
func (u *Users) SetupTOTP(ctx context.Context, p *basalt.Principal) (*TOTPSetup, error) {
	user, err := u.user(ctx, p)
	if err != nil {
		return nil, err
	}
	if user.TOTPEnabled {
		return nil, basalt.Errorf(basalt.CodeConflict, "A second factor is already enabled; disable it first.")
	}
	secret, link, err := NewTOTP(u.cfg.Issuer, user.Email)
	if err != nil {
		return nil, err
	}
	user.TOTPSecret, user.Updated = u.box.Seal([]byte(secret)), u.now().UTC()
	if err := u.store.UserUpdate(ctx, user, nil); err != nil {
		return nil, err
	}
	return &TOTPSetup{Secret: secret, URL: link}, nil
}

// EnableTOTP turns the second factor on when code matches the secret of
// SetupTOTP, and returns recovery codes, shown this once.
func (u *Users) EnableTOTP(ctx context.Context, p *basalt.Principal, code string, meta Meta) ([]string, error) {
	user, err := u.user(ctx, p)
	if err != nil {
		return nil, err
	}
	if user.TOTPEnabled || user.TOTPSecret == "" {
		return nil, basalt.Errorf(basalt.CodeConflict, "Call setup first; a second factor is enabled only once.")
	}
	secret, err := u.box.Open(user.TOTPSecret)
	if err != nil {
		return nil, err
	}
	if !ValidTOTP(string(secret), code, u.now()) {
		return nil, basalt.Invalid("Wrong code.", basalt.FieldError{Field: "code", Code: "wrong", Message: "code does not match; check the time on your device"})
	}
	codes, digests, err := NewRecoveryCodes(10)
	if err != nil {
		return nil, err
	}
	user.TOTPEnabled, user.RecoveryCodes, user.Updated = true, digests, u.now().UTC()
	if err := u.store.UserUpdate(ctx, user, u.audit(p.TenantID, "user:"+user.ID, "totp.enable", user.ID, meta, nil)); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns the second factor off; it needs the password.
func (u *Users) DisableTOTP(ctx context.Context, p *basalt.Principal, password string, meta Meta) error {
	user, err := u.user(ctx, p)
	if err != nil {
		return err
	}
	ok, _, err := VerifyPassword(password, user.Password, u.cfg.Password)
	if err != nil {
		return err
	}
	if !ok {
		return basalt.Invalid("The password is wrong.", basalt.FieldError{Field: "password", Code: "wrong", Message: "password is not your password"})
	}
	user.TOTPEnabled, user.TOTPSecret, user.RecoveryCodes, user.Updated = false, "", nil, u.now().UTC()
	return u.store.UserUpdate(ctx, user, u.audit(p.TenantID, "user:"+user.ID, "totp.disable", user.ID, meta, nil))
}
