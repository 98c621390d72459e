package cache

import (
	"sync/atomic"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// stats count what the caches do, for /metrics and tests.
type stats struct {
	records, lists counts
}

// counts are one cache's (records or lists) in both tiers.
type counts struct {
	localHits, localMisses, evictions, invalidations atomic.Uint64
	redisHits, redisMisses, redisInvalidations       atomic.Uint64
}

// onDeletion counts entries evicted for room (not those invalidated or
// replaced, which invalidations count).
func onDeletion[K comparable, V any](c *counts) func(otter.DeletionEvent[K, V]) {
	return func(e otter.DeletionEvent[K, V]) {
		if e.Cause == otter.CauseOverflow {
			c.evictions.Add(1)
		}
	}
}

// Stats are the counters of one cache.
type Stats struct {
	LocalHits, LocalMisses, Evictions, Invalidations uint64
	RedisHits, RedisMisses, RedisInvalidations       uint64
}

func (c *counts) snapshot() Stats {
	return Stats{c.localHits.Load(), c.localMisses.Load(), c.evictions.Load(), c.invalidations.Load(),
		c.redisHits.Load(), c.redisMisses.Load(), c.redisInvalidations.Load()}
}

// RecordStats returns the counters of the record cache.
func (s *Store) RecordStats() Stats { return s.stats.records.snapshot() }

// ListStats returns the counters of the list page cache.
func (s *Store) ListStats() Stats { return s.stats.lists.snapshot() }

// Collectors report the caches on /metrics.
func (s *Store) Collectors() []prometheus.Collector {
	var out []prometheus.Collector
	for _, c := range []struct {
		name string
		n    *counts
	}{{"records", &s.stats.records}, {"lists", &s.stats.lists}} {
		n := c.n
		counter := func(name, help, tier string, v *atomic.Uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help,
				ConstLabels: prometheus.Labels{"cache": c.name, "tier": tier}}, func() float64 { return float64(v.Load()) })
		}
		out = append(out,
			counter("basalt_cache_hits_total", "Reads answered by the cache.", "local", &n.localHits),
			counter("basalt_cache_misses_total", "Reads the cache could not answer.", "local", &n.localMisses),
			counter("basalt_cache_evictions_total", "Entries dropped from memory to make room.", "local", &n.evictions),
			counter("basalt_cache_invalidations_total", "Entries made stale by a change (a record, or a collection's list pages).", "local", &n.invalidations))
		if s.shared != nil {
			out = append(out,
				counter("basalt_cache_hits_total", "Reads answered by the cache.", "redis", &n.redisHits),
				counter("basalt_cache_misses_total", "Reads the cache could not answer.", "redis", &n.redisMisses),
				counter("basalt_cache_invalidations_total", "Entries made stale by a change (a record, or a collection's list pages).", "redis", &n.redisInvalidations))
		}
	}
	out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_cache_position",
		Help: "Event log position up to which this node has applied every change to its cache."},
		func() float64 { return float64(s.Position()) }))
	if s.shared != nil {
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_cache_redis_up",
				Help: "1 while the shared cache in Redis answers, 0 while reads go to the database."},
				func() float64 {
					if s.shared.Up() {
						return 1
					}
					return 0
				}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_cache_redis_errors_total",
				Help: "Redis commands of the shared cache that failed."},
				func() float64 { return float64(s.shared.errors.Load()) }))
	}
	return out
}
