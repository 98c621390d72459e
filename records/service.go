// Package records is the service behind collections and records: it
// validates definitions and bodies, keeps the live schema, and turns
// requests into store calls. It acts in the tenant of the request's
// principal; the store adds that tenant to every statement.
package records

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Service manages collections and their records. Create it with New and
// load the schema with Load before use.
type Service struct {
	store store.Store
	now   func() time.Time
	log   *slog.Logger

	mu     sync.RWMutex
	schema map[string]*basalt.Collection // replaced, never mutated

	// ddl orders record operations and definition changes on this node: a
	// record operation holds it shared from reading the definition until
	// its statement ran, a change holds it alone, so no statement built
	// for an old definition meets a new table. Other nodes' changes are
	// caught by the store (a conflict the client may retry).
	ddl sync.RWMutex

	events eventCache // realtime: each event's record decoded once for every watch

	// Quotas, if set, bounds each tenant's records and stored bytes.
	Quotas Quotas
}

// New returns a service on s. now is the clock (time.Now if nil).
func New(s store.Store, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: s, now: now, log: log, schema: map[string]*basalt.Collection{}}
}

// Load reads every collection definition from the store. Call it at start
// and whenever another node may have changed a definition (an OpSchema
// event in the log).
func (s *Service) Load(ctx context.Context) error {
	cs, err := s.store.CollectionList(ctx)
	if err != nil {
		return err
	}
	schema := make(map[string]*basalt.Collection, len(cs))
	for _, c := range cs {
		schema[c.Name] = c
	}
	s.mu.Lock()
	s.schema = schema
	s.mu.Unlock()
	return nil
}

// collection returns the live definition of name. CodeNotFound.
func (s *Service) collection(name string) (*basalt.Collection, error) {
	s.mu.RLock()
	c := s.schema[name]
	s.mu.RUnlock()
	if c == nil {
		return nil, basalt.Errorf(basalt.CodeNotFound, "No collection named %q.", name)
	}
	return c, nil
}

func (s *Service) setCollection(name string, c *basalt.Collection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == nil {
		delete(s.schema, name)
		return
	}
	s.schema[name] = c
}

// Collection returns the live definition of a collection. CodeNotFound.
func (s *Service) Collection(ctx context.Context, name string) (*basalt.Collection, error) {
	return s.collection(name)
}

// Collections returns every live definition, ordered by name.
func (s *Service) Collections(ctx context.Context) []*basalt.Collection {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*basalt.Collection, 0, len(s.schema))
	for _, c := range s.schema {
		out = append(out, c)
	}
	sortCollections(out)
	return out
}
