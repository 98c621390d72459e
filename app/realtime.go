package app

import (
	"context"
	"log/slog"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/postgres"
	"github.com/prometheus/client_golang/prometheus"
)

// notifier is the part of a store that wakes other nodes and relays
// realtime messages to them (PostgreSQL's LISTEN/NOTIFY). SQLite has one
// node and needs none.
type notifier interface {
	Notify(ctx context.Context) error
	Relay(ctx context.Context, payload []byte) error
	Listen(ctx context.Context, l postgres.Listeners, log *slog.Logger)
}

// newChannels returns the node's realtime channels and presence: across
// nodes through the store's notifications when it has them, in process
// otherwise.
func newChannels(st store.Store, ttl time.Duration, log *slog.Logger) (*realtime.Channels, *realtime.Presence) {
	var relay realtime.Relay
	if n, ok := st.(notifier); ok {
		relay = n
	}
	ch := realtime.NewChannels(relay, log)
	return ch, realtime.NewPresence(ch, st, ttl, nil, log)
}

// wakingStore wakes the realtime hub after each committed record write,
// so a local change reaches subscribers without waiting for a poll.
type wakingStore struct {
	store.Store
	wake func()
}

func (s wakingStore) RecordInsert(ctx context.Context, p *store.RecordInsertParams) (*basalt.Event, error) {
	e, err := s.Store.RecordInsert(ctx, p)
	if err == nil {
		s.wake()
	}
	return e, err
}

func (s wakingStore) RecordUpdate(ctx context.Context, p *store.RecordUpdateParams) (*basalt.Record, *basalt.Event, error) {
	r, e, err := s.Store.RecordUpdate(ctx, p)
	if err == nil {
		s.wake()
	}
	return r, e, err
}

func (s wakingStore) RecordDelete(ctx context.Context, p *store.RecordDeleteParams) (*basalt.Event, error) {
	e, err := s.Store.RecordDelete(ctx, p)
	if err == nil {
		s.wake()
	}
	return e, err
}

// wake is what a local write calls: it wakes this node's hub and, on
// PostgreSQL, asks for a notification to the other nodes.
func (a *App) wake() {
	a.hub.Wake()
	if a.export != nil {
		a.export.Wake()
	}
	if a.notify != nil {
		select {
		case a.notify <- struct{}{}:
		default:
		}
	}
}

// startRealtime runs the hub and, on PostgreSQL, the notifications that
// wake it when another node writes and that tell the others when this
// one does.
func (a *App) startRealtime(ctx context.Context) {
	a.reg.MustRegister(hubMetrics(a.hub)...)
	a.reg.MustRegister(channelMetrics(a.channels, a.presence)...)
	a.bg.Go(func() { a.hub.Run(ctx) })
	a.bg.Go(func() { a.presence.Run(ctx) })
	n, ok := a.db.(notifier)
	if !ok {
		return
	}
	a.bg.Go(func() {
		n.Listen(ctx, postgres.Listeners{Wake: a.hub.Wake, Receive: a.channels.Receive, Up: a.channels.RelayUp}, a.log)
	})
	// Notifications coalesce: while one is being sent, further writes
	// ask for one more, not one each.
	a.notify = make(chan struct{}, 1)
	a.bg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.notify:
			}
			if err := n.Notify(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("realtime: notify other nodes", "err", err)
			}
		}
	})
}

// hubMetrics report the hub on /metrics: how far it has read the log,
// its subscriptions, and those cut off for falling behind (a rising count
// means clients or the network are too slow for --realtime-buffer).
func hubMetrics(h *realtime.Hub) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_realtime_position", Help: "Last event log position the realtime hub has reached: handed out, or passed with no subscription open."},
			func() float64 { return float64(h.Position()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_realtime_subscriptions", Help: "Open realtime subscriptions."},
			func() float64 { return float64(h.Subscribers()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_realtime_events_delivered_total", Help: "Events the realtime hub handed to subscriptions."},
			func() float64 { d, _ := h.Stats(); return float64(d) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_realtime_cutoffs_total", Help: "Realtime subscriptions cut off for falling behind; their clients resume from the log."},
			func() float64 { _, c := h.Stats(); return float64(c) }),
	}
}

// channelMetrics report broadcasts and presence on /metrics. Misses are
// messages a client's inbox had no room for: broadcasts are best effort,
// and a rising count means clients too slow for what their channels send.
func channelMetrics(ch *realtime.Channels, p *realtime.Presence) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_realtime_channel_members", Help: "Memberships of realtime channels on this server."},
			func() float64 { return float64(ch.Members()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_realtime_presence_entries", Help: "Presence entries this server holds for its connections."},
			func() float64 { return float64(p.Entries()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_realtime_messages_published_total", Help: "Broadcasts and presence changes published on this server."},
			func() float64 { n, _, _ := ch.Stats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_realtime_messages_delivered_total", Help: "Broadcasts and presence changes handed to this server's channel members."},
			func() float64 { _, n, _ := ch.Stats(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "basalt_realtime_messages_missed_total", Help: "Broadcasts and presence changes a channel member missed because its inbox was full."},
			func() float64 { _, _, n := ch.Stats(); return float64(n) }),
	}
}
