package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/internal/testdb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSExport runs a server with --nats-url, writes over HTTP, and
// reads the writes from JetStream: the stream is created, and each event
// arrives on its subject with its position as message id.
func TestNATSExport(t *testing.T) {
	natsURL := testdb.NATSURL(t)
	var b [5]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	stream, prefix := "TEST_APP_"+id, "basalt_test_"+id
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close) // after the stream's deletion below
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.DeleteStream(context.Background(), stream) })

	dir := t.TempDir()
	out, err := run(t, nil, "keys", "create", "--name", "ci", "--role", "admin", "--data", dir)
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	key := strings.TrimSpace(out)
	url, _ := runServe(t, map[string]string{"BASALT_NATS_URL": natsURL}, "--http", "127.0.0.1:0", "--data", dir,
		"--nats-stream", stream, "--nats-subject-prefix", prefix)
	post := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 201 {
			data, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
		}
	}
	post("/api/collections", `{"name":"posts","fields":[{"name":"title","type":"text"}]}`)
	for _, title := range []string{"one", "two", "three"} {
		post("/api/collections/posts/records", `{"title":"`+title+`"}`)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cons jetstream.Consumer
	for cons == nil { // the exporter creates the stream
		if cons, err = js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{}); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("no stream %s: %v", stream, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type event struct {
		Position int64
		Tenant   string
		Op       string
		Record   struct{ Title string }
	}
	var got []string
	for len(got) < 4 && ctx.Err() == nil {
		batch, err := cons.Fetch(4-len(got), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var e event
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				t.Fatal(err)
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != jsonNumber(e.Position) {
				t.Errorf("message id %s for position %d", id, e.Position)
			}
			got = append(got, strings.TrimPrefix(m.Subject(), prefix)+" "+e.Record.Title)
		}
	}
	want := []string{"._.posts.schema ", ".default.posts.create one", ".default.posts.create two", ".default.posts.create three"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("JetStream got %q; want %q", got, want)
	}

	// The export reports on /metrics.
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(data, []byte("basalt_nats_export_leader 1")) {
		t.Errorf("/metrics does not show this node exporting:\n%s", grepLines(data, "basalt_nats_export"))
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

func grepLines(data []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
