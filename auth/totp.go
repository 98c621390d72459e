package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpOpts returns the parameters every authenticator app supports:
// RFC 6238's defaults. Skew 1 accepts the previous and next code too,
// for clock drift and for a code typed as it changes.
func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// NewTOTP returns a new random secret (base32) and its otpauth:// URL,
// which apps read from a QR code, labelled with issuer and account.
func NewTOTP(issuer, account string) (secret, url string, err error) {
	o := totpOpts()
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      o.Period,
		SecretSize:  20, // 160 bits, as RFC 4226 recommends for HMAC-SHA1
		Digits:      o.Digits,
		Algorithm:   o.Algorithm,
	})
	if err != nil {
		return "", "", fmt.Errorf("auth: new TOTP secret: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// ValidTOTP reports whether code is valid for secret at now, or one
// period before or after. Spaces in code are ignored, as apps show codes
// as "123 456". A malformed secret validates nothing.
func ValidTOTP(secret, code string, now time.Time) bool {
	o := totpOpts()
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != o.Digits.Length() || strings.Trim(code, "0123456789") != "" {
		return false
	}
	ok, err := totp.ValidateCustom(code, secret, now, o)
	return ok && err == nil
}

// recoveryLen is the number of base32 characters of a recovery code:
// 12 × 5 = 60 bits, beyond guessing at any rate a server allows.
const recoveryLen = 12

// NewRecoveryCodes returns n distinct random codes formatted
// xxxx-xxxx-xxxx (lower-case base32: a-z and 2-7), to show the user once,
// and their SHA-256 hex digests, to store instead. A fast hash suffices
// because each code carries 60 random bits, unlike a password.
func NewRecoveryCodes(n int) (codes, digests []string, err error) {
	if n < 0 {
		return nil, nil, errors.New("auth: negative number of recovery codes")
	}
	seen := make(map[string]bool, n)
	for len(codes) < n {
		c := strings.ToLower(rand.Text()[:recoveryLen])
		if seen[c] {
			continue // UseRecoveryCode spends one digest per use, so codes must differ
		}
		seen[c] = true
		codes = append(codes, c[:4]+"-"+c[4:8]+"-"+c[8:])
		digests = append(digests, recoveryDigest(c))
	}
	return codes, digests, nil
}

// UseRecoveryCode returns digests without the one matching code, and
// whether one did. code is normalized first: trimmed, lower-cased, with
// dashes and spaces removed. Every digest is compared, in constant time,
// so timing tells nothing of which one matched.
func UseRecoveryCode(digests []string, code string) ([]string, bool) {
	c := normalizeRecoveryCode(code)
	if c == "" {
		return digests, false
	}
	d := []byte(recoveryDigest(c))
	match := -1
	for i, stored := range digests {
		if subtle.ConstantTimeCompare(d, []byte(stored)) == 1 {
			match = i
		}
	}
	if match < 0 {
		return digests, false
	}
	return slices.Delete(slices.Clone(digests), match, match+1), true
}

func normalizeRecoveryCode(code string) string {
	return strings.NewReplacer("-", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(code)))
}

func recoveryDigest(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}
