package quota

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// meter counts requests per tenant on this node. A tenant's count on the
// current UTC day is what the store held at the last refresh (every
// node's flushed requests) plus what this node counted since; the
// requests other nodes counted since their last flush are unknown here,
// which is how far a tenant can go past a request quota: at most what
// the other nodes admit in one flush interval.
type meter struct {
	mu      sync.Mutex
	day     time.Time // the UTC day being counted
	tallies map[string]*tally
	carry   []store.RequestCount // counts of a past day, not yet in the store

	flushMu sync.Mutex // one flush at a time
	pruned  time.Time  // the day old counts were last pruned

	counted      atomic.Int64
	refusedDay   atomic.Int64
	refusedMonth atomic.Int64
	flushes      atomic.Int64
	flushErrors  atomic.Int64
}

// tally is one tenant's count on the day being counted.
type tally struct {
	pending  int64 // counted, not yet handed to a flush
	flushing int64 // handed to the flush in progress
	day      int64 // the store's total of the day at the last refresh, or since counted and flushed
	month    int64 // the same for the month
	loaded   bool  // day and month were read from the store this day
}

func (m *meter) init() { m.tallies = map[string]*tally{} }

// roll moves the meter to day: the counts of the past day wait for the
// next flush, the month's total carries over within one month.
func (m *meter) roll(day time.Time) {
	if day.Equal(m.day) {
		return
	}
	sameMonth := day.Year() == m.day.Year() && day.Month() == m.day.Month()
	next := make(map[string]*tally, len(m.tallies))
	for name, t := range m.tallies {
		if t.pending > 0 {
			m.carry = append(m.carry, store.RequestCount{TenantID: name, Day: m.day, Count: t.pending})
		}
		if sameMonth && t.loaded {
			// This node's requests of the past day stay in the month's
			// estimate until the next refresh reads the store.
			next[name] = &tally{month: t.month + t.flushing + t.pending, loaded: false}
		}
	}
	m.day, m.tallies = day, next
}

func (m *meter) tally(tenant string) *tally {
	t := m.tallies[tenant]
	if t == nil {
		t = &tally{}
		m.tallies[tenant] = t
	}
	return t
}

// unflushed returns what this node counted for tenant on day and the
// store does not have yet.
func (m *meter) unflushed(tenant string, day time.Time) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	if t := m.tallies[tenant]; t != nil && m.day.Equal(day) {
		n = t.pending + t.flushing
	}
	for _, c := range m.carry {
		if c.TenantID == tenant && c.Day.Equal(day) {
			n += c.Count
		}
	}
	return n
}

// Admit counts one request of tenant. With enforce, a tenant at its
// daily or monthly request quota is refused with CodeQuotaExceeded and a
// Retry-After until the period ends; refused requests are not counted.
func (s *Service) Admit(ctx context.Context, tenant string, enforce bool) error {
	now := s.now().UTC()
	day := store.DayOf(now)
	l := s.Limits(tenant)
	limited := l.RequestsDay > 0 || l.RequestsMonth > 0
	m := &s.meter
	m.mu.Lock()
	m.roll(day)
	t := m.tally(tenant)
	if limited && !t.loaded {
		// The first request of a limited tenant on this node this day
		// reads the shared totals, so a fresh node starts where the
		// others are.
		m.mu.Unlock()
		totals, err := s.store.RequestTotals(ctx, []string{tenant}, now)
		if err != nil {
			s.log.Warn("quota: read request totals; counting from this node's own", "tenant", tenant, "err", err)
		}
		m.mu.Lock()
		m.roll(day)
		t = m.tally(tenant)
		if !t.loaded {
			t.day, t.month = max(t.day, totals[tenant].Day), max(t.month, totals[tenant].Month)
			t.loaded = true
		}
	}
	used := t.pending + t.flushing
	var err error
	switch {
	case !enforce:
	case l.RequestsDay > 0 && t.day+used >= l.RequestsDay:
		m.refusedDay.Add(1)
		err = overRequests(tenant, "requests per day", l.RequestsDay, t.day+used, day.AddDate(0, 0, 1), now)
	case l.RequestsMonth > 0 && t.month+used >= l.RequestsMonth:
		m.refusedMonth.Add(1)
		err = overRequests(tenant, "requests per month", l.RequestsMonth, t.month+used, day.AddDate(0, 1, 1-day.Day()), now)
	default:
	}
	if err == nil {
		t.pending++
		m.counted.Add(1)
	}
	m.mu.Unlock()
	return err
}

// retryAfter is the wait until a request quota resets; the problem
// writer sends it as Retry-After.
type retryAfter time.Duration

func (r retryAfter) Seconds() string {
	return strconv.FormatInt(int64(math.Ceil(time.Duration(r).Seconds())), 10)
}

func (r retryAfter) Error() string { return "retry after " + r.Seconds() + "s" }

func overRequests(tenant, quota string, limit, used int64, reset, now time.Time) error {
	return &basalt.Error{Code: basalt.CodeQuotaExceeded, Err: retryAfter(reset.Sub(now)),
		Message: fmt.Sprintf("Tenant %q is at its %s quota: the limit is %d and %d are used. It resets at %s; retry then, or ask the operator to raise the quota.",
			tenant, quota, limit, used, reset.Format(time.RFC3339))}
}

// Run adds the counted requests to the store every interval, and reads
// the shared totals and the operator's overrides back, until ctx ends;
// then it flushes once more.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.Flush(fctx); err != nil {
				s.log.Error("quota: last flush of request counts", "err", err)
			}
			cancel()
			return
		case <-tick.C:
		}
		if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("quota: flush request counts", "err", err)
		}
		if err := s.Load(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("quota: read quota overrides", "err", err)
		}
	}
}

// Flush adds this node's counted requests to the store and refreshes the
// totals of the tenants with a request quota. Counts that fail to reach
// the store are kept for the next flush.
func (s *Service) Flush(ctx context.Context) error {
	m := &s.meter
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	now := s.now().UTC()
	type handed struct {
		t *tally
		n int64
	}
	m.mu.Lock()
	m.roll(store.DayOf(now))
	day := m.day
	counts, carried := m.carry, len(m.carry)
	m.carry = nil
	var items []handed
	var limited []string
	for name, t := range m.tallies {
		if t.pending > 0 {
			counts = append(counts, store.RequestCount{TenantID: name, Day: day, Count: t.pending})
			items = append(items, handed{t, t.pending})
			t.flushing += t.pending
			t.pending = 0
		}
		if l := s.Limits(name); l.RequestsDay > 0 || l.RequestsMonth > 0 {
			limited = append(limited, name)
		}
	}
	m.mu.Unlock()

	err := s.store.RequestsAdd(ctx, counts)
	m.mu.Lock()
	for _, h := range items {
		h.t.flushing -= h.n
		if err == nil {
			h.t.day += h.n
			h.t.month += h.n
		}
	}
	if err != nil {
		// Keep every count for the next flush, under the day it was made.
		m.carry = append(m.carry, counts[:carried]...)
		for i, h := range items {
			c := counts[carried+i]
			if m.day.Equal(day) && m.tallies[c.TenantID] == h.t {
				h.t.pending += h.n
			} else {
				m.carry = append(m.carry, c)
			}
		}
	}
	m.mu.Unlock()
	if err != nil {
		m.flushErrors.Add(1)
		return err
	}
	m.flushes.Add(1)
	if err := s.refresh(ctx, day, limited); err != nil {
		return err
	}
	return s.prune(ctx, day)
}

// refresh reads the shared totals of tenants on day.
func (s *Service) refresh(ctx context.Context, day time.Time, tenants []string) error {
	if len(tenants) == 0 {
		return nil
	}
	totals, err := s.store.RequestTotals(ctx, tenants, day)
	if err != nil {
		return err
	}
	m := &s.meter
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.day.Equal(day) {
		return nil
	}
	for _, name := range tenants {
		if t := m.tallies[name]; t != nil {
			t.day, t.month, t.loaded = totals[name].Day, totals[name].Month, true
		}
	}
	return nil
}

// prune forgets, once a day, the counts of months before the last.
func (s *Service) prune(ctx context.Context, day time.Time) error {
	m := &s.meter
	if m.pruned.Equal(day) {
		return nil
	}
	if err := s.store.RequestsPrune(ctx, day.AddDate(0, -1, 1-day.Day())); err != nil {
		return err
	}
	m.pruned = day
	return nil
}

// Stats are this node's request counts, for metrics.
type Stats struct {
	Counted      int64 // requests counted
	RefusedDay   int64 // requests refused by a daily quota
	RefusedMonth int64 // requests refused by a monthly quota
	Flushes      int64 // flushes that reached the store
	FlushErrors  int64 // flushes that failed
	Unflushed    int64 // requests counted and not yet in the store
	Tenants      int   // tenants counted on the current day
}

// Stats returns this node's counts.
func (s *Service) Stats() Stats {
	m := &s.meter
	st := Stats{Counted: m.counted.Load(), RefusedDay: m.refusedDay.Load(), RefusedMonth: m.refusedMonth.Load(),
		Flushes: m.flushes.Load(), FlushErrors: m.flushErrors.Load()}
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Tenants = len(m.tallies)
	for _, t := range m.tallies {
		st.Unflushed += t.pending + t.flushing
	}
	for _, c := range m.carry {
		st.Unflushed += c.Count
	}
	return st
}

// Totals returns the records and bytes of every tenant together.
func (s *Service) Totals(ctx context.Context) (records, bytes int64, err error) {
	return s.store.UsageTotals(ctx)
}
