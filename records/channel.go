package records

import (
	"context"
	"fmt"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// ChannelAccess is a caller's admission to a realtime channel: a room
// for messages between clients that are not records (broadcasts,
// presence). A channel is named after what admits callers to it:
//
//   - "docs/ID", a record's channel, is open to whoever may view that
//     record: its collection's view rule, checked against the record as
//     stored (a document's editing room is open to its readers);
//   - "docs", a collection's channel, is open to whoever the list rule
//     admits whatever the record: API keys, everyone for an empty rule,
//     or callers a rule admits on their identity alone
//     (@auth.role = "admin"). A rule that depends on each record
//     (owner = @auth.id) would admit every caller to one room shared with
//     people whose records they cannot see, so it keeps the collection's
//     channel closed to users: they meet in records' channels.
//
// The caller's tenant scopes the channel: tenant A's docs/1 and tenant
// B's are different rooms.
type ChannelAccess struct {
	svc    *Service
	p      *basalt.Principal
	tenant string
	// Name is the channel as the client names it: docs or docs/ID.
	Name       string
	Collection string
	RecordID   string // "" for a collection's channel
	// def is the definition the last check ran against: a change of
	// definition (rules, the collection dropped) calls for a new check.
	def *basalt.Collection
}

// Channel checks that the caller in ctx may use the named channel.
// CodeValidation for a malformed name, CodeNotFound for an unknown
// collection or a record the caller may not view (as reading it would
// answer), CodeForbidden when the rule is closed to the caller.
func (s *Service) Channel(ctx context.Context, name string) (*ChannelAccess, error) {
	coll, id, ok := strings.Cut(name, "/")
	if coll == "" || (ok && !ValidID(id)) || !basalt.ValidName(coll) {
		return nil, basalt.Invalid("Invalid channel.", basalt.FieldError{Field: "channel", Code: "invalid",
			Message: fmt.Sprintf("%q is not a channel: name a collection or a record, docs or docs/ID", name)})
	}
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return nil, err
	}
	ch := &ChannelAccess{svc: s, p: a.p, tenant: a.tenant, Name: name, Collection: coll, RecordID: id}
	if err := ch.check(ctx, c, a); err != nil {
		return nil, err
	}
	return ch, nil
}

// Tenant is the tenant that scopes the channel: the caller's, or
// GlobalTenant for a global collection.
func (ch *ChannelAccess) Tenant() string { return ch.tenant }

// Current reports whether the last check still stands: the collection's
// definition has not changed since. Cheap enough for every message;
// when it is false, call Check.
func (ch *ChannelAccess) Current() bool {
	c, err := ch.svc.collection(ch.Collection)
	return err == nil && c == ch.def
}

// Check checks the caller's admission again, against the rules and the
// record as they are now; a stream calls it periodically, since a
// record's change can close its channel to a caller. Its errors are
// those of Service.Channel.
func (ch *ChannelAccess) Check(ctx context.Context) error {
	s := ch.svc
	s.ddl.RLock()
	defer s.ddl.RUnlock()
	c, err := s.collection(ch.Collection)
	if err != nil {
		return err
	}
	a := &access{p: ch.p, tenant: ch.tenant, now: s.now().UTC()}
	a.key = ch.p != nil && ch.p.Kind == "key" && (!c.Global || ch.p.TenantID == basalt.DefaultTenant)
	return ch.check(ctx, c, a)
}

func (ch *ChannelAccess) check(ctx context.Context, c *basalt.Collection, a *access) error {
	if ch.RecordID == "" {
		rule, err := a.rule(c, opList, nil)
		if err != nil {
			return err
		}
		ok, err := allows(anyRecord(rule), c, &basalt.Record{})
		if err != nil {
			return fmt.Errorf("records: channel %s: %w", ch.Name, err)
		}
		if !ok {
			return basalt.Errorf(basalt.CodeForbidden, "The list rule of %s depends on each record, or does not admit you: join a record's channel (%s/ID) instead.", c.Name, c.Name)
		}
		ch.def = c
		return nil
	}
	rule, err := a.rule(c, opView, nil)
	if err != nil {
		return err
	}
	if _, err := ch.svc.store.RecordGet(ctx, &store.RecordGetParams{TenantID: a.tenant, Collection: c, ID: ch.RecordID, Filter: rule}); err != nil {
		return err
	}
	ch.def = c
	return nil
}

// anyRecord returns rule with every comparison that names a field made
// unknown. Under SQL's three-valued logic an expression that is true with
// unknowns in it is true whatever they are, so the result holds on an
// empty record exactly when rule holds for every record.
func anyRecord(e filter.Expr) filter.Expr {
	switch e := e.(type) {
	case *filter.Logical:
		return &filter.Logical{Op: e.Op, L: anyRecord(e.L), R: anyRecord(e.R), Offset: e.Offset}
	case *filter.Not:
		return &filter.Not{X: anyRecord(e.X), Offset: e.Offset}
	case *filter.Compare:
		_, lf := e.L.(*filter.Field)
		_, rf := e.R.(*filter.Field)
		if lf || rf {
			unknown := &filter.Literal{Value: filter.Unknown, Bound: true, Offset: e.Offset}
			return &filter.Compare{Op: "=", L: unknown, R: unknown, Offset: e.Offset}
		}
	}
	return e
}
