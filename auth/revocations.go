package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RevocationStore is what revocations read.
type RevocationStore interface {
	SessionsRevokedSince(ctx context.Context, since time.Time) ([]string, error)
}

// revocations is the set of sessions revoked while their access tokens
// may still be valid. A revocation on this node takes effect at once;
// one on another node when the set is next read from the store.
type revocations struct {
	store RevocationStore
	now   func() time.Time

	mu  sync.RWMutex
	ids map[string]time.Time // session -> when it was seen revoked
}

func newRevocations(s RevocationStore, now func() time.Time) *revocations {
	return &revocations{store: s, now: now, ids: map[string]time.Time{}}
}

func (r *revocations) add(id string) {
	r.mu.Lock()
	r.ids[id] = r.now()
	r.mu.Unlock()
}

func (r *revocations) has(id string) bool {
	r.mu.RLock()
	_, ok := r.ids[id]
	r.mu.RUnlock()
	return ok
}

// follow reads revocations every interval until ctx ends. Entries older
// than the longest access token lifetime are dropped: those tokens have
// expired anyway.
func (r *revocations) follow(ctx context.Context, interval time.Duration, log *slog.Logger) {
	since := r.now().Add(-revocationKeep)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := r.now()
		if err := r.read(ctx, since.Add(-interval)); err != nil && ctx.Err() == nil {
			log.Error("auth: read revoked sessions", "err", err)
		} else {
			since = start
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// revocationKeep is how long a revocation is remembered: longer than any
// access token lives.
const revocationKeep = time.Hour

// read adds the sessions revoked since since and forgets old entries.
func (r *revocations) read(ctx context.Context, since time.Time) error {
	start := r.now()
	ids, err := r.store.SessionsRevokedSince(ctx, since)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if _, ok := r.ids[id]; !ok {
			r.ids[id] = start
		}
	}
	for id, at := range r.ids {
		if start.Sub(at) > revocationKeep {
			delete(r.ids, id)
		}
	}
	return nil
}
