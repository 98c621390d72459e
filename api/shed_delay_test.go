package api

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestWindowQuantile(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0.001, 0.002, 0.004, math.Inf(1)},
		Counts:  []uint64{10, 20, 30, 40},
	}
	// Over last, the window holds 0, 10, 0 and 10 samples: half up to
	// 2 ms, half past 4 ms.
	last := []uint64{10, 10, 30, 30}
	for q, want := range map[float64]time.Duration{0.5: 2 * time.Millisecond, 0.51: 4 * time.Millisecond, 0.9: 4 * time.Millisecond} {
		if got, n := windowQuantile(h, last, q); got != want || n != 20 {
			t.Errorf("quantile %v = %v of %d, want %v of 20 (the last finite bound for the open bucket)", q, got, n, want)
		}
	}
	if got, n := windowQuantile(h, h.Counts, 0.9); got != 0 || n != 0 {
		t.Errorf("empty window = %v of %d, want 0 of 0", got, n)
	}
}

// TestDelayGuardSteers: the share falls after the delay has been over
// the target for delaySustained windows, or at once when it is over
// twice the target and no collection explains it; it falls faster the
// further over, stops at the floor, holds between half the target and
// the target, and climbs back to all while calm.
func TestDelayGuardSteers(t *testing.T) {
	const many = 1000
	target := 2 * time.Millisecond
	g := newDelayGuard(target)
	if g == nil {
		t.Fatal("no guard: the runtime lacks " + schedLatencies)
	}
	want := func(what string, share float64) {
		t.Helper()
		if got := g.share(); math.Abs(got-share) > 1e-9 {
			t.Errorf("%s: share %v, want %v", what, got, share)
		}
	}
	for range delaySustained - 1 {
		g.steer(3*time.Millisecond, many, 1, false)
	}
	want("fewer windows than delaySustained at 1.5 times the target", 1)
	g.steer(3*time.Millisecond, many, 1, false)
	want("sustained at 1.5 times the target", 2.0/3)
	g.steer(20*time.Millisecond, many, 1, false)
	want("one window at 10 times the target", 2.0/3/4)
	for range 20 {
		g.steer(100*time.Millisecond, many, 1, false)
	}
	want("a long flood", admitFloor)
	g.steer(1500*time.Microsecond, many, 1, false)
	want("under the target but not by half", admitFloor)
	g.steer(3*time.Millisecond, many, 1, false)
	want("one window over, not twice over", admitFloor)

	g.steer(0, many, 1, false)
	calm := 1
	for ; g.share() < 1 && calm < 1000; calm++ {
		g.steer(100*time.Microsecond, many, 1, false)
	}
	if calm > 50 {
		t.Errorf("share back to all after %d calm windows, want a few dozen at most", calm)
	}
	g.steer(10*time.Millisecond, many, 1, true)
	want("a spike as a collection ends", 1)
	g.steer(0, many, 1, false)
	g.steer(10*time.Millisecond, many, 1, false)
	want("a spike with no collection", 0.25)

	// A quiet spell counts as calm, and as many windows as it lasted.
	for range 20 {
		g.steer(100*time.Millisecond, many, 1, false)
	}
	g.steer(0, 0, 1000, false)
	want("after a quiet spell", 1)
}

// TestDelayGuardSheds: while goroutines that never block take every
// processor, requests wait to run and the guard refuses most of them
// 503 overloaded with Retry-After, counted by reason; once the
// processors are free again, it serves all. The server is real, over
// loopback.
func TestDelayGuardSheds(t *testing.T) {
	reg := prometheus.NewRegistry()
	sh := newShedder(ShedConfig{Enabled: true, MinLimit: 1, InitialLimit: 64, MaxLimit: 64, Delay: time.Millisecond}, reg)
	if sh.guard == nil {
		t.Skip("the runtime lacks " + schedLatencies)
	}
	srv := httptest.NewServer(sh.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	get := func() (int, string) {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}

	// Spinners, as the goroutines of requests that only compute: 100
	// per processor, each working 50 µs and yielding, so that a
	// goroutine made ready waits about 5 ms for its turn.
	ctx, stop := context.WithCancel(t.Context())
	var spinners sync.WaitGroup
	for range 100 * runtime.GOMAXPROCS(0) {
		spinners.Go(func() {
			for ctx.Err() == nil {
				for start := time.Now(); time.Since(start) < 50*time.Microsecond; {
				}
				runtime.Gosched()
			}
		})
	}
	refused := 0
	deadline := time.Now().Add(10 * time.Second)
	for refused < 20 && time.Now().Before(deadline) {
		if status, retry := get(); status == http.StatusServiceUnavailable {
			if retry != retryAfterShed {
				t.Errorf("503 with Retry-After %q, want %q", retry, retryAfterShed)
			}
			refused++
		}
	}
	stop()
	spinners.Wait()
	if refused < 20 {
		t.Fatalf("%d requests refused in 10 s with the processors saturated, want 20", refused)
	}
	if got := counterValue(t, reg, "basalt_shed_rejected_total", "delay"); got < 20 {
		t.Errorf(`basalt_shed_rejected_total{reason="delay"} = %v, want at least 20`, got)
	}

	// Free again: within a second (the floor to all takes a third of
	// one), every request is served.
	deadline = time.Now().Add(10 * time.Second)
	served := 0
	for served < 100 && time.Now().Before(deadline) {
		if status, _ := get(); status == http.StatusNoContent {
			served++
		} else {
			served = 0
		}
	}
	if served < 100 {
		t.Errorf("after the processors were freed, %d requests in a row served, want 100", served)
	}
}

// counterValue reads the counter name{reason=reason} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// BenchmarkDelayGuardJudge: the cost of one window's judgement, reading
// the runtime's histogram, which the first request after each window
// pays.
func BenchmarkDelayGuardJudge(b *testing.B) {
	g := newDelayGuard(time.Hour)
	if g == nil {
		b.Skip("the runtime lacks " + schedLatencies)
	}
	b.ReportAllocs()
	g.mu.Lock()
	defer g.mu.Unlock()
	for b.Loop() {
		g.judge(time.Now())
	}
}
