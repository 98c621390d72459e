package redis_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/ratelimit"
	"basalt.dev/basalt/ratelimit/ratelimittest"
	"basalt.dev/basalt/ratelimit/redis"
	goredis "github.com/redis/go-redis/v9"
)

// client returns a client of url that fails fast, closed with the test;
// addr, if not empty, replaces the URL's address.
func client(t *testing.T, url string, addr ...string) *goredis.Client {
	t.Helper()
	o, err := redis.Options(url, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(addr) > 0 {
		o.Addr = addr[0]
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisConformance(t *testing.T) {
	t.Parallel()
	c := client(t, testdb.RedisURL(t))
	ratelimittest.Run(t, func(*testing.T) ratelimit.Store { return redis.New(c, testdb.RedisPrefix()) })
}

// TestRedisSameAnswers sends the same requests to both stores: their
// answers agree (within the time between the two calls).
func TestRedisSameAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rs := redis.New(client(t, testdb.RedisURL(t)), testdb.RedisPrefix())
	ms := ratelimit.NewMemory()
	l := ratelimit.Limit{Quota: 2, Window: time.Hour, Burst: 4}
	for i := range 7 {
		r, err := rs.Allow(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := ms.Allow(ctx, "k", l)
		close := func(a, b time.Duration) bool { return a-b < time.Second && b-a < time.Second }
		if r.Allowed != m.Allowed || r.Remaining != m.Remaining || !close(r.RetryAfter, m.RetryAfter) || !close(r.ResetAfter, m.ResetAfter) {
			t.Fatalf("request %d: Redis %+v, memory %+v; want the same", i+1, r, m)
		}
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) lines(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.b.String(), substr)
}

// TestRedisAway points limiters at a Redis behind a proxy, cuts it and
// brings it back: while it is away a limiter that fails open lets every
// request through and one that fails closed refuses them, each says so
// in Up and Errors and in one log line, and both count again by
// themselves once it returns.
func TestRedisAway(t *testing.T) {
	t.Parallel()
	url := testdb.RedisURL(t)
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, closed := range []bool{false, true} {
		name := map[bool]string{false: "open", true: "closed"}[closed]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := testdb.NewProxy(t, o.Addr)
			var logs syncBuffer
			l := ratelimit.New(ratelimit.Options{
				Store:  redis.New(client(t, url, p.Addr()), testdb.RedisPrefix()),
				Remote: true, FailClosed: closed, RetryDelay: 50 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			pol := &ratelimit.Policy{Name: "p", Limit: ratelimit.Limit{Quota: 1, Window: time.Hour, Burst: 1}}
			ctx := context.Background()
			if r := l.Allow(ctx, pol, "a"); !r.Allowed || r.Unknown || !l.Up() {
				t.Fatalf("with Redis up: %+v, up %v; want counted and allowed", r, l.Up())
			}
			if r := l.Allow(ctx, pol, "a"); r.Allowed || r.Unknown {
				t.Fatalf("second request with Redis up: %+v; want counted and refused", r)
			}

			p.Cut()
			for i := range 50 {
				r := l.Allow(ctx, pol, "b")
				if !r.Unknown || r.Allowed == closed {
					t.Fatalf("request %d with Redis away = %+v; want unknown and allowed = %v", i, r, !closed)
				}
			}
			if l.Up() || l.Errors() == 0 {
				t.Fatalf("with Redis away: up %v, %d errors; want down with errors", l.Up(), l.Errors())
			}
			if n := logs.lines("does not answer"); n != 1 {
				t.Fatalf("%d log lines say the store is away; want 1 for the whole outage:\n%s", n, logs.b.String())
			}

			p.Restore()
			deadline := time.Now().Add(10 * time.Second)
			var r ratelimit.Result
			for r = l.Allow(ctx, pol, "a"); r.Unknown && time.Now().Before(deadline); r = l.Allow(ctx, pol, "a") {
				time.Sleep(20 * time.Millisecond)
			}
			if r.Unknown || r.Allowed || !l.Up() {
				t.Fatalf("after Redis returned: %+v, up %v; want key a counted (and still refused) again", r, l.Up())
			}
			if n := logs.lines("answers again"); n != 1 {
				t.Fatalf("%d log lines say the store is back; want 1:\n%s", n, logs.b.String())
			}
		})
	}
}
