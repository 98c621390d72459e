package records

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// Limits of a list request.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Read is a record as its caller may see it: Fields lists the keys to
// show, nil for all.
type Read struct {
	Collection *basalt.Collection
	Record     *basalt.Record
	Fields     map[string]bool
}

// begin takes the schema lock for a record operation and returns the
// collection and the caller's access to it; release with s.ddl.RUnlock.
func (s *Service) begin(ctx context.Context, coll string) (*basalt.Collection, *access, error) {
	s.ddl.RLock()
	c, err := s.collection(coll)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.accessOf(ctx, c)
	return c, a, err
}

// Create validates data as a new record of the collection and stores it,
// if the create rule allows the record it would make.
func (s *Service) Create(ctx context.Context, coll string, data []byte) (*Read, error) {
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return nil, err
	}
	b, err := decodeBody(c, data, forCreate)
	if err != nil {
		return nil, err
	}
	if err := a.checkWritable(c, b.sent); err != nil {
		return nil, err
	}
	rule, err := a.rule(c, opCreate, b.sent)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r := &basalt.Record{ID: b.id, Created: now, Updated: now, Version: 1, Data: b.values}
	if r.ID == "" {
		r.ID = NewID(now)
	}
	if ok, err := allows(rule, c, r); err != nil || !ok {
		return nil, denied(err, "The create rule of %s does not allow this record.", c.Name)
	}
	if _, err := s.store.RecordInsert(ctx, &store.RecordInsertParams{TenantID: a.tenant, Collection: c, Record: r, Quota: s.storageQuota(a.tenant)}); err != nil {
		return nil, err
	}
	return &Read{Collection: c, Record: r, Fields: a.visible(c, nil)}, nil
}

func denied(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return basalt.Errorf(basalt.CodeForbidden, format, args...)
}

// Get returns one record that the view rule lets the caller see, trimmed
// to fields ("" for all). CodeNotFound otherwise.
func (s *Service) Get(ctx context.Context, coll, id, fields string) (*Read, error) {
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return nil, err
	}
	only, err := ParseFields(fields, a.view(c))
	if err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, basalt.Errorf(basalt.CodeNotFound, "No record %q in %s.", id, coll)
	}
	rule, err := a.rule(c, opView, nil)
	if err != nil {
		return nil, err
	}
	r, err := s.store.RecordGet(ctx, &store.RecordGetParams{TenantID: a.tenant, Collection: c, ID: id, Filter: rule})
	if err != nil {
		return nil, err
	}
	return &Read{Collection: c, Record: r, Fields: a.visible(c, only)}, nil
}

// Update applies the fields in data to a record. The update rule must
// hold for the record before the change (else it is not found) and after
// it (else 403), so no one moves a record out of their reach or into
// someone else's. ifMatch, if not nil, is the version the client read.
func (s *Service) Update(ctx context.Context, coll, id string, data []byte, ifMatch *store.Version) (*Read, error) {
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, basalt.Errorf(basalt.CodeNotFound, "No record %q in %s.", id, coll)
	}
	b, err := decodeBody(c, data, forUpdate)
	if err != nil {
		return nil, err
	}
	if err := a.checkWritable(c, b.sent); err != nil {
		return nil, err
	}
	rule, err := a.rule(c, opUpdate, b.sent)
	if err != nil {
		return nil, err
	}
	p := &store.RecordUpdateParams{TenantID: a.tenant, Collection: c, ID: id, Values: b.values,
		Updated: s.now().UTC().Truncate(time.Microsecond), IfMatch: ifMatch, Filter: rule, Quota: s.storageQuota(a.tenant)}
	if rule != nil {
		p.Check = func(r *basalt.Record) error {
			if ok, err := allows(rule, c, r); err != nil || !ok {
				return denied(err, "The update rule of %s does not allow the record this change would make.", c.Name)
			}
			return nil
		}
	}
	r, _, err := s.store.RecordUpdate(ctx, p)
	if err != nil {
		return nil, err
	}
	return &Read{Collection: c, Record: r, Fields: a.visible(c, nil)}, nil
}

// Delete removes a record the delete rule lets the caller remove.
// CodeNotFound, CodePreconditionFailed.
func (s *Service) Delete(ctx context.Context, coll, id string, ifMatch *store.Version) error {
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return err
	}
	if !ValidID(id) {
		return basalt.Errorf(basalt.CodeNotFound, "No record %q in %s.", id, coll)
	}
	rule, err := a.rule(c, opDelete, nil)
	if err != nil {
		return err
	}
	_, err = s.store.RecordDelete(ctx, &store.RecordDeleteParams{TenantID: a.tenant, Collection: c, ID: id, IfMatch: ifMatch, Filter: rule})
	return err
}

// ListParams is a list request as the client sent it.
type ListParams struct {
	Filter string
	Sort   string
	Limit  string
	Cursor string
	Fields string
	Count  string // "true" counts every match into Page.Total
}

// Page is one page of a list.
type Page struct {
	Collection *basalt.Collection
	Items      []*basalt.Record
	NextCursor string          // "" on the last page
	Fields     map[string]bool // nil for all fields
	// Total, when counted, is how many records match the filter and the
	// list rule, on every page together.
	Total *int64
}

// List returns one page of records.
func (s *Service) List(ctx context.Context, coll string, lp ListParams) (*Page, error) {
	c, a, err := s.begin(ctx, coll)
	defer s.ddl.RUnlock()
	if err != nil {
		return nil, err
	}
	view := a.view(c)
	p := &store.RecordListParams{TenantID: a.tenant, Collection: c}
	if p.Limit, err = parseLimit(lp.Limit); err != nil {
		return nil, err
	}
	if p.Sort, err = filter.ParseSort(lp.Sort, view); err != nil {
		return nil, err
	}
	if p.Filter, err = s.parseFilter(lp.Filter, view); err != nil {
		return nil, err
	}
	// The list rule joins the filter in the SQL, so pages and counts are
	// those of the records the caller may see.
	rule, err := a.rule(c, opList, nil)
	if err != nil {
		return nil, err
	}
	p.Filter = and(rule, p.Filter)
	if lp.Cursor != "" {
		if p.After, err = s.cursorPosition(ctx, a.tenant, c, rule, lp.Cursor, p.Sort); err != nil {
			return nil, err
		}
	}
	fields, err := ParseFields(lp.Fields, view)
	if err != nil {
		return nil, err
	}
	fields = a.visible(c, fields)
	count, err := parseCount(lp.Count)
	if err != nil {
		return nil, err
	}
	limit := p.Limit
	p.Limit++ // one more tells whether there is a next page
	items, err := s.store.RecordList(ctx, p)
	if err != nil {
		return nil, err
	}
	page := &Page{Collection: c, Items: items, Fields: fields}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = encodeCursor(c, p.Sort, page.Items[limit-1])
	}
	if count {
		n, err := s.store.RecordCount(ctx, &store.RecordCountParams{TenantID: a.tenant, Collection: c, Filter: p.Filter})
		if err != nil {
			return nil, err
		}
		page.Total = &n
	}
	return page, nil
}

// parseCount reads the count parameter: a count costs a query over every
// match, so it runs only when asked for.
func parseCount(s string) (bool, error) {
	switch s {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, basalt.Invalid("Invalid count.", basalt.FieldError{Field: "count", Code: "invalid",
		Message: "count must be true or false"})
}

func parseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, basalt.Invalid("Invalid limit.", basalt.FieldError{Field: "limit", Code: "out_of_range",
			Message: fmt.Sprintf("limit must be a whole number from 1 to %d", MaxLimit)})
	}
	return n, nil
}

// parseFilter parses, binds and checks a filter; "" is no filter.
func (s *Service) parseFilter(src string, c *basalt.Collection) (filter.Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	e, err := filter.Parse(src)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	e, err = filter.Bind(e, func(path []string) (any, bool) {
		if len(path) == 1 && path[0] == "now" {
			return now, true
		}
		return nil, false
	})
	if err != nil {
		return nil, err
	}
	if err := filter.Check(e, c); err != nil {
		return nil, err
	}
	return e, nil
}

// ParseFields parses the fields parameter: a comma-separated list of
// field names that trims each record. "" means every field.
func ParseFields(src string, c *basalt.Collection) (map[string]bool, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, name := range strings.Split(src, ",") {
		name = strings.TrimSpace(name)
		if c.SchemaField(name) == nil {
			return nil, basalt.Invalid("Invalid fields.", basalt.FieldError{Field: "fields", Code: "unknown_field",
				Message: fmt.Sprintf("%s has no field %q", c.Name, name)})
		}
		out[name] = true
	}
	return out, nil
}

// cursorPosition returns the keyset position of a cursor, reading the
// record a reference cursor names. Cursors are not signed, so that record
// must be one the list rule lets the caller see: otherwise a forged
// cursor would tell whether a record exists and where its values sort.
func (s *Service) cursorPosition(ctx context.Context, tenant string, c *basalt.Collection, rule filter.Expr, cursor string, sort []filter.SortField) ([]any, error) {
	vals, ref, err := decodeCursor(cursor, c, sort)
	if err != nil || ref == "" {
		return vals, err
	}
	r, err := s.store.RecordGet(ctx, &store.RecordGetParams{TenantID: tenant, Collection: c, ID: ref, Filter: rule})
	if basalt.ErrorCode(err) == basalt.CodeNotFound {
		return nil, basalt.Invalid("Invalid cursor.", basalt.FieldError{Field: "cursor", Code: "gone",
			Message: "the last record of the previous page was deleted; start again without a cursor"})
	}
	if err != nil {
		return nil, err
	}
	keys := store.SortKeys(sort)
	vals = make([]any, len(keys))
	for i, k := range keys {
		vals[i] = recordValue(r, k.Field)
	}
	return vals, nil
}

// and joins two conditions, either of which may be nil.
func and(a, b filter.Expr) filter.Expr {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &filter.Logical{Op: "&&", L: a, R: b}
}
