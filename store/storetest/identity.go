package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func testIdentity(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("Users", func(t *testing.T) {
		t.Parallel()
		testUsers(t, open(t, newDB))
	})
	t.Run("Sessions", func(t *testing.T) {
		t.Parallel()
		testSessions(t, open(t, newDB))
	})
	t.Run("RefreshRace", func(t *testing.T) {
		t.Parallel()
		testRefreshRace(t, open(t, newDB))
	})
	t.Run("LoginFailures", func(t *testing.T) {
		t.Parallel()
		testLoginFailures(t, open(t, newDB))
	})
	t.Run("EmailTokens", func(t *testing.T) {
		t.Parallel()
		testEmailTokens(t, open(t, newDB))
	})
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := &store.User{ID: "u1", Email: "ada@example.com", Name: "Ada", Password: "$argon2id$x", RecoveryCodes: []string{"aa", "bb"}, Created: testNow, Updated: testNow}
	audit := &store.AuditEntry{TenantID: basalt.DefaultTenant, Time: testNow, Actor: "user:u1", Action: "user.signup", Target: "u1", IP: "127.0.0.1", Details: json.RawMessage(`{"email":"ada@example.com"}`)}
	if err := s.UserCreate(ctx, u, &store.Membership{TenantID: basalt.DefaultTenant, UserID: "u1", Role: "member", Created: testNow}, audit); err != nil {
		t.Fatalf("UserCreate() = %v", err)
	}
	dup := *u
	dup.ID = "u2"
	wantCode(t, "UserCreate(same email)", s.UserCreate(ctx, &dup, nil, nil), basalt.CodeConflict)
	got, err := s.UserByEmail(ctx, "ada@example.com")
	if err != nil || got.ID != "u1" || got.Name != "Ada" || len(got.RecoveryCodes) != 2 || got.Verified || !got.Created.Equal(testNow) {
		t.Fatalf("UserByEmail() = %+v, %v", got, err)
	}
	got.Verified, got.TOTPSecret, got.TOTPEnabled, got.RecoveryCodes = true, "enc", true, nil
	if err := s.UserUpdate(ctx, got, nil); err != nil {
		t.Fatal(err)
	}
	again, _ := s.UserGet(ctx, "u1")
	if !again.Verified || again.TOTPSecret != "enc" || !again.TOTPEnabled || len(again.RecoveryCodes) != 0 {
		t.Errorf("after UserUpdate = %+v", again)
	}
	_, err = s.UserGet(ctx, "nope")
	wantCode(t, "UserGet(unknown)", err, basalt.CodeNotFound)

	if err := s.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "Acme", Created: testNow, Updated: testNow},
		&store.Membership{TenantID: "acme", UserID: "u1", Role: "owner", Created: testNow.Add(time.Second)}, nil); err != nil {
		t.Fatalf("TenantCreate() = %v", err)
	}
	wantCode(t, "TenantCreate(same id)", s.TenantCreate(ctx, &store.Tenant{ID: "acme", Name: "x", Created: testNow, Updated: testNow}, nil, nil), basalt.CodeConflict)
	ms, err := s.MembershipsOfUser(ctx, "u1")
	if err != nil || len(ms) != 2 || ms[0].TenantID != basalt.DefaultTenant || ms[1].Role != "owner" {
		t.Errorf("MembershipsOfUser() = %+v, %v", ms, err)
	}
	m, err := s.MembershipGet(ctx, "acme", "u1")
	if err != nil || m.Role != "owner" {
		t.Errorf("MembershipGet() = %+v, %v", m, err)
	}
	if err := s.TenantRename(ctx, "acme", "Acme Inc", testNow, nil); err != nil {
		t.Fatal(err)
	}
	if tn, _ := s.TenantGet(ctx, "acme"); tn.Name != "Acme Inc" {
		t.Errorf("after rename, tenant = %+v", tn)
	}
	entries, err := s.AuditList(ctx, basalt.DefaultTenant, 0, 10)
	if err != nil || len(entries) != 1 || entries[0].Action != "user.signup" || string(entries[0].Details) != `{"email":"ada@example.com"}` {
		t.Errorf("AuditList() = %+v, %v", entries, err)
	}
	if other, _ := s.AuditList(ctx, "acme", 0, 10); len(other) != 0 {
		t.Errorf("another tenant's audit holds %v", other)
	}
}

func newSession(id string) *store.Session {
	return &store.Session{ID: id, UserID: "u1", TenantID: "acme", Created: testNow, LastUsed: testNow, Expires: testNow.Add(time.Hour), UserAgent: "test", IP: "127.0.0.1"}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"s1", "s2", "s3"} {
		if err := s.SessionCreate(ctx, newSession(id), "h-"+id, nil); err != nil {
			t.Fatalf("SessionCreate(%s) = %v", id, err)
		}
	}
	now := testNow.Add(time.Minute)
	x, err := s.SessionRefresh(ctx, "h-s1", "h-s1b", "other", now)
	if err != nil || x.ID != "s1" || x.TenantID != "other" || !x.LastUsed.Equal(now) {
		t.Fatalf("SessionRefresh() = %+v, %v", x, err)
	}
	if _, err := s.SessionRefresh(ctx, "h-s1b", "h-s1c", "", now); err != nil {
		t.Fatalf("SessionRefresh(rotated token) = %v", err)
	}
	// The spent token comes back: the whole family is revoked.
	_, err = s.SessionRefresh(ctx, "h-s1", "h-x", "", now)
	wantCode(t, "SessionRefresh(spent token)", err, basalt.CodeUnauthenticated)
	if reused := (*store.RefreshReusedError)(nil); !errors.As(err, &reused) || reused.Session != "s1" {
		t.Errorf("SessionRefresh(spent token) = %v, want a *store.RefreshReusedError naming s1", err)
	}
	_, err = s.SessionRefresh(ctx, "h-s1c", "h-y", "", now)
	wantCode(t, "SessionRefresh(newest token of a revoked family)", err, basalt.CodeUnauthenticated)
	if got, _ := s.SessionGet(ctx, "s1"); got.Revoked.IsZero() || got.RevokedWhy != "refresh token reused" {
		t.Errorf("session after reuse = %+v, want revoked", got)
	}
	_, err = s.SessionRefresh(ctx, "unknown", "h-z", "", now)
	wantCode(t, "SessionRefresh(unknown token)", err, basalt.CodeUnauthenticated)
	_, err = s.SessionRefresh(ctx, "h-s2", "h-z", "", testNow.Add(2*time.Hour))
	wantCode(t, "SessionRefresh(expired session)", err, basalt.CodeUnauthenticated)

	live, _ := s.SessionsOfUser(ctx, "u1", now)
	if len(live) != 2 {
		t.Errorf("SessionsOfUser() = %d sessions, want 2 (s2, s3)", len(live))
	}
	n, err := s.SessionRevoke(ctx, "u1", "", "s3", "logout everywhere", now, nil)
	if err != nil || n != 1 {
		t.Errorf("SessionRevoke(all but s3) = %d, %v, want 1", n, err)
	}
	_, err = s.SessionRevoke(ctx, "u2", "s3", "", "x", now, nil)
	wantCode(t, "SessionRevoke(another user's session)", err, basalt.CodeNotFound)
	revoked, err := s.SessionsRevokedSince(ctx, testNow)
	if err != nil || len(revoked) != 2 {
		t.Errorf("SessionsRevokedSince() = %v, %v, want s1 and s2", revoked, err)
	}
}

// testRefreshRace uses one refresh token from many goroutines at once:
// exactly one succeeds and the rest revoke the session.
func testRefreshRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.SessionCreate(ctx, newSession("r1"), "h0", nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.SessionRefresh(ctx, "h0", "next"+string(rune('a'+i)), "", testNow.Add(time.Second)); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d concurrent uses of one refresh token succeeded, want 1", ok)
	}
}

func testLoginFailures(t *testing.T, s store.Store) {
	ctx := context.Background()
	f, err := s.LoginFailures(ctx, "acct:a")
	if err != nil || f.Failures != 0 {
		t.Fatalf("LoginFailures(new) = %+v, %v", f, err)
	}
	for i := 1; i <= 3; i++ {
		f, err = s.LoginFailed(ctx, "acct:a", testNow, 3)
		if err != nil || f.Failures != i || f.Locked != (i >= 3) {
			t.Fatalf("LoginFailed #%d = %+v, %v", i, f, err)
		}
	}
	if err := s.LoginSucceeded(ctx, "acct:a"); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.LoginFailures(ctx, "acct:a"); f.Failures != 0 || f.Locked {
		t.Errorf("after LoginSucceeded = %+v", f)
	}
}

func testEmailTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.EmailTokenCreate(ctx, &store.EmailToken{Hash: "t1", UserID: "u1", Kind: "verify", Expires: testNow.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err := s.EmailTokenUse(ctx, "t1", "reset", testNow)
	wantCode(t, "EmailTokenUse(other kind)", err, basalt.CodeNotFound)
	got, err := s.EmailTokenUse(ctx, "t1", "verify", testNow)
	if err != nil || got.UserID != "u1" {
		t.Fatalf("EmailTokenUse() = %+v, %v", got, err)
	}
	_, err = s.EmailTokenUse(ctx, "t1", "verify", testNow)
	wantCode(t, "EmailTokenUse(twice)", err, basalt.CodeNotFound)
	s.EmailTokenCreate(ctx, &store.EmailToken{Hash: "t2", UserID: "u1", Kind: "verify", Expires: testNow})
	_, err = s.EmailTokenUse(ctx, "t2", "verify", testNow)
	wantCode(t, "EmailTokenUse(expired)", err, basalt.CodeNotFound)
}
