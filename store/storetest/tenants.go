package storetest

import (
	"context"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func testTenants(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, newDB)
	for _, id := range []string{"u1", "u2"} {
		u := &store.User{ID: id, Email: id + "@example.com", Password: "x", Created: testNow, Updated: testNow}
		if err := s.UserCreate(ctx, u, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme", Created: testNow, Updated: testNow},
		&store.Membership{TenantID: "acme", UserID: "u1", Role: "owner", Created: testNow}, nil); err != nil {
		t.Fatal(err)
	}
	// Roles and members.
	if err := s.RoleCreate(ctx, "acme", "editor", testNow, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "RoleCreate(twice)", s.RoleCreate(ctx, "acme", "editor", testNow, nil), basalt.CodeConflict)
	if err := s.MembershipPut(ctx, &store.Membership{TenantID: "acme", UserID: "u2", Role: "editor", Created: testNow}, nil); err != nil {
		t.Fatal(err)
	}
	// u2's sessions: one acting in acme, one elsewhere. A role change or a
	// removal ends the first (its tokens name acme and the old role).
	session := func(id, tenant string) {
		t.Helper()
		x := &store.Session{ID: id, UserID: "u2", TenantID: tenant, Created: testNow, LastUsed: testNow, Expires: testNow.Add(time.Hour)}
		if err := s.SessionCreate(ctx, x, "h-"+id, nil); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(id string) bool {
		t.Helper()
		x, err := s.SessionGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return !x.Revoked.IsZero()
	}
	session("u2-acme", "acme")
	session("u2-other", "other")
	if err := s.MembershipPut(ctx, &store.Membership{TenantID: "acme", UserID: "u2", Role: "editor", Created: testNow}, nil); err != nil {
		t.Fatal(err)
	}
	if revoked("u2-acme") {
		t.Error("putting the same role revoked the member's session")
	}
	wantCode(t, "RoleDelete(held)", s.RoleDelete(ctx, "acme", "editor", nil), basalt.CodeConflict)
	if err := s.MembershipPut(ctx, &store.Membership{TenantID: "acme", UserID: "u2", Role: "member", Created: testNow}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RoleDelete(ctx, "acme", "editor", nil); err != nil {
		t.Errorf("RoleDelete(free) = %v", err)
	}
	if !revoked("u2-acme") || revoked("u2-other") {
		t.Errorf("after a role change: session in acme revoked %v (want true), elsewhere %v (want false)", revoked("u2-acme"), revoked("u2-other"))
	}
	session("u2-acme2", "acme")
	members, err := s.MembershipsOfTenant(ctx, "acme")
	if err != nil || len(members) != 2 || members[1].Email != "u2@example.com" || members[1].Role != "member" {
		t.Fatalf("MembershipsOfTenant() = %+v, %v", members, err)
	}
	wantCode(t, "MembershipDelete(stranger)", s.MembershipDelete(ctx, "acme", "nobody", nil), basalt.CodeNotFound)
	if err := s.MembershipDelete(ctx, "acme", "u2", nil); err != nil {
		t.Fatal(err)
	}
	if !revoked("u2-acme2") || revoked("u2-other") {
		t.Errorf("after a removal: session in acme revoked %v (want true), elsewhere %v (want false)", revoked("u2-acme2"), revoked("u2-other"))
	}

	// Invitations: for one address, once, before they expire.
	inv := &store.Invite{TenantID: "acme", ID: "i1", Email: "u2@example.com", Role: "member", Hash: "h1", Inviter: "u1", Created: testNow, Expires: testNow.Add(time.Hour)}
	if err := s.InviteCreate(ctx, inv, nil); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.Invites(ctx, "acme", testNow); len(open) != 1 {
		t.Errorf("Invites() = %d, want 1", len(open))
	}
	_, err = s.InviteAccept(ctx, "h1", "u1", "u1@example.com", testNow)
	wantCode(t, "InviteAccept(another address)", err, basalt.CodeNotFound)
	if _, err := s.InviteAccept(ctx, "h1", "u2", "u2@example.com", testNow); err != nil {
		t.Fatalf("InviteAccept() = %v", err)
	}
	_, err = s.InviteAccept(ctx, "h1", "u2", "u2@example.com", testNow)
	wantCode(t, "InviteAccept(twice)", err, basalt.CodeNotFound)
	if m, err := s.MembershipGet(ctx, "acme", "u2"); err != nil || m.Role != "member" {
		t.Errorf("after accepting, membership = %+v, %v", m, err)
	}

	// Deleting a tenant deletes its data and nothing else.
	c := MustCollection(t, s, postsDef())
	MustInsert(t, s, "acme", c, NewRecord("a", map[string]any{"title": "acme's"}))
	MustInsert(t, s, "other", c, NewRecord("a", map[string]any{"title": "other's"}))
	if err := s.SessionCreate(ctx, &store.Session{ID: "s1", UserID: "u1", TenantID: "acme", Created: testNow, LastUsed: testNow, Expires: testNow.Add(time.Hour)}, "hs", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.TenantDelete(ctx, "acme", []string{basalt.TableName(c.Name)}, testNow); err != nil {
		t.Fatalf("TenantDelete() = %v", err)
	}
	_, err = s.RecordGet(ctx, &store.RecordGetParams{TenantID: "acme", Collection: c, ID: "a"})
	wantCode(t, "the deleted tenant's record", err, basalt.CodeNotFound)
	if r, err := s.RecordGet(ctx, &store.RecordGetParams{TenantID: "other", Collection: c, ID: "a"}); err != nil || r.Data["title"] != "other's" {
		t.Errorf("another tenant's record after the delete = %v, %v", r, err)
	}
	if ev, _ := s.EventList(ctx, &store.EventListParams{TenantID: "acme", Limit: 10}); len(ev) != 0 {
		t.Errorf("the deleted tenant still has %d events", len(ev))
	}
	if ms, _ := s.MembershipsOfUser(ctx, "u1"); len(ms) != 0 {
		t.Errorf("memberships of a deleted tenant remain: %v", ms)
	}
	if x, _ := s.SessionGet(ctx, "s1"); x.Revoked.IsZero() {
		t.Errorf("a session acting in the deleted tenant is live: %+v", x)
	}
	_, err = s.TenantGet(ctx, "acme")
	wantCode(t, "TenantGet(deleted)", err, basalt.CodeNotFound)
}
