package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedis is the server used when BASALT_TEST_REDIS is unset.
const DefaultRedis = "redis://127.0.0.1:6379/0"

// RedisURL returns the URL of the test Redis server, skipping the test
// (failing in CI) when it does not answer.
func RedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("BASALT_TEST_REDIS")
	if url == "" {
		url = DefaultRedis
	}
	opts, err := redis.ParseURL(url)
	if err == nil {
		c := redis.NewClient(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = c.Ping(ctx).Err()
		cancel()
		c.Close()
	}
	if err != nil {
		missing(t, "Redis", url, "BASALT_TEST_REDIS", "the Redis tests", err)
	}
	return url
}

// RedisPrefix returns a key prefix of its own for one test, so tests
// sharing the server never see each other's keys.
func RedisPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t_" + hex.EncodeToString(b[:]) + ":"
}
