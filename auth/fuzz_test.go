package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/google/go-cmp/cmp"
)

// fuzzNow is the clock of the fuzz tests and benchmarks.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// memTokenStore keeps signing keys in memory.
type memTokenStore struct {
	mu   sync.Mutex
	keys []store.SigningKey // newest first
}

func (m *memTokenStore) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.SigningKey(nil), m.keys...), nil
}

func (m *memTokenStore) SigningKeyInsert(ctx context.Context, k *store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append([]store.SigningKey{*k}, m.keys...)
	return nil
}

// testSigner is a server's token issuer on a fixed Ed25519 key, so that
// tokens in a corpus keep their meaning from run to run.
type testSigner struct {
	tokens *Tokens
	priv   ed25519.PrivateKey
	kid    string
}

func newTestSigner(tb testing.TB) *testSigner {
	tb.Helper()
	box, err := NewSecretBox(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	seed := sha256.Sum256([]byte("basalt test signing key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	s := &memTokenStore{keys: []store.SigningKey{{KID: "0123456789abcdef", Alg: "EdDSA", Private: box.Seal(seed[:]),
		Public: base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), Created: fuzzNow.Add(-time.Hour)}}}
	t := NewTokens(s, box, "basalt", func() time.Time { return fuzzNow })
	if err := t.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &testSigner{tokens: t, priv: priv, kid: "0123456789abcdef"}
}

// issue returns a token of the server for a user session.
func (s *testSigner) issue(tb testing.TB) string {
	tb.Helper()
	tok, _, err := s.tokens.Issue(Claims{Session: "s1", Tenant: "acme", Role: "member", RegisteredClaims: subject("u1")})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// compact signs header and claims as a JWT by hand, so that seeds can
// hold what no library would write; alg picks the signature: "EdDSA" with
// priv, "HS256" with hmacKey, anything else none.
func compact(header, claims map[string]any, priv ed25519.PrivateKey, hmacKey []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var sig []byte
	switch header["alg"] {
	case "EdDSA":
		sig = ed25519.Sign(priv, []byte(input))
	case "HS256":
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// testClaims returns the claims of a valid token of the server, changed by
// edit if not nil.
func testClaims(edit func(map[string]any)) map[string]any {
	now := fuzzNow.Unix()
	c := map[string]any{"iss": "basalt", "aud": []string{"basalt"}, "sub": "u1", "sid": "s1", "tid": "acme",
		"role": "member", "iat": now, "nbf": now, "exp": now + 900, "jti": "5eed"}
	if edit != nil {
		edit(c)
	}
	return c
}

// sign returns a token the server's key signs, with the claims of
// testClaims(edit). Ed25519 signatures are deterministic, so the tokens are
// the same in every run and so are the crashers found from them.
func (s *testSigner) sign(edit func(map[string]any)) string {
	return compact(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": s.kid}, testClaims(edit), s.priv, nil)
}

// tokenSeeds returns realistic tokens and attacks on them: forgeries with
// another key, alg none and HS256 keyed with the public key, claims the
// server must refuse though it signed them, and broken encodings.
func (s *testSigner) tokenSeeds(tb testing.TB) []string {
	other := ed25519.NewKeyFromSeed(make([]byte, 32))
	now := fuzzNow.Unix()
	claims := testClaims(nil)
	valid := s.sign(nil)
	parts := strings.Split(valid, ".")
	return []string{
		valid,
		s.issue(tb),
		compact(map[string]any{"alg": "EdDSA", "kid": s.kid}, claims, other, nil),
		compact(map[string]any{"alg": "none", "kid": s.kid}, claims, nil, nil),
		compact(map[string]any{"alg": "HS256", "kid": s.kid}, claims, nil, s.priv.Public().(ed25519.PublicKey)),
		compact(map[string]any{"alg": "EdDSA"}, claims, s.priv, nil),
		compact(map[string]any{"alg": "EdDSA", "kid": "ffffffffffffffff"}, claims, s.priv, nil),
		compact(map[string]any{"alg": "EdDSA", "kid": 7}, claims, s.priv, nil),
		compact(map[string]any{"alg": "EdDSA", "crit": []string{"exp"}, "kid": s.kid}, claims, s.priv, nil),
		s.sign(func(c map[string]any) { c["exp"] = now - 60 }),
		s.sign(func(c map[string]any) { delete(c, "exp") }),
		s.sign(func(c map[string]any) { c["exp"] = "tomorrow" }),
		s.sign(func(c map[string]any) { c["exp"] = 1e300 }),
		s.sign(func(c map[string]any) { c["nbf"] = now + 3600 }),
		s.sign(func(c map[string]any) { c["iat"] = now + 3600 }),
		s.sign(func(c map[string]any) { c["iss"] = "mallory" }),
		s.sign(func(c map[string]any) { c["aud"] = "other" }),
		s.sign(func(c map[string]any) { c["aud"] = "basalt" }),
		s.sign(func(c map[string]any) { delete(c, "sid") }),
		s.sign(func(c map[string]any) { c["sub"] = "" }),
		s.sign(func(c map[string]any) { c["sub"] = 42 }),
		s.sign(func(c map[string]any) { c["role"] = "admin"; c["tid"] = []string{"acme"} }),
		"", ".", "..", "...", "a.b.c", "eyJ", "Bearer " + valid, valid + ".", valid + "=", " " + valid, valid[:len(valid)-1],
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + base64.StdEncoding.EncodeToString([]byte(parts[2])),
		parts[0] + "=." + parts[1] + "." + parts[2],
		strings.ReplaceAll(valid, "-", "+"),
		parts[0] + "." + parts[0] + "." + parts[2],
	}
}

// signedBy reports whether token is a compact JWS whose header names
// kid and EdDSA and whose signature over the first two parts verifies
// with pub: an oracle of what Verify may accept, written without jwt.
func signedBy(token string, pub ed25519.PublicKey, kid string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	b64 := base64.RawURLEncoding.Strict()
	hdr, err1 := b64.DecodeString(parts[0])
	sig, err2 := b64.DecodeString(parts[2])
	var h struct{ Alg, Kid string }
	if err1 != nil || err2 != nil || json.Unmarshal(hdr, &h) != nil || h.Alg != "EdDSA" || h.Kid != kid {
		return false
	}
	return ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig)
}

// FuzzAccessToken checks that Verify never panics and accepts only tokens
// that the server's key signed, with an issuer, audience, subject, session
// and lifetime that hold now, and that it returns exactly the claims the
// token carries. The same run flips one byte of a valid token (at pos, to
// b): the result must be refused, since signatures and base64 are checked
// strictly, so no other spelling of a token verifies.
func FuzzAccessToken(f *testing.F) {
	s := newTestSigner(f)
	valid := s.sign(nil)
	want, err := s.tokens.Verify(valid)
	if err != nil {
		f.Fatalf("Verify(valid) = %v", err)
	}
	for i, seed := range s.tokenSeeds(f) {
		f.Add(seed, uint16(i*7), byte(i))
	}
	pub := s.priv.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, token string, pos uint16, b byte) {
		c, err := s.tokens.Verify(token)
		if err != nil {
			if basalt.ErrorCode(err) != basalt.CodeUnauthenticated {
				t.Fatalf("Verify(%q) error = %v, want unauthenticated", token, err)
			}
		} else {
			checkAccepted(t, token, c, pub, s.kid)
		}
		m := []byte(valid)
		i := int(pos) % len(m)
		if m[i] == b {
			return
		}
		m[i] = b
		if c, err := s.tokens.Verify(string(m)); err == nil {
			t.Fatalf("Verify(valid with byte %d set to %q) = %+v, want an error\n%s", i, b, c, cmp.Diff(want, c))
		}
	})
}

// checkAccepted checks a token that Verify accepted against the oracle.
func checkAccepted(t *testing.T, token string, c *Claims, pub ed25519.PublicKey, kid string) {
	t.Helper()
	if !signedBy(token, pub, kid) {
		t.Fatalf("Verify(%q) accepted a token the server did not sign: %+v", token, c)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	var carried Claims
	if err != nil || json.Unmarshal(payload, &carried) != nil {
		t.Fatalf("Verify(%q) accepted a payload that does not decode: %s", token, payload)
	}
	if diff := cmp.Diff(&carried, c); diff != "" {
		t.Fatalf("Verify(%q) returned other claims than the token carries (-carried +returned):\n%s", token, diff)
	}
	ok := c.Issuer == "basalt" && len(c.Audience) > 0 && c.Subject != "" && c.Session != "" &&
		c.ExpiresAt != nil && fuzzNow.Before(c.ExpiresAt.Time)
	for _, a := range c.Audience {
		ok = ok && a == Audience
	}
	if !ok {
		t.Fatalf("Verify(%q) accepted claims it must refuse: %+v", token, c)
	}
}

// TestAccessTokenMutations flips every byte of a valid token to a few
// values, each of which must be refused.
func TestAccessTokenMutations(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t)
	valid := s.issue(t)
	if _, err := s.tokens.Verify(valid); err != nil {
		t.Fatalf("Verify(issued token) = %v", err)
	}
	for i := range len(valid) {
		for _, b := range []byte{'A', 'B', 'a', '-', '_', '.', '=', 0} {
			m := []byte(valid)
			if m[i] == b {
				continue
			}
			m[i] = b
			if _, err := s.tokens.Verify(string(m)); err == nil {
				t.Errorf("Verify(valid with byte %d set to %q) accepted the token", i, b)
			}
		}
	}
}

// memKeyStore keeps API keys in memory.
type memKeyStore struct {
	mu   sync.Mutex
	keys map[string]*store.Key
}

func (m *memKeyStore) KeyInsert(ctx context.Context, k *store.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]*store.Key{}
	}
	m.keys[k.ID] = k
	return nil
}

func (m *memKeyStore) KeyGet(ctx context.Context, id string) (*store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[id]; ok {
		return k, nil
	}
	return nil, basalt.Errorf(basalt.CodeNotFound, "No key %q.", id)
}

func (m *memKeyStore) KeyList(ctx context.Context, tenant string) ([]store.Key, error) {
	return nil, nil
}

func (m *memKeyStore) KeyRevoke(ctx context.Context, tenant, id string, at time.Time, a *store.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[id].Revoked = at
	return nil
}

func (m *memKeyStore) MembershipGet(ctx context.Context, tenant, user string) (*store.Membership, error) {
	return nil, basalt.Errorf(basalt.CodeNotFound, "No membership.")
}

// testKeys returns Keys with a live key, a revoked one and an expired
// one, and the secrets of the three.
func testKeys(tb testing.TB) (k *Keys, live, revoked, expired string) {
	tb.Helper()
	ctx := context.Background()
	now := fuzzNow
	k = NewKeys(&memKeyStore{}, func() time.Time { return now })
	live, _, err := k.Create(ctx, "ci", basalt.RoleService, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	revoked, rk, err := k.Create(ctx, "old", basalt.RoleAdmin, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	if err := k.Revoke(ctx, "acme", rk.ID, nil); err != nil {
		tb.Fatal(err)
	}
	expired, _, err = k.CreateScoped(ctx, KeySpec{Name: "temp", Role: basalt.RoleService, Tenant: "acme", Expires: now.Add(time.Minute)})
	if err != nil {
		tb.Fatal(err)
	}
	now = now.Add(time.Hour)
	return k, live, revoked, expired
}

// FuzzAPIKey checks that parsing and authenticating any string as an API
// key never panics, that every failure is unauthenticated, that the key
// parts round-trip, and that only the live key's exact text
// authenticates. It also flips one byte of the live key, which must fail.
func FuzzAPIKey(f *testing.F) {
	keys, live, revoked, expired := testKeys(f)
	id, sec, _ := parseKey(live)
	for i, seed := range []string{
		live, revoked, expired, "", "bsk_", "bsk__", "bsk_" + id, "bsk_" + id + "_", "bsk_" + id + "__" + sec,
		"bsk_" + strings.ToUpper(id) + "_" + sec, "BSK_" + id + "_" + sec, " " + live, live + "\n", live + "=",
		"bsk_" + id + "_" + sec[:len(sec)-1], "bsk_" + id + "_" + strings.Repeat("a", 128), "bsk_" + id + "_" + strings.Repeat("a", 129),
		"bsk_" + id[:15] + "_" + sec, "bsk_" + id + "x_" + sec, "bsr_" + id + "_" + sec, "Bearer " + live,
		"bsk_\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00_" + sec, "bsk_ŝŝŝŝŝŝŝŝ_" + sec,
	} {
		f.Add(seed, uint16(i*5), byte(i))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string, pos uint16, b byte) {
		if pid, psec, ok := parseKey(token); ok {
			if keyPrefix+pid+"_"+psec != token || len(pid) != idLen || len(psec) == 0 || len(psec) > 128 {
				t.Fatalf("parseKey(%q) = %q, %q, which do not make the key", token, pid, psec)
			}
		}
		p, err := keys.Authenticate(ctx, token)
		switch {
		case token == live && (err != nil || p.ID != id || p.TenantID != "acme" || p.Role != basalt.RoleService):
			t.Fatalf("Authenticate(live key) = %+v, %v", p, err)
		case token != live && err == nil:
			t.Fatalf("Authenticate(%q) = %+v; only %q may authenticate", token, p, live)
		case err != nil && basalt.ErrorCode(err) != basalt.CodeUnauthenticated:
			t.Fatalf("Authenticate(%q) error = %v, want unauthenticated", token, err)
		}
		m := []byte(live)
		i := int(pos) % len(m)
		if m[i] == b {
			return
		}
		m[i] = b
		if p, err := keys.Authenticate(ctx, string(m)); basalt.ErrorCode(err) != basalt.CodeUnauthenticated {
			t.Fatalf("Authenticate(live key with byte %d set to %q) = %+v, %v; want unauthenticated", i, b, p, err)
		}
	})
}
