package records

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
)

// Watch is one realtime subscription of a caller: a collection, or one
// record of it, and an optional filter. Each event is checked at delivery
// against the collection's rules as they are then and the caller's
// identity, so a rule that changes takes effect on open streams.
type Watch struct {
	svc        *Service
	p          *basalt.Principal
	tenant     string // the caller's tenant; GlobalTenant for a global collection
	key        bool
	Collection string
	RecordID   string // "" for every record
	filter     filter.Expr
}

// Watch checks that the caller in ctx may follow the collection (its list
// rule, or its view rule for one record) and compiles the filter, which
// may name only the fields the caller can read.
func (s *Service) Watch(ctx context.Context, coll, id, filterSrc string) (*Watch, error) {
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return nil, err
	}
	op := opList
	if id != "" {
		op = opView
		if !ValidID(id) {
			return nil, basalt.Invalid("Invalid subscription.", basalt.FieldError{Field: "subscribe", Code: "invalid", Message: fmt.Sprintf("%q is not a record id", id)})
		}
	}
	if _, err := a.rule(c, op, nil); err != nil {
		return nil, err
	}
	f, err := s.parseFilter(filterSrc, a.view(c))
	if err != nil {
		return nil, err
	}
	return &Watch{svc: s, p: a.p, tenant: a.tenant, key: a.key, Collection: c.Name, RecordID: id, filter: f}, nil
}

// Tenant is the tenant whose events the watch follows.
func (w *Watch) Tenant() string { return w.tenant }

// Render appends the event as the subscriber may see it to dst:
// {"position","collection","op","time","record"}, the record without the
// fields hidden from the caller. ok is false when the event is not for
// this watch or the caller may not see it.
func (w *Watch) Render(e *basalt.Event, dst []byte) (out []byte, ok bool) {
	if e.Collection != w.Collection || (w.RecordID != "" && e.RecordID != w.RecordID) || e.TenantID != w.tenant {
		return dst, false
	}
	switch e.Op {
	case basalt.OpCreate, basalt.OpUpdate, basalt.OpDelete:
	default:
		return dst, false
	}
	c, err := w.svc.collection(w.Collection)
	if err != nil {
		return dst, false // dropped since
	}
	a := &access{p: w.p, key: w.key, tenant: w.tenant, now: e.Time}
	op := opList
	if w.RecordID != "" {
		op = opView
	}
	rule, err := a.rule(c, op, nil)
	if err != nil {
		return dst, false
	}
	// A field the filter names may have been hidden since the caller
	// subscribed: matching on it would reveal its value, event by event.
	if w.filter != nil && filter.Check(w.filter, a.view(c)) != nil {
		return dst, false
	}
	r, err := w.svc.events.record(c, e)
	if err != nil {
		w.svc.log.Error("realtime: decode event record", "collection", c.Name, "position", e.Position, "err", err)
		return dst, false
	}
	for _, cond := range []filter.Expr{rule, w.filter} {
		if ok, err := allows(cond, c, r); err != nil || !ok {
			return dst, false
		}
	}
	dst = append(dst, `{"position":`...)
	dst = strconv.AppendInt(dst, e.Position, 10)
	dst = append(dst, `,"collection":`...)
	dst = basalt.AppendJSONString(dst, e.Collection)
	dst = append(dst, `,"op":`...)
	dst = basalt.AppendJSONString(dst, string(e.Op))
	dst = append(dst, `,"time":`...)
	dst = basalt.AppendValueJSON(dst, e.Time)
	dst = append(dst, `,"record":`...)
	dst = basalt.AppendRecordJSON(dst, c, r, a.visible(c, nil))
	return append(dst, '}'), true
}

// eventCache decodes each event's record once for all the watches that
// render it: with a thousand subscribers of a collection, each parsing the
// same JSON took two thirds of the server's processor time (basalt bench
// realtime). It keeps the last events by position, enough for subscribers
// a few hundred events apart to share; one further behind decodes again.
// The records it returns are shared and must not be changed. The zero
// value is ready.
type eventCache struct {
	mu      sync.Mutex
	entries [256]*decodedEvent
}

type decodedEvent struct {
	position int64
	coll     *basalt.Collection // the definition it was decoded against
	once     sync.Once
	rec      *basalt.Record
	err      error
}

func (ec *eventCache) record(c *basalt.Collection, e *basalt.Event) (*basalt.Record, error) {
	slot := &ec.entries[uint64(e.Position)%uint64(len(ec.entries))]
	ec.mu.Lock()
	d := *slot
	if d == nil || d.position != e.Position || d.coll != c {
		d = &decodedEvent{position: e.Position, coll: c}
		*slot = d
	}
	ec.mu.Unlock()
	// Outside the lock: the watches of other events go on meanwhile, and
	// those of this one wait for the one decoding.
	d.once.Do(func() {
		if d.rec, d.err = eventRecord(c, e.Record); d.err == nil {
			d.rec.KeepJSON(c) // copied for every watch that sees all fields
		}
	})
	return d.rec, d.err
}

// eventRecord decodes the record of an event, written by the store as the
// record's JSON, against the collection as it is now: fields it no longer
// has are left out, fields it has gained are null.
func eventRecord(c *basalt.Collection, raw json.RawMessage) (*basalt.Record, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	r := &basalt.Record{Data: make(map[string]any, len(c.Fields))}
	if err := json.Unmarshal(m["id"], &r.ID); err != nil {
		return nil, fmt.Errorf("id: %w", err)
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"created", &r.Created}, {"updated", &r.Updated}} {
		var s string
		if err := json.Unmarshal(m[t.name], &s); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		v, ok := basalt.ParseTime(s)
		if !ok {
			return nil, fmt.Errorf("%s: bad time %q", t.name, s)
		}
		*t.dst = v
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		raw, ok := m[f.Name]
		if !ok {
			continue
		}
		// A value the field's type no longer takes (the type changed) is
		// left out: rules see it as missing.
		if v, ferr := basalt.DecodeValue(f, raw); ferr == nil && v != nil {
			r.Data[f.Name] = v
		}
	}
	return r, nil
}
