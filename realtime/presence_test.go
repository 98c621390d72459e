package realtime_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/store"
)

// presenceNode is one node's channels and presence, running.
type presenceNode struct {
	ch   *realtime.Channels
	p    *realtime.Presence
	stop func() // as a killed node: no more refreshes, no leaves
}

// presenceNodes starts n nodes on one SQLite store, joined by a bus, with
// a short TTL so that expiry shows within a test.
func presenceNodes(t *testing.T, n int, ttl time.Duration) []*presenceNode {
	t.Helper()
	ctx := context.Background()
	db := openSQLite(t)
	chans, _ := newNodes(n)
	var out []*presenceNode
	for _, ch := range chans {
		p := realtime.NewPresence(ch, db, ttl, nil, nil)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); p.Run(rctx) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		out = append(out, &presenceNode{ch: ch, p: p, stop: stop})
	}
	return out
}

type presenceEvent struct {
	Channel string          `json:"channel"`
	Op      string          `json:"op"`
	Key     string          `json:"key"`
	Kind    string          `json:"kind"`
	ID      *string         `json:"id"`
	Meta    json.RawMessage `json:"meta"`
	Since   time.Time       `json:"since"`
}

// nextPresence waits for m's next presence message.
func nextPresence(t *testing.T, m *realtime.Member) presenceEvent {
	t.Helper()
	select {
	case msg := <-m.C():
		var e presenceEvent
		if msg.Type != realtime.TypePresence {
			t.Fatalf("message of type %q, want presence", msg.Type)
		}
		if err := json.Unmarshal(msg.Body, &e); err != nil {
			t.Fatalf("presence body %s: %v", msg.Body, err)
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no presence message before the deadline")
	}
	return presenceEvent{}
}

func listKeys(t *testing.T, p *realtime.Presence, tenant, channel string) []string {
	t.Helper()
	list, err := p.List(context.Background(), tenant, channel, 100)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Key)
	}
	return out
}

// TestPresence checks joins and leaves across nodes: listed on every
// node, told to the channel's members on every node, once each.
func TestPresence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nodes := presenceNodes(t, 2, time.Minute)
	a, b := nodes[0], nodes[1]
	watcher := realtime.NewMember(16)
	b.ch.Join(watcher, "t1", "docs/1")

	if err := a.p.Join(ctx, store.PresenceEntry{TenantID: "t1", Channel: "docs/1", Key: "k1", Kind: "user", PrincipalID: "ada", Meta: json.RawMessage(`{"name":"Ada"}`)}); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	if err := a.p.Join(ctx, store.PresenceEntry{TenantID: "t2", Channel: "docs/1", Key: "k2", Kind: "anonymous"}); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	e := nextPresence(t, watcher)
	if e.Op != "join" || e.Channel != "docs/1" || e.Key != "k1" || e.Kind != "user" || e.ID == nil || *e.ID != "ada" || string(e.Meta) != `{"name":"Ada"}` || e.Since.IsZero() {
		t.Errorf("join = %+v", e)
	}
	if got := listKeys(t, b.p, "t1", "docs/1"); !slices.Equal(got, []string{"k1"}) {
		t.Errorf("List(t1) on the other node = %v, want [k1]", got)
	}
	if got := listKeys(t, b.p, "t2", "docs/1"); !slices.Equal(got, []string{"k2"}) {
		t.Errorf("List(t2) = %v, want [k2]", got)
	}
	if a.p.Entries() != 2 || b.p.Entries() != 0 {
		t.Errorf("Entries() = %d, %d; want 2 on the node that holds them, 0", a.p.Entries(), b.p.Entries())
	}

	if err := a.p.Leave(ctx, "t1", "docs/1", "k1"); err != nil {
		t.Fatalf("Leave() = %v", err)
	}
	if err := a.p.Leave(ctx, "t1", "docs/1", "k1"); err != nil { // again: nothing to tell
		t.Fatalf("Leave() again = %v", err)
	}
	if e := nextPresence(t, watcher); e.Op != "leave" || e.Key != "k1" {
		t.Errorf("leave = %+v", e)
	}
	if got := listKeys(t, b.p, "t1", "docs/1"); len(got) != 0 {
		t.Errorf("List() after the leave = %v", got)
	}
	select {
	case m := <-watcher.C():
		t.Errorf("one more message after the leave: %s", m.Body)
	default:
	}
}

// TestPresenceKilledNode checks that a node that stops without leaving
// (killed) keeps no one present past the TTL: another node sweeps its
// entries and tells the channel, once; a node that runs keeps its own.
func TestPresenceKilledNode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	nodes := presenceNodes(t, 3, ttl)
	killed, survivor, other := nodes[0], nodes[1], nodes[2]
	watcher := realtime.NewMember(16)
	survivor.ch.Join(watcher, "t", "room")
	for _, j := range []struct {
		n   *presenceNode
		key string
	}{{killed, "gone"}, {survivor, "stays"}} {
		if err := j.n.p.Join(ctx, store.PresenceEntry{TenantID: "t", Channel: "room", Key: j.key, Kind: "user", PrincipalID: j.key}); err != nil {
			t.Fatal(err)
		}
		if e := nextPresence(t, watcher); e.Op != "join" || e.Key != j.key {
			t.Fatalf("join = %+v, want %s", e, j.key)
		}
	}
	killed.stop()
	e := nextPresence(t, watcher)
	if e.Op != "leave" || e.Key != "gone" {
		t.Errorf("after the kill = %+v, want gone's leave", e)
	}
	if got := listKeys(t, other.p, "t", "room"); !slices.Equal(got, []string{"stays"}) {
		t.Errorf("List() after the kill = %v, want [stays]", got)
	}
	// Several TTLs later the survivor's entry is still there, and no
	// other message came: the leave was told once, by one sweeper.
	deadline := time.Now().Add(3 * ttl)
	for time.Now().Before(deadline) {
		select {
		case m := <-watcher.C():
			t.Fatalf("a message after the leave: %s", m.Body)
		case <-time.After(ttl / 3):
		}
		if got := listKeys(t, other.p, "t", "room"); !slices.Equal(got, []string{"stays"}) {
			t.Fatalf("List() = %v, want [stays]: the survivor refreshes its entry", got)
		}
	}
}
