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
	"fmt"
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
	KeyList(ctx context.Context, tenant string) ([]store.Key, error)
	KeyRevoke(ctx context.Context, tenant, id string, at time.Time, a *store.AuditEntry) error
	MembershipGet(ctx context.Context, tenant, user string) (*store.Membership, error)
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
	return k.CreateScoped(ctx, KeySpec{Name: name, Role: role, Tenant: tenant})
}

// KeySpec describes a key to make. Scopes, if any, must be scopes of the
// role; Expires, if not zero, ends the key.
type KeySpec struct {
	Name    string
	Role    basalt.Role
	Tenant  string
	Scopes  []string
	Expires time.Time
}

// CreateScoped makes a key from spec and returns its secret form.
func (k *Keys) CreateScoped(ctx context.Context, spec KeySpec) (string, *store.Key, error) {
	name, role, tenant := spec.Name, spec.Role, spec.Tenant
	if err := checkScopes(role, spec.Scopes); err != nil {
		return "", nil, err
	}
	if err := checkGrant(basalt.PrincipalFrom(ctx), role, spec.Scopes, tenant); err != nil {
		return "", nil, err
	}
	if !spec.Expires.IsZero() && !spec.Expires.After(k.now()) {
		return "", nil, basalt.Invalid("Invalid key.", basalt.FieldError{Field: "expires", Code: "invalid", Message: "expires must be in the future"})
	}
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
	sk := &store.Key{ID: encoding.EncodeToString(idb), TenantID: tenant, Name: name, Role: role, Scopes: spec.Scopes,
		Hash: hash[:], Created: k.now().UTC().Truncate(time.Microsecond), Expires: spec.Expires.UTC().Truncate(time.Microsecond)}
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
	now := k.now()
	if !sk.Revoked.IsZero() || (!sk.Expires.IsZero() && !now.Before(sk.Expires)) {
		return nil, basalt.Errorf(basalt.CodeUnauthenticated, "The API key was revoked or has expired.")
	}
	scopes := sk.Scopes
	if len(scopes) == 0 {
		scopes = basalt.RoleScopes(sk.Role)
	}
	return &basalt.Principal{Kind: "key", ID: sk.ID, TenantID: sk.TenantID, Role: sk.Role, Scopes: scopes}, nil
}

// checkGrant stops a key from making a key that can do more than it can:
// every scope of the new key must be one of the caller's. Users (owners
// and admins, checked by ManagedTenant) may grant any scope of their
// tenant, but the collections scope only in the default tenant: collection
// definitions are shared by every tenant, so the owner of a tenant anyone
// can create must not change or drop them. The command line may grant any
// scope.
func checkGrant(p *basalt.Principal, role basalt.Role, scopes []string, tenant string) error {
	if p == nil {
		return nil
	}
	if len(scopes) == 0 {
		scopes = basalt.RoleScopes(role)
	}
	for _, s := range scopes {
		if p.Kind == "key" && !p.Can(s) {
			return basalt.Errorf(basalt.CodeForbidden, "A key cannot make a key with the %s scope, which it does not have.", s)
		}
		if p.Kind == "user" && s == basalt.ScopeCollections && tenant != "" && tenant != basalt.DefaultTenant {
			return basalt.Errorf(basalt.CodeForbidden, "A tenant's owners and admins cannot grant the %s scope: collections are shared by every tenant. List the scopes the key needs without it.", s)
		}
	}
	return nil
}

func checkScopes(role basalt.Role, scopes []string) error {
	allowed := basalt.RoleScopes(role)
	for _, s := range scopes {
		ok := false
		for _, a := range allowed {
			ok = ok || a == s
		}
		if !ok {
			return basalt.Invalid("Invalid key.", basalt.FieldError{Field: "scopes", Code: "invalid",
				Message: fmt.Sprintf("%q is not a scope of the %s role; use some of %s", s, role, strings.Join(allowed, ", "))})
		}
	}
	return nil
}

// KeyView is a key as the API lists it: never its secret or hash.
type KeyView struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Role    basalt.Role `json:"role"`
	Scopes  []string    `json:"scopes"`
	Created time.Time   `json:"created"`
	Expires *time.Time  `json:"expires"`
	Revoked *time.Time  `json:"revoked"`
	Key     string      `json:"key,omitempty"` // only when made
}

// ViewOf shows a stored key.
func ViewOf(k *store.Key) KeyView {
	v := KeyView{ID: k.ID, Name: k.Name, Role: k.Role, Scopes: k.Scopes, Created: k.Created}
	if v.Scopes == nil {
		v.Scopes = basalt.RoleScopes(k.Role)
	}
	if !k.Expires.IsZero() {
		v.Expires = &k.Expires
	}
	if !k.Revoked.IsZero() {
		v.Revoked = &k.Revoked
	}
	return v
}

// List lists a tenant's keys.
func (k *Keys) List(ctx context.Context, tenant string) ([]KeyView, error) {
	keys, err := k.store.KeyList(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]KeyView, 0, len(keys))
	for i := range keys {
		out = append(out, ViewOf(&keys[i]))
	}
	return out, nil
}

// Revoke revokes a key of tenant; it stops working on this node at once
// and on others when their cache of it expires (CacheTTL).
func (k *Keys) Revoke(ctx context.Context, tenant, id string, a *store.AuditEntry) error {
	if err := k.store.KeyRevoke(ctx, tenant, id, k.now().UTC(), a); err != nil {
		return err
	}
	k.mu.Lock()
	delete(k.cache, id)
	k.mu.Unlock()
	return nil
}

// ForgetTenant drops the cached keys of a deleted tenant, so they stop
// working on this node at once, as a revoked key does.
func (k *Keys) ForgetTenant(tenant string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, c := range k.cache {
		if c.key.TenantID == tenant {
			delete(k.cache, id)
		}
	}
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

// ManagedTenant returns the tenant whose keys the caller may manage: a
// key's own tenant if it has the keys scope, or the tenant a user acts in
// if the user is an owner or admin there.
func (k *Keys) ManagedTenant(ctx context.Context) (string, error) {
	p := basalt.PrincipalFrom(ctx)
	switch {
	case p == nil:
		return "", basalt.Errorf(basalt.CodeUnauthenticated, "Managing API keys needs credentials.")
	case p.Kind == "key" && p.Can(basalt.ScopeKeys):
		return p.TenantID, nil
	case p.Kind == "user" && p.TenantID != "":
		m, err := k.store.MembershipGet(ctx, p.TenantID, p.ID)
		if err == nil && (m.Role == RoleOwner || m.Role == RoleAdmin) {
			return p.TenantID, nil
		}
		if err != nil && basalt.ErrorCode(err) != basalt.CodeNotFound {
			return "", err
		}
	}
	return "", basalt.Errorf(basalt.CodeForbidden, "Managing API keys needs the owner or admin role in the tenant, or a key with the keys scope.")
}
