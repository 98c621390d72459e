package auth

import (
	"errors"
	"strings"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/cputime"
)

// cheap are parameters that hash in well under a millisecond, for tests
// that exercise the format rather than the cost.
var cheap = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func mustHash(t testing.TB, password string, p PasswordParams) string {
	t.Helper()
	h, err := HashPassword(password, p)
	if err != nil {
		t.Fatalf("HashPassword(%q) = %v", password, err)
	}
	return h
}

func TestHashPasswordRoundTrip(t *testing.T) {
	t.Parallel()
	h := mustHash(t, "correct horse battery staple", cheap)
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(h, want) {
		t.Errorf("HashPassword = %q, want prefix %q", h, want)
	}
	ok, rehash, err := VerifyPassword("correct horse battery staple", h, cheap)
	if !ok || rehash || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v, %v, want true, false, nil", ok, rehash, err)
	}
	if h2 := mustHash(t, "correct horse battery staple", cheap); h2 == h {
		t.Errorf("two hashes of one password are equal (%q): the salt is not random", h)
	}
}

func TestVerifyPasswordWrong(t *testing.T) {
	t.Parallel()
	h := mustHash(t, "correct horse battery staple", cheap)
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		ok, rehash, err := VerifyPassword(pw, h, cheap)
		if ok || rehash || err != nil {
			t.Errorf("VerifyPassword(%q) = %v, %v, %v, want false, false, nil", pw, ok, rehash, err)
		}
	}
}

func TestVerifyPasswordRehash(t *testing.T) {
	t.Parallel()
	h := mustHash(t, "correct horse battery staple", cheap)
	for _, p := range []PasswordParams{
		{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64},
		DefaultPasswordParams(),
	} {
		ok, rehash, err := VerifyPassword("correct horse battery staple", h, p)
		if !ok || !rehash || err != nil {
			t.Errorf("VerifyPassword(right, %+v) = %v, %v, %v, want true, true, nil", p, ok, rehash, err)
		}
		// A wrong password says nothing about the hash.
		if ok, rehash, _ := VerifyPassword("wrong", h, p); ok || rehash {
			t.Errorf("VerifyPassword(wrong, %+v) = %v, %v, want false, false", p, ok, rehash)
		}
	}
}

func TestDefaultPasswordParams(t *testing.T) {
	t.Parallel()
	p := DefaultPasswordParams()
	h := mustHash(t, "correct horse battery staple", p)
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(h, want) {
		t.Errorf("HashPassword = %q, want prefix %q", h, want)
	}
	// 16 bytes of salt and 32 of key are 22 and 43 unpadded base64 characters.
	if parts := strings.Split(h, "$"); len(parts) != 6 || len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Errorf("HashPassword = %q, want a 22-character salt and a 43-character key", h)
	}
	ok, rehash, err := VerifyPassword("correct horse battery staple", h, p)
	if !ok || rehash || err != nil {
		t.Errorf("VerifyPassword = %v, %v, %v, want true, false, nil", ok, rehash, err)
	}
}

// TestVerifyPasswordReference checks a hash made by the reference
// implementation (phc-winner-argon2 test.c), so that hashes move between
// Basalt and other argon2id libraries.
func TestVerifyPasswordReference(t *testing.T) {
	t.Parallel()
	const h = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	ok, rehash, err := VerifyPassword("password", h, DefaultPasswordParams())
	if !ok || !rehash || err != nil {
		t.Errorf("VerifyPassword(reference) = %v, %v, %v, want true, true, nil", ok, rehash, err)
	}
}

func TestHashPasswordBadParams(t *testing.T) {
	t.Parallel()
	for _, p := range []PasswordParams{
		{},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 7, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 4},
		{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		if h, err := HashPassword("pw", p); err == nil {
			t.Errorf("HashPassword(%+v) = %q, nil, want an error", p, h)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	t.Parallel()
	good := mustHash(t, "pw", cheap)
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, h := range []string{
		"",
		"$",
		"password",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",       // bcrypt
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,                     // wrong variant
		"argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,                     // no leading $
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,                    // wrong version
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,                         // no version
		"$argon2id$v=19$" + salt + "$" + key,                                 // no parameters
		"$argon2id$v=19$m=64,t=1,p=1$" + salt,                                // no key
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",              // extra field
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,                        // missing p
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,                    // parameters out of order
		"$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key,                // extra parameter
		"$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,                   // negative
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,                    // argon2 panics on t=0
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,                    // argon2 panics on p=0
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,                  // p overflows uint8
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,            // 4 TiB
		"$argon2id$v=19$m=64,t=4294967295,p=1$" + salt + "$" + key,           // forever
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "!$" + key,                   // bad base64
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,                  // padded base64
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "!", // bad base64
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,                                // empty salt
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",                          // empty key
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,                          // 4-byte salt
	} {
		ok, rehash, err := VerifyPassword("pw", h, cheap)
		if ok || rehash || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v, %v, want false, false, an error", h, ok, rehash, err)
		}
		if basalt.ErrorCode(err) != basalt.CodeInternal {
			t.Errorf("VerifyPassword(%q) error code = %q, want %q: a bad stored hash is our fault", h, basalt.ErrorCode(err), basalt.CodeInternal)
		}
	}
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add("pw", mustHash(f, "pw", cheap))
	f.Add("pw", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("x", "$argon2id$v=19$m=,t=,p=$$")
	f.Add("x", "$$$$$")
	f.Fuzz(func(t *testing.T, password, hash string) {
		p, _, _, err := parseHash(hash)
		if err != nil {
			if ok, _, err := VerifyPassword(password, hash, cheap); ok || err == nil {
				t.Fatalf("VerifyPassword(%q) = %v, %v after parseHash failed", hash, ok, err)
			}
			return
		}
		if p.Memory > 1024 || p.Time > 4 || p.Threads > 4 {
			return // valid, but too costly to run at fuzzing speed
		}
		if ok, _, err := VerifyPassword(password, hash, cheap); err != nil {
			t.Fatalf("VerifyPassword(%q) = %v, %v after parseHash succeeded", hash, ok, err)
		}
	})
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		password, email, code string
	}{
		{"correct horse battery staple", "ada@example.com", ""},
		{"Tr0ub4dor&3x", "ada@example.com", ""},
		{"8chars!!", "", ""},
		{"éàüöçñßø", "ada@example.com", ""}, // 8 runes, 16 bytes
		{strings.Repeat("x", 256), "ada@example.com", ""},
		{"", "ada@example.com", "too_short"},
		{"7chars!", "ada@example.com", "too_short"},
		{"éàüöçñß", "ada@example.com", "too_short"}, // 7 runes, 14 bytes
		{strings.Repeat("x", 257), "ada@example.com", "too_long"},
		{strings.Repeat("é", 129), "ada@example.com", "too_long"}, // 129 runes, 258 bytes
		{"password", "ada@example.com", "common"},
		{"PassWord", "ada@example.com", "common"},
		{"12345678", "ada@example.com", "common"},
		{"iloveyou", "ada@example.com", "common"},
		{"my lovelace secret", "lovelace@example.com", "contains_email"},
		{"my LoveLace secret", "LOVELACE@example.com", "contains_email"},
		{"lovelace2024!", "Lovelace@Example.com", "contains_email"},
		{"my ada secret", "ada@example.com", ""}, // 3 characters occur by chance
		{"adalovelace secret", "ada.lovelace@example.com", ""},
		{"example.com rules", "ada@example.com", ""}, // the domain is not the user's name
		{"bad\x00password", "ada@example.com", "invalid"},
		{"bad\xffpassword", "ada@example.com", "invalid"},
	} {
		err := CheckPassword(tt.password, tt.email)
		if got := passwordCode(t, err); got != tt.code {
			t.Errorf("CheckPassword(%q, %q) = %v, want code %q", tt.password, tt.email, err, tt.code)
		}
	}
}

// passwordCode returns the code of the single password field error of
// err, failing the test if err is not shaped so.
func passwordCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *basalt.Error
	if !errors.As(err, &e) || e.Code != basalt.CodeValidation || len(e.Fields) != 1 {
		t.Fatalf("CheckPassword error = %#v, want a validation *basalt.Error with one field", err)
	}
	if f := e.Fields[0]; f.Field != "password" || f.Message == "" {
		t.Errorf("CheckPassword field error = %+v, want field password and a message", f)
	}
	return e.Fields[0].Code
}

func TestCommonPasswords(t *testing.T) {
	t.Parallel()
	set := commonPasswords()
	if len(set) != 17950 {
		t.Errorf("len(commonPasswords()) = %d, want 17950", len(set))
	}
	for pw := range set {
		if len(pw) < minPasswordRunes || pw != strings.ToLower(pw) || strings.TrimSpace(pw) != pw {
			t.Errorf("common password %q: want 8+ characters, lower case, no surrounding space", pw)
		}
	}
}

// BenchmarkHashPassword measures the login cost: one hash with the
// default parameters, as a sign-in or sign-up pays it.
func BenchmarkHashPassword(b *testing.B) {
	p := DefaultPasswordParams()
	b.ReportAllocs()
	stop := cputime.Report(b)
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", p); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}
