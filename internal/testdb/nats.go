package testdb

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultNATS is the server used when BASALT_TEST_NATS is unset.
const DefaultNATS = "nats://127.0.0.1:4222"

// NATSURL returns the URL of the test NATS server, which must have
// JetStream, skipping the test (failing in CI) when it does not answer.
func NATSURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("BASALT_TEST_NATS")
	if url == "" {
		url = DefaultNATS
	}
	err := func() error {
		nc, err := nats.Connect(url, nats.Timeout(3*time.Second), nats.NoReconnect())
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
		return err
	}()
	if err != nil {
		missing(t, "NATS with JetStream", url, "BASALT_TEST_NATS", "the NATS export tests", err)
	}
	return url
}
