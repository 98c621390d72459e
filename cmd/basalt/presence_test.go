package main_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"basalt.dev/basalt/internal/testdb"
	sse "github.com/tmaxmax/go-sse"
)

// TestPresenceOfKilledNode runs two servers on one PostgreSQL database,
// puts a client of each in a channel with presence, and kills one server
// with SIGKILL: it can neither tell the channel nor delete its client's
// entry. Within the presence TTL the survivor sweeps the entry, tells its
// own client that the other left, and lists it no more.
func TestPresenceOfKilledNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills servers")
	}
	t.Parallel()
	env, _ := postgresEnv(t)
	key := createKey(t, env)
	const ttl = 1500 * time.Millisecond
	killed := start(t, env, "--realtime-presence-ttl", ttl.String())
	survivor := start(t, env, "--realtime-presence-ttl", ttl.String())
	resp, body, err := call(killed.url, key, "POST", "/api/collections", map[string]any{"name": "rooms",
		"fields": []map[string]any{{"name": "title", "type": "text"}}, "rules": map[string]any{"list": "", "view": ""}})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create collection: %v %s", err, body)
	}
	waitFor(t, 10*time.Second, "the survivor knows the collection", func() bool {
		resp, _, err := call(survivor.url, key, "GET", "/api/collections/rooms/records", nil)
		return err == nil && resp.StatusCode == http.StatusOK
	})

	watcher := presenceClient(t, survivor.url, key, `{"on":"survivor"}`)
	mine := watcher.next(t, "joined")["key"]
	watcher.next(t, "presence") // its own join
	gone := presenceClient(t, killed.url, key, `{"on":"killed"}`)
	goneKey := gone.next(t, "joined")["key"]
	if m := watcher.next(t, "presence"); m["op"] != "join" || m["key"] != goneKey {
		t.Fatalf("the survivor's client sees %v, want the other's join", m)
	}
	listed := func() []any {
		_, body, err := call(survivor.url, key, "GET", "/api/realtime/presence?channel=rooms", nil)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Items []map[string]any }
		json.Unmarshal(body, &page)
		var keys []any
		for _, e := range page.Items {
			keys = append(keys, e["key"])
		}
		return keys
	}
	if got := listed(); !slices.Equal(got, []any{mine, goneKey}) {
		t.Fatalf("presence = %v, want both clients", got)
	}

	killed.cmd.Process.Kill()
	killed.cmd.Wait()
	at := time.Now()
	if m := watcher.next(t, "presence"); m["op"] != "leave" || m["key"] != goneKey {
		t.Fatalf("after the kill the survivor's client sees %v, want the other's leave", m)
	}
	if took := time.Since(at); took > ttl+ttl/3+2*time.Second {
		t.Errorf("the leave came %v after the kill; the TTL is %v", took, ttl)
	}
	if got := listed(); !slices.Equal(got, []any{mine}) {
		t.Errorf("presence after the kill = %v, want the survivor's client alone", got)
	}
}

// postgresEnv returns the environment of servers on a fresh PostgreSQL
// schema, connected as an ordinary role, as production should be, and
// the URL of the schema for the test's own reads, as a superuser.
func postgresEnv(t *testing.T) (env []string, dbURL string) {
	t.Helper()
	pgURL := testdb.PostgresURL(t)
	roleURL, schema := testdb.Role(t, pgURL)
	return []string{"BASALT_DB=" + testdb.WithSearchPath(roleURL, schema),
		"BASALT_SECRET_KEY=" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))}, testdb.WithSearchPath(pgURL, schema)
}

// sseFrames is a go-sse connection to a channel, frame by frame.
type sseFrames struct {
	frames chan sse.Event
	done   chan struct{}
}

func presenceClient(t *testing.T, base, key, meta string) *sseFrames {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/realtime?channel=rooms&presence="+url.QueryEscape(meta), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	c := &sse.Client{HTTPClient: &http.Client{}, Backoff: sse.Backoff{MaxRetries: -1}}
	conn := c.NewConnection(req)
	f := &sseFrames{frames: make(chan sse.Event, 100), done: make(chan struct{})}
	conn.SubscribeToAll(func(e sse.Event) {
		if e.Data != "" {
			f.frames <- e
		}
	})
	go func() {
		defer close(f.done)
		conn.Connect()
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

// next returns the data of the next frame, which must be of type typ.
func (f *sseFrames) next(t *testing.T, typ string) map[string]any {
	t.Helper()
	select {
	case e := <-f.frames:
		var m map[string]any
		if err := json.Unmarshal([]byte(e.Data), &m); err != nil || e.Type != typ {
			t.Fatalf("frame %s %s, want a %s frame (%v)", e.Type, e.Data, typ, err)
		}
		return m
	case <-f.done:
		t.Fatalf("the stream ended, waiting for a %s frame", typ)
	case <-time.After(15 * time.Second):
		t.Fatalf("no %s frame before the deadline", typ)
	}
	return nil
}
