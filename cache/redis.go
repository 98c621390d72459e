package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"github.com/redis/go-redis/v9"
)

// Redis is the cache the nodes share. Its entries are tagged like those
// in memory (see the package doc), with generations kept in Redis: the
// node that writes increments them before acknowledging, so no node
// reads from Redis anything older than an acknowledged write. A read
// fetches the generations and the entry in one MGET; an entry whose tag
// is not current is a miss, and a late fill tagged with an old generation
// is never read. Entries expire after a TTL; the generation keys are a
// fixed set of stripes and do not expire.
//
// Redis being unreachable is never an error to a client: reads go to the
// database, and the cache is tried again a second later. A node that
// could not increment a generation after a write owes Redis a new epoch
// (one counter in every tag): it does not use Redis again before it has
// moved the epoch on, which makes every entry stale. Keys live on one
// Redis server (MGET of keys in several hash slots is refused by a
// cluster).
type Redis struct {
	c      *redis.Client
	prefix string
	ttl    time.Duration
	log    *slog.Logger
	retry  time.Duration

	up     atomic.Bool
	errors atomic.Uint64
	mu     sync.Mutex
	next   time.Time // when to try again while down
	owed   bool      // an invalidation failed: move the epoch on first
}

// NewRedis returns the shared cache on c, its keys starting with prefix,
// its entries living for ttl. log receives a line at each change of
// availability.
func NewRedis(c *redis.Client, prefix string, ttl time.Duration, log *slog.Logger) *Redis {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Redis{c: c, prefix: prefix, ttl: ttl, log: log, retry: time.Second}
	r.up.Store(true)
	return r
}

// Up reports whether the shared cache is in use (Redis answered last).
func (r *Redis) Up() bool { return r.up.Load() }

const redisStripes = 1 << 16

// stripe hashes with FNV, not maphash: every node must agree.
func stripe(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return strconv.FormatUint(h.Sum64()%redisStripes, 10)
}

func (r *Redis) epochKey() string { return r.prefix + "epoch" }

func (r *Redis) recGenKey(k recKey) string {
	return r.prefix + "gr:" + stripe(k.tenant, k.coll, k.id)
}

func (r *Redis) listGenKey(tenant, coll string) string {
	return r.prefix + "gl:" + stripe(tenant, coll)
}

// defStamp names a definition: every change of a collection moves its
// Updated time, so entries read under an old definition are not found.
func defStamp(c *basalt.Collection) string { return strconv.FormatInt(c.Updated.UnixNano(), 36) }

func (r *Redis) recKey(c *basalt.Collection, k recKey) string {
	return r.prefix + "r:" + k.coll + ":" + defStamp(c) + ":" + strconv.Itoa(len(k.tenant)) + ":" + k.tenant + ":" + k.id
}

func (r *Redis) listKey(c *basalt.Collection, k listKey) string {
	sum := sha256.Sum256([]byte(k.query))
	return r.prefix + "l:" + k.coll + ":" + defStamp(c) + ":" + hex.EncodeToString(sum[:])
}

// sharedTag is the epoch and generation a read saw before going to the
// database; ok is false when Redis did not answer.
type sharedTag struct {
	ok         bool
	epoch, gen uint64
}

func (t sharedTag) append(b []byte) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(b, t.epoch), t.gen)
}

// available reports whether to use Redis now. While it is down, one
// caller a second tries it again, first moving the epoch on if owed.
func (r *Redis) available(ctx context.Context) bool {
	if r.up.Load() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.up.Load() {
		return true
	}
	if time.Now().Before(r.next) {
		return false
	}
	r.next = time.Now().Add(r.retry)
	var err error
	if r.owed {
		err = r.c.Incr(ctx, r.epochKey()).Err()
	} else {
		err = r.c.Ping(ctx).Err()
	}
	if err != nil {
		r.errors.Add(1)
		return false
	}
	r.owed = false
	r.up.Store(true)
	r.log.Info("cache: Redis answers again; using the shared cache")
	return true
}

// failed marks Redis down after err; owe says that an invalidation was
// lost, so the epoch must move on before Redis is used again.
func (r *Redis) failed(err error, owe bool) {
	if errors.Is(err, context.Canceled) && !owe {
		return // the client went away, not Redis
	}
	r.errors.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.owed = r.owed || owe
	r.next = time.Now().Add(r.retry)
	if r.up.Swap(false) {
		r.log.Warn("cache: Redis is unavailable; reading from the database until it answers", "err", err)
	}
}

// get fetches the epoch, a generation and an entry in one round trip.
// It returns the entry's payload if its tag is current, and the tag a
// fill must carry.
func (r *Redis) get(ctx context.Context, genKey, key string) ([]byte, sharedTag) {
	if !r.available(ctx) {
		return nil, sharedTag{}
	}
	vals, err := r.c.MGet(ctx, r.epochKey(), genKey, key).Result()
	if err != nil {
		r.failed(err, false)
		return nil, sharedTag{}
	}
	tag := sharedTag{ok: true, epoch: counter(vals[0]), gen: counter(vals[1])}
	v, _ := vals[2].(string)
	if v == "" {
		return nil, tag
	}
	b := []byte(v)
	epoch, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, tag
	}
	gen, m := binary.Uvarint(b[n:])
	if m <= 0 || epoch != tag.epoch || gen != tag.gen {
		return nil, tag
	}
	return b[n+m:], tag
}

func counter(v any) uint64 {
	s, _ := v.(string)
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

func (r *Redis) set(ctx context.Context, key string, val []byte) {
	if err := r.c.Set(ctx, key, val, r.ttl).Err(); err != nil {
		r.failed(err, false)
	}
}

// lookup reads an entry and decodes it, counting a hit or a miss when
// Redis answered.
func lookup[T any](ctx context.Context, r *Redis, genKey, key string, n *counts, decode func([]byte) (T, error)) (T, sharedTag, bool) {
	b, tag := r.get(ctx, genKey, key)
	if b != nil {
		if v, err := decode(b); err == nil {
			n.redisHits.Add(1)
			return v, tag, true
		}
	}
	if tag.ok {
		n.redisMisses.Add(1)
	}
	var zero T
	return zero, tag, false
}

func (r *Redis) getRecord(ctx context.Context, c *basalt.Collection, k recKey, n *counts) (*basalt.Record, sharedTag, bool) {
	return lookup(ctx, r, r.recGenKey(k), r.recKey(c, k), n, func(b []byte) (*basalt.Record, error) { return decodeRecord(c, b) })
}

func (r *Redis) setRecord(ctx context.Context, c *basalt.Collection, k recKey, tag sharedTag, rec *basalt.Record) {
	r.set(ctx, r.recKey(c, k), appendRecord(tag.append(nil), c, rec))
}

func (r *Redis) getList(ctx context.Context, c *basalt.Collection, tenant string, k listKey, n *counts) ([]*basalt.Record, sharedTag, bool) {
	return lookup(ctx, r, r.listGenKey(tenant, k.coll), r.listKey(c, k), n, func(b []byte) ([]*basalt.Record, error) { return decodeList(c, b) })
}

func (r *Redis) setList(ctx context.Context, c *basalt.Collection, tenant string, k listKey, tag sharedTag, recs []*basalt.Record) {
	b := binary.AppendUvarint(tag.append(nil), uint64(len(recs)))
	for _, rec := range recs {
		rec := appendRecord(nil, c, rec)
		b = append(binary.AppendUvarint(b, uint64(len(rec))), rec...)
	}
	r.set(ctx, r.listKey(c, k), b)
}

// owe notes, while Redis is down, that a write could not be invalidated
// there; it reports false if Redis came back meanwhile, and the caller
// must then invalidate. Under the lock, so that a recovery's new epoch
// either follows the note or precedes the check.
func (r *Redis) owe() bool {
	if r.up.Load() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.up.Load() {
		return false
	}
	r.owed = true
	return true
}

// invalidate increments the generations of a record and of its
// collection's list pages. While Redis is down, the write is owed instead
// (no write waits for a Redis that does not answer); a failure is owed too.
func (r *Redis) invalidate(ctx context.Context, k recKey, n *stats) {
	if r.owe() {
		return
	}
	ctx = context.WithoutCancel(ctx) // the write committed: finish its invalidation
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, r.recGenKey(k))
		p.Incr(ctx, r.listGenKey(k.tenant, k.coll))
		return nil
	})
	if err != nil {
		r.failed(err, true)
		return
	}
	n.records.redisInvalidations.Add(1)
	n.lists.redisInvalidations.Add(1)
}

// newEpoch makes every entry stale.
func (r *Redis) newEpoch(ctx context.Context) {
	if r.owe() {
		return
	}
	if err := r.c.Incr(context.WithoutCancel(ctx), r.epochKey()).Err(); err != nil {
		r.failed(err, true)
	}
}

// appendRecord encodes a record as its version and its JSON.
func appendRecord(b []byte, c *basalt.Collection, rec *basalt.Record) []byte {
	b = binary.AppendVarint(b, rec.Version)
	return basalt.AppendRecordJSON(b, c, rec, nil)
}

func decodeRecord(c *basalt.Collection, b []byte) (*basalt.Record, error) {
	v, n := binary.Varint(b)
	if n <= 0 {
		return nil, errors.New("cache: bad record version")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b[n:], &doc); err != nil {
		return nil, fmt.Errorf("cache: record: %w", err)
	}
	rec := &basalt.Record{Version: v, Data: make(map[string]any, len(c.Fields))}
	if err := json.Unmarshal(doc["id"], &rec.ID); err != nil {
		return nil, fmt.Errorf("cache: record id: %w", err)
	}
	var ok1, ok2 bool
	rec.Created, ok1 = jsonTime(doc["created"])
	rec.Updated, ok2 = jsonTime(doc["updated"])
	if !ok1 || !ok2 {
		return nil, errors.New("cache: bad record time")
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		val, ferr := basalt.DecodeValue(f, doc[f.Name])
		if ferr != nil {
			return nil, fmt.Errorf("cache: record field %s: %s", f.Name, ferr.Message)
		}
		if val != nil {
			rec.Data[f.Name] = val
		}
	}
	rec.KeepJSON(c)
	return rec, nil
}

func jsonTime(raw json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	return basalt.ParseTime(s)
}

func decodeList(c *basalt.Collection, b []byte) ([]*basalt.Record, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errors.New("cache: bad list")
	}
	b = b[n:]
	out := make([]*basalt.Record, 0, count)
	for range count {
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, errors.New("cache: bad list entry")
		}
		rec, err := decodeRecord(c, b[n:n+int(size)])
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
		b = b[n+int(size):]
	}
	return out, nil
}
