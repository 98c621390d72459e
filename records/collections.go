package records

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// CollectionPatch is a change of definition. Fields and Indexes, when
// present, are the complete new lists: a field left out is dropped with
// its data, a new one is added. Rename maps old field names to new ones
// and applies first, so data moves with the field.
type CollectionPatch struct {
	Name    *string           `json:"name,omitempty"`
	Fields  *[]basalt.Field   `json:"fields,omitempty"`
	Indexes *[]basalt.Index   `json:"indexes,omitempty"`
	Rename  map[string]string `json:"rename,omitempty"`
	// Rules, when present, replace the rules.
	Rules *basalt.Rules `json:"rules,omitempty"`
	// Global cannot change once the collection exists.
	Global *bool `json:"global,omitempty"`
}

// CreateCollection validates c and creates it with its table and indexes.
func (s *Service) CreateCollection(ctx context.Context, c *basalt.Collection) (*basalt.Collection, error) {
	s.ddl.Lock()
	defer s.ddl.Unlock()
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateRules(c); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c.Created, c.Updated = now, now
	if err := s.store.CollectionCreate(ctx, c, s.audit(ctx, "collection.create", c.Name, nil)); err != nil {
		return nil, err
	}
	s.setCollection(c.Name, c)
	return c, nil
}

// UpdateCollection applies p to the collection name.
func (s *Service) UpdateCollection(ctx context.Context, name string, p *CollectionPatch) (*basalt.Collection, error) {
	s.ddl.Lock()
	defer s.ddl.Unlock()
	old, err := s.collection(name)
	if err != nil {
		return nil, err
	}
	if p.Name != nil && *p.Name != name {
		return nil, basalt.Invalid("A collection cannot be renamed.",
			basalt.FieldError{Field: "name", Code: "read_only", Message: "name cannot change; create a new collection instead"})
	}
	next, err := applyPatch(old, p)
	if err != nil {
		return nil, err
	}
	if p.Global != nil && *p.Global != old.Global {
		return nil, &basalt.Error{Code: basalt.CodeUnprocessable, Message: "A collection cannot become global or tenant-scoped once it exists; create a new one.",
			Fields: []basalt.FieldError{{Field: "global", Code: "read_only", Message: "global is fixed at creation"}}}
	}
	next.Normalize()
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if err := ValidateRules(next); err != nil {
		return nil, err
	}
	if err := checkTypeChanges(old, next, p.Rename); err != nil {
		return nil, err
	}
	if err := checkNewlyRequired(old, next, p.Rename); err != nil {
		return nil, err
	}
	next.Created, next.Updated = old.Created, s.now().UTC().Truncate(time.Microsecond)
	if err := s.store.CollectionUpdate(ctx, &store.CollectionUpdateParams{Old: old, New: next, Renames: p.Rename,
		Audit: s.audit(ctx, "collection.update", name, map[string]any{"renames": p.Rename})}); err != nil {
		return nil, err
	}
	s.setCollection(name, next)
	return next, nil
}

// applyPatch returns the definition after p; old is not changed.
func applyPatch(old *basalt.Collection, p *CollectionPatch) (*basalt.Collection, error) {
	if err := checkRenames(old, p.Rename); err != nil {
		return nil, err
	}
	renamed := func(n string) string {
		if to, ok := p.Rename[n]; ok {
			return to
		}
		return n
	}
	next := &basalt.Collection{Name: old.Name, Global: old.Global, Rules: old.Rules}
	if p.Rules != nil {
		next.Rules = *p.Rules
	}
	if p.Fields != nil {
		next.Fields = slices.Clone(*p.Fields)
	} else {
		next.Fields = slices.Clone(old.Fields)
		for i := range next.Fields {
			next.Fields[i].Name = renamed(next.Fields[i].Name)
		}
	}
	if p.Indexes != nil {
		next.Indexes = slices.Clone(*p.Indexes)
	} else {
		for _, ix := range old.Indexes {
			ix.Fields = slices.Clone(ix.Fields)
			for i := range ix.Fields {
				ix.Fields[i] = renamed(ix.Fields[i])
			}
			next.Indexes = append(next.Indexes, ix)
		}
	}
	return next, nil
}

func checkRenames(old *basalt.Collection, renames map[string]string) error {
	var errs []basalt.FieldError
	targets := map[string]bool{}
	for _, from := range slices.Sorted(maps.Keys(renames)) {
		to := renames[from]
		path := "rename." + from
		switch {
		case old.Field(from) == nil:
			errs = append(errs, basalt.FieldError{Field: path, Code: "unknown_field", Message: fmt.Sprintf("%q is not a field of %s", from, old.Name)})
		case !basalt.ValidName(to) || len(to) > basalt.MaxFieldName:
			errs = append(errs, basalt.FieldError{Field: path, Code: "invalid", Message: fmt.Sprintf("new name %q must match [a-z][a-z0-9_]*", to)})
		case basalt.Reserved(to):
			errs = append(errs, basalt.FieldError{Field: path, Code: "reserved", Message: fmt.Sprintf("%q is a system field; choose another name", to)})
		case old.SchemaField(to) != nil || targets[to]:
			errs = append(errs, basalt.FieldError{Field: path, Code: "conflict", Message: fmt.Sprintf("cannot rename %q to %q: that name is taken", from, to)})
		}
		targets[to] = true
	}
	if len(errs) > 0 {
		return basalt.Invalid("Invalid rename.", errs...)
	}
	return nil
}

// checkTypeChanges refuses to change the type of a surviving field: the
// stored values would not convert safely.
func checkTypeChanges(old, next *basalt.Collection, renames map[string]string) error {
	for _, f := range old.Fields {
		name := f.Name
		if to, ok := renames[name]; ok {
			name = to
		}
		if nf := next.Field(name); nf != nil && nf.Type != f.Type {
			return &basalt.Error{Code: basalt.CodeUnprocessable,
				Message: fmt.Sprintf("Field %q is %s and cannot become %s; add a new field and drop the old one.", name, f.Type, nf.Type),
				Fields:  []basalt.FieldError{{Field: name, Code: "type_change", Message: "a field's type cannot change"}}}
		}
	}
	return nil
}

// checkNewlyRequired refuses a field that becomes required (added, or
// made required) without a default: existing records would hold no value.
// With a default, the store fills the records that lack one.
func checkNewlyRequired(old, next *basalt.Collection, renames map[string]string) error {
	was := map[string]bool{}
	for _, f := range old.Fields {
		name := f.Name
		if to, ok := renames[name]; ok {
			name = to
		}
		was[name] = f.Required
	}
	var errs []basalt.FieldError
	for _, f := range next.Fields {
		if f.Required && !was[f.Name] && len(f.Default) == 0 {
			errs = append(errs, basalt.FieldError{Field: f.Name, Code: "default_required",
				Message: f.Name + " becomes required: give it a default, which fills the records that have no value"})
		}
	}
	if len(errs) > 0 {
		return &basalt.Error{Code: basalt.CodeUnprocessable, Message: "A field that becomes required needs a default.", Fields: errs}
	}
	return nil
}

// DeleteCollection drops the collection and all its records.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	s.ddl.Lock()
	defer s.ddl.Unlock()
	if _, err := s.collection(name); err != nil {
		return err
	}
	if err := s.store.CollectionDelete(ctx, name, s.audit(ctx, "collection.delete", name, nil)); err != nil {
		return err
	}
	s.setCollection(name, nil)
	return nil
}

// ApplySchemaEvent updates the live schema from an OpSchema event written
// by any node.
func (s *Service) ApplySchemaEvent(e *basalt.Event) {
	if e.Op != basalt.OpSchema {
		return
	}
	if len(e.Record) == 0 || string(e.Record) == "null" {
		s.setCollection(e.Collection, nil)
		return
	}
	c := new(basalt.Collection)
	if err := json.Unmarshal(e.Record, c); err != nil {
		s.log.Error("records: schema event", "position", e.Position, "err", err)
		return
	}
	s.mu.RLock()
	cur := s.schema[c.Name]
	s.mu.RUnlock()
	if cur != nil && !cur.Updated.Before(c.Updated) {
		return // this node made the change, or a later one
	}
	s.setCollection(c.Name, c)
}

func sortCollections(cs []*basalt.Collection) {
	slices.SortFunc(cs, func(a, b *basalt.Collection) int { return strings.Compare(a.Name, b.Name) })
}

// audit describes a change of definition by the caller in ctx, in the
// audit trail of the caller's tenant (definitions are the app's, shared
// by every tenant; the caller is an admin key of one).
func (s *Service) audit(ctx context.Context, action, collection string, details any) *store.AuditEntry {
	tenant := basalt.DefaultTenant
	if p := basalt.PrincipalFrom(ctx); p != nil && p.TenantID != "" {
		tenant = p.TenantID
	}
	return store.NewAuditEntry(ctx, s.now(), tenant, action, collection, details)
}
