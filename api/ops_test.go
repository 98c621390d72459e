package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
	"github.com/pb33f/libopenapi"
)

func TestHealthAndReadiness(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := s.Do(t, apitest.Request{Method: "GET", Path: path}); r.StatusCode != 200 {
				t.Errorf("GET %s = %d %s", path, r.StatusCode, r.Body)
			}
		}
		s.App.Drain()
		r := s.Do(t, apitest.Request{Method: "GET", Path: "/readyz"})
		if r.StatusCode != 503 || r.Code(t) != "unavailable" {
			t.Errorf("GET /readyz while draining = %d %s, want 503", r.StatusCode, r.Body)
		}
	})
}

func TestMetrics(t *testing.T) {
	s := setup(t, apitest.SQLite)
	s.Admin(t, "GET", "/api/collections/posts/records/first", nil, 200)
	s.Do(t, apitest.Request{Method: "GET", Path: "/no/such/path"})
	body := string(s.Do(t, apitest.Request{Method: "GET", Path: "/metrics"}).Body)
	for _, want := range []string{
		`basalt_http_requests_total{code="200",route="GET /api/collections/{name}/records/{id}"} 1`,
		`basalt_http_requests_total{code="404",route="unmatched"} 1`,
		`basalt_http_request_duration_seconds_bucket{code="200",route="GET /api/collections/{name}/records/{id}",le=`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
		`go_sql_open_connections{db_name="sqlite_readers"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestMetricsPostgresPool(t *testing.T) {
	s := apitest.Start(t, apitest.Postgres)
	body := string(s.Do(t, apitest.Request{Method: "GET", Path: "/metrics"}).Body)
	if !strings.Contains(body, "basalt_postgres_pool_max_connections 8") {
		t.Errorf("/metrics lacks the PostgreSQL pool: %.500s", body)
	}
}

func TestServedOpenAPIIsValid(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/openapi.json"})
		if r.StatusCode != 200 {
			t.Fatalf("GET /api/openapi.json = %d", r.StatusCode)
		}
		doc, err := libopenapi.NewDocument(r.Body)
		if err != nil {
			t.Fatalf("NewDocument() = %v", err)
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			t.Fatalf("BuildV3Model() = %v", err)
		}
		if !strings.HasPrefix(model.Model.Version, "3.1") {
			t.Errorf("openapi version = %q, want 3.1.x", model.Model.Version)
		}
		if model.Model.Paths.PathItems.GetOrZero("/api/collections/posts/records/{id}") == nil {
			t.Error("the live collection posts has no path")
		}
	})
}

func TestRequestID(t *testing.T) {
	s := apitest.Start(t, apitest.SQLite)
	r := s.Do(t, apitest.Request{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-Id": "trace-123.abc"}})
	if got := r.Header.Get("X-Request-Id"); got != "trace-123.abc" {
		t.Errorf("X-Request-Id = %q, want the client's", got)
	}
	r = s.Do(t, apitest.Request{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-Id": "<script>"}})
	if got := r.Header.Get("X-Request-Id"); got == "<script>" || len(got) != 24 {
		t.Errorf("X-Request-Id = %q, want a fresh id instead of an unsafe one", got)
	}
	p := s.Do(t, apitest.Request{Method: "GET", Path: "/nope"})
	if p.JSON(t)["request_id"] != p.Header.Get("X-Request-Id") {
		t.Errorf("problem request_id %v differs from header %s", p.JSON(t)["request_id"], p.Header.Get("X-Request-Id"))
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := apitest.Start(t, apitest.SQLite)
	for _, path := range []string{"/healthz", "/api/collections", "/nope"} {
		checkSecurityHeaders(t, "GET "+path, s.Do(t, apitest.Request{Method: "GET", Path: path, Key: s.AdminKey}))
	}
}

// checkSecurityHeaders fails unless r, the answer to where, carries the
// headers every response of the API carries.
func checkSecurityHeaders(t *testing.T, where string, r *apitest.Response) {
	t.Helper()
	for k, v := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", where, k, got, v)
		}
	}
}

func TestCORS(t *testing.T) {
	cfg := apitest.Config(t, apitest.SQLite)
	cfg.CORSOrigins = []string{"https://app.example"}
	s := apitest.StartConfig(t, cfg)
	pre := s.Do(t, apitest.Request{Method: "OPTIONS", Path: "/api/collections", Header: map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}})
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("preflight = %d, Allow-Origin %q", pre.StatusCode, pre.Header.Get("Access-Control-Allow-Origin"))
	}
	r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections", Key: s.AdminKey, Header: map[string]string{"Origin": "https://app.example"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Etag") {
		t.Errorf("CORS headers = %v", r.Header)
	}
	evil := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections", Key: s.AdminKey, Header: map[string]string{"Origin": "https://evil.example"}})
	if evil.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin got Allow-Origin %q", evil.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestBodyLimit(t *testing.T) {
	cfg := apitest.Config(t, apitest.SQLite)
	cfg.BodyLimit = 2048
	s := apitest.StartConfig(t, cfg)
	s.Admin(t, "POST", "/api/collections", map[string]any{"name": "notes", "fields": []map[string]any{{"name": "text", "type": "text"}}}, 201)
	big := `{"text": "` + strings.Repeat("x", 4096) + `"}`
	r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/collections/notes/records", Key: s.AdminKey, Body: big})
	if r.StatusCode != 413 || r.Code(t) != "too_large" {
		t.Errorf("oversized body = %d %s, want 413 too_large", r.StatusCode, r.Body)
	}
	// Without a declared length, the limit applies as the body streams in.
	req, _ := http.NewRequest("POST", s.URL+"/api/collections/notes/records", strings.NewReader(big))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized body = %d, want 413", resp.StatusCode)
	}
	if items := s.Admin(t, "GET", "/api/collections/notes/records", nil, 200)["items"].([]any); len(items) != 0 {
		t.Errorf("an oversized body was stored: %v", items)
	}
}

// TestSchemaReachesOtherNodes runs two nodes on one PostgreSQL database:
// a collection created on one becomes usable on the other from the event
// log, without a restart.
func TestSchemaReachesOtherNodes(t *testing.T) {
	cfg := apitest.Config(t, apitest.Postgres)
	a := apitest.StartConfig(t, cfg)
	b := apitest.StartConfig(t, cfg)
	a.Admin(t, "POST", "/api/collections", map[string]any{"name": "shared", "fields": []map[string]any{{"name": "n", "type": "number"}}}, 201)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := b.Do(t, apitest.Request{Method: "POST", Path: "/api/collections/shared/records", Key: b.AdminKey, Body: map[string]any{"n": 1}})
		if r.StatusCode == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second node never saw the new collection: %d %s", r.StatusCode, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A field added on b reaches a too.
	b.Admin(t, "PATCH", "/api/collections/shared", map[string]any{"fields": []map[string]any{{"name": "n", "type": "number"}, {"name": "label", "type": "text"}}}, 200)
	for {
		r := a.Do(t, apitest.Request{Method: "POST", Path: "/api/collections/shared/records", Key: a.AdminKey, Body: map[string]any{"n": 2, "label": "x"}})
		if r.StatusCode == 201 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first node never saw the new field: %d %s", r.StatusCode, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
