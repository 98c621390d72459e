package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/store/sqlite"
)

func newKeys(t *testing.T, now func() time.Time) (*auth.Keys, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return auth.NewKeys(db, now), db
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	keys, db := newKeys(t, nil)
	secret, k, err := keys.Create(ctx, "ci", basalt.RoleService, "acme")
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	p, err := keys.Authenticate(ctx, secret)
	if err != nil || p.ID != k.ID || p.TenantID != "acme" || p.Role != basalt.RoleService || p.Kind != "key" {
		t.Fatalf("Authenticate(new key) = %+v, %v", p, err)
	}
	stored, err := db.KeyGet(ctx, k.ID)
	if err != nil || strings.Contains(string(stored.Hash), secret[len(secret)-20:]) || len(stored.Hash) != 32 {
		t.Errorf("stored key = %+v, %v; want only a 32-byte hash", stored, err)
	}
	last := "a"
	if strings.HasSuffix(secret, "a") {
		last = "b"
	}
	wrongSecret := secret[:len(secret)-1] + last
	for _, bad := range []string{"", "bsk_", "bsk_x_y", "nope", secret + "x", wrongSecret, strings.Replace(secret, k.ID, "aaaaaaaaaaaaaaaa", 1), "bsk_" + k.ID + "_" + strings.Repeat("a", 200)} {
		if _, err := keys.Authenticate(ctx, bad); basalt.ErrorCode(err) != basalt.CodeUnauthenticated {
			t.Errorf("Authenticate(%q) = %v, want unauthenticated", bad, err)
		}
	}
	for _, tc := range []struct {
		name string
		role basalt.Role
	}{{"", basalt.RoleAdmin}, {strings.Repeat("n", 101), basalt.RoleAdmin}, {"x", "root"}} {
		if _, _, err := keys.Create(ctx, tc.name, tc.role, ""); basalt.ErrorCode(err) != basalt.CodeValidation {
			t.Errorf("Create(%q, %q) = %v, want a validation error", tc.name, tc.role, err)
		}
	}
}

func TestKeysAreDistinct(t *testing.T) {
	keys, _ := newKeys(t, nil)
	seen := map[string]bool{}
	for range 50 {
		secret, _, err := keys.Create(context.Background(), "k", basalt.RoleAdmin, "")
		if err != nil {
			t.Fatal(err)
		}
		if seen[secret] {
			t.Fatalf("key %s made twice", secret)
		}
		seen[secret] = true
	}
}

func TestKeyCacheExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys, _ := newKeys(t, func() time.Time { return now })
	secret, _, _ := keys.Create(ctx, "k", basalt.RoleAdmin, "")
	if _, err := keys.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// A wrong secret is refused even while the key is cached.
	if _, err := keys.Authenticate(ctx, secret[:len(secret)-2]+"22"); basalt.ErrorCode(err) != basalt.CodeUnauthenticated {
		t.Errorf("wrong secret for a cached key = %v, want unauthenticated", err)
	}
	now = now.Add(keys.CacheTTL + time.Second)
	if _, err := keys.Authenticate(ctx, secret); err != nil {
		t.Errorf("after the cache expired, Authenticate() = %v", err)
	}
}
