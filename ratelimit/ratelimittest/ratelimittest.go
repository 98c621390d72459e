// Package ratelimittest is the conformance suite of rate-limit stores:
// the in-memory store and the Redis store run the same cases on the real
// clock, so they cannot drift apart.
package ratelimittest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt/ratelimit"
)

// Run runs the suite on the stores newStore returns. Every case uses
// keys of its own, so one store may serve them all.
func Run(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t), tc.name)
		})
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, s ratelimit.Store, key string)
}{
	{"Burst", testBurst},
	{"RefusalTakesNothing", testRefusalTakesNothing},
	{"PerKey", testPerKey},
	{"Refill", testRefill},
	{"Concurrent", testConcurrent},
}

// hourly allows burst requests at once, then one an hour: nothing
// refills while a case runs.
func hourly(burst int) ratelimit.Limit {
	return ratelimit.Limit{Quota: 1, Window: time.Hour, Burst: burst}
}

// allow makes one request and fails the test on a store error.
func allow(t *testing.T, s ratelimit.Store, key string, l ratelimit.Limit) ratelimit.Result {
	t.Helper()
	r, err := s.Allow(context.Background(), key, l)
	if err != nil {
		t.Fatalf("Allow(%q) = %v", key, err)
	}
	return r
}

// within reports whether d is in (max-slack, max]: the store's answer
// less the time the case has run.
func within(d, max time.Duration) bool { return d <= max && d > max-time.Minute }

// testBurst: Burst requests at once, each with one less remaining and
// the reset one interval further; then refusals that say when to retry.
func testBurst(t *testing.T, s ratelimit.Store, key string) {
	l := hourly(3)
	for i := range 3 {
		r := allow(t, s, key, l)
		if !r.Allowed || r.Remaining != 2-i || r.RetryAfter != 0 || !within(r.ResetAfter, time.Duration(i+1)*time.Hour) {
			t.Fatalf("request %d = %+v; want allowed, %d remaining, reset in %dh", i+1, r, 2-i, i+1)
		}
	}
	r := allow(t, s, key, l)
	if r.Allowed || r.Remaining != 0 || !within(r.RetryAfter, time.Hour) || !within(r.ResetAfter, 3*time.Hour) {
		t.Fatalf("request 4 = %+v; want refused, retry in 1h, reset in 3h", r)
	}
}

// testRefusalTakesNothing: refused requests do not push the retry time
// further.
func testRefusalTakesNothing(t *testing.T, s ratelimit.Store, key string) {
	l := hourly(1)
	allow(t, s, key, l)
	first := allow(t, s, key, l)
	for range 5 {
		allow(t, s, key, l)
	}
	last := allow(t, s, key, l)
	if first.Allowed || last.Allowed || last.RetryAfter > first.RetryAfter || !within(last.RetryAfter, time.Hour) {
		t.Fatalf("refusals = %+v then %+v; want the retry time to stay", first, last)
	}
}

// testPerKey: each key has its own limit.
func testPerKey(t *testing.T, s ratelimit.Store, key string) {
	l := hourly(1)
	if r := allow(t, s, key+":a", l); !r.Allowed {
		t.Fatalf("key a = %+v; want allowed", r)
	}
	if r := allow(t, s, key+":a", l); r.Allowed {
		t.Fatalf("key a again = %+v; want refused", r)
	}
	if r := allow(t, s, key+":b", l); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("key b = %+v; want allowed, as its own limit", r)
	}
}

// testRefill: after RetryAfter one more request is allowed, and after
// ResetAfter the whole burst. Waiting longer only refills more, so the
// case holds however slowly the machine runs.
func testRefill(t *testing.T, s ratelimit.Store, key string) {
	l := ratelimit.Limit{Quota: 10, Window: time.Second, Burst: 2} // one per 100ms
	allow(t, s, key, l)
	allow(t, s, key, l)
	r := allow(t, s, key, l)
	if r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > 100*time.Millisecond {
		t.Fatalf("third request = %+v; want refused, retry within 100ms", r)
	}
	time.Sleep(r.RetryAfter + 5*time.Millisecond)
	r = allow(t, s, key, l)
	if !r.Allowed {
		t.Fatalf("after RetryAfter = %+v; want allowed", r)
	}
	time.Sleep(r.ResetAfter + 5*time.Millisecond)
	for i := range 2 {
		if r := allow(t, s, key, l); !r.Allowed {
			t.Fatalf("request %d after ResetAfter = %+v; want the whole burst", i+1, r)
		}
	}
}

// testConcurrent: of many requests at once for one key, exactly Burst
// are allowed.
func testConcurrent(t *testing.T, s ratelimit.Store, key string) {
	l := hourly(100)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				r, err := s.Allow(context.Background(), key, l)
				if err != nil {
					t.Errorf("Allow(goroutine %d, request %d) = %v", g, i, err)
					return
				}
				if r.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Fatalf("%d of 320 concurrent requests allowed; want the burst, 100", n)
	}
}
