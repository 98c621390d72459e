package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
)

// This file applies the rate-limit policies (package ratelimit) to the
// routes, writes the IETF RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers) and serves the admin API of the
// policies.

// rateLimits is the server's part of rate limiting: the limiter and the
// counters of its decisions.
type rateLimits struct {
	lim      *ratelimit.Limiter
	requests *prometheus.CounterVec
	series   sync.Map // policy name -> *[2]prometheus.Counter (allowed, limited)
}

// newRateLimits registers the rate-limit metrics; nil without a limiter.
func newRateLimits(lim *ratelimit.Limiter, reg prometheus.Registerer) *rateLimits {
	if lim == nil {
		return nil
	}
	rl := &rateLimits{lim: lim, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "basalt_ratelimit_requests_total",
		Help: "Requests counted by each rate-limit policy, by result: allowed or limited (refused with 429).",
	}, []string{"policy", "result"})}
	reg.MustRegister(rl.requests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_ratelimit_backend_up",
			Help: "1 while the rate-limit counter store (Redis) answers, 0 while requests go by --rate-limit-redis-failure."},
			func() float64 {
				if lim.Up() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_ratelimit_backend_errors_total",
			Help: "Requests the rate-limit counter store failed to decide."},
			func() float64 { return float64(lim.Errors()) }))
	return rl
}

func (rl *rateLimits) count(policy string, allowed bool) {
	v, ok := rl.series.Load(policy)
	if !ok {
		v, _ = rl.series.LoadOrStore(policy, &[2]prometheus.Counter{
			rl.requests.WithLabelValues(policy, "allowed"), rl.requests.WithLabelValues(policy, "limited")})
	}
	if allowed {
		v.(*[2]prometheus.Counter)[0].Inc()
	} else {
		v.(*[2]prometheus.Counter)[1].Inc()
	}
}

// routeClass is the class of a route pattern for the policies, and false
// for a route no policy limits: health, readiness and metrics, which
// load balancers and scrapers call, and the admin API of the policies,
// so a policy set by mistake can always be undone.
func routeClass(pattern string) (ratelimit.Class, bool) {
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case path == "/healthz" || path == "/readyz" || path == "/metrics" || strings.HasPrefix(path, "/api/admin/rate-limits"):
		return "", false
	case path == "/api/auth/login":
		return ratelimit.ClassSignin, true
	case path == "/api/auth/signup":
		return ratelimit.ClassSignup, true
	case path == "/api/auth/refresh" || path == "/api/auth/reset" || path == "/api/auth/reset/request" ||
		path == "/api/auth/unlock" || path == "/api/auth/verify" || path == "/api/auth/verify/request":
		return ratelimit.ClassAuth, true
	case method == http.MethodGet || method == http.MethodHead:
		return ratelimit.ClassRead, true
	}
	return ratelimit.ClassWrite, true
}

// rateLimit applies the policies of a route's class to the request. It
// returns the request to go on with, or nil once it has written the
// refusal. A realtime stream is one request, counted as it opens.
func (s *Server) rateLimit(w http.ResponseWriter, r *http.Request, class ratelimit.Class) *http.Request {
	ps := s.limits.lim.Policies().For(class)
	if len(ps) == 0 {
		return r
	}
	r, err := s.limit(w, r, ps)
	if err != nil {
		writeProblem(w, r, err)
		return nil
	}
	return r
}

// limit counts the request under each policy that has a key for it and
// writes the RateLimit fields. It returns the request to go on with (the
// principal found, the body read) or the error to answer with: 429 from
// the first policy that refuses (the later ones count nothing), 503 when
// the counter store is away and the limiter fails closed.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, ps []*ratelimit.Policy) (*http.Request, error) {
	var policy, state []byte
	keys := requestKeys{r: r, s: s}
	var err error
	for _, p := range ps {
		key, ok := keys.of(p.By)
		if !ok {
			continue
		}
		res := s.limits.lim.Allow(r.Context(), p, key)
		if res.Unknown {
			if res.Allowed {
				continue
			}
			err = &rateLimitError{err: basalt.Errorf(basalt.CodeUnavailable,
				"Rate limits cannot be checked right now; retry in a second."), retry: time.Second}
			break
		}
		s.limits.count(p.Name, res.Allowed)
		t := res.ResetAfter
		if !res.Allowed {
			t = res.RetryAfter
		}
		policy = appendPolicyItem(policy, p)
		state = appendStateItem(state, p.Name, res.Remaining, ceilSeconds(t))
		if !res.Allowed {
			err = &rateLimitError{err: basalt.Errorf(basalt.CodeRateLimited,
				"Too many requests under rate-limit policy %q; retry in %d s.", p.Name, ceilSeconds(t)), retry: t}
			break
		}
	}
	if len(policy) > 0 {
		h := w.Header()
		h.Set("RateLimit-Policy", string(policy))
		h.Set("RateLimit", string(state))
	}
	return keys.r, err
}

// appendPolicyItem appends the policy as an item of RateLimit-Policy:
// "name";q=600;w=60. Policy names need no escaping in a String.
func appendPolicyItem(b []byte, p *ratelimit.Policy) []byte {
	if len(b) > 0 {
		b = append(b, ", "...)
	}
	b = append(b, '"')
	b = append(b, p.Name...)
	b = append(b, `";q=`...)
	b = strconv.AppendInt(b, int64(p.Limit.Quota), 10)
	b = append(b, ";w="...)
	return strconv.AppendInt(b, int64(p.Limit.Window/time.Second), 10)
}

// appendStateItem appends an item of RateLimit: "name";r=42;t=17, the
// requests available now and the seconds until the whole burst is back
// (for a refused request, until the next one is allowed: Retry-After).
func appendStateItem(b []byte, name string, r int, t int64) []byte {
	if len(b) > 0 {
		b = append(b, ", "...)
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(r), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, t, 10)
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// rateLimitError is a refusal; writeProblem sends its Retry-After.
type rateLimitError struct {
	err   *basalt.Error
	retry time.Duration
}

func (e *rateLimitError) Error() string { return e.err.Error() }
func (e *rateLimitError) Unwrap() error { return e.err }

// Seconds is the Retry-After value: whole seconds, at least one.
func (e *rateLimitError) Seconds() string {
	return strconv.FormatInt(max(1, ceilSeconds(e.retry)), 10)
}

// requestKeys finds what policies key on, each once per request.
type requestKeys struct {
	s         *Server
	r         *http.Request
	ip        string
	principal *basalt.Principal
	authed    bool
	email     string
	peeked    bool
}

// of returns the key of the request under by, and false when it has none
// (an anonymous request has no user, for one).
func (k *requestKeys) of(by ratelimit.By) (string, bool) {
	switch by {
	case ratelimit.ByIP:
		return k.clientIP(), true
	case ratelimit.ByEmail:
		if e := k.accountEmail(); e != "" {
			return e, true
		}
		return "", false
	}
	p := k.who()
	switch {
	case by == ratelimit.ByPrincipal && p == nil:
		return k.clientIP(), true
	case p == nil:
		return "", false
	case by == ratelimit.ByKey && p.Kind == "key", by == ratelimit.ByUser && p.Kind == "user", by == ratelimit.ByPrincipal:
		return p.Kind + ":" + p.ID, true
	case by == ratelimit.ByTenant && p.TenantID != "":
		return "tenant:" + p.TenantID, true
	}
	return "", false
}

// clientIP keys a client by its address, an IPv6 client by its /64: one
// host or household gets one limit however many addresses it holds.
func (k *requestKeys) clientIP() string {
	if k.ip != "" {
		return k.ip
	}
	k.ip = "ip:" + clientIP(k.r)
	if a, err := netip.ParseAddr(clientIP(k.r)); err == nil {
		if a = a.Unmap(); a.Is6() {
			k.ip = "ip:" + netip.PrefixFrom(a, 64).Masked().String()
		} else {
			k.ip = "ip:" + a.String()
		}
	}
	return k.ip
}

// who authenticates the request once; the route's own check then reuses
// the answer. Bad credentials count as anonymous here: the route refuses
// them after the limits.
func (k *requestKeys) who() *basalt.Principal {
	if !k.authed {
		k.authed = true
		p, err := k.s.authenticate(k.r)
		k.r = k.r.WithContext(context.WithValue(k.r.Context(), authMemoKey{}, &authMemo{p, err}))
		if err == nil {
			k.principal = p
		}
	}
	return k.principal
}

// authMemoKey holds the request's authentication, done once.
type authMemoKey struct{}

type authMemo struct {
	p   *basalt.Principal
	err error
}

// authenticated returns the authentication already done for r, or nil.
func authenticated(r *http.Request) *authMemo {
	m, _ := r.Context().Value(authMemoKey{}).(*authMemo)
	return m
}

// accountEmail is the account e-mail a JSON body names (sign-in, sign-up,
// reset requests), hashed so no address is kept in the counters; "" for
// none. The body is read and put back for the handler.
func (k *requestKeys) accountEmail() string {
	if k.peeked {
		return k.email
	}
	k.peeked = true
	r := k.r
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
		return ""
	}
	data, err := io.ReadAll(r.Body)
	r.Body = readCloser{io.MultiReader(bytes.NewReader(data), errReader{err}), r.Body}
	var in struct {
		Email string `json:"email"`
	}
	if err != nil || json.Unmarshal(data, &in) != nil {
		return ""
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if email == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(email))
	k.email = "email:" + hex.EncodeToString(sum[:12])
	return k.email
}

type readCloser struct {
	io.Reader
	io.Closer
}

// errReader ends a put-back body with the error its first reading met
// (too large, say), or io.EOF.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}

// ---- admin API: /api/admin/rate-limits ----

// rateLimitView is a policy as the admin API shows it.
type rateLimitView struct {
	Name   string `json:"name"`
	By     string `json:"by"`
	Class  string `json:"class"`
	Quota  int    `json:"quota"`
	Window int64  `json:"window"`
	Burst  int    `json:"burst"`
	Source string `json:"source"`
	Spec   string `json:"spec"`
}

func viewOf(p ratelimit.Policy) rateLimitView {
	return rateLimitView{Name: p.Name, By: string(p.By), Class: string(p.Class), Quota: p.Limit.Quota,
		Window: int64(p.Limit.Window / time.Second), Burst: p.Limit.Burst, Source: p.Source, Spec: p.String()}
}

// adminKey lets through only API keys with the admin role: the policies
// are the deployment's, not a user's.
func (s *Server) adminKey(h http.Handler) http.Handler {
	return s.withPrincipal(h, func(p *basalt.Principal) error {
		switch {
		case p == nil:
			return basalt.Errorf(basalt.CodeUnauthenticated, "This endpoint needs an admin API key: Authorization: Bearer <API key>.")
		case p.Kind != "key" || p.Role != basalt.RoleAdmin:
			return basalt.Errorf(basalt.CodeForbidden, "Only admin API keys manage rate limits.")
		}
		return nil
	})
}

func (s *Server) handleRateLimitList() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		all := s.limits.lim.Policies().All()
		items := make([]rateLimitView, len(all))
		for i, p := range all {
			items[i] = viewOf(p)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
		return nil
	})
}

func (s *Server) handleRateLimitGet() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.limits.lim.Policies().Get(r.PathValue("name"))
		if !ok {
			return basalt.Errorf(basalt.CodeNotFound, "No rate-limit policy %q.", r.PathValue("name"))
		}
		writeJSON(w, http.StatusOK, viewOf(p))
		return nil
	})
}

// handleRateLimitPut sets a policy: PUT names it in the path (and
// replaces a stored one), POST in the body (and conflicts with a stored
// one). A policy new to the store is 201, a replaced one 200.
func (s *Server) handleRateLimitPut() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		data, err := readJSON(r)
		if err != nil {
			return err
		}
		var in struct {
			Name   string `json:"name"`
			By     string `json:"by"`
			Class  string `json:"class"`
			Quota  int    `json:"quota"`
			Window int64  `json:"window"`
			Burst  *int   `json:"burst"`
		}
		if err := decodeStrict(data, &in); err != nil {
			return err
		}
		if name := r.PathValue("name"); name != "" {
			if in.Name != "" && in.Name != name {
				return basalt.Invalid("Invalid rate-limit policy.", basalt.FieldError{Field: "name", Code: "invalid",
					Message: fmt.Sprintf("name must be the one in the path, %q, or left out", name)})
			}
			in.Name = name
		}
		p := ratelimit.Policy{Name: in.Name, By: ratelimit.By(in.By), Class: ratelimit.Class(in.Class), Source: ratelimit.SourceAdmin,
			Limit: ratelimit.Limit{Quota: in.Quota, Window: time.Duration(in.Window) * time.Second, Burst: in.Quota}}
		if p.By == "" {
			p.By = ratelimit.ByIP
		}
		if p.Class == "" {
			p.Class = ratelimit.ClassAll
		}
		if in.Burst != nil {
			p.Limit.Burst = *in.Burst
		}
		if in.Window > int64(ratelimit.MaxWindow/time.Second) {
			p.Limit.Window = ratelimit.MaxWindow + time.Second // out of range, without overflow
		}
		old, _ := s.limits.lim.Policies().Get(p.Name)
		if r.Method == http.MethodPost && old.Source == ratelimit.SourceAdmin {
			return basalt.Errorf(basalt.CodeConflict, "A stored policy is named %q; change it with PUT /api/admin/rate-limits/%s.", p.Name, p.Name)
		}
		if err := s.limits.lim.Put(r.Context(), p); err != nil {
			return err
		}
		status := http.StatusCreated
		if old.Source == ratelimit.SourceAdmin {
			status = http.StatusOK
		}
		writeJSON(w, status, viewOf(p))
		return nil
	})
}

func (s *Server) handleRateLimitDelete() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.limits.lim.Delete(r.Context(), r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
