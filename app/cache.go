package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"basalt.dev/basalt/cache"
	"basalt.dev/basalt/store"
	"github.com/redis/go-redis/v9"
)

// redisKeyPrefix starts every key of the shared cache, so the cache and
// other users of the same Redis (the rate-limit counters) never meet.
const redisKeyPrefix = "basalt:cache:"

// newCache puts the record and list caches in front of st, with the
// shared cache in Redis when --redis is set. The returned function closes
// the Redis client.
func newCache(st store.Store, cfg Config, log *slog.Logger, wake func()) (*cache.Store, func() error, error) {
	o := cache.Options{
		Records: cfg.CacheRecords,
		Lists:   cfg.CacheLists,
		// The SQLite server with a record cache holds the data
		// directory's lock: every change passes through it.
		Single: !IsPostgresURL(cfg.DB) && cfg.CacheRecords > 0,
		Wake:   wake,
		Log:    log,
	}
	closeRedis := func() error { return nil }
	if cfg.RedisURL != "" {
		quietRedis(log)
		ro, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, err
		}
		// A Redis that does not answer must cost a read little: it falls
		// back to the database, and tries again a second later.
		ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.MaxRetries = time.Second, 250*time.Millisecond, 250*time.Millisecond, -1
		c := redis.NewClient(ro)
		o.Shared = cache.NewRedis(c, redisKeyPrefix, cfg.CacheTTL, log)
		closeRedis = c.Close
	}
	return cache.New(st, o), closeRedis, nil
}

// redisLog takes go-redis's own messages, such as a failed dial at each
// retry while Redis is away, into the server's log at debug level: the
// cache and the rate limiter log an outage once as it begins and once as
// it ends, and go-redis otherwise writes a line a second to stderr.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

var redisLogOnce sync.Once

// quietRedis sets go-redis's logger, which is the process's, once.
func quietRedis(log *slog.Logger) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log}) })
}
