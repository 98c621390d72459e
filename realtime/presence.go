package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Presence keeps who is in which channel, for every node to list: each
// connection that joins a channel with presence has an entry in the
// store, held by its node. The node refreshes its entries while it runs
// and deletes each when its connection leaves; entries of a node that
// died expire, and the first node to sweep them tells their channels.
// Joins and leaves are published to the channel as presence messages.
type Presence struct {
	ch  *Channels
	st  store.Presence
	log *slog.Logger
	now func() time.Time
	// TTL is how long an entry outlives its node's last refresh; the node
	// refreshes every third of it.
	TTL time.Duration

	mu    sync.Mutex
	local map[presenceKey]*store.PresenceEntry // this node's entries
}

type presenceKey struct{ tenant, channel, key string }

// sweepBatch bounds the entries one sweep claims, and so the leave
// messages it publishes at once.
const sweepBatch = 500

// NewPresence returns the presence of the node of ch, kept in st. now
// is the clock (time.Now if nil); nodes compare their clocks' times, so
// they must agree to well within the TTL.
func NewPresence(ch *Channels, st store.Presence, ttl time.Duration, now func() time.Time, log *slog.Logger) *Presence {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Presence{ch: ch, st: st, log: log, now: now, TTL: ttl, local: map[presenceKey]*store.PresenceEntry{}}
}

// Join enters e (its tenant, channel, key, principal and meta) for this
// node and tells the channel.
func (p *Presence) Join(ctx context.Context, e store.PresenceEntry) error {
	now := p.now().UTC()
	e.Node, e.Since, e.Expires = p.ch.Node(), now, now.Add(p.TTL)
	if err := p.st.PresencePut(ctx, &e); err != nil {
		return err
	}
	p.mu.Lock()
	p.local[presenceKey{e.TenantID, e.Channel, e.Key}] = &e
	p.mu.Unlock()
	return p.publish(ctx, "join", &e)
}

// Leave removes the entry of key from the channel and tells the channel,
// unless a sweep took the entry first and told it already.
func (p *Presence) Leave(ctx context.Context, tenant, channel, key string) error {
	k := presenceKey{tenant, channel, key}
	p.mu.Lock()
	e := p.local[k]
	delete(p.local, k)
	p.mu.Unlock()
	if e == nil {
		return nil
	}
	ok, err := p.st.PresenceDelete(ctx, tenant, channel, key)
	if err != nil || !ok {
		return err
	}
	return p.publish(ctx, "leave", e)
}

// List returns who is in a channel, oldest first, up to limit.
func (p *Presence) List(ctx context.Context, tenant, channel string, limit int) ([]store.PresenceEntry, error) {
	return p.st.PresenceList(ctx, tenant, channel, p.now().UTC(), limit)
}

// Entries returns the number of this node's entries.
func (p *Presence) Entries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.local)
}

// Run refreshes this node's entries and sweeps expired ones, every third
// of the TTL, until ctx ends.
func (p *Presence) Run(ctx context.Context) {
	tick := time.NewTicker(p.TTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.refresh(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("realtime: refresh presence", "err", err)
		}
		if err := p.sweep(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("realtime: sweep presence", "err", err)
		}
	}
}

// refresh keeps this node's entries alive. Fewer in the store than the
// node holds means others swept some (this node could not refresh in
// time, cut off from the database): they are entered and announced again,
// since their connections are still here.
func (p *Presence) refresh(ctx context.Context) error {
	p.mu.Lock()
	held := len(p.local)
	p.mu.Unlock()
	if held == 0 {
		return nil
	}
	expires := p.now().UTC().Add(p.TTL)
	n, err := p.st.PresenceRefresh(ctx, p.ch.Node(), expires)
	if err != nil || n >= held {
		return err
	}
	p.mu.Lock()
	entries := make([]*store.PresenceEntry, 0, len(p.local))
	for _, e := range p.local {
		e.Expires = expires
		entries = append(entries, e)
	}
	p.mu.Unlock()
	for _, e := range entries {
		p.mu.Lock()
		held := p.local[presenceKey{e.TenantID, e.Channel, e.Key}] == e
		p.mu.Unlock()
		if !held {
			continue // left meanwhile
		}
		if err := p.st.PresencePut(ctx, e); err != nil {
			return err
		}
		if err := p.publish(ctx, "join", e); err != nil {
			return err
		}
	}
	return nil
}

// sweep removes expired entries of every node and tells their channels.
func (p *Presence) sweep(ctx context.Context) error {
	for {
		gone, err := p.st.PresenceExpire(ctx, p.now().UTC(), sweepBatch)
		if err != nil {
			return err
		}
		for i := range gone {
			if err := p.publish(ctx, "leave", &gone[i]); err != nil {
				return err
			}
		}
		if len(gone) < sweepBatch {
			return nil
		}
	}
}

func (p *Presence) publish(ctx context.Context, op string, e *store.PresenceEntry) error {
	return p.ch.Publish(ctx, &Message{Tenant: e.TenantID, Channel: e.Channel, Type: TypePresence, Body: PresenceBody(op, e)})
}

// PresenceBody renders a presence change as clients get it:
// {"channel","op","key","kind","id","meta","since"}; op is join or leave.
func PresenceBody(op string, e *store.PresenceEntry) json.RawMessage {
	b := make([]byte, 0, 160+len(e.Meta))
	b = append(b, `{"channel":`...)
	b = basalt.AppendJSONString(b, e.Channel)
	b = append(b, `,"op":`...)
	b = basalt.AppendJSONString(b, op)
	b = AppendPresenceEntry(append(b, ','), e)
	return append(b, '}')
}

// AppendPresenceEntry appends the fields of e that clients see, without
// braces: "key","kind","id","meta","since".
func AppendPresenceEntry(b []byte, e *store.PresenceEntry) []byte {
	b = append(b, `"key":`...)
	b = basalt.AppendJSONString(b, e.Key)
	b = append(b, `,"kind":`...)
	b = basalt.AppendJSONString(b, e.Kind)
	b = append(b, `,"id":`...)
	if e.PrincipalID == "" {
		b = append(b, "null"...)
	} else {
		b = basalt.AppendJSONString(b, e.PrincipalID)
	}
	b = append(b, `,"meta":`...)
	if len(e.Meta) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Meta...)
	}
	b = append(b, `,"since":`...)
	b = append(b, '"')
	b = basalt.AppendTime(b, e.Since)
	return append(b, '"')
}
