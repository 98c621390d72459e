package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"basalt.dev/basalt/api"
	"basalt.dev/basalt/ratelimit"
	ratelimitredis "basalt.dev/basalt/ratelimit/redis"
	"basalt.dev/basalt/store"
	goredis "github.com/redis/go-redis/v9"
)

// rateLimitTimeout is the longest a request waits for Redis to count it
// before --rate-limit-redis-failure decides.
const rateLimitTimeout = 250 * time.Millisecond

// rateLimitReload is how often a node reads the policies stored through
// the admin API, so a change made on another node applies here too.
const rateLimitReload = 5 * time.Second

// validateRateLimits checks the rate-limit options.
func (c *Config) validateRateLimits() []error {
	var errs []error
	if _, err := ratelimit.ParsePolicies(c.RateLimits); err != nil {
		errs = append(errs, fmt.Errorf("--rate-limit: %w", err))
	}
	if c.RateLimitRedisFailure != "open" && c.RateLimitRedisFailure != "closed" {
		errs = append(errs, errors.New("--rate-limit-redis-failure: must be open or closed"))
	}
	if _, err := api.ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w; give addresses or CIDR prefixes such as 10.0.0.0/8, separated by commas", err))
	}
	if c.TrustedProxyHeader != api.HeaderXForwardedFor && c.TrustedProxyHeader != api.HeaderForwarded {
		errs = append(errs, errors.New("--trusted-proxy-header: must be x-forwarded-for or forwarded"))
	}
	return errs
}

// trustedProxies returns the validated --trusted-proxies.
func (c *Config) trustedProxies() []netip.Prefix {
	ps, _ := api.ParseTrustedProxies(c.TrustedProxies)
	return ps
}

// newLimiter returns the rate limiter of the configuration with the
// stored policies loaded: counters in Redis with --redis, in memory
// otherwise. close releases its Redis client.
func newLimiter(ctx context.Context, cfg Config, st store.Store, log *slog.Logger) (l *ratelimit.Limiter, close func() error, err error) {
	policies, err := ratelimit.ParsePolicies(cfg.RateLimits)
	if err != nil {
		return nil, nil, err
	}
	o := ratelimit.Options{Configured: policies, Stored: st, FailClosed: cfg.RateLimitRedisFailure == "closed", Log: log}
	close = func() error { return nil }
	if cfg.RedisURL != "" {
		quietRedis(log)
		ro, err := ratelimitredis.Options(cfg.RedisURL, rateLimitTimeout)
		if err != nil {
			return nil, nil, fmt.Errorf("--redis: %w", err)
		}
		c := goredis.NewClient(ro)
		o.Store, o.Remote, close = ratelimitredis.New(c, cfg.RateLimitRedisPrefix), true, c.Close
	}
	l = ratelimit.New(o)
	if err := l.Reload(ctx); err != nil {
		close()
		return nil, nil, fmt.Errorf("ratelimit: load the stored policies: %w", err)
	}
	return l, close, nil
}
