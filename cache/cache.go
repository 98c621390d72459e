// Package cache keeps records by id and whole list pages in memory, and
// optionally in Redis shared by the nodes, in front of any store.Store.
//
// The guarantee: a client never reads older data than its own
// acknowledged write. The node that writes invalidates, in Redis first and
// then in its memory, after the commit and before the write returns, so
// before the client hears of it. Other nodes learn of the change from the
// event log (the realtime hub's reads pass through Store.EventList), a
// notification's delay later; a read that carries the position of a write
// (WithMinPosition) is served from memory only once this node has applied
// the log up to it, and from Redis or the database before that.
//
// Reads never store what they read before a change: every entry carries
// the generation its read started at, a counter that each change bumps
// after its commit, and an entry whose generation is no longer current is
// a miss. A reader that read a row before a commit took its generation
// before the bump, so what it stores after the invalidation is dead on
// arrival. Generations are striped (a record's by hash of tenant,
// collection and id; a list's by hash of tenant and collection), so
// memory stays bounded; a collision only costs a miss.
package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/maypok86/otter/v2"
)

// Options configure a Store. The zero value caches nothing.
type Options struct {
	// Records is how many records to keep in memory for reads by id;
	// 0 keeps none.
	Records int
	// Lists bounds the list pages kept in memory by the records they
	// hold together; 0 keeps none.
	Lists int
	// Single says that every change to the database passes through this
	// Store (SQLite holding its directory lock): memory is then exact
	// and a read's minimum position is always met.
	Single bool
	// Shared, if not nil, is the cache the nodes share.
	Shared *Redis
	// Wake, if not nil, asks the log follower to read the log now: a
	// read waiting for a position calls it.
	Wake func()
	// Log receives nothing on the read path; it is kept for the shared
	// cache's transitions. Default: discard.
	Log *slog.Logger
}

// Store is a store.Store with caches in front of its reads.
type Store struct {
	store.Store
	opts    Options
	records *otter.Cache[recKey, recEntry] // nil when off
	lists   *otter.Cache[listKey, listEntry]
	shared  *Redis
	seed    maphash.Seed
	gens    gens
	stats   stats
	stmts   sync.Map // collection name -> *statements

	// applied is the log position up to which every event has been
	// applied to memory; -1 until Follow.
	applied atomic.Int64
	mu      sync.Mutex         // serializes applying events
	own     map[int64]struct{} // positions this node already invalidated
}

// New returns st with caches in front of its reads.
func New(st store.Store, o Options) *Store {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{Store: st, opts: o, shared: o.Shared, seed: maphash.MakeSeed(), own: map[int64]struct{}{}}
	s.applied.Store(-1)
	if o.Records > 0 {
		s.records = otter.Must(&otter.Options[recKey, recEntry]{
			MaximumSize: o.Records,
			OnDeletion:  onDeletion[recKey, recEntry](&s.stats.records),
		})
	}
	if o.Lists > 0 {
		s.lists = otter.Must(&otter.Options[listKey, listEntry]{
			MaximumWeight: uint64(o.Lists),
			Weigher:       func(_ listKey, e listEntry) uint32 { return uint32(len(e.recs)) + 1 },
			OnDeletion:    onDeletion[listKey, listEntry](&s.stats.lists),
		})
	}
	return s
}

// Unwrap returns the store the cache is in front of.
func (s *Store) Unwrap() store.Store { return s.Store }

// Follow sets the log position this node's memory reflects, the head of
// the log when the node started: events after it are applied as the
// follower reads them through EventList.
func (s *Store) Follow(head int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if head > s.applied.Load() {
		s.applied.Store(head)
	}
}

// Position returns the log position up to which this node has applied
// every change to its memory, or -1 before Follow.
func (s *Store) Position() int64 { return s.applied.Load() }

// gens are the generation counters (see the package doc). An entry's
// stamp is the sum of the epoch and its stripe: both only grow, so the
// sum is unchanged only if neither moved.
type gens struct {
	epoch atomic.Uint64 // bumped when a tenant is deleted
	rec   [stripes]atomic.Uint64
	list  [stripes]atomic.Uint64
}

const stripes = 1 << 12

type recKey struct{ tenant, coll, id string }

type tcKey struct{ tenant, coll string }

func (s *Store) recStripe(k recKey) *atomic.Uint64 {
	return &s.gens.rec[maphash.Comparable(s.seed, k)%stripes]
}

func (s *Store) listStripe(tenant, coll string) *atomic.Uint64 {
	return &s.gens.list[maphash.Comparable(s.seed, tcKey{tenant, coll})%stripes]
}

func (s *Store) recStamp(k recKey) uint64 { return s.gens.epoch.Load() + s.recStripe(k).Load() }

func (s *Store) listStamp(tenant, coll string) uint64 {
	return s.gens.epoch.Load() + s.listStripe(tenant, coll).Load()
}

// minPositionKey carries the lowest log position a read must reflect.
type minPositionKey struct{}

// WithMinPosition returns a context whose reads must reflect every change
// up to log position pos: the position a client's earlier write returned.
func WithMinPosition(ctx context.Context, pos int64) context.Context {
	return context.WithValue(ctx, minPositionKey{}, pos)
}

func minPosition(ctx context.Context) int64 {
	p, _ := ctx.Value(minPositionKey{}).(int64)
	return p
}

// localOK reports whether memory may answer a read of ctx: it has
// applied the log up to the read's minimum position.
func (s *Store) localOK(ctx context.Context) bool {
	if s.opts.Single {
		return true
	}
	min := minPosition(ctx)
	if min <= 0 || s.applied.Load() >= min {
		return true
	}
	if s.opts.Wake != nil {
		s.opts.Wake()
	}
	return false
}

// positionKey carries where a request's writes note their position.
type positionKey struct{}

// Written records the log position of the last write a request made.
type Written struct{ pos atomic.Int64 }

// Position returns the position of the last write noted, 0 if none.
func (w *Written) Position() int64 { return w.pos.Load() }

// WithWritten returns a context in which the Store notes the position of
// each record write in w, for the response to tell the client.
func WithWritten(ctx context.Context) (context.Context, *Written) {
	w := new(Written)
	return context.WithValue(ctx, positionKey{}, w), w
}

func noteWritten(ctx context.Context, e *basalt.Event) {
	if w, ok := ctx.Value(positionKey{}).(*Written); ok && e != nil {
		w.pos.Store(e.Position)
	}
}

// RecordGet implements store.Store from memory, then the shared cache,
// then the database; the condition p.Filter is applied in memory to a
// cached record, which selects exactly what the SQL would.
func (s *Store) RecordGet(ctx context.Context, p *store.RecordGetParams) (*basalt.Record, error) {
	if s.records == nil && s.shared == nil {
		return s.Store.RecordGet(ctx, p)
	}
	k := recKey{p.TenantID, p.Collection.Name, p.ID}
	stamp := s.recStamp(k)
	local := s.localOK(ctx)
	if s.records != nil && local {
		if e, ok := s.records.GetIfPresent(k); ok && e.stamp == stamp && e.def == p.Collection {
			s.stats.records.localHits.Add(1)
			return p.Match(e.rec)
		}
		s.stats.records.localMisses.Add(1)
	}
	var tag sharedTag
	if s.shared != nil {
		r, t, ok := s.shared.getRecord(ctx, p.Collection, k, &s.stats.records)
		if ok {
			s.putRecord(k, stamp, p.Collection, r)
			return p.Match(r)
		}
		tag = t
	}
	r, err := s.Store.RecordGet(ctx, p)
	if err != nil {
		return nil, err
	}
	r.KeepJSON(p.Collection)
	s.putRecord(k, stamp, p.Collection, r)
	if s.shared != nil && tag.ok {
		s.shared.setRecord(ctx, p.Collection, k, tag, r)
	}
	return r, nil
}

type recEntry struct {
	stamp uint64
	def   *basalt.Collection
	rec   *basalt.Record
}

func (s *Store) putRecord(k recKey, stamp uint64, c *basalt.Collection, r *basalt.Record) {
	if s.records != nil {
		r.KeepJSON(c)
		s.records.Set(k, recEntry{stamp, c, r})
	}
}

// RecordInsert implements store.Store and invalidates before returning.
func (s *Store) RecordInsert(ctx context.Context, p *store.RecordInsertParams) (*basalt.Event, error) {
	e, err := s.Store.RecordInsert(ctx, p)
	s.changed(ctx, err, p.TenantID, p.Collection.Name, p.Record.ID, e)
	return e, err
}

// RecordUpdate implements store.Store and invalidates before returning.
func (s *Store) RecordUpdate(ctx context.Context, p *store.RecordUpdateParams) (*basalt.Record, *basalt.Event, error) {
	r, e, err := s.Store.RecordUpdate(ctx, p)
	s.changed(ctx, err, p.TenantID, p.Collection.Name, p.ID, e)
	return r, e, err
}

// RecordDelete implements store.Store and invalidates before returning.
func (s *Store) RecordDelete(ctx context.Context, p *store.RecordDeleteParams) (*basalt.Event, error) {
	e, err := s.Store.RecordDelete(ctx, p)
	s.changed(ctx, err, p.TenantID, p.Collection.Name, p.ID, e)
	return e, err
}

// changed invalidates a record and the list pages of its collection
// after a write: in the shared cache first, then in memory, so a reader
// that refills memory from the shared cache meanwhile is outdated too.
// A refusal (a *basalt.Error) changed nothing; any other error may hide
// a commit, so it invalidates as well.
func (s *Store) changed(ctx context.Context, err error, tenant, coll, id string, e *basalt.Event) {
	var refused *basalt.Error
	if err != nil && errors.As(err, &refused) {
		return
	}
	k := recKey{tenant, coll, id}
	if s.shared != nil {
		s.shared.invalidate(ctx, k, &s.stats)
	}
	s.invalidate(k)
	if err == nil && e != nil {
		noteWritten(ctx, e)
		if !s.opts.Single {
			s.mu.Lock()
			if e.Position > s.applied.Load() {
				s.own[e.Position] = struct{}{}
			}
			s.mu.Unlock()
		}
	}
}

// invalidate bumps the generations of a record and of its collection's
// list pages, and frees the record's entry.
func (s *Store) invalidate(k recKey) {
	s.recStripe(k).Add(1)
	s.listStripe(k.tenant, k.coll).Add(1)
	s.stats.records.invalidations.Add(1)
	s.stats.lists.invalidations.Add(1)
	if s.records != nil {
		s.records.Invalidate(k)
	}
}

// dropCollection frees every entry of a collection whose definition
// changed. Entries are tied to the definition they were read under, so
// this is for memory, not correctness.
func (s *Store) dropCollection(name string) {
	s.stmts.Delete(name)
	if s.records != nil {
		for k := range s.records.Keys() {
			if k.coll == name {
				s.records.Invalidate(k)
			}
		}
	}
	if s.lists != nil {
		for k := range s.lists.Keys() {
			if k.coll == name {
				s.lists.Invalidate(k)
			}
		}
	}
}

// CollectionCreate implements store.Store.
func (s *Store) CollectionCreate(ctx context.Context, c *basalt.Collection, audit *store.AuditEntry) error {
	err := s.Store.CollectionCreate(ctx, c, audit)
	s.dropCollection(c.Name)
	return err
}

// CollectionUpdate implements store.Store.
func (s *Store) CollectionUpdate(ctx context.Context, p *store.CollectionUpdateParams) error {
	err := s.Store.CollectionUpdate(ctx, p)
	s.dropCollection(p.Old.Name)
	s.dropCollection(p.New.Name)
	return err
}

// CollectionDelete implements store.Store.
func (s *Store) CollectionDelete(ctx context.Context, name string, audit *store.AuditEntry) error {
	err := s.Store.CollectionDelete(ctx, name, audit)
	s.dropCollection(name)
	return err
}

// TenantDelete implements store.Identity. A deleted tenant's records
// leave no events behind (its log goes with it), so this node forgets
// everything, and the shared cache moves to a new epoch.
func (s *Store) TenantDelete(ctx context.Context, id string, tables []string, at time.Time) error {
	err := s.Store.TenantDelete(ctx, id, tables, at)
	var refused *basalt.Error
	if err != nil && errors.As(err, &refused) {
		return err
	}
	if s.shared != nil {
		s.shared.newEpoch(ctx)
	}
	s.gens.epoch.Add(1)
	if s.records != nil {
		s.records.InvalidateAll()
	}
	if s.lists != nil {
		s.lists.InvalidateAll()
	}
	return err
}

// EventList implements store.Store. Reads of every tenant's events are
// the log followers' (the realtime hub's, chiefly): the events they read
// are applied to memory first, once each, so the cache follows the log
// on the reads that happen anyway.
func (s *Store) EventList(ctx context.Context, p *store.EventListParams) ([]basalt.Event, error) {
	events, err := s.Store.EventList(ctx, p)
	if err == nil && p.AllTenants {
		s.apply(p.After, events)
	}
	return events, err
}

// apply invalidates what events changed, if they continue the log from
// the position applied so far.
func (s *Store) apply(after int64, events []basalt.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	applied := s.applied.Load()
	if applied < 0 || after > applied || len(events) == 0 {
		return
	}
	for i := range events {
		e := &events[i]
		if e.Position <= applied {
			continue
		}
		if _, ok := s.own[e.Position]; ok {
			delete(s.own, e.Position)
		} else {
			s.applyEvent(e)
		}
		applied = e.Position
	}
	for pos := range s.own {
		if pos <= applied {
			delete(s.own, pos) // its event is gone (a deleted tenant's)
		}
	}
	s.applied.Store(applied)
}

func (s *Store) applyEvent(e *basalt.Event) {
	if e.Op == basalt.OpSchema {
		s.dropCollection(e.Collection)
		return
	}
	s.invalidate(recKey{e.TenantID, e.Collection, e.RecordID})
}

// ExplainList implements store.Explainer when the store behind does.
func (s *Store) ExplainList(ctx context.Context, p *store.RecordListParams) (string, error) {
	ex, ok := s.Store.(store.Explainer)
	if !ok {
		return "", errors.New("cache: the store cannot explain plans")
	}
	return ex.ExplainList(ctx, p)
}

// Analyze implements store.Analyzer; a store that needs no statistics
// ignores it.
func (s *Store) Analyze(ctx context.Context, collection string) error {
	if a, ok := s.Store.(store.Analyzer); ok {
		return a.Analyze(ctx, collection)
	}
	return nil
}
