// Package redis keeps rate-limit counters in Redis, so that several
// Basalt nodes share one limit per key. It runs the GCRA script of
// github.com/go-redis/redis_rate, which reads the time from Redis: the
// nodes' clocks do not matter.
package redis

import (
	"context"
	"time"

	"basalt.dev/basalt/ratelimit"
	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
)

// Store is a ratelimit.Store on Redis. Each key is stored as
// rate:<prefix><key> and expires once its bucket is full again.
type Store struct {
	lim    *redis_rate.Limiter
	prefix string
}

var _ ratelimit.Store = (*Store)(nil)

// New returns a store on the client c whose keys start with prefix.
func New(c goredis.UniversalClient, prefix string) *Store {
	return &Store{lim: redis_rate.NewLimiter(c), prefix: prefix}
}

// Allow implements ratelimit.Store.
func (s *Store) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	r, err := s.lim.Allow(ctx, s.prefix+key, redis_rate.Limit{Rate: l.Quota, Period: l.Window, Burst: l.Burst})
	if err != nil {
		return ratelimit.Result{}, err
	}
	out := ratelimit.Result{Allowed: r.Allowed > 0, Remaining: r.Remaining, ResetAfter: r.ResetAfter}
	if !out.Allowed {
		out.RetryAfter = r.RetryAfter
	}
	return out, nil
}

// Options returns client options for url (redis://user:pass@host:6379/0
// or rediss:// for TLS) that fail fast: a limiter waits at most about
// timeout for Redis before its failure mode decides, rather than hold
// requests for go-redis's default seconds and retries.
func Options(url string, timeout time.Duration) (*goredis.Options, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.MaxRetries = -1   // no retries: the breaker decides when to try again
	o.DialerRetries = 1 // one attempt per dial, for the same reason
	o.ContextTimeoutEnabled = true
	return o, nil
}
