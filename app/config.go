package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt/api"
	"basalt.dev/basalt/realtime/natsexport"
	"basalt.dev/basalt/store/sqlite"
)

// Config is every setting of the server. Each has a flag and a BASALT_*
// environment variable (see options); flags win over the environment,
// which wins over the defaults.
type Config struct {
	Data string // data directory (SQLite file, later uploads)
	DB   string // database URL: "" for SQLite in Data, postgres://... for PostgreSQL
	HTTP string // listen address

	BodyLimit         int64
	CORSOrigins       []string
	RequestTimeout    time.Duration
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration

	SQLiteSync   string        // FULL (default) or NORMAL
	CacheRecords int           // records kept in memory for reads by id; 0 is off
	CacheLists   int           // records held by the list pages kept in memory; 0 is off
	CacheTTL     time.Duration // lifetime of an entry in the shared cache (Redis)
	DBMaxConns   int           // PostgreSQL pool size
	NATSURL      string        // NATS server to export the event log to; "" exports nothing
	NATSStream   string        // JetStream stream of the export
	NATSPrefix   string        // first token of the export's subjects
	RedisURL     string        // Redis shared by the nodes for rate-limit counters and the cache; "" keeps them in memory
	LogLevel     string        // debug, info, warn, error
	LogRequests  bool          // one log line per request
	Pprof        string        // address of the Go profiler (net/http/pprof); "" is off

	// Load shedding (api.ShedConfig): an adaptive limit on the requests
	// worked on at once, its bounds and start, and the queue in front of it.
	Shed             bool
	ShedMinLimit     int
	ShedInitialLimit int
	ShedMaxLimit     int
	ShedQueue        float64
	ShedQueueWait    time.Duration
	ShedDelay        time.Duration

	SecretKey    string        // base64 of 32 bytes: encrypts stored secrets
	PublicURL    string        // where clients reach the server, for mailed links
	SMTPURL      string        // smtp://user:pass@host:587 for mail; "" sends none
	SMTPFrom     string        // sender address of mail
	SignupTenant string        // tenant new users join; "" for none
	AccessTTL    time.Duration // lifetime of an access token
	SessionTTL   time.Duration // lifetime of a session without refresh

	// Realtime streams (api.RealtimeConfig): keep-alive interval, events
	// a subscriber may fall behind by, subscriptions per connection,
	// open connections per principal (user, API key or anonymous address)
	// and per tenant (0: unlimited), and how often a stream checks that
	// its session or key still holds.
	RealtimeHeartbeat        time.Duration
	RealtimeBuffer           int
	RealtimeMaxSubscriptions int
	RealtimeMaxPerUser       int
	RealtimeMaxPerTenant     int
	RealtimeAuthCheck        time.Duration
	// RealtimePresenceTTL is how long a connection's presence in a
	// channel outlives its server's last refresh (every third of it): a
	// server that dies leaves no one present for longer.
	RealtimePresenceTTL time.Duration

	// Rate limits (package ratelimit): the policies, specs separated by
	// semicolons ("default" for the built-in sign-in and sign-up ones,
	// "none" for none); open or closed, whether requests pass while Redis
	// is away; the prefix of the counters' keys in Redis; the proxies
	// trusted to name the client, and the header they name it in.
	RateLimits            string
	RateLimitRedisFailure string
	RateLimitRedisPrefix  string
	TrustedProxies        string
	TrustedProxyHeader    string

	// Quotas of every tenant (package quota), 0 unlimited; the operator
	// overrides them per tenant. QuotaFlush is how often each server adds
	// the requests it counted to the totals the servers share.
	QuotaRequestsDay   int64
	QuotaRequestsMonth int64
	QuotaRecords       int64
	QuotaBytes         int64
	QuotaFlush         time.Duration
}

// DefaultConfig returns the defaults: SQLite in ./basalt_data, listening
// on loopback.
func DefaultConfig() Config {
	return Config{
		Data:              "basalt_data",
		HTTP:              "127.0.0.1:8090",
		BodyLimit:         10 << 20,
		RequestTimeout:    30 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   15 * time.Second,
		SQLiteSync:        "FULL",
		CacheRecords:      20000,
		CacheLists:        50000,
		CacheTTL:          5 * time.Minute,
		DBMaxConns:        20,
		NATSStream:        "BASALT",
		NATSPrefix:        "basalt",
		LogLevel:          "info",
		SignupTenant:      "default",
		AccessTTL:         15 * time.Minute,
		SessionTTL:        30 * 24 * time.Hour,
		SMTPFrom:          "basalt@localhost",
		LogRequests:       true,
		Shed:              true,
		ShedMinLimit:      4,
		ShedInitialLimit:  64,
		ShedMaxLimit:      1000,
		ShedQueue:         1,
		ShedQueueWait:     50 * time.Millisecond,

		RealtimeHeartbeat:        15 * time.Second,
		RealtimeBuffer:           1024,
		RealtimeMaxSubscriptions: 32,
		RealtimeMaxPerUser:       64,
		RealtimeMaxPerTenant:     10000,
		RealtimeAuthCheck:        5 * time.Second,
		RealtimePresenceTTL:      30 * time.Second,
		QuotaFlush:               2 * time.Second,

		RateLimits:            "default",
		RateLimitRedisFailure: "open",
		RateLimitRedisPrefix:  "basalt:",
		TrustedProxyHeader:    api.HeaderXForwardedFor,
	}
}

// option is one row of the options table: a flag, its variable, and how
// it reads into and out of Config.
type option struct {
	name   string
	usage  string
	secret bool // read from BASALT_<NAME>_FILE too; redacted in dumps
	repeat bool // the flag may be given many times; the values join with ";"
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

// options is the table of every setting. The environment variable of a
// flag is BASALT_ and its name in upper case with - as _.
var options = []option{
	{name: "data", usage: "data directory for the SQLite database", set: func(c *Config, v string) error { c.Data = v; return nil }, get: func(c *Config) string { return c.Data }},
	{name: "db", usage: "database URL: empty for SQLite in --data, or postgres://user:pass@host/db", secret: true,
		set: func(c *Config, v string) error { c.DB = v; return nil }, get: func(c *Config) string { return c.DB }},
	{name: "http", usage: "address to listen on", set: func(c *Config, v string) error { c.HTTP = v; return nil }, get: func(c *Config) string { return c.HTTP }},
	{name: "body-limit", usage: "maximum request body in bytes", set: setInt64(func(c *Config) *int64 { return &c.BodyLimit }), get: func(c *Config) string { return strconv.FormatInt(c.BodyLimit, 10) }},
	{name: "cors-origins", usage: "comma-separated origins allowed by CORS (* for any); empty disables CORS",
		set: func(c *Config, v string) error { c.CORSOrigins = splitList(v); return nil }, get: func(c *Config) string { return strings.Join(c.CORSOrigins, ",") }},
	{name: "request-timeout", usage: "time limit of one request's work", set: setDuration(func(c *Config) *time.Duration { return &c.RequestTimeout }), get: func(c *Config) string { return c.RequestTimeout.String() }},
	{name: "read-header-timeout", usage: "time a client has to send the request headers", set: setDuration(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }), get: func(c *Config) string { return c.ReadHeaderTimeout.String() }},
	{name: "read-timeout", usage: "time a client has to send the whole request", set: setDuration(func(c *Config) *time.Duration { return &c.ReadTimeout }), get: func(c *Config) string { return c.ReadTimeout.String() }},
	{name: "write-timeout", usage: "time limit to write a response", set: setDuration(func(c *Config) *time.Duration { return &c.WriteTimeout }), get: func(c *Config) string { return c.WriteTimeout.String() }},
	{name: "idle-timeout", usage: "how long an idle keep-alive connection stays open", set: setDuration(func(c *Config) *time.Duration { return &c.IdleTimeout }), get: func(c *Config) string { return c.IdleTimeout.String() }},
	{name: "shutdown-timeout", usage: "how long in-flight requests may take to finish at shutdown", set: setDuration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }), get: func(c *Config) string { return c.ShutdownTimeout.String() }},
	{name: "sqlite-sync", usage: "SQLite synchronous mode: FULL (acknowledged writes survive power loss) or NORMAL (survive a crash of the process)",
		set: func(c *Config, v string) error { c.SQLiteSync = strings.ToUpper(v); return nil }, get: func(c *Config) string { return c.SQLiteSync }},
	{name: "cache-records", usage: "records kept in memory for reads by id (0 turns the record cache off); on SQLite it also locks the data directory to this server",
		set: setInt(func(c *Config) *int { return &c.CacheRecords }), get: func(c *Config) string { return strconv.Itoa(c.CacheRecords) }},
	{name: "cache-lists", usage: "list pages kept in memory, counted by the records they hold (0 turns the list cache off)",
		set: setInt(func(c *Config) *int { return &c.CacheLists }), get: func(c *Config) string { return strconv.Itoa(c.CacheLists) }},
	{name: "cache-ttl", usage: "how long an entry lives in the shared cache in Redis (with --redis)",
		set: setDuration(func(c *Config) *time.Duration { return &c.CacheTTL }), get: func(c *Config) string { return c.CacheTTL.String() }},
	{name: "db-max-conns", usage: "PostgreSQL connection pool size", set: setInt(func(c *Config) *int { return &c.DBMaxConns }), get: func(c *Config) string { return strconv.Itoa(c.DBMaxConns) }},
	{name: "nats-url", usage: "NATS server (nats://user:pass@host:4222, several separated by commas) to export the event log to, on JetStream; empty exports nothing", secret: true,
		set: func(c *Config, v string) error { c.NATSURL = v; return nil }, get: func(c *Config) string { return c.NATSURL }},
	{name: "nats-stream", usage: "JetStream stream of the event log export, created with the subjects <nats-subject-prefix>.> if missing",
		set: func(c *Config, v string) error { c.NATSStream = v; return nil }, get: func(c *Config) string { return c.NATSStream }},
	{name: "nats-subject-prefix", usage: "subjects of the export are <prefix>.<tenant>.<collection>.<op>",
		set: func(c *Config, v string) error { c.NATSPrefix = v; return nil }, get: func(c *Config) string { return c.NATSPrefix }},
	{name: "redis", usage: "Redis server (redis://user:pass@host:6379/0, rediss:// for TLS) that the nodes share for rate-limit counters and the cache; empty keeps them in each server's memory", secret: true,
		set: func(c *Config, v string) error { c.RedisURL = v; return nil }, get: func(c *Config) string { return c.RedisURL }},
	{name: "secret-key", usage: "base64 of 32 random bytes that encrypts stored secrets (signing keys, TOTP seeds); SQLite makes one in --data if unset; required on PostgreSQL, the same on every node", secret: true,
		set: func(c *Config, v string) error { c.SecretKey = v; return nil }, get: func(c *Config) string { return c.SecretKey }},
	{name: "public-url", usage: "the URL clients reach the server at, for links in mail (default: http:// and the address --http listens on)",
		set: func(c *Config, v string) error { c.PublicURL = v; return nil }, get: func(c *Config) string { return c.PublicURL }},
	{name: "smtp-url", usage: "SMTP server for mail, smtp://user:pass@host:587 (STARTTLS) or smtps://...:465; empty sends no mail", secret: true,
		set: func(c *Config, v string) error { c.SMTPURL = v; return nil }, get: func(c *Config) string { return c.SMTPURL }},
	{name: "smtp-from", usage: "sender address of mail", set: func(c *Config, v string) error { c.SMTPFrom = v; return nil }, get: func(c *Config) string { return c.SMTPFrom }},
	{name: "signup-tenant", usage: "tenant that new users join as members; empty for none (they create or are invited to tenants)",
		set: func(c *Config, v string) error { c.SignupTenant = v; return nil }, get: func(c *Config) string { return c.SignupTenant }},
	{name: "access-ttl", usage: "lifetime of an access token", set: setDuration(func(c *Config) *time.Duration { return &c.AccessTTL }), get: func(c *Config) string { return c.AccessTTL.String() }},
	{name: "session-ttl", usage: "how long a session lasts without a refresh", set: setDuration(func(c *Config) *time.Duration { return &c.SessionTTL }), get: func(c *Config) string { return c.SessionTTL.String() }},
	{name: "realtime-heartbeat", usage: "interval of keep-alive comments on an idle realtime stream", set: setDuration(func(c *Config) *time.Duration { return &c.RealtimeHeartbeat }), get: func(c *Config) string { return c.RealtimeHeartbeat.String() }},
	{name: "realtime-buffer", usage: "events a realtime subscriber may fall behind by before it is cut off, to resume from its last event",
		set: setInt(func(c *Config) *int { return &c.RealtimeBuffer }), get: func(c *Config) string { return strconv.Itoa(c.RealtimeBuffer) }},
	{name: "realtime-max-subscriptions", usage: "collections, records and channels one realtime connection may follow",
		set: setInt(func(c *Config) *int { return &c.RealtimeMaxSubscriptions }), get: func(c *Config) string { return strconv.Itoa(c.RealtimeMaxSubscriptions) }},
	{name: "realtime-max-per-user", usage: "open realtime connections per user, API key or anonymous address (0: unlimited)",
		set: setInt(func(c *Config) *int { return &c.RealtimeMaxPerUser }), get: func(c *Config) string { return strconv.Itoa(c.RealtimeMaxPerUser) }},
	{name: "realtime-max-per-tenant", usage: "open realtime connections per tenant on this server (0: unlimited)",
		set: setInt(func(c *Config) *int { return &c.RealtimeMaxPerTenant }), get: func(c *Config) string { return strconv.Itoa(c.RealtimeMaxPerTenant) }},
	{name: "realtime-auth-check", usage: "how often an open realtime stream checks that its session or API key still holds; a revoked one ends it",
		set: setDuration(func(c *Config) *time.Duration { return &c.RealtimeAuthCheck }), get: func(c *Config) string { return c.RealtimeAuthCheck.String() }},
	{name: "realtime-presence-ttl", usage: "how long a realtime connection's presence in a channel outlives its server's last refresh (every third of it); a dead server's presence vanishes after it",
		set: setDuration(func(c *Config) *time.Duration { return &c.RealtimePresenceTTL }), get: func(c *Config) string { return c.RealtimePresenceTTL.String() }},
	{name: "log-level", usage: "log level: debug, info, warn or error", set: func(c *Config, v string) error { c.LogLevel = strings.ToLower(v); return nil }, get: func(c *Config) string { return c.LogLevel }},
	{name: "pprof", usage: "address to serve the Go profiler (net/http/pprof) on, such as 127.0.0.1:6060; empty is off", set: func(c *Config, v string) error { c.Pprof = v; return nil }, get: func(c *Config) string { return c.Pprof }},
	{name: "log-requests", usage: "log one line per request", set: setBool(func(c *Config) *bool { return &c.LogRequests }), get: func(c *Config) string { return strconv.FormatBool(c.LogRequests) }},
	{name: "shed", usage: "load shedding: an adaptive limit on the requests worked on at once, which follows their latency; requests over it wait in a short queue or get 503 overloaded at once",
		set: setBool(func(c *Config) *bool { return &c.Shed }), get: func(c *Config) string { return strconv.FormatBool(c.Shed) }},
	{name: "shed-min-limit", usage: "the least the load-shedding limit falls to when latency rises",
		set: setInt(func(c *Config) *int { return &c.ShedMinLimit }), get: func(c *Config) string { return strconv.Itoa(c.ShedMinLimit) }},
	{name: "shed-initial-limit", usage: "the load-shedding limit at start, and the least that a lack of traffic brings it to (room for a burst after a quiet spell)",
		set: setInt(func(c *Config) *int { return &c.ShedInitialLimit }), get: func(c *Config) string { return strconv.Itoa(c.ShedInitialLimit) }},
	{name: "shed-max-limit", usage: "the most the load-shedding limit rises to",
		set: setInt(func(c *Config) *int { return &c.ShedMaxLimit }), get: func(c *Config) string { return strconv.Itoa(c.ShedMaxLimit) }},
	{name: "shed-queue", usage: "requests that may wait for the load-shedding limit, as a multiple of it; more are refused with a rising probability, all at twice that; 0 refuses at once",
		set: setFloat(func(c *Config) *float64 { return &c.ShedQueue }), get: func(c *Config) string { return strconv.FormatFloat(c.ShedQueue, 'g', -1, 64) }},
	{name: "shed-queue-wait", usage: "the longest a request waits for the load-shedding limit before it gets 503 overloaded",
		set: setDuration(func(c *Config) *time.Duration { return &c.ShedQueueWait }), get: func(c *Config) string { return c.ShedQueueWait.String() }},
	{name: "shed-delay", usage: "when requests that have arrived wait longer than this before they run (the processors are saturated), refuse a paced share of requests 503 overloaded before they cost more; 0 (the default) turns this off; for a node that serves the REST API without realtime streams, above its typical request's time and a few ms above the delay of its busiest normal hour",
		set: setDuration(func(c *Config) *time.Duration { return &c.ShedDelay }), get: func(c *Config) string { return c.ShedDelay.String() }},
	{name: "rate-limit", repeat: true, usage: "rate-limit policies, such as name=api,by=ip,class=all,limit=600/1m,burst=100 (docs/operations.md); repeat the flag or separate them with ';'; default is the built-in sign-in and sign-up limits, none is no limit",
		set: func(c *Config, v string) error { c.RateLimits = v; return nil }, get: func(c *Config) string { return c.RateLimits }},
	{name: "rate-limit-redis-failure", usage: "while Redis (--redis) does not answer: open lets requests through uncounted, closed refuses them with 503",
		set: func(c *Config, v string) error { c.RateLimitRedisFailure = strings.ToLower(v); return nil }, get: func(c *Config) string { return c.RateLimitRedisFailure }},
	{name: "rate-limit-redis-prefix", usage: "prefix of the rate-limit counters' keys in Redis, for deployments that share one",
		set: func(c *Config, v string) error { c.RateLimitRedisPrefix = v; return nil }, get: func(c *Config) string { return c.RateLimitRedisPrefix }},
	{name: "trusted-proxies", usage: "comma-separated addresses or CIDR prefixes of the proxies whose forwarding header names the client (for rate limits, the audit trail); empty: the peer is the client",
		set: func(c *Config, v string) error { c.TrustedProxies = v; return nil }, get: func(c *Config) string { return c.TrustedProxies }},
	{name: "trusted-proxy-header", usage: "the header the trusted proxies name the client in: x-forwarded-for or forwarded (RFC 7239)",
		set: func(c *Config, v string) error { c.TrustedProxyHeader = strings.ToLower(v); return nil }, get: func(c *Config) string { return c.TrustedProxyHeader }},
	{name: "quota-requests-day", usage: "requests a tenant may make per UTC day, unless the operator set its own quota; 0 is unlimited",
		set: setInt64(func(c *Config) *int64 { return &c.QuotaRequestsDay }), get: func(c *Config) string { return strconv.FormatInt(c.QuotaRequestsDay, 10) }},
	{name: "quota-requests-month", usage: "requests a tenant may make per UTC month, unless the operator set its own quota; 0 is unlimited",
		set: setInt64(func(c *Config) *int64 { return &c.QuotaRequestsMonth }), get: func(c *Config) string { return strconv.FormatInt(c.QuotaRequestsMonth, 10) }},
	{name: "quota-records", usage: "records a tenant may keep in all collections, unless the operator set its own quota; 0 is unlimited",
		set: setInt64(func(c *Config) *int64 { return &c.QuotaRecords }), get: func(c *Config) string { return strconv.FormatInt(c.QuotaRecords, 10) }},
	{name: "quota-bytes", usage: "bytes of record values a tenant may keep (docs/operations.md says how they are counted), unless the operator set its own quota; 0 is unlimited",
		set: setInt64(func(c *Config) *int64 { return &c.QuotaBytes }), get: func(c *Config) string { return strconv.FormatInt(c.QuotaBytes, 10) }},
	{name: "quota-flush", usage: "how often each server adds the requests it counted to the totals the servers share; a tenant can pass a request quota by what the other servers admit in this time",
		set: setDuration(func(c *Config) *time.Duration { return &c.QuotaFlush }), get: func(c *Config) string { return c.QuotaFlush.String() }},
}

func envName(flagName string) string {
	return "BASALT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags from args, then the environment for every flag
// not given, over the defaults. only, if not nil, limits the options a
// command takes.
func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer, only map[string]bool) (Config, []string, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("basalt "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := map[string]*string{}
	for _, o := range options {
		if only != nil && !only[o.name] {
			continue
		}
		if o.repeat {
			r := &repeated{v: o.get(&cfg)}
			fs.Var(r, o.name, o.usage+" ("+envName(o.name)+")")
			values[o.name] = &r.v
			continue
		}
		values[o.name] = fs.String(o.name, o.get(&cfg), o.usage+" ("+envName(o.name)+")")
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, o := range options {
		v, ok := values[o.name]
		if !ok {
			continue
		}
		if !given[o.name] {
			env, found, err := fromEnv(o, getenv)
			if err != nil {
				return cfg, nil, err
			}
			if !found {
				continue
			}
			*v = env
		}
		if err := o.set(&cfg, *v); err != nil {
			return cfg, nil, fmt.Errorf("--%s: %w", o.name, err)
		}
	}
	return cfg, fs.Args(), cfg.Validate()
}

// repeated is the value of a flag that may be given many times: the
// first replaces the default, later ones join it with ";".
type repeated struct {
	v   string
	set bool
}

func (r *repeated) String() string {
	if r == nil {
		return ""
	}
	return r.v
}

func (r *repeated) Set(s string) error {
	if r.set {
		r.v += ";" + s
	} else {
		r.v, r.set = s, true
	}
	return nil
}

// fromEnv reads an option's variable; a secret may instead name a file
// holding the value in BASALT_<NAME>_FILE.
func fromEnv(o option, getenv func(string) string) (string, bool, error) {
	if v := getenv(envName(o.name)); v != "" {
		return v, true, nil
	}
	if !o.secret {
		return "", false, nil
	}
	path := getenv(envName(o.name) + "_FILE")
	if path == "" {
		return "", false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, fmt.Errorf("%s_FILE: %w", envName(o.name), err)
	}
	return strings.TrimSpace(string(b)), true, nil
}

// Validate checks the settings and names the option of each problem.
func (c *Config) Validate() error {
	var errs []error
	if c.DB == "" && c.Data == "" {
		errs = append(errs, errors.New("--data: a data directory is required for SQLite"))
	}
	if c.DB != "" && !IsPostgresURL(c.DB) {
		errs = append(errs, errors.New("--db: only postgres:// or postgresql:// URLs are supported; leave it empty for SQLite"))
	}
	if c.BodyLimit < 1024 {
		errs = append(errs, errors.New("--body-limit: must be at least 1024 bytes"))
	}
	if !sqlite.ValidSynchronous(c.SQLiteSync) {
		errs = append(errs, errors.New("--sqlite-sync: must be FULL, EXTRA or NORMAL"))
	}
	if c.CacheRecords < 0 {
		errs = append(errs, errors.New("--cache-records: must be 0 (off) or more"))
	}
	if c.CacheLists < 0 {
		errs = append(errs, errors.New("--cache-lists: must be 0 (off) or more"))
	}
	if c.CacheTTL < time.Second {
		errs = append(errs, errors.New("--cache-ttl: must be at least 1s"))
	}
	if c.DBMaxConns < 1 {
		errs = append(errs, errors.New("--db-max-conns: must be at least 1"))
	}
	if c.NATSURL != "" && !validNATSURL(c.NATSURL) {
		errs = append(errs, errors.New("--nats-url: must be nats://, tls://, ws:// or wss:// URLs separated by commas"))
	}
	if !natsexport.ValidStream(c.NATSStream) {
		errs = append(errs, errors.New("--nats-stream: must be a name without spaces, '.', '*', '>', '/' or '\\'"))
	}
	if !natsexport.ValidPrefix(c.NATSPrefix) {
		errs = append(errs, errors.New("--nats-subject-prefix: must be tokens separated by '.', without spaces, '*' or '>'"))
	}
	if c.AccessTTL > time.Hour {
		errs = append(errs, errors.New("--access-ttl: at most 1h; access tokens cannot be revoked one by one, so keep them short"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"access-ttl", c.AccessTTL}, {"session-ttl", c.SessionTTL}, {"request-timeout", c.RequestTimeout}, {"read-header-timeout", c.ReadHeaderTimeout}, {"read-timeout", c.ReadTimeout},
		{"write-timeout", c.WriteTimeout}, {"idle-timeout", c.IdleTimeout}, {"shutdown-timeout", c.ShutdownTimeout},
		{"realtime-heartbeat", c.RealtimeHeartbeat}, {"realtime-auth-check", c.RealtimeAuthCheck}, {"realtime-presence-ttl", c.RealtimePresenceTTL}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s: must be positive", d.name))
		}
	}
	if c.RealtimePresenceTTL > 0 && c.RealtimePresenceTTL < time.Second {
		errs = append(errs, errors.New("--realtime-presence-ttl: at least 1s; servers refresh presence every third of it"))
	}
	if c.RealtimeBuffer < 1 {
		errs = append(errs, errors.New("--realtime-buffer: must be at least 1"))
	}
	if c.RealtimeMaxSubscriptions < 1 {
		errs = append(errs, errors.New("--realtime-max-subscriptions: must be at least 1"))
	}
	if c.RealtimeMaxPerUser < 0 {
		errs = append(errs, errors.New("--realtime-max-per-user: must be 0 (unlimited) or more"))
	}
	if c.RealtimeMaxPerTenant < 0 {
		errs = append(errs, errors.New("--realtime-max-per-tenant: must be 0 (unlimited) or more"))
	}
	errs = append(errs, c.validateQuotas()...)
	errs = append(errs, c.validateRateLimits()...)
	if c.ShedMinLimit < 1 || c.ShedInitialLimit < c.ShedMinLimit || c.ShedMaxLimit < c.ShedInitialLimit {
		errs = append(errs, errors.New("--shed-min-limit, --shed-initial-limit, --shed-max-limit: need 1 <= min <= initial <= max"))
	}
	if c.ShedQueue < 0 || c.ShedQueueWait < 0 || c.ShedDelay < 0 {
		errs = append(errs, errors.New("--shed-queue, --shed-queue-wait, --shed-delay: must be 0 (off) or more"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, errors.New("--log-level: must be debug, info, warn or error"))
	}
	return errors.Join(errs...)
}

// validNATSURL reports whether s lists NATS servers by URL.
func validNATSURL(s string) bool {
	for _, u := range strings.Split(s, ",") {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || p.Host == "" {
			return false
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return false
		}
	}
	return true
}

// IsPostgresURL reports whether s selects the PostgreSQL store.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redacted returns the database URL without its password, for logs.
func (c *Config) Redacted() string {
	if c.DB == "" {
		return "sqlite:" + c.Data
	}
	u, err := url.Parse(c.DB)
	if err != nil {
		return "postgres://(unparseable)"
	}
	return u.Redacted()
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func setDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s or 2m", v)
		}
		*field(c) = d
		return nil
	}
}

func setInt64(field func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*field(c) = n
		return nil
	}
}

func setInt(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*field(c) = n
		return nil
	}
}

func setFloat(field func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*field(c) = f
		return nil
	}
}

func setBool(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*field(c) = b
		return nil
	}
}
