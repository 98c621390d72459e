// Package quota holds each tenant to its quotas: requests per UTC day and
// per UTC month, records and stored bytes. Defaults come from the
// configuration; the operator overrides them per tenant. Requests are
// counted in memory and added to the shared totals every few seconds, so
// that the nodes of one database add up; records and bytes are counted
// by the store in the transaction of each record write (store.Usage),
// where the records service has it enforce the limits this package gives.
package quota

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Limits are quotas; zero is unlimited.
type Limits struct {
	RequestsDay   int64
	RequestsMonth int64
	Records       int64
	Bytes         int64
}

// Store is the storage the service needs.
type Store interface {
	store.Usage
	TenantGet(ctx context.Context, id string) (*store.Tenant, error)
}

// Managers tells who manages a tenant (its owners and admins, and its
// admin keys): nil when the caller does, CodeForbidden or CodeNotFound
// otherwise. tenants.Service implements it.
type Managers interface {
	Manages(ctx context.Context, tenant string) error
}

// Service keeps the quotas. Create it with New; Run counts the requests
// into the store until its context ends.
type Service struct {
	store    Store
	defaults Limits
	now      func() time.Time
	log      *slog.Logger

	// Managers, if set, lets a tenant's managers read its usage;
	// without it only the operator may.
	Managers Managers

	mu        sync.RWMutex
	overrides map[string]store.QuotaOverride

	meter meter
}

// New returns a service with the default limits of every tenant. now is
// the clock (time.Now if nil).
func New(st Store, defaults Limits, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: st, defaults: defaults, now: now, log: log, overrides: map[string]store.QuotaOverride{}}
	s.meter.init()
	return s
}

// Load reads the operator's overrides; Run reads them again on every
// flush, so a change on another node applies here within one interval.
func (s *Service) Load(ctx context.Context) error {
	list, err := s.store.QuotaList(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]store.QuotaOverride, len(list))
	for _, o := range list {
		m[o.TenantID] = o
	}
	s.mu.Lock()
	s.overrides = m
	s.mu.Unlock()
	return nil
}

// Limits returns the quotas of tenant: its overrides over the defaults.
// The global tenant, which holds the operator's shared collections, has
// none.
func (s *Service) Limits(tenant string) Limits {
	if tenant == basalt.GlobalTenant {
		return Limits{}
	}
	l := s.defaults
	s.mu.RLock()
	o, ok := s.overrides[tenant]
	s.mu.RUnlock()
	if ok {
		set(&l.RequestsDay, o.RequestsDay)
		set(&l.RequestsMonth, o.RequestsMonth)
		set(&l.Records, o.Records)
		set(&l.Bytes, o.Bytes)
	}
	return l
}

func set(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

// StorageQuota returns the records and bytes quotas of tenant for a
// record write, nil when both are unlimited.
func (s *Service) StorageQuota(tenant string) *store.Quota {
	l := s.Limits(tenant)
	if l.Records <= 0 && l.Bytes <= 0 {
		return nil
	}
	return &store.Quota{Records: l.Records, Bytes: l.Bytes}
}

// IsOperator reports whether p runs the deployment: an admin API key with
// the collections scope, which defines the collections every tenant
// shares. "basalt keys create" makes such keys; a tenant's owners cannot
// (auth refuses them the collections scope outside the default tenant),
// so they cannot raise their own quotas.
func IsOperator(p *basalt.Principal) bool {
	return p != nil && p.Kind == "key" && p.Role == basalt.RoleAdmin && p.Can(basalt.ScopeCollections)
}

// Quota is one quota of a tenant as the API shows it: what is used, the
// limit (0: unlimited) and whether the operator set it for the tenant.
type Quota struct {
	Used     int64 `json:"used"`
	Limit    int64 `json:"limit"`
	Override bool  `json:"override"`
}

// View is a tenant's usage with its quotas.
type View struct {
	Tenant        string `json:"tenant"`
	Day           string `json:"day"`   // the UTC day of requests_day
	Month         string `json:"month"` // the UTC month of requests_month
	RequestsDay   Quota  `json:"requests_day"`
	RequestsMonth Quota  `json:"requests_month"`
	Records       Quota  `json:"records"`
	Bytes         Quota  `json:"bytes"`
}

// Usage returns a tenant's usage: for the operator, and for the tenant's
// managers. Requests are the shared totals plus what this node counted
// and has not added yet; other nodes' latest requests show within one
// flush interval.
func (s *Service) Usage(ctx context.Context, tenant string) (*View, error) {
	if !IsOperator(basalt.PrincipalFrom(ctx)) {
		if s.Managers == nil {
			return nil, basalt.Errorf(basalt.CodeForbidden, "Reading usage needs an operator key.")
		}
		if err := s.Managers.Manages(ctx, tenant); err != nil {
			return nil, err
		}
	} else if _, err := s.store.TenantGet(ctx, tenant); err != nil {
		return nil, err
	}
	return s.view(ctx, tenant)
}

func (s *Service) view(ctx context.Context, tenant string) (*View, error) {
	now := s.now().UTC()
	u, err := s.store.UsageGet(ctx, tenant, now)
	if err != nil {
		return nil, err
	}
	local := s.meter.unflushed(tenant, store.DayOf(now))
	l := s.Limits(tenant)
	s.mu.RLock()
	o := s.overrides[tenant]
	s.mu.RUnlock()
	return &View{
		Tenant: tenant, Day: now.Format(time.DateOnly), Month: now.Format("2006-01"),
		RequestsDay:   Quota{Used: u.RequestsDay + local, Limit: l.RequestsDay, Override: o.RequestsDay != nil},
		RequestsMonth: Quota{Used: u.RequestsMonth + local, Limit: l.RequestsMonth, Override: o.RequestsMonth != nil},
		Records:       Quota{Used: u.Records, Limit: l.Records, Override: o.Records != nil},
		Bytes:         Quota{Used: u.Bytes, Limit: l.Bytes, Override: o.Bytes != nil},
	}, nil
}

// Override is the operator's change of a tenant's quotas: a nil field
// goes back to the default, zero is unlimited.
type Override struct {
	RequestsDay   *int64 `json:"requests_day"`
	RequestsMonth *int64 `json:"requests_month"`
	Records       *int64 `json:"records"`
	Bytes         *int64 `json:"bytes"`
}

// SetOverride replaces a tenant's overrides (operator only) and returns
// its usage under them. It applies on this node at once and on the others
// within one flush interval.
func (s *Service) SetOverride(ctx context.Context, tenant string, in Override) (*View, error) {
	if !IsOperator(basalt.PrincipalFrom(ctx)) {
		return nil, basalt.Errorf(basalt.CodeForbidden, "Only the operator sets quotas: an admin API key with the collections scope. A tenant's owners and admins cannot change their own.")
	}
	var bad []basalt.FieldError
	for _, f := range []struct {
		name string
		v    *int64
	}{{"requests_day", in.RequestsDay}, {"requests_month", in.RequestsMonth}, {"records", in.Records}, {"bytes", in.Bytes}} {
		if f.v != nil && *f.v < 0 {
			bad = append(bad, basalt.FieldError{Field: f.name, Code: "invalid", Message: f.name + " must be 0 (unlimited) or more, or null for the default"})
		}
	}
	if len(bad) > 0 {
		return nil, basalt.Invalid("Invalid quotas.", bad...)
	}
	if _, err := s.store.TenantGet(ctx, tenant); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	o := store.QuotaOverride{TenantID: tenant, RequestsDay: in.RequestsDay, RequestsMonth: in.RequestsMonth, Records: in.Records, Bytes: in.Bytes, Updated: now}
	if err := s.store.QuotaPut(ctx, &o, store.NewAuditEntry(ctx, now, tenant, "quota.set", tenant, in)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if o.Empty() {
		delete(s.overrides, tenant)
	} else {
		s.overrides[tenant] = o
	}
	s.mu.Unlock()
	return s.view(ctx, tenant)
}
