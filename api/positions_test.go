package api_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
)

// position returns the Basalt-Position of a write's response.
func position(t *testing.T, r *apitest.Response) string {
	t.Helper()
	p := r.Header.Get("Basalt-Position")
	if n, err := strconv.ParseInt(p, 10, 64); err != nil || n <= 0 {
		t.Fatalf("%s: Basalt-Position = %q, want a log position", r.Request.Method, p)
	}
	return p
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// TestWritePositions checks that record writes tell their log position,
// that reads take it back (and refuse a malformed one), and that the
// caches report on /metrics.
func TestWritePositions(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "notes", "fields": []map[string]any{{"name": "n", "type": "number"}}}, 201)
		created := s.Do(t, apitest.Request{Method: "POST", Path: "/api/collections/notes/records", Key: s.AdminKey, Body: map[string]any{"n": 1}})
		id, _ := created.JSON(t)["id"].(string)
		p1 := position(t, created)
		updated := s.Do(t, apitest.Request{Method: "PATCH", Path: "/api/collections/notes/records/" + id, Key: s.AdminKey, Body: map[string]any{"n": 2}})
		p2 := position(t, updated)
		if n1, _ := strconv.ParseInt(p1, 10, 64); mustInt(p2) <= n1 {
			t.Errorf("update position %s not after create position %s", p2, p1)
		}
		for _, path := range []string{"/api/collections/notes/records/" + id, "/api/collections/notes/records?filter=n%3D2"} {
			r := s.Do(t, apitest.Request{Method: "GET", Path: path, Key: s.AdminKey, Header: map[string]string{"Basalt-Min-Position": p2}})
			if r.StatusCode != 200 || !strings.Contains(string(r.Body), `"n":2`) {
				t.Errorf("GET %s after position %s = %d %s", path, p2, r.StatusCode, r.Body)
			}
			for _, bad := range []string{"x", "-1", "1.5"} {
				r := s.Do(t, apitest.Request{Method: "GET", Path: path, Key: s.AdminKey, Header: map[string]string{"Basalt-Min-Position": bad}})
				if r.StatusCode != 400 || r.Code(t) != "validation" {
					t.Errorf("GET %s with Basalt-Min-Position %q = %d %s, want 400 validation", path, bad, r.StatusCode, r.Body)
				}
			}
		}
		deleted := s.Do(t, apitest.Request{Method: "DELETE", Path: "/api/collections/notes/records/" + id, Key: s.AdminKey})
		position(t, deleted)
		metrics := string(s.Do(t, apitest.Request{Method: "GET", Path: "/metrics"}).Body)
		for _, m := range []string{`basalt_cache_hits_total{cache="lists",tier="local"}`, `basalt_cache_misses_total{cache="records",tier="local"}`,
			`basalt_cache_invalidations_total{cache="records",tier="local"}`, "basalt_cache_position"} {
			if !strings.Contains(metrics, m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})
}

// TestReadYourWritesAcrossNodes runs two nodes on one PostgreSQL
// database, the second holding the record and a list page in its cache:
// a read on the second node that sends the position of a write on the
// first sees that write at once, every time.
func TestReadYourWritesAcrossNodes(t *testing.T) {
	cfg := apitest.Config(t, apitest.Postgres)
	a := apitest.StartConfig(t, cfg)
	b := apitest.StartConfig(t, cfg)
	a.Admin(t, "POST", "/api/collections", map[string]any{"name": "shared", "fields": []map[string]any{{"name": "n", "type": "number"}}}, 201)
	deadline := time.Now().Add(10 * time.Second)
	for b.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/shared/records", Key: b.AdminKey}).StatusCode != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the second node never saw the new collection")
		}
		time.Sleep(50 * time.Millisecond)
	}
	id, _ := a.Admin(t, "POST", "/api/collections/shared/records", map[string]any{"n": 0}, 201)["id"].(string)
	list := "/api/collections/shared/records?filter=n%3E%3D0"
	for i := 1; i <= 20; i++ {
		b.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/shared/records/" + id, Key: b.AdminKey}) // cached on b
		b.Do(t, apitest.Request{Method: "GET", Path: list, Key: b.AdminKey})
		w := a.Do(t, apitest.Request{Method: "PATCH", Path: "/api/collections/shared/records/" + id, Key: a.AdminKey, Body: map[string]any{"n": i}})
		h := map[string]string{"Basalt-Min-Position": position(t, w)}
		want := fmt.Sprintf(`"n":%d`, i)
		if r := b.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/shared/records/" + id, Key: b.AdminKey, Header: h}); !strings.Contains(string(r.Body), want) {
			t.Fatalf("write %d on a, then GET on b with its position: %d %s", i, r.StatusCode, r.Body)
		}
		if r := b.Do(t, apitest.Request{Method: "GET", Path: list, Key: b.AdminKey, Header: h}); !strings.Contains(string(r.Body), want) {
			t.Fatalf("write %d on a, then list on b with its position: %d %s", i, r.StatusCode, r.Body)
		}
	}
}
