package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/golang-jwt/jwt/v5"
	"github.com/maypok86/otter/v2"
)

// TokenStore is the storage the token issuer needs.
type TokenStore interface {
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	SigningKeyInsert(ctx context.Context, k *store.SigningKey) error
}

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Session string `json:"sid"`
	Tenant  string `json:"tid"`
	Role    string `json:"role,omitempty"`
}

// Audience is the aud claim of Basalt's access tokens.
const Audience = "basalt"

// Tokens issues and verifies access tokens: JWTs signed with Ed25519
// (EdDSA), the key id in the header. Keys rotate: a new key signs once the
// newest is older than Rotate, and a key verifies for two rotations, so
// tokens signed before a rotation stay valid until they expire. Nodes
// share keys through the store; private halves are stored encrypted.
// Verified tokens are cached until they expire, so a request with a token
// seen before costs a map lookup instead of a signature check.
type Tokens struct {
	store  TokenStore
	box    *SecretBox
	Issuer string
	TTL    time.Duration // lifetime of an access token
	Rotate time.Duration // age at which a new signing key takes over
	now    func() time.Time

	mu       sync.RWMutex
	keys     []signingKey // newest first
	reloaded time.Time
	verified *otter.Cache[string, *Claims]
}

type signingKey struct {
	kid     string
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
	created time.Time
}

// NewTokens returns an issuer; call Load before use.
func NewTokens(s TokenStore, box *SecretBox, issuer string, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{store: s, box: box, Issuer: issuer, TTL: 15 * time.Minute, Rotate: 30 * 24 * time.Hour, now: now,
		verified: otter.Must(&otter.Options[string, *Claims]{MaximumSize: 100_000})}
}

// Load reads the signing keys and, when the newest is too old or there is
// none, makes a new one.
func (t *Tokens) Load(ctx context.Context) error {
	keys, err := t.read(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 || t.now().Sub(keys[0].created) >= t.Rotate {
		if err := t.newKey(ctx); err != nil {
			return err
		}
		if keys, err = t.read(ctx); err != nil {
			return err
		}
	}
	t.mu.Lock()
	t.keys, t.reloaded = keys, t.now()
	t.mu.Unlock()
	return nil
}

func (t *Tokens) read(ctx context.Context) ([]signingKey, error) {
	stored, err := t.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	var keys []signingKey
	for _, k := range stored {
		if k.Alg != "EdDSA" || t.now().Sub(k.Created) > 2*t.Rotate+t.TTL {
			continue // retired: no token it signed is still valid
		}
		seed, err := t.box.Open(k.Private)
		if err != nil {
			return nil, fmt.Errorf("auth: signing key %s: %w", k.KID, err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("auth: signing key %s is damaged", k.KID)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		keys = append(keys, signingKey{kid: k.KID, priv: priv, pub: priv.Public().(ed25519.PublicKey), created: k.Created})
	}
	return keys, nil
}

func (t *Tokens) newKey(ctx context.Context) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return t.store.SigningKeyInsert(ctx, &store.SigningKey{
		KID: hex.EncodeToString(id), Alg: "EdDSA", Private: t.box.Seal(priv.Seed()),
		Public: base64.RawURLEncoding.EncodeToString(pub), Created: t.now().UTC(),
	})
}

// Issue signs an access token for c, setting its issuer, audience, times
// and id, and returns it with its expiry.
func (t *Tokens) Issue(c Claims) (string, time.Time, error) {
	t.mu.RLock()
	if len(t.keys) == 0 {
		t.mu.RUnlock()
		return "", time.Time{}, errors.New("auth: no signing key loaded")
	}
	k := t.keys[0]
	t.mu.RUnlock()
	now := t.now()
	exp := now.Add(t.TTL)
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	c.Issuer = t.Issuer
	c.Audience = jwt.ClaimStrings{Audience}
	c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(exp)
	c.ID = hex.EncodeToString(jti)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.kid
	signed, err := tok.SignedString(k.priv)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return signed, exp, nil
}

var errBadToken = basalt.Errorf(basalt.CodeUnauthenticated, "The access token is not valid or has expired; refresh it or sign in again.")

// Verify checks an access token: EdDSA only (alg "none" and every other
// algorithm are refused), a known key id, issuer, audience, and times.
// Its base64 must be canonical: the last character of a signature has
// four unused bits, and without strict decoding each token would have
// sixteen spellings that verify, each a key of its own in the cache.
func (t *Tokens) Verify(token string) (*Claims, error) {
	if c, ok := t.verified.GetIfPresent(token); ok {
		if t.now().Before(c.ExpiresAt.Time) {
			return c, nil
		}
		t.verified.Invalidate(token)
		return nil, errBadToken
	}
	c := new(Claims)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(t.Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(t.now), jwt.WithLeeway(5*time.Second),
		jwt.WithStrictDecoding())
	_, err := parser.ParseWithClaims(token, c, t.keyFor)
	if errors.Is(err, errUnknownKey) && t.mayReload() {
		// Another node may have rotated to a key this one has not read.
		if t.Load(context.Background()) == nil {
			c = new(Claims)
			_, err = parser.ParseWithClaims(token, c, t.keyFor)
		}
	}
	if err != nil {
		return nil, errBadToken
	}
	if c.Subject == "" || c.Session == "" {
		return nil, errBadToken
	}
	t.verified.Set(token, c)
	return c, nil
}

var errUnknownKey = errors.New("auth: unknown key id")

// mayReload limits reloads on unknown key ids to one in ten seconds, so
// forged key ids cannot make every request read the store.
func (t *Tokens) mayReload() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.now().Sub(t.reloaded) > 10*time.Second
}

func (t *Tokens) keyFor(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, k := range t.keys {
		if k.kid == kid {
			return k.pub, nil
		}
	}
	return nil, errUnknownKey
}

// Reload reads the keys again when another node may have rotated them:
// call it on an interval.
func (t *Tokens) Reload(ctx context.Context) error { return t.Load(ctx) }

// JWKS returns the public keys as a JSON Web Key Set (RFC 7517, OKP keys
// of RFC 8037), for clients that verify tokens themselves.
func (t *Tokens) JWKS() []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	t.mu.RLock()
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(t.keys))}
	for _, k := range t.keys {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub), Kid: k.kid, Alg: "EdDSA", Use: "sig"})
	}
	t.mu.RUnlock()
	data, _ := json.Marshal(set)
	return data
}
