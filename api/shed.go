package api

import (
	"context"
	"net"
	"net/http"
	"time"

	"basalt.dev/basalt"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/prometheus/client_golang/prometheus"
)

// ShedConfig configures load shedding: an adaptive limit on the requests
// the handlers work on at once. The limit follows the handlers' latency
// (failsafe-go's adaptivelimiter, a gradient limiter in the manner of TCP
// Vegas): while recent latency stays near its long-run baseline the limit
// rises, and when latency climbs because the server is saturated it
// falls. A request over the limit waits in a short queue or is answered
// 503 overloaded at once, so that admitted requests keep their normal
// latency instead of every request slowing down together.
//
// The zero value sheds nothing.
type ShedConfig struct {
	Enabled bool
	// MinLimit and MaxLimit bound the limit. InitialLimit is where it
	// starts, and also the least that a lack of traffic brings it to:
	// the limit tracks a multiple of the requests in flight, and without
	// this floor a quiet spell would leave no room for the next burst.
	// Only rising latency takes it lower, down to MinLimit.
	MinLimit, InitialLimit, MaxLimit int
	// Queue is how many requests may wait for a permit when the limit is
	// reached, as a multiple of the limit: beyond Queue times the limit
	// waiting, arrivals are refused with a rising probability, and all
	// are at twice that. 0 refuses at once, without a queue.
	Queue float64
	// QueueWait is the longest a request waits in the queue before it is
	// refused.
	QueueWait time.Duration
	// Window is the least time between two changes of the limit, each
	// judged over the requests finished meanwhile (and at least
	// WindowSamples of them). Zero: the library's defaults, 1 s and 50.
	Window        time.Duration
	WindowSamples uint
	// Delay is the delay to hold: while requests that have arrived wait
	// longer than this before they run (in the socket, then for a
	// processor), a paced share of requests is refused before any
	// handler runs, and so is every request that has already waited
	// longer (see delayGuard). On Linux the wait is each request's own,
	// from the kernel's receive timestamp: serve from Server.Listener,
	// with Server.ConnContext. 0 turns the guard off, leaving the
	// concurrency limit alone.
	Delay time.Duration
}

// retryAfterShed is the Retry-After of a shed request: long enough for
// the limit to be judged again, short enough that clients come back soon.
const retryAfterShed = "1"

// shedder admits requests under the adaptive limit.
type shedder struct {
	limiter adaptivelimiter.AdaptiveLimiter[any]
	wait    time.Duration
	guard   *delayGuard // nil without a delay target
	// byLimit and byDelay count the requests refused by the concurrency
	// limit and by the delay guard.
	byLimit, byDelay prometheus.Counter
}

// newShedder returns nil when shedding is off.
func newShedder(cfg ShedConfig, reg prometheus.Registerer) *shedder {
	if !cfg.Enabled {
		return nil
	}
	lo := max(cfg.MinLimit, 1)
	hi := max(cfg.MaxLimit, lo)
	floor := min(max(cfg.InitialLimit, lo), hi)
	b := adaptivelimiter.NewBuilder[any]().
		WithLimits(uint(lo), uint(hi), uint(floor)).
		// The library's default headroom (5 times the requests in
		// flight), but never below the initial limit: see ShedConfig.
		WithMaxLimitFunc(func(inflight int) float64 { return max(float64(floor), 5*float64(inflight)) })
	if cfg.Window > 0 {
		b = b.WithRecentWindow(cfg.Window, max(cfg.Window, 30*time.Second), max(cfg.WindowSamples, 1))
	}
	if cfg.Queue > 0 {
		b = b.WithQueueing(max(cfg.Queue, 1), 2*max(cfg.Queue, 1)).WithMaxWaitTime(cfg.QueueWait)
	}
	s := &shedder{limiter: b.Build(), wait: cfg.QueueWait, guard: newDelayGuard(cfg.Delay)}
	if cfg.Queue <= 0 {
		s.wait = 0
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "basalt_shed_rejected_total",
		Help: "Requests answered 503 overloaded, by reason: concurrency (the limit was reached) or delay (the processors were saturated).",
	}, []string{"reason"})
	s.byLimit, s.byDelay = rejected.WithLabelValues("concurrency"), rejected.WithLabelValues("delay")
	reg.MustRegister(rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_shed_limit", Help: "The adaptive limit on requests worked on at once."},
			func() float64 { return float64(s.limiter.Limit()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_shed_inflight", Help: "Requests holding a permit of the concurrency limit."},
			func() float64 { return float64(s.limiter.Inflight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_shed_queued", Help: "Requests waiting for a permit of the concurrency limit."},
			func() float64 { return float64(s.limiter.Queued()) }))
	if g := s.guard; g != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_shed_admitted_ratio", Help: "The share of requests the delay guard admits (1: all)."},
				g.share),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "basalt_shed_sched_delay_seconds", Help: "The delay the guard judged over its last window: the longest of the 90th percentile of the time requests waited from reaching the socket to their handler (Linux), the 90th percentile of the time goroutines waited for a processor, and the mean time a network event waited for the goroutine it wakes to run."},
				func() float64 { return time.Duration(g.delay.Load()).Seconds() }))
	}
	return s
}

// wrap admits each request to next under the limit and answers the rest
// 503 overloaded. Probes and metrics are never shed: a load balancer
// must see an overloaded server as alive and ready (it is serving), and
// an operator must see its metrics. Realtime streams do not come here
// (streamsApart): they live for hours and would hold a permit throughout.
func (s *shedder) wrap(next http.Handler) http.Handler {
	if s == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		if g := s.guard; g != nil {
			defer g.done()
			now := time.Now()
			wait, known := requestWait(r, now)
			if !g.allow(now, wait, known) {
				s.refuse(w, r, s.byDelay)
				return
			}
		}
		permit, err := s.limiter.AcquirePermitWithMaxWait(r.Context(), s.wait)
		if err != nil {
			s.refuse(w, r, s.byLimit)
			return
		}
		defer permit.Record()
		next.ServeHTTP(w, r)
	})
}

func (s *shedder) refuse(w http.ResponseWriter, r *http.Request, count prometheus.Counter) {
	count.Inc()
	w.Header().Set("Retry-After", retryAfterShed)
	writeProblem(w, r, errOverloaded)
}

var errOverloaded = basalt.Errorf(basalt.CodeOverloaded, "The server is overloaded; retry after the time in Retry-After.")

// Listener returns ln for the server to accept on. With a delay target
// (ShedConfig.Delay) on Linux, its connections record when each request
// reached the socket, and the delay guard steers on how long requests
// waited from then (see stampedConn); otherwise it is ln. Serve with
// ConnContext as the http.Server's.
func (s *Server) Listener(ln net.Listener) net.Listener {
	if s.shed == nil || s.shed.guard == nil {
		return ln
	}
	return stampListener(ln)
}

// ConnContext is the http.Server's ConnContext for connections accepted
// from Listener.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return stampContext(ctx, c)
}
