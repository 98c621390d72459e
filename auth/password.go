package auth

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"basalt.dev/basalt"
	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id cost parameters. The zero value is not
// usable: start from DefaultPasswordParams.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams returns OWASP's recommended argon2id parameters:
// m=19456 KiB, t=2, p=1, with a 16-byte salt and a 32-byte key. A hash
// costs about 19 MiB of memory for its duration (BenchmarkHashPassword).
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters, checked for new hashes and for stored ones, so
// that a corrupted hash can neither panic argon2 nor make one sign-in
// allocate more than RFC 9106's largest recommendation (2 GiB).
const (
	maxMemory  = 2 << 20 // KiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

func (p PasswordParams) check() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d is outside [1, %d]", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB is outside [8×threads, %d]", p.Memory, maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d is outside [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d is outside [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// phc encodes argon2id hashes in the PHC string format, whose base64 is
// the standard alphabet without padding. Strict refuses non-canonical
// trailing bits, so each hash has one spelling.
var phc = base64.RawStdEncoding.Strict()

// HashPassword returns an argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func HashPassword(password string, p PasswordParams) (string, error) {
	if err := p.check(); err != nil {
		return "", fmt.Errorf("auth: password params: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails (crypto/rand)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Time, p.Threads, phc.EncodeToString(salt), phc.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time, and, when it does, whether hash should be recomputed
// because its parameters differ from p. A malformed hash is an internal
// error, never a client one: hashes come from our own storage.
func VerifyPassword(password, hash string, p PasswordParams) (ok, rehash bool, err error) {
	got, salt, key, err := parseHash(hash)
	if err != nil {
		return false, false, fmt.Errorf("auth: password hash: %w", err)
	}
	k := argon2.IDKey([]byte(password), salt, got.Time, got.Memory, got.Threads, got.KeyLen)
	if subtle.ConstantTimeCompare(k, key) != 1 {
		return false, false, nil
	}
	return true, got != p, nil
}

// parseHash parses a PHC argon2id string into its parameters, salt and
// key. It accepts only what HashPassword writes, parameters in order.
func parseHash(hash string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not a $argon2id$ PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("unsupported version %q", parts[2])
	}
	if p, err = parseParams(parts[3]); err != nil {
		return p, nil, nil, err
	}
	if salt, err = phc.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("salt: %w", err)
	}
	if key, err = phc.DecodeString(parts[5]); err != nil {
		return p, nil, nil, fmt.Errorf("key: %w", err)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, key, nil
}

// parseParams parses "m=<KiB>,t=<passes>,p=<threads>".
func parseParams(s string) (PasswordParams, error) {
	var p PasswordParams
	m, rest, _ := strings.Cut(s, ",")
	t, th, _ := strings.Cut(rest, ",")
	mem, err1 := parseParam(m, "m=", 32)
	passes, err2 := parseParam(t, "t=", 32)
	threads, err3 := parseParam(th, "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return p, fmt.Errorf("parameters %q: %w", s, err)
	}
	p.Memory, p.Time, p.Threads = uint32(mem), uint32(passes), uint8(threads)
	return p, nil
}

func parseParam(s, prefix string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("want %s<number>", prefix)
	}
	return strconv.ParseUint(v, 10, bits)
}

// Limits on new passwords. The maximum bounds the work of hashing, not
// the strength: a long passphrase is welcome.
const (
	minPasswordRunes = 8
	maxPasswordBytes = 256
	minEmailLocal    = 4 // shorter local parts occur in passwords by chance
)

// CheckPassword validates a new password for the account with email. It
// returns a validation *basalt.Error naming the field "password" with one
// of the codes invalid, too_long, too_short, common or contains_email.
func CheckPassword(password string, email string) error {
	code, msg := passwordProblem(password, email)
	if code == "" {
		return nil
	}
	return basalt.Invalid("Invalid password.", basalt.FieldError{Field: "password", Code: code, Message: msg})
}

// passwordProblem returns the code and message of the first problem
// with password, or "" when there is none.
func passwordProblem(password, email string) (code, msg string) {
	lower := strings.ToLower(password)
	switch {
	case !utf8.ValidString(password) || strings.ContainsRune(password, 0):
		return "invalid", "password must be UTF-8 text without NUL characters"
	case len(password) > maxPasswordBytes:
		return "too_long", fmt.Sprintf("password must be at most %d bytes long; use a shorter passphrase", maxPasswordBytes)
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return "too_short", fmt.Sprintf("password must have at least %d characters; a few words make a good one", minPasswordRunes)
	case isCommon(lower):
		return "common", "password is one of the most common passwords; choose one that is harder to guess"
	case containsLocalPart(lower, email):
		return "contains_email", "password must not contain the name part of your email address"
	}
	return "", ""
}

func containsLocalPart(lowerPassword, email string) bool {
	local := email
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		local = email[:i]
	}
	return utf8.RuneCountInString(local) >= minEmailLocal &&
		strings.Contains(lowerPassword, strings.ToLower(local))
}

//go:embed commonpasswords.txt
var commonPasswordList string

// commonPasswords is the set of commonpasswords.txt, built on first use
// so that programs that never check a password never pay for it.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSpace(commonPasswordList), "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		set[l] = struct{}{}
	}
	return set
})

func isCommon(lowerPassword string) bool {
	_, ok := commonPasswords()[lowerPassword]
	return ok
}
