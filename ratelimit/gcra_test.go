package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// allowed makes one request of key at t0+at and checks the answer.
func allowed(t *testing.T, m *Memory, key string, l Limit, at time.Duration, want Result) {
	t.Helper()
	if got := m.allow(key, l, t0.Add(at)); got != want {
		t.Fatalf("allow(%q at +%v) = %+v, want %+v", key, at, got, want)
	}
}

// TestMemoryExact follows one key on a fake clock: the answers are the
// GCRA's to the nanosecond.
func TestMemoryExact(t *testing.T) {
	t.Parallel()
	m := NewMemory()
	l := Limit{Quota: 10, Window: time.Second, Burst: 3} // one per 100ms
	ms := time.Millisecond
	allowed(t, m, "k", l, 0, Result{Allowed: true, Remaining: 2, ResetAfter: 100 * ms})
	allowed(t, m, "k", l, 0, Result{Allowed: true, Remaining: 1, ResetAfter: 200 * ms})
	allowed(t, m, "k", l, 0, Result{Allowed: true, Remaining: 0, ResetAfter: 300 * ms})
	allowed(t, m, "k", l, 0, Result{RetryAfter: 100 * ms, ResetAfter: 300 * ms})
	allowed(t, m, "k", l, 40*ms, Result{RetryAfter: 60 * ms, ResetAfter: 260 * ms})
	// One interval later one request is allowed, and no more.
	allowed(t, m, "k", l, 100*ms, Result{Allowed: true, Remaining: 0, ResetAfter: 300 * ms})
	allowed(t, m, "k", l, 100*ms, Result{RetryAfter: 100 * ms, ResetAfter: 300 * ms})
	// 250ms of rest give back two and a half: two requests.
	allowed(t, m, "k", l, 350*ms, Result{Allowed: true, Remaining: 1, ResetAfter: 150 * ms})
	allowed(t, m, "k", l, 350*ms, Result{Allowed: true, Remaining: 0, ResetAfter: 250 * ms})
	// Once the bucket is full it stays full: rest beyond it counts for nothing.
	allowed(t, m, "k", l, 10*time.Second, Result{Allowed: true, Remaining: 2, ResetAfter: 100 * ms})
	// Other keys are untouched.
	allowed(t, m, "other", l, 350*ms, Result{Allowed: true, Remaining: 2, ResetAfter: 100 * ms})
}

// TestMemoryBounded sends requests from 300,000 addresses, each once,
// over simulated minutes: idle keys are dropped, so the map holds about
// the keys of the last sweep and the longest burst, not all of them.
func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	m := NewMemory()
	m.SweepEvery = time.Second
	l := Limit{Quota: 60, Window: time.Minute, Burst: 10} // a key is idle 1s after one request
	const n, perSecond = 300_000, 5_000
	peak := 0
	for i := range n {
		at := time.Duration(i) * time.Second / perSecond
		m.allow(fmt.Sprintf("ip:%d", i), l, t0.Add(at))
		if i%perSecond == 0 {
			peak = max(peak, m.Len())
		}
	}
	// Keys of up to two seconds: the sweep's and the bucket's.
	if peak > 2*perSecond+shardCount {
		t.Fatalf("Memory held %d keys at peak; want at most about %d, the keys of two seconds", peak, 2*perSecond)
	}
	for i := range shardCount * 64 {
		m.allow(fmt.Sprintf("late:%d", i), l, t0.Add(time.Hour))
	}
	if got := m.Len(); got > shardCount*64 {
		t.Fatalf("Memory holds %d keys an hour later; want only the %d new ones", got, shardCount*64)
	}
}
