package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt/store"
)

// testPresence checks the presence of connections in realtime channels
// across nodes: entries scoped by tenant and channel, listed until they
// expire, kept alive by their node, and each expired or deleted entry
// claimed by one node only.
func testPresence(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoNodes(t, newDB(t))

	now := testNow
	entry := func(tenant, channel, key, node string, since time.Duration) *store.PresenceEntry {
		return &store.PresenceEntry{TenantID: tenant, Channel: channel, Key: key, Kind: "user", PrincipalID: "u_" + key,
			Meta: json.RawMessage(`{"name":"` + key + `"}`), Node: node, Since: now.Add(since), Expires: now.Add(30 * time.Second)}
	}
	put := func(s store.Store, e *store.PresenceEntry) {
		t.Helper()
		if err := s.PresencePut(ctx, e); err != nil {
			t.Fatalf("PresencePut(%s %s %s) = %v", e.TenantID, e.Channel, e.Key, err)
		}
	}
	keys := func(s store.Store, tenant, channel string, at time.Time) []string {
		t.Helper()
		list, err := s.PresenceList(ctx, tenant, channel, at, 100)
		if err != nil {
			t.Fatalf("PresenceList(%s, %s) = %v", tenant, channel, err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.Key)
		}
		return out
	}
	wantKeys := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	put(a, entry("t1", "docs/1", "k2", "A", time.Second))
	put(a, entry("t1", "docs/1", "k1", "A", 0))
	put(b, entry("t1", "docs/1", "k3", "B", 2*time.Second))
	put(b, entry("t2", "docs/1", "k4", "B", 0)) // another tenant's channel of the same name
	put(a, entry("t1", "docs/2", "k5", "A", 0))
	wantKeys("PresenceList(t1, docs/1)", keys(b, "t1", "docs/1", now), "k1", "k2", "k3")
	wantKeys("PresenceList(t2, docs/1)", keys(a, "t2", "docs/1", now), "k4")
	wantKeys("PresenceList(t1, docs/3)", keys(a, "t1", "docs/3", now))

	list, err := a.PresenceList(ctx, "t1", "docs/1", now, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("PresenceList(limit 1) = %v, %v; want one entry", list, err)
	}
	want := entry("t1", "docs/1", "k1", "A", 0)
	got := list[0]
	if got.TenantID != want.TenantID || got.Channel != want.Channel || got.Key != want.Key || got.Kind != want.Kind || got.PrincipalID != want.PrincipalID ||
		string(got.Meta) != string(want.Meta) || got.Node != want.Node || !got.Since.Equal(want.Since) || !got.Expires.Equal(want.Expires) {
		t.Errorf("PresenceList() = %+v, want %+v", got, *want)
	}

	// A put of the same key replaces the entry: its meta changes.
	e := entry("t1", "docs/1", "k2", "A", time.Second)
	e.Meta = json.RawMessage(`{"name":"k2","typing":true}`)
	put(a, e)
	list, _ = b.PresenceList(ctx, "t1", "docs/1", now, 100)
	if len(list) != 3 || string(list[1].Meta) != string(e.Meta) {
		t.Errorf("PresenceList() after a second put = %+v, want k2 with meta %s", list, e.Meta)
	}

	// Entries not refreshed are not listed once expired; a refresh keeps
	// a node's entries, and only its own.
	later := now.Add(40 * time.Second)
	wantKeys("PresenceList(after expiry)", keys(a, "t1", "docs/1", later))
	if n, err := b.PresenceRefresh(ctx, "B", now.Add(60*time.Second)); err != nil || n != 2 {
		t.Fatalf("PresenceRefresh(B) = %d, %v; want 2", n, err)
	}
	wantKeys("PresenceList(B refreshed)", keys(a, "t1", "docs/1", later), "k3")
	if n, err := a.PresenceRefresh(ctx, "C", later); err != nil || n != 0 {
		t.Fatalf("PresenceRefresh(a node without entries) = %d, %v; want 0", n, err)
	}

	// Deleting reports whether the entry was there, expired or not.
	for _, c := range []struct {
		tenant, channel, key string
		want                 bool
	}{{"t1", "docs/2", "k5", true}, {"t1", "docs/2", "k5", false}, {"t2", "docs/1", "k1", false}} {
		if ok, err := b.PresenceDelete(ctx, c.tenant, c.channel, c.key); err != nil || ok != c.want {
			t.Errorf("PresenceDelete(%s, %s, %s) = %v, %v; want %v", c.tenant, c.channel, c.key, ok, err, c.want)
		}
	}

	// Both nodes sweep at once: each expired entry goes to one of them,
	// and entries still alive stay.
	for i := range 20 {
		put(a, entry("t3", "room", fmt.Sprintf("x%02d", i), "A", 0))
	}
	var (
		mu    sync.Mutex
		swept []string
		wg    sync.WaitGroup
	)
	for _, s := range []store.Store{a, b} {
		wg.Go(func() {
			for {
				got, err := s.PresenceExpire(ctx, later, 7)
				if err != nil {
					t.Errorf("PresenceExpire() = %v", err)
					return
				}
				mu.Lock()
				for _, e := range got {
					swept = append(swept, e.TenantID+" "+e.Channel+" "+e.Key)
				}
				mu.Unlock()
				if len(got) < 7 {
					return
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(swept)
	var wantSwept []string
	for i := range 20 {
		wantSwept = append(wantSwept, fmt.Sprintf("t3 room x%02d", i))
	}
	wantSwept = append(wantSwept, "t1 docs/1 k1", "t1 docs/1 k2")
	slices.Sort(wantSwept)
	if !slices.Equal(swept, wantSwept) {
		t.Errorf("PresenceExpire() on two nodes swept\n %v\nwant each expired entry once:\n %v", swept, wantSwept)
	}
	wantKeys("PresenceList(after the sweep)", keys(a, "t1", "docs/1", now), "k3")
	wantKeys("PresenceList(t2 after the sweep)", keys(a, "t2", "docs/1", now), "k4")
	if ok, err := a.PresenceDelete(ctx, "t1", "docs/1", "k1"); err != nil || ok {
		t.Errorf("PresenceDelete(swept) = %v, %v; want false", ok, err)
	}
}
