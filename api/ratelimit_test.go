package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/api/apitest"
	"basalt.dev/basalt/app"
	"basalt.dev/basalt/internal/testdb"
	"github.com/dunglas/httpsfv"
	goredis "github.com/redis/go-redis/v9"
)

// rlServer starts a server on SQLite with the given rate-limit policies
// (and no others); set changes the configuration further.
func rlServer(t *testing.T, policies string, set ...func(*app.Config)) *apitest.Server {
	t.Helper()
	cfg := apitest.Config(t, apitest.SQLite)
	cfg.RateLimits = policies
	for _, f := range set {
		f(&cfg)
	}
	return apitest.StartConfig(t, cfg)
}

// rlState is what one response says of one policy.
type rlState struct {
	q, w, r, t int64
}

// rlHeaders parses RateLimit-Policy and RateLimit as the draft defines
// them (Lists of Strings with Integer parameters) and returns each
// policy's state, failing the test on a malformed field.
func rlHeaders(t *testing.T, h http.Header) map[string]rlState {
	t.Helper()
	out := map[string]rlState{}
	policy, err := httpsfv.UnmarshalList(h.Values("RateLimit-Policy"))
	if err != nil {
		t.Fatalf("RateLimit-Policy %q is not a structured List: %v", h.Values("RateLimit-Policy"), err)
	}
	state, err := httpsfv.UnmarshalList(h.Values("RateLimit"))
	if err != nil {
		t.Fatalf("RateLimit %q is not a structured List: %v", h.Values("RateLimit"), err)
	}
	if len(policy) != len(state) {
		t.Fatalf("RateLimit-Policy %q and RateLimit %q name different policies", h.Get("RateLimit-Policy"), h.Get("RateLimit"))
	}
	param := func(it httpsfv.Item, name string) int64 {
		v, ok := it.Params.Get(name)
		n, isInt := v.(int64)
		if !ok || !isInt || n < 0 {
			t.Fatalf("item %v: parameter %s = %v, want a non-negative Integer", it.Value, name, v)
		}
		return n
	}
	for i := range policy {
		p, ok1 := policy[i].(httpsfv.Item)
		s, ok2 := state[i].(httpsfv.Item)
		name, ok3 := p.Value.(string)
		if !ok1 || !ok2 || !ok3 || s.Value != name {
			t.Fatalf("item %d: %v and %v are not the same policy named by a String", i, policy[i], state[i])
		}
		out[name] = rlState{q: param(p, "q"), w: param(p, "w"), r: param(s, "r"), t: param(s, "t")}
	}
	return out
}

func rlGet(t *testing.T, s *apitest.Server, path, key string, header ...string) *apitest.Response {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	return s.Do(t, apitest.Request{Method: "GET", Path: path, Key: key, Header: h})
}

// TestRateLimitHeaders: a limited route answers with well-formed
// RateLimit fields counting down, then 429 with Retry-After and a
// rate_limited problem; other classes and the operations routes carry no
// fields; the decisions are counted on /metrics.
func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	s := rlServer(t, "name=reads,by=ip,class=read,limit=3/1h,burst=3")
	for i := range 3 {
		r := rlGet(t, s, "/api/collections", s.AdminKey)
		wantStatus(t, r, 200)
		got := rlHeaders(t, r.Header)["reads"]
		// One request takes an interval, 20 minutes, of the hour.
		if want := (rlState{q: 3, w: 3600, r: int64(2 - i), t: int64(1200 * (i + 1))}); got.q != want.q || got.w != want.w || got.r != want.r || got.t > want.t || got.t < want.t-5 {
			t.Fatalf("request %d: reads = %+v, want %+v", i+1, got, want)
		}
	}
	r := rlGet(t, s, "/api/collections", s.AdminKey)
	wantStatus(t, r, http.StatusTooManyRequests)
	if code := r.Code(t); code != "rate_limited" {
		t.Fatalf("429 code = %q, want rate_limited", code)
	}
	if d := r.JSON(t)["detail"].(string); !strings.Contains(d, `policy "reads"`) {
		t.Fatalf("429 detail %q does not name the policy", d)
	}
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1190 || retry > 1200 {
		t.Fatalf("Retry-After = %q, want the 1200 s until the next request", r.Header.Get("Retry-After"))
	}
	if got := rlHeaders(t, r.Header)["reads"]; got.r != 0 || got.t != int64(retry) {
		t.Fatalf("refused: reads = %+v; want r=0 and t = Retry-After (%d)", got, retry)
	}

	// Writes are another class; operations are never limited.
	w := s.Do(t, apitest.Request{Method: "POST", Path: "/api/collections", Key: s.AdminKey, Body: map[string]any{"name": "posts", "fields": []any{}}})
	wantStatus(t, w, 201)
	if h := w.Header.Get("RateLimit"); h != "" {
		t.Fatalf("a write carries RateLimit %q under a read policy", h)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := rlGet(t, s, path, ""); r.StatusCode != 200 || r.Header.Get("RateLimit") != "" {
			t.Fatalf("GET %s = %d with RateLimit %q; want 200 without", path, r.StatusCode, r.Header.Get("RateLimit"))
		}
	}
	m := rlGet(t, s, "/metrics", "")
	for _, line := range []string{
		`basalt_ratelimit_requests_total{policy="reads",result="allowed"} 3`,
		`basalt_ratelimit_requests_total{policy="reads",result="limited"} 1`,
		`basalt_ratelimit_backend_up 1`,
	} {
		if !strings.Contains(string(m.Body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestRateLimitKeys: each policy counts by its own key: the API key, the
// user, the tenant; requests without that key are not counted by it.
func TestRateLimitKeys(t *testing.T) {
	t.Parallel()
	t.Run("key", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, "name=per-key,by=key,class=all,limit=2/1h")
		for range 2 {
			wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 200)
		}
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 429)
		other := s.MustKey(t, "other", basalt.RoleAdmin, basalt.DefaultTenant)
		wantStatus(t, rlGet(t, s, "/api/collections", other), 200)
		// An anonymous request has no key: not counted, no fields.
		if r := rlGet(t, s, "/api/openapi.json", ""); r.StatusCode != 200 || r.Header.Get("RateLimit") != "" {
			t.Fatalf("anonymous = %d, RateLimit %q; want 200 without fields", r.StatusCode, r.Header.Get("RateLimit"))
		}
	})
	t.Run("user", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, "name=per-user,by=user,class=read,limit=2/1h")
		ada, bob := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com")
		for range 2 {
			wantStatus(t, rlGet(t, s, "/api/auth/me", ada), 200)
		}
		wantStatus(t, rlGet(t, s, "/api/auth/me", ada), 429)
		wantStatus(t, rlGet(t, s, "/api/auth/me", bob), 200)
		if r := rlGet(t, s, "/api/collections", s.AdminKey); r.StatusCode != 200 || r.Header.Get("RateLimit") != "" {
			t.Fatalf("API key under a user policy = %d, RateLimit %q; want 200 uncounted", r.StatusCode, r.Header.Get("RateLimit"))
		}
	})
	t.Run("tenant", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, "name=per-tenant,by=tenant,class=read,limit=3/1h")
		ada := signup(t, s, "ada@example.com") // a member of the default tenant
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.ServiceKey), 403) // counted, then refused by scope
		wantStatus(t, rlGet(t, s, "/api/auth/me", ada), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 429)
		acme := s.MustKey(t, "acme", basalt.RoleAdmin, "acme")
		wantStatus(t, rlGet(t, s, "/api/collections", acme), 200)
	})
	t.Run("principal", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, "name=who,by=principal,class=read,limit=1/1h")
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 429)
		wantStatus(t, rlGet(t, s, "/api/openapi.json", ""), 200) // anonymous: by address
		wantStatus(t, rlGet(t, s, "/api/openapi.json", ""), 429)
		// Bad credentials count as the address, then fail as before.
		r := rlGet(t, s, "/api/collections", "bsk_aaaaaaaaaaaaaaaa_notthesecret")
		wantStatus(t, r, 429)
	})
}

// TestRateLimitBadCredentials: a guessed key is counted by address and
// still refused with 401 while under the limit.
func TestRateLimitBadCredentials(t *testing.T) {
	t.Parallel()
	s := rlServer(t, "name=ip,by=ip,class=all,limit=2/1h")
	bad := "bsk_aaaaaaaaaaaaaaaa_notthesecret"
	wantStatus(t, rlGet(t, s, "/api/collections", bad), 401)
	wantStatus(t, rlGet(t, s, "/api/collections", bad), 401)
	wantStatus(t, rlGet(t, s, "/api/collections", bad), 429)
}

// TestRateLimitDefaults: the served binary's default policies limit
// sign-in per account e-mail and per address, and sign-up per address.
func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	s := rlServer(t, app.DefaultConfig().RateLimits)
	for i := range 5 {
		r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "password": "correct horse battery staple"}})
		wantStatus(t, r, 201)
		if got := rlHeaders(t, r.Header)["signup-ip"]; got.q != 20 || got.w != 3600 || got.r != int64(4-i) {
			t.Fatalf("sign-up %d: signup-ip = %+v", i+1, got)
		}
	}
	r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": "u6@example.com", "password": "correct horse battery staple"}})
	wantStatus(t, r, 429)

	login := func(email string) *apitest.Response {
		return s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"email": email, "password": "correct horse battery staple"}})
	}
	for i := range 5 {
		r := login("u0@example.com")
		wantStatus(t, r, 200)
		st := rlHeaders(t, r.Header)
		if st["signin-email"].r != int64(4-i) || st["signin-ip"].r != int64(9-i) {
			t.Fatalf("sign-in %d: %+v", i+1, st)
		}
	}
	// The account's limit is spent; the e-mail is read case-blind.
	r = login(" U0@Example.com ")
	wantStatus(t, r, 429)
	if !strings.Contains(r.JSON(t)["detail"].(string), "signin-email") {
		t.Fatalf("detail = %s; want the signin-email policy", r.Body)
	}
	// Another account from the same address goes on to the address's limit.
	for range 5 {
		wantStatus(t, login("u1@example.com"), 200)
	}
	wantStatus(t, login("u2@example.com"), 429)
}

// TestRateLimitRealtimeOpen: a realtime stream counts once, as it opens.
func TestRateLimitRealtimeOpen(t *testing.T) {
	t.Parallel()
	s := rlServer(t, "name=reads,by=ip,class=read,limit=2/1h")
	s.Admin(t, "POST", "/api/collections", map[string]any{"name": "items", "fields": []any{}}, 201)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/realtime?subscribe=items", nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || rlHeaders(t, resp.Header)["reads"].r != 1 {
		t.Fatalf("stream = %d, RateLimit %q; want 200 with one request left", resp.StatusCode, resp.Header.Get("RateLimit"))
	}
	// Events on the open stream are not requests.
	for range 3 {
		s.Admin(t, "POST", "/api/collections/items/records", map[string]any{}, 201)
	}
	buf := make([]byte, 64)
	if _, err := io.ReadAtLeast(resp.Body, buf, 1); err != nil {
		t.Fatalf("read the stream: %v", err)
	}
	wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 200)
	wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 429)
}

// TestRateLimitTrustedProxies: the forwarding header names the client
// only when the peer is a trusted proxy, and then its rightmost
// untrusted address; what a client writes into it does not move it.
func TestRateLimitTrustedProxies(t *testing.T) {
	t.Parallel()
	const policy = "name=per-ip,by=ip,class=read,limit=1/1h"
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, policy)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.1"), 200)
		// Without trusted proxies the header is the client's word: ignored.
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.2"), 429)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "Forwarded", "for=203.0.113.3"), 429)
	})
	t.Run("x-forwarded-for", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, policy, func(c *app.Config) { c.TrustedProxies = "127.0.0.1, 10.0.0.0/8" })
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.5"), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.5"), 429)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.6"), 200)
		// Spoofing: addresses the client put left of the proxy's are not the client.
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "198.51.100.1, 203.0.113.5"), 429)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "unknown, 203.0.113.5"), 429)
		// Nor is the other header, which the proxies do not write.
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.5", "Forwarded", "for=198.51.100.2"), 429)
		// Trusted hops are skipped: 10.1.2.3 is an inner proxy.
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "198.51.100.3, 203.0.113.7, 10.1.2.3"), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "X-Forwarded-For", "203.0.113.7"), 429)
		// No header: the proxy itself is the client.
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 429)
	})
	t.Run("forwarded", func(t *testing.T) {
		t.Parallel()
		s := rlServer(t, policy, func(c *app.Config) { c.TrustedProxies = "127.0.0.0/8"; c.TrustedProxyHeader = "forwarded" })
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "Forwarded", `for="[2001:db8:cafe::17]:4711";proto=https`), 200)
		// Another address of the same /64 is the same client.
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "Forwarded", `for="[2001:db8:cafe::18]"`), 429)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "Forwarded", `for=198.51.100.9, for=192.0.2.60;proto=http;by=203.0.113.43`), 200)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "Forwarded", `for=192.0.2.60`), 429)
		wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey, "Forwarded", `for=192.0.2.61`, "X-Forwarded-For", "192.0.2.60"), 200)
	})
}

// TestRateLimitAdminAPI: admin keys list, set and remove policies, with
// field errors for bad ones; a set policy applies at once, and on
// PostgreSQL on another node sharing the database too.
func TestRateLimitAdminAPI(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		cfg := apitest.Config(t, d)
		cfg.RateLimits = "name=configured,by=ip,class=write,limit=100/1m,burst=10"
		s := apitest.StartConfig(t, cfg)
		const base = "/api/admin/rate-limits"

		user := signup(t, s, "ada@example.com")
		for _, c := range []struct {
			key  string
			want int
		}{{"", 401}, {s.ServiceKey, 403}, {user, 403}} {
			if r := rlGet(t, s, base, c.key); r.StatusCode != c.want {
				t.Fatalf("GET %s as %q = %d, want %d", base, c.key, r.StatusCode, c.want)
			}
		}
		list := s.Admin(t, "GET", base, nil, 200)["items"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["spec"] != "name=configured,by=ip,class=write,limit=100/1m,burst=10" || list[0].(map[string]any)["source"] != "config" {
			t.Fatalf("GET %s = %v; want the configured policy", base, list)
		}

		r := s.Do(t, apitest.Request{Method: "POST", Path: base, Key: s.AdminKey,
			Body: map[string]any{"name": "Bad Name", "by": "cookie", "class": "admin", "quota": 0, "window": 0, "burst": 0}})
		wantStatus(t, r, 400)
		var fields []string
		for _, e := range r.JSON(t)["errors"].([]any) {
			e := e.(map[string]any)
			fields = append(fields, e["field"].(string)+":"+e["code"].(string))
		}
		if got := strings.Join(fields, " "); got != "name:invalid by:invalid class:invalid quota:out_of_range window:out_of_range burst:out_of_range" {
			t.Fatalf("field errors = %s", got)
		}
		for body, field := range map[string]string{
			`{"name":"x","quota":1,"window":"1m"}`: "window", `{"name":"x","quota":1,"window":60,"limit":"1/m"}`: "limit",
		} {
			r := s.Do(t, apitest.Request{Method: "POST", Path: base, Key: s.AdminKey, Body: body})
			if r.StatusCode != 400 || !strings.Contains(string(r.Body), `"field":"`+field+`"`) {
				t.Fatalf("POST %s = %d %s; want 400 naming %s", body, r.StatusCode, r.Body, field)
			}
		}

		reads := map[string]any{"name": "reads", "by": "ip", "class": "read", "quota": 2, "window": 3600}
		created := s.Admin(t, "POST", base, reads, 201)
		if created["burst"] != 2.0 || created["source"] != "admin" || created["spec"] != "name=reads,by=ip,class=read,limit=2/1h,burst=2" {
			t.Fatalf("POST %s = %v", base, created)
		}
		wantStatus(t, s.Do(t, apitest.Request{Method: "POST", Path: base, Key: s.AdminKey, Body: reads}), 409)
		// In force at once on this node.
		if st := rlHeaders(t, rlGet(t, s, "/api/collections", s.AdminKey).Header)["reads"]; st.q != 2 || st.r != 1 {
			t.Fatalf("after POST: reads = %+v", st)
		}
		s.Admin(t, "PUT", base+"/reads", map[string]any{"class": "read", "quota": 5, "window": 60, "burst": 1}, 200)
		s.Admin(t, "PUT", base+"/extra", map[string]any{"quota": 5, "window": 60}, 201)
		wantStatus(t, s.Do(t, apitest.Request{Method: "PUT", Path: base + "/extra", Key: s.AdminKey, Body: map[string]any{"name": "other", "quota": 5, "window": 60}}), 400)
		if got := s.Admin(t, "GET", base+"/reads", nil, 200)["spec"]; got != "name=reads,by=ip,class=read,limit=5/1m,burst=1" {
			t.Fatalf("GET reads = %v", got)
		}
		wantStatus(t, rlGet(t, s, base+"/nope", s.AdminKey), 404)

		// A stored policy replaces a configured one; removing it brings
		// the configured one back, which itself cannot be removed here.
		s.Admin(t, "PUT", base+"/configured", map[string]any{"class": "write", "quota": 1, "window": 1}, 201)
		if got := s.Admin(t, "GET", base+"/configured", nil, 200); got["source"] != "admin" || got["quota"] != 1.0 {
			t.Fatalf("overridden = %v", got)
		}
		s.Admin(t, "DELETE", base+"/configured", nil, 204)
		if got := s.Admin(t, "GET", base+"/configured", nil, 200); got["source"] != "config" || got["quota"] != 100.0 {
			t.Fatalf("after DELETE = %v; want the configured policy back", got)
		}
		if r := s.Do(t, apitest.Request{Method: "DELETE", Path: base + "/configured", Key: s.AdminKey}); r.StatusCode != 409 || r.Code(t) != "conflict" {
			t.Fatalf("DELETE configured = %d %s; want 409", r.StatusCode, r.Body)
		}
		s.Admin(t, "DELETE", base+"/extra", nil, 204)
		wantStatus(t, s.Do(t, apitest.Request{Method: "DELETE", Path: base + "/extra", Key: s.AdminKey}), 404)

		if d != apitest.Postgres {
			return
		}
		// Another node on the same database takes the stored policy up.
		other := apitest.StartConfig(t, cfg)
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := rlGet(t, other, base+"/reads", other.AdminKey)
			if r.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other node never loaded the stored policy: %d %s", r.StatusCode, r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		s.Admin(t, "PUT", base+"/later", map[string]any{"quota": 7, "window": 60}, 201)
		for {
			if r := rlGet(t, other, base+"/later", other.AdminKey); r.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other node never took up a policy set while it ran")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// redisServer starts a server whose counters are in Redis at addr, under
// a key prefix of the test's.
func redisServer(t *testing.T, addr, policies, failure string) *apitest.Server {
	t.Helper()
	o, err := goredis.ParseURL(testdb.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	url := testdb.RedisURL(t)
	if addr != "" {
		url = strings.Replace(url, o.Addr, addr, 1)
	}
	return rlServer(t, policies, func(c *app.Config) {
		c.RedisURL, c.RateLimitRedisPrefix, c.RateLimitRedisFailure = url, testdb.RedisPrefix(), failure
	})
}

var metricLine = regexp.MustCompile(`(?m)^basalt_ratelimit_backend_(up|errors_total) (\S+)$`)

func backendMetrics(t *testing.T, s *apitest.Server) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range metricLine.FindAllStringSubmatch(string(rlGet(t, s, "/metrics", "").Body), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestRateLimitRedisAway: with Redis gone a server that fails open
// serves requests uncounted and one that fails closed answers 503; both
// say so on /metrics and count again once Redis is back.
func TestRateLimitRedisAway(t *testing.T) {
	t.Parallel()
	o, err := goredis.ParseURL(testdb.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, failure := range []string{"open", "closed"} {
		t.Run(failure, func(t *testing.T) {
			t.Parallel()
			p := testdb.NewProxy(t, o.Addr)
			s := redisServer(t, p.Addr(), "name=reads,by=ip,class=read,limit=1/1h", failure)
			wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 200)
			wantStatus(t, rlGet(t, s, "/api/collections", s.AdminKey), 429)

			p.Cut()
			for range 5 {
				r := rlGet(t, s, "/api/collections", s.AdminKey)
				switch {
				case failure == "open" && (r.StatusCode != 200 || r.Header.Get("RateLimit") != ""):
					t.Fatalf("failing open = %d, RateLimit %q; want 200 uncounted", r.StatusCode, r.Header.Get("RateLimit"))
				case failure == "closed" && (r.StatusCode != 503 || r.Code(t) != "unavailable" || r.Header.Get("Retry-After") != "1"):
					t.Fatalf("failing closed = %d %s, Retry-After %q; want 503 unavailable, retry in 1", r.StatusCode, r.Body, r.Header.Get("Retry-After"))
				}
			}
			if m := backendMetrics(t, s); m["up"] != "0" || m["errors_total"] == "0" {
				t.Fatalf("with Redis away: %v; want up 0 and errors", m)
			}

			p.Restore()
			deadline := time.Now().Add(15 * time.Second)
			for rlGet(t, s, "/api/collections", s.AdminKey).StatusCode != 429 {
				if time.Now().After(deadline) {
					t.Fatal("the limit never applied again after Redis returned")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if m := backendMetrics(t, s); m["up"] != "1" {
				t.Fatalf("after Redis returned: %v; want up 1", m)
			}
		})
	}
}

// TestRateLimitSharedAcrossNodes sends requests well over a policy's
// limit through three servers sharing one Redis, for the policy's
// window: together they allow what one server would, the burst and the
// quota's worth of the time, within 5%.
func TestRateLimitSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	const quota, burst, window = 200, 50, 4 * time.Second
	policy := fmt.Sprintf("name=shared,by=ip,class=read,limit=%d/%s,burst=%d", quota, window, burst)
	prefix := testdb.RedisPrefix()
	var nodes []*apitest.Server
	for range 3 {
		nodes = append(nodes, rlServer(t, policy, func(c *app.Config) {
			c.RedisURL, c.RateLimitRedisPrefix = testdb.RedisURL(t), prefix
		}))
	}
	var allowed, limited, other atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(window)
	for i := range 12 {
		n := nodes[i%3]
		wg.Go(func() {
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", n.URL+"/api/collections", nil)
				req.Header.Set("Authorization", "Bearer "+n.AdminKey)
				resp, err := n.Client.Do(req)
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					allowed.Add(1)
				case 429:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The burst at once, then one request per interval of the time taken.
	want := float64(burst) + float64(quota)*elapsed.Seconds()/window.Seconds()
	got := float64(allowed.Load())
	t.Logf("%d allowed, %d limited in %v through 3 nodes; the policy allows %.0f", allowed.Load(), limited.Load(), elapsed, want)
	if other.Load() > 0 {
		t.Fatalf("%d answers were neither 200 nor 429", other.Load())
	}
	if limited.Load() < allowed.Load() {
		t.Fatalf("only %d of %d requests were refused: the load was not well over the limit", limited.Load(), limited.Load()+allowed.Load())
	}
	if got < want*0.95 || got > want*1.05 {
		t.Fatalf("three nodes allowed %.0f requests; the policy allows %.0f (within 5%%)", got, want)
	}
}
