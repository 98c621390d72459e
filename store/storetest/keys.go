package storetest

import (
	"bytes"
	"context"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func testKeys(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	k := &store.Key{ID: "abc", TenantID: "acme", Name: "ci", Role: basalt.RoleService, Hash: []byte{1, 2, 3}, Created: testNow}
	if err := s.KeyInsert(ctx, k); err != nil {
		t.Fatalf("KeyInsert() = %v", err)
	}
	wantCode(t, "KeyInsert(duplicate)", s.KeyInsert(ctx, k), basalt.CodeConflict)
	got, err := s.KeyGet(ctx, "abc")
	if err != nil || got.TenantID != "acme" || got.Role != basalt.RoleService || !bytes.Equal(got.Hash, k.Hash) || !got.Created.Equal(testNow) || got.Name != "ci" {
		t.Fatalf("KeyGet() = %+v, %v; want %+v", got, err, k)
	}
	_, err = s.KeyGet(ctx, "nope")
	wantCode(t, "KeyGet(unknown)", err, basalt.CodeNotFound)
}
