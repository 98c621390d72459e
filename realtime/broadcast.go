package realtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"basalt.dev/basalt"
)

// Channels carry messages between clients that are not records:
// broadcasts and presence changes. Unlike the event log they are never
// stored, so a client that is away misses them and nothing replays them.
// Each node keeps the members of each channel it serves. With several
// nodes, a message goes through a Relay to every node, the one that
// published it included: the relay's order (PostgreSQL delivers
// notifications in commit order) is then every member's order, so two
// messages published one after the other, on one node or two, arrive in
// that order everywhere. Delivery is best effort and at most once per
// member: a member whose inbox is full misses the message, rather than
// slowing the others or being cut off; a node cut off from the relay
// misses what other nodes publish meanwhile, and delivers what it
// publishes itself at once.

// Message types.
const (
	TypeBroadcast = "broadcast"
	TypePresence  = "presence"
)

// Message is a broadcast or a presence change in a channel of a tenant.
type Message struct {
	Tenant  string `json:"t"`
	Channel string `json:"c"`
	Type    string `json:"y"`
	// Skip is the key of a member the message is not for: the
	// connection that sent it.
	Skip string `json:"s,omitempty"`
	// Body is the message as clients get it, rendered once for all of
	// them (see BroadcastBody and presence.go).
	Body json.RawMessage `json:"b"`
	Node string          `json:"n"` // the node that published it
	// Local says the publishing node delivered it to its members itself
	// (the relay was down), so they must not get it again.
	Local bool `json:"l,omitempty"`
}

// MaxPayload bounds a message as it travels between nodes: PostgreSQL's
// NOTIFY takes payloads under 8000 bytes. The API bounds what clients
// send so that every message fits.
const MaxPayload = 7900

// Relay carries messages to the other nodes (PostgreSQL's NOTIFY) and
// hands theirs to Receive; a single node has none.
type Relay interface {
	Relay(ctx context.Context, payload []byte) error
}

// Channels is the node's registry of channel members. The zero value is
// not ready: use NewChannels.
type Channels struct {
	node    string
	relay   Relay
	relayUp atomic.Bool // the relay brings this node's messages back
	log     *slog.Logger

	mu      sync.RWMutex
	members map[channelKey]map[*Member]struct{}

	published, delivered, dropped atomic.Int64
}

type channelKey struct{ tenant, channel string }

// NewChannels returns the registry of a node with a new random id.
// relay may be nil (one node).
func NewChannels(relay Relay, log *slog.Logger) *Channels {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Channels{node: "n" + rand.Text()[:16], relay: relay, log: log, members: map[channelKey]map[*Member]struct{}{}}
}

// Node returns the node's id: the holder of its presence entries.
func (c *Channels) Node() string { return c.node }

// Member is one connection's inbox for the channels it is in.
type Member struct {
	Key string // the connection's id, unique among every node's
	ch  chan *Message
}

// NewMember returns an inbox that holds up to buffer messages not yet
// taken, with a new key.
func NewMember(buffer int) *Member {
	return &Member{Key: "c" + rand.Text()[:20], ch: make(chan *Message, buffer)}
}

// C delivers the messages of the member's channels.
func (m *Member) C() <-chan *Message { return m.ch }

// Join adds m to a channel of a tenant; joining twice is joining once.
func (c *Channels) Join(m *Member, tenant, channel string) {
	k := channelKey{tenant, channel}
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.members[k]
	if set == nil {
		set = map[*Member]struct{}{}
		c.members[k] = set
	}
	set[m] = struct{}{}
}

// Leave removes m from a channel.
func (c *Channels) Leave(m *Member, tenant, channel string) {
	k := channelKey{tenant, channel}
	c.mu.Lock()
	defer c.mu.Unlock()
	if set := c.members[k]; set != nil {
		delete(set, m)
		if len(set) == 0 {
			delete(c.members, k)
		}
	}
}

// Members returns the number of memberships on this node.
func (c *Channels) Members() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for _, set := range c.members {
		n += len(set)
	}
	return n
}

// Stats returns the messages published on this node, the deliveries to
// its members and those missed because a member's inbox was full.
func (c *Channels) Stats() (published, delivered, dropped int64) {
	return c.published.Load(), c.delivered.Load(), c.dropped.Load()
}

// RelayUp tells whether the relay brings messages back to this node now
// (PostgreSQL: the node is listening). While it does not, Publish
// delivers to this node's members itself.
func (c *Channels) RelayUp(up bool) { c.relayUp.Store(up) }

// Publish delivers m to the members of its channel on every node: when
// the relay brings it back to this node too, or at once without a relay
// (or while it is down here). An error of the relay means the other
// nodes did not get it.
func (c *Channels) Publish(ctx context.Context, m *Message) error {
	m.Node = c.node
	c.published.Add(1)
	if c.relay == nil || !c.relayUp.Load() {
		m.Local = true
		c.deliver(m)
	}
	if c.relay == nil {
		return nil
	}
	payload, err := encodeMessage(m)
	if err != nil {
		return err
	}
	return c.relay.Relay(ctx, payload)
}

// Receive delivers a message that the relay brought, from any node.
func (c *Channels) Receive(payload []byte) {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		c.log.Warn("realtime: a relayed message is not one", "err", err)
		return
	}
	if m.Local && m.Node == c.node {
		return // delivered when it was published
	}
	c.deliver(&m)
}

func (c *Channels) deliver(m *Message) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for mb := range c.members[channelKey{m.Tenant, m.Channel}] {
		if mb.Key == m.Skip {
			continue
		}
		select {
		case mb.ch <- m:
			c.delivered.Add(1)
		default:
			c.dropped.Add(1)
		}
	}
}

// encodeMessage encodes m for the relay, leaving its body as it is
// (json.Marshal would escape <, > and & in it, growing the payload).
func encodeMessage(m *Message) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("realtime: encode message: %w", err)
	}
	payload := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("realtime: a message of %d bytes is over the relay's %d", len(payload), MaxPayload)
	}
	return payload, nil
}

// From is who sent a broadcast: the principal's kind ("user", "key",
// "anonymous") and id, and the key of the connection it came from, if
// it came from one.
type From struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Key  string `json:"key,omitempty"`
}

// FromPrincipal returns the sender p, or an anonymous one.
func FromPrincipal(p *basalt.Principal) From {
	if p == nil {
		return From{Kind: "anonymous"}
	}
	return From{Kind: p.Kind, ID: p.ID}
}

// BroadcastBody renders a broadcast as clients get it:
// {"channel","event","data","from"}. data is valid JSON.
func BroadcastBody(channel, event string, data json.RawMessage, from From) json.RawMessage {
	b := make([]byte, 0, 96+len(channel)+len(event)+len(data))
	b = append(b, `{"channel":`...)
	b = basalt.AppendJSONString(b, channel)
	b = append(b, `,"event":`...)
	b = basalt.AppendJSONString(b, event)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, `,"from":`...)
	b = appendFrom(b, from)
	return append(b, '}')
}

func appendFrom(b []byte, f From) []byte {
	b = append(b, `{"kind":`...)
	b = basalt.AppendJSONString(b, f.Kind)
	if f.ID != "" {
		b = append(b, `,"id":`...)
		b = basalt.AppendJSONString(b, f.ID)
	}
	if f.Key != "" {
		b = append(b, `,"key":`...)
		b = basalt.AppendJSONString(b, f.Key)
	}
	return append(b, '}')
}
