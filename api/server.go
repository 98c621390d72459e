// Package api is Basalt's HTTP interface: routing, middleware, the
// mapping of errors to RFC 9457 problems, and the handlers that turn
// requests into service calls. It alone knows HTTP statuses.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/quota"
	"basalt.dev/basalt/ratelimit"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/records"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/tenants"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is the configuration of the HTTP layer.
type Config struct {
	// BodyLimit caps request bodies in bytes (413 beyond it).
	BodyLimit int64
	// CORSOrigins are the origins allowed to call the API from a browser;
	// "*" allows any. Empty: no CORS headers.
	CORSOrigins []string
	// RequestTimeout bounds each request's work.
	RequestTimeout time.Duration
	// LogRequests writes one log line per request.
	LogRequests bool
	// Realtime bounds the realtime streams.
	Realtime RealtimeConfig
	// Shed limits the requests worked on at once (load shedding).
	Shed ShedConfig
	// TrustedProxies are the proxies whose forwarding header (ProxyHeader:
	// HeaderXForwardedFor, the default, or HeaderForwarded) names the
	// client; none: the peer is the client.
	TrustedProxies []netip.Prefix
	ProxyHeader    string
}

// Deps are the services the handlers use.
type Deps struct {
	Records  *records.Service
	Store    store.Store
	Keys     *auth.Keys
	Users    *auth.Users
	Tokens   *auth.Tokens
	Tenants  *tenants.Service
	Hub      *realtime.Hub
	Channels *realtime.Channels // broadcasts, with Hub
	Presence *realtime.Presence // who is in which channel, with Hub
	Tickets  *auth.Tickets
	Limits   *ratelimit.Limiter // rate-limit policies; nil limits nothing
	Quotas   *quota.Service     // tenants' quotas and usage; nil counts nothing
	Log      *slog.Logger
	Registry *prometheus.Registry
	Version  string
	// AccessLog, if set, receives the request lines, encoded in the shape
	// of slog's JSON handler; otherwise they go through Log.
	AccessLog io.Writer
}

// Server is the HTTP handler of Basalt.
type Server struct {
	cfg      Config
	d        Deps
	mux      *http.ServeMux
	handler  http.Handler
	metrics  *Metrics
	draining atomic.Bool
	drain    context.Context // canceled by Drain: open realtime streams end
	stopAll  context.CancelFunc
	streams  realtime.Counter // open realtime connections
	limits   *rateLimits      // nil without Deps.Limits
	shed     *shedder         // nil with shedding off
}

// NewServer returns the handler with every route and middleware.
func NewServer(cfg Config, d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	cfg.Realtime.defaults()
	s := &Server{cfg: cfg, d: d, mux: http.NewServeMux(), metrics: NewMetrics(d.Registry)}
	s.drain, s.stopAll = context.WithCancel(context.Background())
	s.limits = newRateLimits(d.Limits, d.Registry)
	s.routes()
	s.mux.Handle("/", http.HandlerFunc(s.unmatched))
	var h http.Handler = s.mux
	h = withTimeout(cfg.RequestTimeout, h)
	h = limitBody(cfg.BodyLimit, h)
	h = compress(h)
	s.shed = newShedder(cfg.Shed, d.Registry)
	h = s.shed.wrap(h)
	h = streamsApart(s.mux, h)
	h = withCORS(cfg.CORSOrigins, h)
	h = secureHeaders(h)
	h = recoverPanics(d.Log, h)
	access := &accessLog{w: d.AccessLog, log: d.Log}
	if !cfg.LogRequests {
		access.log = slog.New(discardBelowError{d.Log.Handler()})
	}
	s.handler = observe(access, s.metrics, trustProxies(cfg.TrustedProxies, cfg.ProxyHeader, h))
	return s
}

// streamsApart sends realtime streams to stream, everything else to h:
// a stream lives past the request timeout, and compression would hold
// back its small frames.
func streamsApart(stream, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/realtime" || r.URL.Path == "/api/realtime/ws" {
			// No body limit either: a stream has no body, and each frame
			// here stays on the stack of every open stream.
			stream.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain makes /readyz fail, so load balancers stop sending requests
// while the server finishes the ones it has. It ends the realtime
// streams, which would otherwise hold the shutdown for its whole time:
// their clients reconnect to another server and resume.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.stopAll()
}

// handle registers a route; the pattern names the route in logs and metrics.
//
// The rate limits are checked here, in the route's own handler rather
// than a handler around it: every frame between the server and a
// realtime handler stays on the stack of each open stream, which must
// fit in a quarter of 16 KiB to be halved to 8 KiB (see handleSSE).
func (s *Server) handle(pattern string, h http.Handler) {
	class, limited := routeClass(pattern)
	limited = limited && s.limits != nil
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r.Context()); info != nil {
			info.route = pattern
		}
		if limited {
			if r = s.rateLimit(w, r, class); r == nil {
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
}

// unmatched answers requests that no route matches with a problem rather
// than the mux's plain text: 405 with Allow when the path exists for
// other methods, 404 otherwise. It is the mux's catch-all pattern, so the
// routes themselves are matched once.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, basalt.Errorf(basalt.CodeMethodNotAllowed, "%s is not allowed on %s; use %s.", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	writeProblem(w, r, basalt.Errorf(basalt.CodeNotFound, "No route %s %s; the API is described at /api/openapi.json.", r.Method, r.URL.Path))
}

// authenticate returns the principal of the request's bearer token, or
// nil for a request without one.
func (s *Server) authenticate(r *http.Request) (*basalt.Principal, error) {
	if m := authenticated(r); m != nil {
		return m.p, m.err
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, basalt.Errorf(basalt.CodeUnauthenticated, "Send credentials as Authorization: Bearer <API key>.")
	}
	token = strings.TrimSpace(token)
	if strings.HasPrefix(token, "bsk_") || s.d.Users == nil {
		return s.d.Keys.Authenticate(r.Context(), token)
	}
	return s.d.Users.Authenticate(r.Context(), token)
}

// optional authenticates the request when it carries credentials (bad
// ones are 401) and lets it through anonymous otherwise.
func (s *Server) optional(h http.Handler) http.Handler {
	return s.withPrincipal(h, anyone)
}

// authed lets through any authenticated principal, key or user.
func (s *Server) authed(h http.Handler) http.Handler {
	return s.withPrincipal(h, func(p *basalt.Principal) error {
		if p == nil {
			return basalt.Errorf(basalt.CodeUnauthenticated, "This endpoint needs credentials: Authorization: Bearer <access token or API key>.")
		}
		return nil
	})
}

// signedIn lets through only a signed-in user (not an API key).
func (s *Server) signedIn(h http.Handler) http.Handler {
	return s.withPrincipal(h, func(p *basalt.Principal) error {
		if p == nil || p.Kind != "user" {
			return basalt.Errorf(basalt.CodeUnauthenticated, "This endpoint needs a signed-in user: Authorization: Bearer <access token>.")
		}
		return nil
	})
}

// scoped lets through only API keys with scope: 401 without valid
// credentials, 403 for users and for keys without it.
func (s *Server) scoped(h http.Handler, scope string) http.Handler {
	return s.withPrincipal(h, func(p *basalt.Principal) error {
		switch {
		case p == nil:
			return basalt.Errorf(basalt.CodeUnauthenticated, "This endpoint needs credentials: Authorization: Bearer <API key>.")
		case p.Kind == "user":
			return basalt.Errorf(basalt.CodeForbidden, "This endpoint is for API keys with the %s scope.", scope)
		case !p.Can(scope):
			return basalt.Errorf(basalt.CodeForbidden, "This API key lacks the %s scope.", scope)
		}
		return nil
	})
}

// withPrincipal authenticates the request, lets admit decide on the
// principal (nil for an anonymous request), and passes it on in the
// context.
func (s *Server) withPrincipal(h http.Handler, admit func(*basalt.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r = s.principal(w, r, admit); r != nil {
			h.ServeHTTP(w, r)
		}
	})
}

// principal authenticates the request, lets admit decide on the
// principal (nil for an anonymous request) and counts the request in its
// tenant's quotas. It returns the request with the principal in its
// context, or nil once it has written the problem.
func (s *Server) principal(w http.ResponseWriter, r *http.Request, admit func(*basalt.Principal) error) *http.Request {
	p, err := s.authenticate(r)
	return s.enter(w, r, p, err, admit)
}

// enter lets the principal p that r's credential stood for (nil for an
// anonymous request; err if the credential failed) in as principal does.
func (s *Server) enter(w http.ResponseWriter, r *http.Request, p *basalt.Principal, err error, admit func(*basalt.Principal) error) *http.Request {
	if err == nil {
		err = admit(p)
	}
	if err == nil {
		err = s.countRequest(r, p)
	}
	if err != nil {
		writeProblem(w, r, err)
		return nil
	}
	if p == nil {
		return r
	}
	if info := infoFrom(r.Context()); info != nil {
		info.principal, info.tenant = p.ID, p.TenantID
	}
	return r.WithContext(basalt.NewContext(r.Context(), p))
}

// anyone admits every caller, anonymous ones too.
func anyone(*basalt.Principal) error { return nil }

// discardBelowError keeps only error lines: with request logging off,
// failed requests are still logged.
type discardBelowError struct{ slog.Handler }

func (h discardBelowError) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}
