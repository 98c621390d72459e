// Package apitest runs the real Basalt server for black-box tests: the
// whole app on a real store, served by httptest over loopback, with
// helpers that make a request and decode its answer in one line.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/app"
	"basalt.dev/basalt/internal/testdb"
)

// Server is a running Basalt with an admin and a service key.
type Server struct {
	Config     app.Config
	URL        string
	App        *app.App
	AdminKey   string
	ServiceKey string
	Client     *http.Client

	close func()
}

// Driver names a store the suite runs on.
type Driver string

// The drivers.
const (
	SQLite   Driver = "sqlite"
	Postgres Driver = "postgres"
)

// ForEachDriver runs fn once per store driver as a subtest. The
// PostgreSQL half skips when no server answers (it fails in CI).
func ForEachDriver(t *testing.T, fn func(t *testing.T, d Driver)) {
	for _, d := range []Driver{SQLite, Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// Config returns a configuration for a fresh, empty store of driver d.
func Config(t testing.TB, d Driver) app.Config {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.LogRequests = false
	cfg.RateLimits = "none" // the suites sign up many users from one address; rate-limit tests set their own
	if d == Postgres {
		url := testdb.PostgresURL(t)
		// An ordinary role, as production should use: row-level
		// security applies to every request of the suite.
		roleURL, schema := testdb.Role(t, url)
		cfg.DB = testdb.WithSearchPath(roleURL, schema)
		cfg.DBMaxConns = 8
		cfg.SecretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, tests only
	}
	return cfg
}

// Start runs a server on a fresh store of driver d.
func Start(t testing.TB, d Driver) *Server {
	t.Helper()
	return StartConfig(t, Config(t, d))
}

// StartConfig runs a server with cfg.
func StartConfig(t testing.TB, cfg app.Config) *Server {
	t.Helper()
	ctx := context.Background()
	a, err := app.New(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("app.New() = %v", err)
	}
	hs := httptest.NewServer(a.Handler())
	s := &Server{Config: cfg, URL: hs.URL, App: a, Client: hs.Client()}
	s.close = sync.OnceFunc(func() {
		a.Drain() // ends realtime streams, which would hold hs.Close
		hs.Close()
		a.Close()
	})
	t.Cleanup(s.close)
	s.AdminKey = s.MustKey(t, "admin", basalt.RoleAdmin, basalt.DefaultTenant)
	s.ServiceKey = s.MustKey(t, "service", basalt.RoleService, basalt.DefaultTenant)
	return s
}

// Close stops the server as a node shuts down: it drains, its
// connections end and their handlers finish, then the app stops. The
// test's cleanup calls it too; calling it earlier takes a node away
// mid-test.
func (s *Server) Close() { s.close() }

// MustKey creates an API key and returns its secret.
func (s *Server) MustKey(t testing.TB, name string, role basalt.Role, tenant string) string {
	t.Helper()
	secret, _, err := s.App.Keys().Create(context.Background(), name, role, tenant)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return secret
}

// Response is an answer with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into a map.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Code returns the problem code of an error response.
func (r *Response) Code(t testing.TB) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, r.Body)
	}
	code, _ := r.JSON(t)["code"].(string)
	return code
}

// Request is a request to make: Key is the bearer credential ("" for
// none), Body is sent as JSON unless it is a string or []byte.
type Request struct {
	Method  string
	Path    string
	Key     string
	Body    any
	Header  map[string]string
	NoJSONH bool // send no Content-Type
}

// Do makes a request and reads the whole response.
func (s *Server) Do(t testing.TB, rq Request) *Response {
	t.Helper()
	var body io.Reader
	switch b := rq.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(rq.Method, s.URL+rq.Path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil && !rq.NoJSONH {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.Key != "" {
		req.Header.Set("Authorization", "Bearer "+rq.Key)
	}
	for k, v := range rq.Header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.Method, rq.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", rq.Method, rq.Path, err)
	}
	return &Response{Response: resp, Body: data}
}

// Admin makes a request with the admin key and fails unless the status
// is want; it returns the decoded body (nil when empty).
func (s *Server) Admin(t testing.TB, method, path string, body any, want int) map[string]any {
	t.Helper()
	resp := s.Do(t, Request{Method: method, Path: path, Key: s.AdminKey, Body: body})
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, resp.Body)
	}
	if len(resp.Body) == 0 {
		return nil
	}
	return resp.JSON(t)
}
