package store

import (
	"context"
	"encoding/json"
	"time"
)

// PresenceEntry is one connection in a realtime channel, as the other
// members see it: Key is the connection's id, Kind and PrincipalID who it
// acts as ("anonymous" and ""), Meta what the client said about itself.
// Node is the server that holds the connection; it keeps the entry alive
// until Expires by refreshing it, so a node that dies takes its entries
// with it once they expire.
type PresenceEntry struct {
	TenantID    string
	Channel     string
	Key         string
	Kind        string
	PrincipalID string
	Meta        json.RawMessage
	Node        string
	Since       time.Time
	Expires     time.Time
}

// Presence is the storage of who is in which realtime channel, shared by
// every node. It is tenant-scoped: every method but the node-wide
// PresenceRefresh and PresenceExpire takes the tenant.
type Presence interface {
	// PresencePut adds the entry, or replaces the one of the same tenant,
	// channel and key.
	PresencePut(ctx context.Context, e *PresenceEntry) error
	// PresenceDelete removes an entry and reports whether there was one,
	// expired or not: of a node removing an entry and another sweeping
	// it, one reports it.
	PresenceDelete(ctx context.Context, tenant, channel, key string) (bool, error)
	// PresenceList returns up to limit entries of a channel that have not
	// expired at now, oldest first (by Since, then Key).
	PresenceList(ctx context.Context, tenant, channel string, now time.Time, limit int) ([]PresenceEntry, error)
	// PresenceRefresh keeps every entry of node alive until expires and
	// returns how many there are.
	PresenceRefresh(ctx context.Context, node string, expires time.Time) (int, error)
	// PresenceExpire removes the entries of every tenant that expired at
	// now, up to limit, and returns them. Of several nodes sweeping at
	// once, each entry goes to one.
	PresenceExpire(ctx context.Context, now time.Time, limit int) ([]PresenceEntry, error)
}
