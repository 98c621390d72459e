package ratelimit

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// PolicyStore is the storage of the policies set through the admin API,
// shared by every node (store.RateLimits).
type PolicyStore interface {
	RateLimitList(ctx context.Context) ([]store.RateLimit, error)
	RateLimitPut(ctx context.Context, r *store.RateLimit) error
	RateLimitDelete(ctx context.Context, name string) error
}

// Options configure a Limiter.
type Options struct {
	// Store keeps the counters; nil is a new Memory.
	Store Store
	// Remote says Store is reached over the network and may fail: the
	// Limiter then guards it with a circuit breaker and answers by
	// FailClosed while it is away.
	Remote bool
	// FailClosed refuses requests while a remote store cannot answer;
	// false lets them through uncounted.
	FailClosed bool
	// RetryDelay is how long a failed remote store is left alone before
	// a request tries it again; 0 is one second.
	RetryDelay time.Duration
	// Configured are the policies of the configuration.
	Configured []Policy
	// Stored, if not nil, holds the policies of the admin API; a stored
	// policy replaces the configured one of the same name.
	Stored PolicyStore
	// Log gets one line each time the remote store goes away and comes
	// back, and failed reloads of the stored policies.
	Log *slog.Logger
}

// Limiter decides requests by the policies in force. It is safe for
// concurrent use.
type Limiter struct {
	store      Store
	breaker    circuitbreaker.CircuitBreaker[any] // nil for a store that cannot fail
	failClosed bool
	configured []Policy
	stored     PolicyStore
	log        *slog.Logger

	set    atomic.Pointer[Set]
	up     atomic.Bool
	errors atomic.Uint64

	reloadMu   sync.Mutex
	reloadFail bool // the last reload failed, and said so
}

// New returns a Limiter with the configured policies in force; call
// Reload to add the stored ones.
func New(o Options) *Limiter {
	if o.Store == nil {
		o.Store = NewMemory()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{store: o.Store, failClosed: o.FailClosed, configured: o.Configured, stored: o.Stored, log: o.Log}
	l.up.Store(true)
	if o.Remote {
		l.breaker = l.newBreaker(cmp.Or(o.RetryDelay, time.Second))
	}
	l.set.Store(newSet(o.Configured))
	return l
}

// newBreaker opens after three failures in a row, lets one request try
// the store after delay, and closes on its success; each opening from
// closed and each closing is logged once.
func (l *Limiter) newBreaker(delay time.Duration) circuitbreaker.CircuitBreaker[any] {
	mode := "letting requests through uncounted"
	if l.failClosed {
		mode = "refusing requests"
	}
	return circuitbreaker.NewBuilder[any]().
		WithFailureThreshold(3).
		WithSuccessThreshold(1).
		WithDelay(delay).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			switch {
			case e.NewState == circuitbreaker.ClosedState:
				l.up.Store(true)
				l.log.Info("ratelimit: the counter store answers again; limits apply")
			case e.NewState == circuitbreaker.OpenState && e.OldState == circuitbreaker.ClosedState:
				l.up.Store(false)
				l.log.Error("ratelimit: the counter store does not answer; " + mode + " until it does")
			}
		}).
		Build()
}

// Allow decides one request of the key (a client address, say) under
// policy p. When a remote store cannot answer, the result is Unknown and
// allowed unless the Limiter fails closed.
func (l *Limiter) Allow(ctx context.Context, p *Policy, key string) Result {
	k := p.Name + ":" + key
	if l.breaker == nil {
		r, _ := l.store.Allow(ctx, k, p.Limit)
		return r
	}
	if !l.breaker.TryAcquirePermit() {
		return l.unknown()
	}
	// A client that hangs up must not count as the store failing.
	r, err := l.store.Allow(context.WithoutCancel(ctx), k, p.Limit)
	if err != nil {
		l.errors.Add(1)
		l.breaker.RecordError(err)
		return l.unknown()
	}
	l.breaker.RecordSuccess()
	return r
}

func (l *Limiter) unknown() Result { return Result{Allowed: !l.failClosed, Unknown: true} }

// Up reports whether the store answers (always, for Memory).
func (l *Limiter) Up() bool { return l.up.Load() }

// Errors returns how many requests the store failed to answer.
func (l *Limiter) Errors() uint64 { return l.errors.Load() }

// FailClosed reports whether requests are refused while the store is away.
func (l *Limiter) FailClosed() bool { return l.failClosed }

// Policies returns the policies in force.
func (l *Limiter) Policies() *Set { return l.set.Load() }

// Reload reads the stored policies and puts them in force with the
// configured ones. On failure the policies in force stay.
func (l *Limiter) Reload(ctx context.Context) error {
	if l.stored == nil {
		return nil
	}
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	rows, err := l.stored.RateLimitList(ctx)
	if err != nil {
		return err
	}
	byName := map[string]Policy{}
	for _, p := range l.configured {
		byName[p.Name] = p
	}
	for _, r := range rows {
		p := fromRow(r)
		if errs := p.Validate(); len(errs) > 0 {
			l.log.Warn("ratelimit: a stored policy is not valid; skipped", "policy", r.Name, "problem", errs[0].Message)
			continue
		}
		byName[p.Name] = p
	}
	ps := make([]Policy, 0, len(byName))
	for _, p := range byName {
		ps = append(ps, p)
	}
	l.set.Store(newSet(ps))
	return nil
}

// Follow reloads the stored policies every interval until ctx ends, so
// a policy set on another node applies here too. A failure is logged
// once, until a reload succeeds.
func (l *Limiter) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := l.Reload(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !l.reloadFail:
			l.reloadFail = true
			l.log.Error("ratelimit: reload the stored policies", "err", err)
		case err == nil && l.reloadFail:
			l.reloadFail = false
			l.log.Info("ratelimit: the stored policies reload again")
		}
	}
}

// Put stores p, replacing a stored policy of its name, and puts it in
// force. CodeValidation names the invalid fields.
func (l *Limiter) Put(ctx context.Context, p Policy) error {
	if l.stored == nil {
		return basalt.Errorf(basalt.CodeUnavailable, "This server stores no rate-limit policies.")
	}
	if errs := p.Validate(); len(errs) > 0 {
		return basalt.Invalid("Invalid rate-limit policy.", errs...)
	}
	r := toRow(p)
	if err := l.stored.RateLimitPut(ctx, &r); err != nil {
		return err
	}
	return l.Reload(ctx)
}

// Delete removes the stored policy name; a configured policy of that
// name is in force again. CodeNotFound when none is stored;
// CodeConflict for a policy only the configuration defines.
func (l *Limiter) Delete(ctx context.Context, name string) error {
	if l.stored == nil {
		return basalt.Errorf(basalt.CodeNotFound, "No stored rate-limit policy %q.", name)
	}
	err := l.stored.RateLimitDelete(ctx, name)
	if basalt.ErrorCode(err) == basalt.CodeNotFound && slices.ContainsFunc(l.configured, func(p Policy) bool { return p.Name == name }) {
		return basalt.Errorf(basalt.CodeConflict, "Policy %q comes from --rate-limit; change it there, or override it here with PUT.", name)
	}
	if err != nil {
		return err
	}
	return l.Reload(ctx)
}

func fromRow(r store.RateLimit) Policy {
	return Policy{Name: r.Name, By: By(r.By), Class: Class(r.Class), Source: SourceAdmin,
		Limit: Limit{Quota: r.Quota, Window: r.Window, Burst: r.Burst}}
}

func toRow(p Policy) store.RateLimit {
	return store.RateLimit{Name: p.Name, By: string(p.By), Class: string(p.Class), Quota: p.Limit.Quota, Window: p.Limit.Window, Burst: p.Limit.Burst}
}

// Set is a set of policies in force, indexed by the route classes they
// cover. It is never changed once made.
type Set struct {
	all     []Policy
	byRoute map[Class][]*Policy
}

// routeClasses are the classes a route can be in.
var routeClasses = []Class{ClassSignin, ClassSignup, ClassAuth, ClassWrite, ClassRead}

func newSet(ps []Policy) *Set {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Policy) int { return cmp.Compare(a.Name, b.Name) })
	s := &Set{all: ps, byRoute: map[Class][]*Policy{}}
	for _, rc := range routeClasses {
		for i := range s.all {
			if s.all[i].Class.Covers(rc) {
				s.byRoute[rc] = append(s.byRoute[rc], &s.all[i])
			}
		}
	}
	return s
}

// All returns the policies, by name.
func (s *Set) All() []Policy { return s.all }

// For returns the policies that cover a route of class route.
func (s *Set) For(route Class) []*Policy { return s.byRoute[route] }

// Get returns the policy named name.
func (s *Set) Get(name string) (Policy, bool) {
	i := slices.IndexFunc(s.all, func(p Policy) bool { return p.Name == name })
	if i < 0 {
		return Policy{}, false
	}
	return s.all[i], true
}
