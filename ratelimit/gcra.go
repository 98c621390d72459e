// Package ratelimit limits how often a client may call Basalt with the
// Generic Cell Rate Algorithm (GCRA): each key keeps one theoretical
// arrival time (TAT), the moment its bucket would be empty again if no
// more requests came. A request is allowed when taking one more cell
// keeps the TAT within Burst emission intervals of now; the emission
// interval is Window/Quota. So a client may send Burst requests at once,
// then Quota per Window.
//
// Two stores keep the TATs: Memory (one node, the default) and the Redis
// store of the redis subpackage (several nodes share one limit). Both
// give the same answers to the same requests; ratelimittest checks it.
// Policies (policy.go) say which requests a limit applies to and what it
// keys on, and a Limiter (limiter.go) holds the policies in force and
// guards a remote store against its outages.
package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Limit is a quota of requests per window with bursts: Burst requests
// may come at once, then one every Window/Quota.
type Limit struct {
	Quota  int           // requests per Window, at least 1
	Window time.Duration // at least one second
	Burst  int           // requests that may come at once, at least 1
}

// interval is the emission interval: the time one request takes up.
func (l Limit) interval() time.Duration { return l.Window / time.Duration(l.Quota) }

// Result is the answer to one request.
type Result struct {
	// Allowed says whether the request may proceed; a refused request
	// takes up nothing.
	Allowed bool
	// Remaining is how many more requests the key could make at once,
	// right now.
	Remaining int
	// RetryAfter is, for a refused request, how long until one would be
	// allowed; 0 for an allowed one.
	RetryAfter time.Duration
	// ResetAfter is how long until the key's whole burst is available
	// again.
	ResetAfter time.Duration
	// Unknown is set by a Limiter whose store could not answer: Allowed
	// is then what its failure mode says (see Limiter.FailClosed).
	Unknown bool
}

// Store keeps the theoretical arrival times of keys and decides each
// request. Errors are the store's own (a network failure, say), never a
// refusal.
type Store interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Memory is the GCRA in process memory: one TAT per key in a sharded
// map, so concurrent requests for different keys rarely meet on a lock.
// A key whose TAT has passed holds nothing a request needs (its bucket
// is full), so each shard drops such keys every SweepEvery as it is
// used: memory is bounded by the keys active within a sweep plus the
// longest burst, however many clients come and go.
//
// It is written here rather than taken from a library (x/time/rate,
// throttled and the like keep token counts, not TATs, or have their own
// arithmetic) because it must give exactly the answers of the Redis
// store, which runs the GCRA script of github.com/go-redis/redis_rate:
// the same TAT update, the same Remaining, RetryAfter and ResetAfter,
// with nanoseconds where the script has float seconds.
//
// The zero value is not usable; call NewMemory.
type Memory struct {
	// Now is the clock; tests set it.
	Now func() time.Time
	// SweepEvery is how often a shard drops its idle keys.
	SweepEvery time.Duration

	seed   maphash.Seed
	shards [shardCount]shard
}

const shardCount = 256

type shard struct {
	mu        sync.Mutex
	tat       map[string]int64 // unix nanoseconds
	nextSweep int64
	_         [40]byte // keeps shards on separate cache lines
}

// NewMemory returns an empty in-memory store on the real clock.
func NewMemory() *Memory {
	m := &Memory{Now: time.Now, SweepEvery: 10 * time.Second, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
	}
	return m
}

// Allow implements Store; it never fails.
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	return m.allow(key, l, m.Now()), nil
}

// allow decides one request for key at now, in the steps of redis_rate's
// script: the TAT is at least now; the request would move it one
// interval on; it is allowed if the new TAT is at most Burst intervals
// ahead of now.
func (m *Memory) allow(key string, l Limit, now time.Time) Result {
	t := now.UnixNano()
	interval := int64(l.interval())
	s := &m.shards[maphash.String(m.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	if t >= s.nextSweep {
		s.sweepLocked(t)
		s.nextSweep = t + int64(m.SweepEvery)
	}
	tat, ok := s.tat[key]
	if !ok || tat < t {
		tat = t
	}
	newTAT := tat + interval
	diff := t - (newTAT - int64(l.Burst)*interval)
	if diff < 0 {
		return Result{RetryAfter: time.Duration(-diff), ResetAfter: time.Duration(tat - t)}
	}
	s.tat[key] = newTAT
	return Result{Allowed: true, Remaining: int(diff / interval), ResetAfter: time.Duration(newTAT - t)}
}

// sweepLocked drops the keys whose TAT has passed.
func (s *shard) sweepLocked(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
}

// Len returns the number of keys held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
