package ratelimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"basalt.dev/basalt/internal/testdb"
	"basalt.dev/basalt/ratelimit"
	"basalt.dev/basalt/ratelimit/redis"
	goredis "github.com/redis/go-redis/v9"
)

// benchPolicy never refuses within a benchmark: the cost measured is
// the whole decision, TAT read and written.
var benchPolicy = &ratelimit.Policy{Name: "bench", Limit: ratelimit.Limit{Quota: 1_000_000_000, Window: time.Second, Burst: 1_000_000_000}}

// keys are a million client addresses, made before the clock starts.
var keys = func() []string {
	k := make([]string, 1<<20)
	for i := range k {
		k[i] = "ip:10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
	}
	return k
}()

// BenchmarkMemory is one request's decision through a Limiter on the
// in-memory store: one key, a million keys in turn, and a million keys
// from every processor at once.
func BenchmarkMemory(b *testing.B) {
	ctx := context.Background()
	b.Run("OneKey", func(b *testing.B) {
		l := ratelimit.New(ratelimit.Options{})
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(ctx, benchPolicy, "ip:10.0.0.1")
		}
	})
	b.Run("ManyKeys", func(b *testing.B) {
		l := ratelimit.New(ratelimit.Options{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Allow(ctx, benchPolicy, keys[i&(len(keys)-1)])
			i++
		}
	})
	b.Run("ManyKeysParallel", func(b *testing.B) {
		l := ratelimit.New(ratelimit.Options{})
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1) << 16)
			for pb.Next() {
				l.Allow(ctx, benchPolicy, keys[i&(len(keys)-1)])
				i++
			}
		})
	})
}

// BenchmarkRedis is one request's decision on the Redis store over
// loopback, one at a time and from many goroutines.
func BenchmarkRedis(b *testing.B) {
	ctx := context.Background()
	o, err := redis.Options(testdb.RedisURL(b), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	c := goredis.NewClient(o)
	defer c.Close()
	l := ratelimit.New(ratelimit.Options{Store: redis.New(c, testdb.RedisPrefix()), Remote: true})
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if r := l.Allow(ctx, benchPolicy, keys[i&1023]); r.Unknown {
				b.Fatal("Redis did not answer")
			}
			i++
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.SetParallelism(8)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Allow(ctx, benchPolicy, keys[i&1023])
				i++
			}
		})
	})
}
