package cache_test

import (
	"net"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/cache"
	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/store/storetest"
	"github.com/redis/go-redis/v9"
)

// sharedRedis returns a shared cache on the test Redis (through addr if
// not empty), with keys of its own under prefix.
func sharedRedis(t *testing.T, addr, prefix string) *cache.Redis {
	t.Helper()
	o, err := redis.ParseURL(testdb.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		o.Addr = addr
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries = time.Second, time.Second, time.Second, -1
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	r := cache.NewRedis(c, prefix, time.Minute, nil)
	cache.SetRetry(r, 10*time.Millisecond)
	return r
}

// TestRedisSharedAcrossNodes has two PostgreSQL nodes share Redis, with
// nothing in their memory: what one reads, the other finds in Redis, and
// after one writes, the other never reads the old value from Redis.
func TestRedisSharedAcrossNodes(t *testing.T) {
	d := postgresDB(t)
	prefix := testdb.RedisPrefix()
	a := d.node(t, cache.Options{Shared: sharedRedis(t, "", prefix)})
	b := d.node(t, cache.Options{Shared: sharedRedis(t, "", prefix)})
	c := storetest.MustCollection(t, a, postsDef())
	storetest.MustInsert(t, a, basalt.DefaultTenant, c, storetest.NewRecord("r", map[string]any{"n": 1.0, "owner": "u"}))
	storetest.MustInsert(t, a, "t2", c, storetest.NewRecord("r", map[string]any{"n": 100.0}))
	get(t, a, ctx, basalt.DefaultTenant, c, "r")
	list(t, a, ctx, basalt.DefaultTenant, c, "n >= 1")
	r := get(t, b, ctx, basalt.DefaultTenant, c, "r")
	if r.Data["n"] != 1.0 || r.Data["owner"] != "u" || r.Version != 1 || !r.Updated.Equal(storetest.NewRecord("", nil).Updated) {
		t.Fatalf("node b read %+v from Redis", r)
	}
	list(t, b, ctx, basalt.DefaultTenant, c, "n >= 1")
	if rs, ls := b.RecordStats(), b.ListStats(); rs.RedisHits != 1 || ls.RedisHits != 1 {
		t.Fatalf("node b's Redis hits: records %+v, lists %+v; want one each", rs, ls)
	}
	if r := get(t, b, ctx, "t2", c, "r"); r.Data["n"] != 100.0 {
		t.Fatalf("t2's record read %v: another tenant's entry", r.Data)
	}
	for i := 2; i <= 10; i++ {
		update(t, a, basalt.DefaultTenant, c, "r", float64(i))
		if r := get(t, b, ctx, basalt.DefaultTenant, c, "r"); r.Data["n"] != float64(i) {
			t.Fatalf("after a wrote n=%d, node b read n=%v", i, r.Data["n"])
		}
		if recs := list(t, b, ctx, basalt.DefaultTenant, c, "n >= 1"); len(recs) != 1 || recs[0].Data["n"] != float64(i) {
			t.Fatalf("after a wrote n=%d, node b listed %v", i, recs)
		}
		get(t, a, ctx, basalt.DefaultTenant, c, "r") // a hit for b next time, or a miss if b filled it first
	}
	if st := a.RecordStats(); st.RedisInvalidations != 11 {
		t.Errorf("node a's record stats %+v, want 11 Redis invalidations (2 inserts, 9 updates)", st)
	}
}

// TestRedisGoesAway cuts Redis off mid-run: reads and writes go on from
// the database without an error; a write made meanwhile could not be
// invalidated in Redis, so when Redis is back the node moves to a new
// epoch before using it, and never reads what Redis held before.
func TestRedisGoesAway(t *testing.T) {
	o, err := redis.ParseURL(testdb.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := testdb.NewProxy(t, o.Addr)
	shared := sharedRedis(t, p.Addr(), testdb.RedisPrefix())
	d := sqliteDB(t)
	s := d.node(t, cache.Options{Shared: shared})
	c := storetest.MustCollection(t, s, postsDef())
	storetest.MustInsert(t, s, basalt.DefaultTenant, c, storetest.NewRecord("r", map[string]any{"n": 1.0}))
	for range 2 {
		get(t, s, ctx, basalt.DefaultTenant, c, "r")
		list(t, s, ctx, basalt.DefaultTenant, c, "")
	}
	if st := s.RecordStats(); st.RedisHits != 1 {
		t.Fatalf("record stats %+v before the cut, want a Redis hit", st)
	}

	p.Cut()
	update(t, s, basalt.DefaultTenant, c, "r", 2)
	if r := get(t, s, ctx, basalt.DefaultTenant, c, "r"); r.Data["n"] != 2.0 {
		t.Fatalf("with Redis gone, read n=%v after writing 2", r.Data["n"])
	}
	if recs := list(t, s, ctx, basalt.DefaultTenant, c, ""); len(recs) != 1 || recs[0].Data["n"] != 2.0 {
		t.Fatalf("with Redis gone, listed %v after writing 2", recs)
	}
	if shared.Up() {
		t.Fatal("Up() = true with Redis cut off")
	}

	p.Restore()
	deadline := time.Now().Add(30 * time.Second)
	for !shared.Up() {
		if time.Now().After(deadline) {
			t.Fatal("the shared cache never came back")
		}
		get(t, s, ctx, basalt.DefaultTenant, c, "r")
		time.Sleep(5 * time.Millisecond)
	}
	for range 2 {
		if r := get(t, s, ctx, basalt.DefaultTenant, c, "r"); r.Data["n"] != 2.0 {
			t.Fatalf("Redis back: read n=%v, what Redis held before the cut", r.Data["n"])
		}
		if recs := list(t, s, ctx, basalt.DefaultTenant, c, ""); len(recs) != 1 || recs[0].Data["n"] != 2.0 {
			t.Fatalf("Redis back: listed %v, what Redis held before the cut", recs)
		}
	}
	if st := s.ListStats(); st.RedisHits < 2 {
		t.Errorf("list stats %+v: Redis was not used again", st)
	}
}

// TestRedisUnreachable starts with no Redis at all: every read is
// answered from the database.
func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	shared := cache.NewRedis(c, "x:", time.Minute, nil)
	s := sqliteDB(t).node(t, cache.Options{Shared: shared, Records: 10})
	coll := storetest.MustCollection(t, s, postsDef())
	storetest.MustInsert(t, s, basalt.DefaultTenant, coll, storetest.NewRecord("r", map[string]any{"n": 1.0}))
	for i := range 3 {
		update(t, s, basalt.DefaultTenant, coll, "r", float64(i))
		if r := get(t, s, ctx, basalt.DefaultTenant, coll, "r"); r.Data["n"] != float64(i) {
			t.Fatalf("read n=%v after writing %d", r.Data["n"], i)
		}
		list(t, s, ctx, basalt.DefaultTenant, coll, "")
	}
	if shared.Up() {
		t.Error("Up() = true with no Redis")
	}
}
