package sqlite

import (
	"sync/atomic"

	"basalt.dev/basalt"
	"github.com/maypok86/otter/v2"
)

// recordCache keeps records in memory for reads by id and for the bodies
// of list pages. It is exact, not eventually consistent: the writer is
// the only way into the file (an exclusive lock keeps other servers out),
// and it updates the cache after each commit, before any write of the
// batch is acknowledged, so a client always reads its own writes.
//
// A list reads the ids of a page from the database and their bodies from
// the cache. Both must show the same committed state, or a body could
// fail the page's filter. A sequence number, odd while a commit and its
// cache update are in progress, even otherwise, tells a reader whether a
// commit happened while it read (a seqlock): if the number changed, or
// was odd, the reader uses the database alone.
type recordCache struct {
	c   *otter.Cache[cacheKey, cacheEntry]
	seq atomic.Uint64
}

type cacheKey struct {
	collection, tenant, id string
}

// cacheEntry holds a record with the definition it was read under; a
// record of an older definition is a miss.
type cacheEntry struct {
	def *basalt.Collection
	rec *basalt.Record
}

func newRecordCache(size int) *recordCache {
	return &recordCache{c: otter.Must(&otter.Options[cacheKey, cacheEntry]{MaximumSize: size})}
}

// get returns the cached record of key, read under definition c.
func (rc *recordCache) get(c *basalt.Collection, tenant, id string) (*basalt.Record, bool) {
	if rc == nil {
		return nil, false
	}
	e, ok := rc.c.GetIfPresent(cacheKey{c.Name, tenant, id})
	if !ok || e.def != c {
		return nil, false
	}
	return e.rec, true
}

// stamp returns the sequence number before a read; ok is false while a
// commit is in progress.
func (rc *recordCache) stamp() (uint64, bool) {
	if rc == nil {
		return 0, false
	}
	s := rc.seq.Load()
	return s, s%2 == 0
}

// unchanged reports whether no commit began since stamp s.
func (rc *recordCache) unchanged(s uint64) bool {
	return rc != nil && rc.seq.Load() == s
}

// fill caches a record read from the database, if no commit began since
// the stamp s taken before the read: otherwise the record might be older
// than what the writer has since cached.
func (rc *recordCache) fill(c *basalt.Collection, tenant string, r *basalt.Record, s uint64) {
	if rc == nil || s%2 != 0 {
		return
	}
	k := cacheKey{c.Name, tenant, r.ID}
	rc.c.Compute(k, func(old cacheEntry, found bool) (cacheEntry, otter.ComputeOp) {
		// Checked under the entry's lock: the writer's own update of this
		// key, which happens at an odd number, cannot be overwritten.
		if rc.seq.Load() != s {
			return old, otter.CancelOp
		}
		r.KeepJSON(c)
		return cacheEntry{c, r}, otter.WriteOp
	})
}

// beginCommit and endCommit bracket a commit and its cache effects.
func (rc *recordCache) beginCommit() {
	if rc != nil {
		rc.seq.Add(1)
	}
}

func (rc *recordCache) endCommit() {
	if rc != nil {
		rc.seq.Add(1)
	}
}

func (rc *recordCache) put(c *basalt.Collection, tenant string, r *basalt.Record) {
	r.KeepJSON(c)
	rc.c.Set(cacheKey{c.Name, tenant, r.ID}, cacheEntry{c, r})
}

func (rc *recordCache) drop(c *basalt.Collection, tenant, id string) {
	rc.c.Invalidate(cacheKey{c.Name, tenant, id})
}

// dropCollection forgets every record of a collection whose definition
// changed.
func (rc *recordCache) dropCollection(name string) {
	for k := range rc.c.Keys() {
		if k.collection == name {
			rc.c.Invalidate(k)
		}
	}
}
