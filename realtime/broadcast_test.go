package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"basalt.dev/basalt/realtime"
)

// bus plays PostgreSQL's NOTIFY between nodes: a payload relayed by one
// goes to every node, the sender included, as notifications do.
type bus struct {
	mu    sync.Mutex
	nodes []*realtime.Channels
	sizes []int
}

func (b *bus) Relay(ctx context.Context, payload []byte) error {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(payload))
	nodes := append([]*realtime.Channels(nil), b.nodes...)
	b.mu.Unlock()
	for _, n := range nodes {
		n.Receive(append([]byte(nil), payload...))
	}
	return nil
}

// newNodes returns n nodes joined by one bus.
func newNodes(n int) ([]*realtime.Channels, *bus) {
	b := &bus{}
	for range n {
		b.nodes = append(b.nodes, realtime.NewChannels(b, nil))
	}
	return b.nodes, b
}

// received drains what m has without waiting: deliveries are
// synchronous, so what a publish delivers is there when it returns.
func received(m *realtime.Member) []string {
	var out []string
	for {
		select {
		case msg := <-m.C():
			out = append(out, msg.Tenant+" "+msg.Channel+" "+string(msg.Body))
		default:
			return out
		}
	}
}

func publish(t *testing.T, ch *realtime.Channels, tenant, channel, body, skip string) {
	t.Helper()
	if err := ch.Publish(context.Background(), &realtime.Message{Tenant: tenant, Channel: channel, Type: realtime.TypeBroadcast, Body: json.RawMessage(body), Skip: skip}); err != nil {
		t.Fatalf("Publish() = %v", err)
	}
}

func wantMessages(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s received\n %q\nwant\n %q", who, got, want)
	}
}

// TestChannels checks delivery: to the members of the message's tenant
// and channel on every node, once each, never to the sender it skips;
// through the relay, or on the publishing node itself while the relay
// does not bring its messages back.
func TestChannels(t *testing.T) {
	t.Parallel()
	for _, up := range []bool{true, false} {
		t.Run(fmt.Sprintf("relay up %v", up), func(t *testing.T) { testChannels(t, up) })
	}
}

func testChannels(t *testing.T, up bool) {
	nodes, _ := newNodes(2)
	a, b := nodes[0], nodes[1]
	a.RelayUp(up)
	b.RelayUp(up)
	if a.Node() == b.Node() {
		t.Fatalf("two nodes have the id %s", a.Node())
	}
	ada, bob, eve, carl := realtime.NewMember(8), realtime.NewMember(8), realtime.NewMember(8), realtime.NewMember(8)
	a.Join(ada, "t1", "docs/1")
	a.Join(ada, "t1", "docs/1") // twice is once
	b.Join(bob, "t1", "docs/1")
	b.Join(eve, "t2", "docs/1") // another tenant's channel of the same name
	a.Join(carl, "t1", "docs/2")
	if got := a.Members() + b.Members(); got != 4 {
		t.Errorf("Members() = %d, want 4", got)
	}

	publish(t, a, "t1", "docs/1", `{"n":1}`, "")
	publish(t, b, "t1", "docs/1", `{"n":2}`, bob.Key) // bob sent it
	publish(t, b, "t2", "docs/1", `{"n":3}`, "")
	wantMessages(t, "ada", received(ada), `t1 docs/1 {"n":1}`, `t1 docs/1 {"n":2}`)
	wantMessages(t, "bob", received(bob), `t1 docs/1 {"n":1}`)
	wantMessages(t, "eve", received(eve), `t2 docs/1 {"n":3}`)
	wantMessages(t, "carl", received(carl))

	a.Leave(ada, "t1", "docs/1")
	publish(t, b, "t1", "docs/1", `{"n":4}`, "")
	wantMessages(t, "ada after leaving", received(ada))
	wantMessages(t, "bob", received(bob), `t1 docs/1 {"n":4}`)
	if got := a.Members(); got != 1 {
		t.Errorf("Members() after a leave = %d, want 1", got)
	}
}

// TestChannelsFullInbox checks that a member that does not keep up misses
// messages, and only it: the others get every one.
func TestChannelsFullInbox(t *testing.T) {
	t.Parallel()
	nodes, _ := newNodes(1)
	ch := nodes[0]
	slow, fast := realtime.NewMember(2), realtime.NewMember(100)
	ch.Join(slow, "t", "room")
	ch.Join(fast, "t", "room")
	for range 5 {
		publish(t, ch, "t", "room", `1`, "")
	}
	if got := len(received(slow)); got != 2 {
		t.Errorf("the slow member got %d messages, want its inbox's 2", got)
	}
	if got := len(received(fast)); got != 5 {
		t.Errorf("the fast member got %d messages, want 5", got)
	}
	published, delivered, dropped := ch.Stats()
	if published != 5 || delivered != 7 || dropped != 3 {
		t.Errorf("Stats() = %d, %d, %d; want 5 published, 7 delivered, 3 dropped", published, delivered, dropped)
	}
}

// TestChannelsPayload checks the relay's encoding: the body travels as it
// is (not HTML-escaped, which would grow it past NOTIFY's limit), and a
// message over the limit is refused before it is relayed.
func TestChannelsPayload(t *testing.T) {
	t.Parallel()
	nodes, b := newNodes(2)
	m := realtime.NewMember(4)
	nodes[1].Join(m, "t", "room")
	body := realtime.BroadcastBody("room", "chat", json.RawMessage(`{"html":"<b>&</b>"}`), realtime.From{Kind: "user", ID: "u1", Key: "c1"})
	publish(t, nodes[0], "t", "room", string(body), "")
	wantMessages(t, "the other node", received(m), `t room {"channel":"room","event":"chat","data":{"html":"<b>&</b>"},"from":{"kind":"user","id":"u1","key":"c1"}}`)
	if len(b.sizes) != 1 || b.sizes[0] > len(body)+100 {
		t.Errorf("relayed payloads of %v bytes for a body of %d", b.sizes, len(body))
	}

	big := `"` + strings.Repeat("x", realtime.MaxPayload) + `"`
	err := nodes[0].Publish(context.Background(), &realtime.Message{Tenant: "t", Channel: "room", Type: realtime.TypeBroadcast, Body: json.RawMessage(big)})
	if err == nil || len(b.sizes) != 1 {
		t.Errorf("Publish(%d bytes) = %v, relayed %d; want an error and nothing relayed", len(big), err, len(b.sizes)-1)
	}
	nodes[1].Receive([]byte("not json")) // logged and dropped, no panic
	wantMessages(t, "a member, from a payload that is not a message", received(m))
}
