package records

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
)

// access is what the caller of one request may do. API keys pass every
// rule and see hidden fields (key); users, anonymous callers and, in a
// global collection, keys of other tenants than the default meet the
// collection's rules and never see hidden fields.
type access struct {
	p      *basalt.Principal
	key    bool
	tenant string
	now    time.Time
}

// accessOf returns the caller's access to collection c. A user acting in
// no tenant cannot reach tenant-scoped records. A global collection's
// records belong to no tenant: only keys of the default tenant pass its
// rules, since the owner of any tenant can make keys of that tenant.
func (s *Service) accessOf(ctx context.Context, c *basalt.Collection) (*access, error) {
	p := basalt.PrincipalFrom(ctx)
	key := p != nil && p.Kind == "key" && (!c.Global || p.TenantID == basalt.DefaultTenant)
	a := &access{p: p, key: key, tenant: basalt.TenantFrom(ctx), now: s.now().UTC().Truncate(time.Microsecond)}
	if p != nil && p.Kind == "user" && p.TenantID == "" && !c.Global {
		return nil, basalt.Errorf(basalt.CodeForbidden, "You act in no tenant: join or create one, then switch to it.")
	}
	if c.Global {
		a.tenant = basalt.GlobalTenant
	}
	return a, nil
}

// Operations with rules.
const (
	opList   = "list"
	opView   = "view"
	opCreate = "create"
	opUpdate = "update"
	opDelete = "delete"
)

func ruleSource(c *basalt.Collection, op string) *string {
	switch op {
	case opList:
		return c.Rules.List
	case opView:
		return c.Rules.View
	case opCreate:
		return c.Rules.Create
	case opUpdate:
		return c.Rules.Update
	}
	return c.Rules.Delete
}

// parsed caches each rule's syntax tree by its source: a request binds
// variables into a copy, it never parses.
var parsed sync.Map // string -> filter.Expr

func parseRule(src string) (filter.Expr, error) {
	if e, ok := parsed.Load(src); ok {
		return e.(filter.Expr), nil
	}
	e, err := filter.Parse(src)
	if err != nil {
		return nil, err
	}
	parsed.Store(src, e)
	return e, nil
}

// rule returns the condition the operation's rule sets for this caller,
// bound to its variables: nil when nothing restricts it. body holds the
// request's field values for @request.body.
func (a *access) rule(c *basalt.Collection, op string, body map[string]any) (filter.Expr, error) {
	if a.p != nil && a.p.Kind == "key" {
		scope := basalt.ScopeRecordsWrite
		if op == opList || op == opView {
			scope = basalt.ScopeRecordsRead
		}
		if !a.p.Can(scope) {
			return nil, basalt.Errorf(basalt.CodeForbidden, "This API key lacks the %s scope.", scope)
		}
	}
	if a.key {
		return nil, nil
	}
	src := ruleSource(c, op)
	if src == nil {
		return nil, basalt.Errorf(basalt.CodeForbidden, "Only API keys may %s records of %s: the collection has no %s rule.", op, c.Name, op)
	}
	if strings.TrimSpace(*src) == "" {
		return nil, nil
	}
	e, err := parseRule(*src)
	if err != nil {
		return nil, fmt.Errorf("records: %s rule of %s: %w", op, c.Name, err)
	}
	e, err = filter.Bind(e, a.vars(c, body))
	if err != nil {
		return nil, fmt.Errorf("records: %s rule of %s: %w", op, c.Name, err)
	}
	return e, nil
}

// vars resolves the variables of rules: @auth.id, @auth.role,
// @auth.tenant, @auth.kind, @now and @request.body.<field>. A caller
// without an identity has none: its @auth values are filter.Unknown, which
// no comparison satisfies.
func (a *access) vars(c *basalt.Collection, body map[string]any) func([]string) (any, bool) {
	return func(path []string) (any, bool) {
		switch {
		case len(path) == 1 && path[0] == "now":
			return a.now, true
		case len(path) == 2 && path[0] == "auth":
			switch path[1] {
			case "tenant":
				return a.tenant, true
			case "id":
				return a.principal(func(p *basalt.Principal) string { return p.ID })
			case "role":
				return a.principal(func(p *basalt.Principal) string { return string(p.Role) })
			case "kind":
				return a.principal(func(p *basalt.Principal) string { return p.Kind })
			}
		case len(path) == 3 && path[0] == "request" && path[1] == "body":
			f := c.Field(path[2])
			if f == nil {
				return nil, false
			}
			return bodyValue(body, f), true
		}
		return nil, false
	}
}

func (a *access) principal(get func(*basalt.Principal) string) (any, bool) {
	if a.p == nil || get(a.p) == "" {
		return filter.Unknown, true
	}
	return get(a.p), true
}

// bodyValue is a field's value in a request body as a rule sees it: null
// when the body does not set it; json values cannot be compared.
func bodyValue(body map[string]any, f *basalt.Field) any {
	v, ok := body[f.Name]
	if !ok || v == nil {
		return nil
	}
	if _, isJSON := v.(json.RawMessage); isJSON {
		return filter.Unknown
	}
	return v
}

// allows evaluates a bound rule on a record in memory.
func allows(e filter.Expr, c *basalt.Collection, r *basalt.Record) (bool, error) {
	if e == nil {
		return true, nil
	}
	return filter.Eval(e, c, r)
}

// view returns the collection as the caller may see it: without hidden
// fields for anyone but API keys. Filters, sorts and field lists of users
// are checked against it, so a hidden field cannot even be probed.
func (a *access) view(c *basalt.Collection) *basalt.Collection {
	if a.key {
		return c
	}
	hidden := false
	for _, f := range c.Fields {
		hidden = hidden || f.Hidden
	}
	if !hidden {
		return c
	}
	v := *c
	v.Fields = nil
	for _, f := range c.Fields {
		if !f.Hidden {
			v.Fields = append(v.Fields, f)
		}
	}
	return &v
}

// visible returns the fields the caller may read, restricted to only
// (nil: all of them); nil when it may read every field.
func (a *access) visible(c *basalt.Collection, only map[string]bool) map[string]bool {
	v := a.view(c)
	if v == c {
		return only
	}
	out := map[string]bool{"id": true, "created": true, "updated": true}
	for _, f := range v.Fields {
		out[f.Name] = true
	}
	if only == nil {
		return out
	}
	for k := range out {
		if !only[k] {
			delete(out, k)
		}
	}
	return out
}

// checkWritable refuses values of hidden and read-only fields from anyone
// but API keys.
func (a *access) checkWritable(c *basalt.Collection, body map[string]any) error {
	if a.key {
		return nil
	}
	var errs []basalt.FieldError
	for _, f := range c.Fields {
		if _, ok := body[f.Name]; ok && (f.Hidden || f.ReadOnly) {
			if f.Hidden {
				errs = append(errs, basalt.FieldError{Field: f.Name, Code: "unknown_field", Message: fmt.Sprintf("%s has no field %q", c.Name, f.Name)})
			} else {
				errs = append(errs, basalt.FieldError{Field: f.Name, Code: "read_only", Message: f.Name + " is read-only; leave it out"})
			}
		}
	}
	if len(errs) > 0 {
		return basalt.Invalid("Invalid record.", errs...)
	}
	return nil
}

// ValidateRules checks every rule of c: it parses, its variables exist,
// and its comparisons fit the fields.
func ValidateRules(c *basalt.Collection) error {
	sample := &access{p: &basalt.Principal{Kind: "user", ID: "u", Role: "member", TenantID: "t"}, tenant: "t", now: time.Now()}
	body := map[string]any{}
	for _, f := range c.Fields {
		body[f.Name] = sampleValue(f.Type)
	}
	var errs []basalt.FieldError
	for _, op := range []string{opList, opView, opCreate, opUpdate, opDelete} {
		src := ruleSource(c, op)
		if src == nil || strings.TrimSpace(*src) == "" {
			continue
		}
		e, err := filter.Parse(*src)
		if err == nil {
			e, err = filter.Bind(e, sample.vars(c, body))
		}
		if err == nil {
			err = filter.Check(e, c)
		}
		if err != nil {
			errs = append(errs, basalt.FieldError{Field: "rules." + op, Code: "invalid", Message: basalt.ErrorMessage(err)})
		}
	}
	if len(errs) > 0 {
		return basalt.Invalid("Invalid rules.", errs...)
	}
	return nil
}

func sampleValue(t basalt.FieldType) any {
	switch t {
	case basalt.TypeText:
		return "x"
	case basalt.TypeNumber:
		return 1.0
	case basalt.TypeBool:
		return true
	case basalt.TypeDate:
		return time.Now().UTC()
	}
	return json.RawMessage("null")
}
