// Package auth authenticates requests. An API key is "bsk_" + a public id
// + "_" + a secret; only the SHA-256 of the secret is stored, and it is
// compared in constant time. The id names the key in logs; the secret is
// never logged or stored.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// KeyStore is the storage that Keys needs.
type KeyStore interface {
	KeyInsert(ctx context.Context, k *store.Key) error
	KeyGet(ctx context.Context, id string) (*store.Key, error)
}

const (
	keyPrefix   = "bsk_"
	idLen       = 16 // 80 bits: unguessable and unique without a lookup
	secretBytes = 32 // 256 bits: a hash without a salt is enough
)

var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Keys creates and verifies API keys. Verified keys are cached for
// CacheTTL so a request costs one hash, not a query.
type Keys struct {
	store    KeyStore
	now      func() time.Time
	CacheTTL time.Duration

	mu    sync.Mutex
	cache map[string]cachedKey
}

type cachedKey struct {
	key     *store.Key
	fetched time.Time
}

// NewKeys returns a Keys on s. now is the clock (time.Now if nil).
func NewKeys(s KeyStore, now func() time.Time) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{store: s, now: now, CacheTTL: 30 * time.Second, cache: map[string]cachedKey{}}
}

// Create makes a key and returns its secret form, the only time it exists.
func (k *Keys) Create(ctx context.Context, name string, role basalt.Role, tenant string) (string, *store.Key, error) {
	switch {
	case strings.TrimSpace(name) == "" || len(name) > 100:
		return "", nil, basalt.Invalid("Invalid key.", basalt.FieldError{Field: "name", Code: "invalid", Message: "name must be 1 to 100 characters"})
	case !role.Valid():
		return "", nil, basalt.Invalid("Invalid key.", basalt.FieldError{Field: "role", Code: "invalid", Message: "role must be admin or service"})
	case tenant == "":
		tenant = basalt.DefaultTenant
	}
	idb := make([]byte, idLen*5/8)
	secret := make([]byte, secretBytes)
	_, _ = rand.Read(idb)
	_, _ = rand.Read(secret)
	sec := encoding.EncodeToString(secret)
	hash := sha256.Sum256([]byte(sec))
	sk := &store.Key{ID: encoding.EncodeToString(idb), TenantID: tenant, Name: name, Role: role, Hash: hash[:], Created: k.now().UTC()}
	if err := k.store.KeyInsert(ctx, sk); err != nil {
		return "", nil, err
	}
	return keyPrefix + sk.ID + "_" + sec, sk, nil
}

var errBadKey = basalt.Errorf(basalt.CodeUnauthenticated, "The API key is not valid.")

// Authenticate returns the principal of an API key. CodeUnauthenticated
// if it is malformed, unknown or wrong.
func (k *Keys) Authenticate(ctx context.Context, token string) (*basalt.Principal, error) {
	id, sec, ok := parseKey(token)
	if !ok {
		return nil, errBadKey
	}
	sk, err := k.lookup(ctx, id)
	if err != nil {
		if basalt.ErrorCode(err) == basalt.CodeNotFound {
			return nil, errBadKey
		}
		return nil, err
	}
	hash := sha256.Sum256([]byte(sec))
	if subtle.ConstantTimeCompare(hash[:], sk.Hash) != 1 {
		return nil, errBadKey
	}
	return &basalt.Principal{Kind: "key", ID: sk.ID, TenantID: sk.TenantID, Role: sk.Role}, nil
}

func parseKey(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != idLen || len(secret) == 0 || len(secret) > 128 {
		return "", "", false
	}
	return id, secret, true
}

func (k *Keys) lookup(ctx context.Context, id string) (*store.Key, error) {
	now := k.now()
	k.mu.Lock()
	c, ok := k.cache[id]
	k.mu.Unlock()
	if ok && now.Sub(c.fetched) < k.CacheTTL {
		return c.key, nil
	}
	sk, err := k.store.KeyGet(ctx, id)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.cache) > 10000 {
		clear(k.cache)
	}
	k.cache[id] = cachedKey{key: sk, fetched: now}
	k.mu.Unlock()
	return sk, nil
}
