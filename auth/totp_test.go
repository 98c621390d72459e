package auth_test

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/auth"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func mustTOTP(t *testing.T) string {
	t.Helper()
	secret, _, err := auth.NewTOTP("Basalt", "ada@example.com")
	if err != nil {
		t.Fatalf("NewTOTP = %v", err)
	}
	return secret
}

// code returns what an authenticator app shows for secret at when.
func code(t *testing.T, secret string, when time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, when, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("GenerateCodeCustom = %v", err)
	}
	return c
}

func TestNewTOTP(t *testing.T) {
	t.Parallel()
	secret, link, err := auth.NewTOTP("Basalt", "ada@example.com")
	if err != nil {
		t.Fatalf("NewTOTP = %v", err)
	}
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Errorf("NewTOTP secret = %q, want 32 base32 characters (160 bits)", secret)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("NewTOTP url = %q: %v", link, err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Basalt:ada@example.com" ||
		q.Get("secret") != secret || q.Get("issuer") != "Basalt" || q.Get("digits") != "6" ||
		q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("NewTOTP url = %q, want otpauth://totp/Basalt:ada@example.com with secret, issuer, SHA1, 6 digits, 30 s", link)
	}
	if other := mustTOTP(t); other == secret {
		t.Errorf("NewTOTP returned %q twice", secret)
	}
	if _, _, err := auth.NewTOTP("", "ada@example.com"); err == nil {
		t.Errorf("NewTOTP(no issuer) = nil, want an error")
	}
}

func TestValidTOTP(t *testing.T) {
	t.Parallel()
	secret := mustTOTP(t)
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	for _, tt := range []struct {
		name string
		code string
		want bool
	}{
		{"now", code(t, secret, now), true},
		{"previous period", code(t, secret, now.Add(-30*time.Second)), true},
		{"next period", code(t, secret, now.Add(30*time.Second)), true},
		{"as apps show it", code(t, secret, now)[:3] + " " + code(t, secret, now)[3:], true},
		{"90 s ago", code(t, secret, now.Add(-90*time.Second)), false},
		{"90 s ahead", code(t, secret, now.Add(90*time.Second)), false},
		{"empty", "", false},
		{"spaces", "      ", false},
		{"short", code(t, secret, now)[:5], false},
		{"long", code(t, secret, now) + "0", false},
		{"letters", "abcdef", false},
		{"sign", "+12345", false},
		{"full-width digits", "１２３４５６", false},
	} {
		if got := auth.ValidTOTP(secret, tt.code, now); got != tt.want {
			t.Errorf("ValidTOTP(%s: %q) = %v, want %v", tt.name, tt.code, got, tt.want)
		}
	}
}

func TestValidTOTPWrong(t *testing.T) {
	t.Parallel()
	secret := mustTOTP(t)
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	valid := map[string]bool{}
	for d := -1; d <= 1; d++ {
		valid[code(t, secret, now.Add(time.Duration(d)*30*time.Second))] = true
	}
	for _, c := range []string{"000000", "123456", "999999", "654321"} {
		if auth.ValidTOTP(secret, c, now) != valid[c] {
			t.Errorf("ValidTOTP(%q) = %v, want %v", c, !valid[c], valid[c])
		}
	}
	if auth.ValidTOTP(mustTOTP(t), code(t, secret, now), now) {
		t.Errorf("ValidTOTP accepted a code of another secret")
	}
	for _, bad := range []string{"", "not base32!", "A"} {
		if auth.ValidTOTP(bad, "123456", now) {
			t.Errorf("ValidTOTP(secret %q) = true, want false", bad)
		}
	}
}

func mustRecoveryCodes(t *testing.T, n int) (codes, digests []string) {
	t.Helper()
	codes, digests, err := auth.NewRecoveryCodes(n)
	if err != nil {
		t.Fatalf("NewRecoveryCodes(%d) = %v", n, err)
	}
	if len(codes) != n || len(digests) != n {
		t.Fatalf("NewRecoveryCodes(%d) = %d codes, %d digests", n, len(codes), len(digests))
	}
	return codes, digests
}

func TestNewRecoveryCodes(t *testing.T) {
	t.Parallel()
	codes, digests := mustRecoveryCodes(t, 100)
	format := regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)
	seen := map[string]bool{}
	for i, c := range codes {
		if !format.MatchString(c) {
			t.Errorf("code %q, want xxxx-xxxx-xxxx in lower-case base32", c)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(digests[i]) {
			t.Errorf("digest %q, want 64 hex digits", digests[i])
		}
		if seen[c] || seen[digests[i]] {
			t.Errorf("code %q or its digest repeats", c)
		}
		seen[c], seen[digests[i]] = true, true
		if strings.Contains(digests[i], strings.ReplaceAll(c, "-", "")) {
			t.Errorf("digest %q contains its code", digests[i])
		}
	}
	if _, _, err := auth.NewRecoveryCodes(-1); err == nil {
		t.Errorf("NewRecoveryCodes(-1) = nil, want an error")
	}
	if codes, digests := mustRecoveryCodes(t, 0); len(codes)+len(digests) != 0 {
		t.Errorf("NewRecoveryCodes(0) = %q, %q, want none", codes, digests)
	}
}

func TestUseRecoveryCode(t *testing.T) {
	t.Parallel()
	codes, digests := mustRecoveryCodes(t, 3)
	orig := slices.Clone(digests)

	rest, ok := auth.UseRecoveryCode(digests, codes[1])
	if !ok || !slices.Equal(rest, []string{orig[0], orig[2]}) {
		t.Fatalf("UseRecoveryCode(code 1) = %q, %v, want digests 0 and 2, true", rest, ok)
	}
	if !slices.Equal(digests, orig) {
		t.Errorf("UseRecoveryCode changed its argument to %q", digests)
	}
	if again, ok := auth.UseRecoveryCode(rest, codes[1]); ok || !slices.Equal(again, rest) {
		t.Errorf("UseRecoveryCode(code 1 again) = %q, %v, want it refused", again, ok)
	}
	rest, ok = auth.UseRecoveryCode(rest, codes[0])
	if !ok || !slices.Equal(rest, []string{orig[2]}) {
		t.Errorf("UseRecoveryCode(code 0) = %q, %v, want digest 2, true", rest, ok)
	}
}

func TestUseRecoveryCodeNormalizes(t *testing.T) {
	t.Parallel()
	codes, digests := mustRecoveryCodes(t, 1)
	c := codes[0]
	for _, typed := range []string{
		c,
		strings.ToUpper(c),
		"  " + c + "\n",
		strings.ReplaceAll(c, "-", ""),
		strings.ReplaceAll(c, "-", " "),
		c[:2] + "-" + c[2:],
	} {
		if rest, ok := auth.UseRecoveryCode(digests, typed); !ok || len(rest) != 0 {
			t.Errorf("UseRecoveryCode(%q) = %q, %v, want it accepted", typed, rest, ok)
		}
	}
	for _, typed := range []string{"", "-", "   ", c[:len(c)-1], c + "a", strings.ReplaceAll(c, "-", "_")} {
		if rest, ok := auth.UseRecoveryCode(digests, typed); ok || len(rest) != 1 {
			t.Errorf("UseRecoveryCode(%q) = %q, %v, want it refused", typed, rest, ok)
		}
	}
	if rest, ok := auth.UseRecoveryCode(nil, c); ok || rest != nil {
		t.Errorf("UseRecoveryCode(nil) = %q, %v, want nil, false", rest, ok)
	}
}
