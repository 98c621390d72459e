package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"basalt.dev/basalt/api"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/cache"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/realtime/natsexport"
	"basalt.dev/basalt/records"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/tenants"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// App is one Basalt node: the store, the services and the HTTP handler.
// Go programs that embed Basalt create it with New, mount Handler, and
// Close it when done; "basalt serve" does exactly that.
type App struct {
	cfg Config
	log *slog.Logger
	reg *prometheus.Registry
	// store is db behind the record and list caches: everything reads
	// and writes through it, so every write invalidates.
	store   store.Store
	db      store.Store // the driver, for what only it does (notifications)
	cache   *cache.Store
	closeRC func() error // closes the cache's Redis client
	records *records.Service
	keys    *auth.Keys
	tokens  *auth.Tokens
	mailer  *mailer
	users   *auth.Users
	server  *api.Server
	hub     *realtime.Hub
	// channels and presence carry broadcasts and who is in which channel.
	channels *realtime.Channels
	presence *realtime.Presence
	notify   chan struct{}        // asks for a notification to other nodes; nil on SQLite
	export   *natsexport.Exporter // nil without --nats-url

	accessLog io.Writer

	stop context.CancelFunc
	bg   sync.WaitGroup
}

// New opens the store that cfg selects, applies pending migrations, loads
// the schema and starts the background services. log may be nil.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	return newApp(ctx, cfg, log, nil)
}

// newApp is New with a writer for the request lines (see api.Deps).
func newApp(ctx context.Context, cfg Config, log *slog.Logger, accessLog io.Writer) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	st, err := openStore(ctx, cfg, reg, true)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, reg: reg, db: st, accessLog: accessLog}
	if a.cache, a.closeRC, err = newCache(st, cfg, log, func() { a.hub.Wake() }); err != nil {
		st.Close()
		return nil, err
	}
	a.store = a.cache
	reg.MustRegister(a.cache.Collectors()...)
	if err := a.init(ctx); err != nil {
		st.Close()
		a.closeRC()
		return nil, err
	}
	return a, nil
}

func (a *App) init(ctx context.Context) error {
	if err := a.store.Migrate(ctx); err != nil {
		return err
	}
	if r, ok := a.db.(interface{ BypassesRLS(context.Context) bool }); ok && r.BypassesRLS(ctx) {
		a.log.Warn("the database role is a superuser or has BYPASSRLS: row-level security does not guard the tenants, only the store's tenant predicate does; connect as an ordinary role (docs/operations.md)")
	}
	// The log position comes first: a change committed while the schema
	// loads is then both loaded and followed, never missed.
	head, err := a.store.EventHead(ctx)
	if err != nil {
		return err
	}
	a.cache.Follow(head)
	a.hub = realtime.NewHub(a.store, head, a.log)
	a.channels, a.presence = newChannels(a.db, a.cfg.RealtimePresenceTTL, a.log)
	a.records = records.New(wakingStore{Store: a.store, wake: a.wake}, nil, a.log)
	if err := a.records.Load(ctx); err != nil {
		return err
	}
	a.keys = auth.NewKeys(a.store, nil)
	if err := a.newUsers(ctx); err != nil {
		return err
	}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	quotas, err := a.newQuotas(ctx)
	if err != nil {
		return err
	}
	limits, closeLimits, err := newLimiter(ctx, a.cfg, a.store, a.log)
	if err != nil {
		return err
	}
	a.server = api.NewServer(api.Config{
		BodyLimit: a.cfg.BodyLimit, CORSOrigins: a.cfg.CORSOrigins, RequestTimeout: a.cfg.RequestTimeout, LogRequests: a.cfg.LogRequests,
		Realtime: api.RealtimeConfig{Heartbeat: a.cfg.RealtimeHeartbeat, Buffer: a.cfg.RealtimeBuffer, MaxSubscriptions: a.cfg.RealtimeMaxSubscriptions,
			MaxPerPrincipal: a.cfg.RealtimeMaxPerUser, MaxPerTenant: a.cfg.RealtimeMaxPerTenant, CheckEvery: a.cfg.RealtimeAuthCheck},
		Shed: api.ShedConfig{Enabled: a.cfg.Shed, MinLimit: a.cfg.ShedMinLimit, InitialLimit: a.cfg.ShedInitialLimit, MaxLimit: a.cfg.ShedMaxLimit,
			Queue: a.cfg.ShedQueue, QueueWait: a.cfg.ShedQueueWait, Delay: a.cfg.ShedDelay},
		TrustedProxies: a.cfg.trustedProxies(), ProxyHeader: a.cfg.TrustedProxyHeader,
	}, api.Deps{Records: a.records, Store: a.store, Keys: a.keys, Users: a.users, Tokens: a.tokens, Hub: a.hub, Channels: a.channels, Presence: a.presence, Tickets: auth.NewTickets(a.store, nil),
		Limits:  limits,
		Quotas:  quotas,
		Tenants: a.newTenants(), Log: a.log, Registry: a.reg, Version: version(), AccessLog: a.accessLog})
	bg, stop := context.WithCancel(context.Background())
	a.stop = stop
	a.bg.Go(func() { followSchema(bg, a.store, a.records, head, a.log) })
	a.startRealtime(bg)
	a.startExport(bg)
	a.bg.Go(func() { a.users.Start(bg, 5*time.Second) })
	a.bg.Go(func() { a.followKeys(bg) })
	a.bg.Go(func() { limits.Follow(bg, rateLimitReload); closeLimits() })
	a.bg.Go(func() { quotas.Run(bg, a.cfg.QuotaFlush) })
	return nil
}

// Handler returns the HTTP handler of the whole API.
func (a *App) Handler() http.Handler { return a.server }

// Listener returns ln for Handler to be served from. With ShedDelay set,
// on Linux, its connections record when each request reached the
// socket, and the delay guard steers on each request's own wait; serve
// with ConnContext as the http.Server's. Otherwise it is ln.
func (a *App) Listener(ln net.Listener) net.Listener { return a.server.Listener(ln) }

// ConnContext is the http.Server's ConnContext for connections accepted
// from Listener.
func (a *App) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return a.server.ConnContext(ctx, c)
}

// Keys returns the API key service, to create keys from Go.
func (a *App) Keys() *auth.Keys { return a.keys }

// Records returns the collections and records service.
func (a *App) Records() *records.Service { return a.records }

// Users returns the account service.
func (a *App) Users() *auth.Users { return a.users }

// Store returns the store.
func (a *App) Store() store.Store { return a.store }

// Drain makes /readyz fail while in-flight requests finish.
func (a *App) Drain() { a.server.Drain() }

// Close stops the background services and closes the store. Stop
// serving requests first.
func (a *App) Close() error {
	a.stop()
	a.bg.Wait()
	return errors.Join(a.store.Close(), a.closeRC())
}

// tenantMailer is the mailer as the tenant service takes it: a nil
// interface, not a nil pointer, when no mail is configured.
func (a *App) tenantMailer() tenants.Mailer {
	if a.mailer == nil {
		return nil
	}
	return a.mailer
}
