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
// the target, and climbs back to all while calm: by steps while the
// delay is under half the target, doubling while it is idle.
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
	want("idle: doubled", 2*admitFloor)
	g.steer(target/2-time.Microsecond, many, 1, false)
	want("calm, not idle: up by a step", 2*admitFloor+admitStep)
	calm := 1
	for ; g.share() < 1 && calm < 1000; calm++ {
		g.steer(target/2-time.Microsecond, many, 1, false)
	}
	if calm > 50 {
		t.Errorf("share back to all after %d calm windows, want a few dozen at most", calm)
	}
	for range 20 {
		g.steer(100*time.Millisecond, many, 1, false)
	}
	idle := 0
	for ; g.share() < 1 && idle < 1000; idle++ {
		g.steer(target/idleFraction-time.Microsecond, many, 1, false)
	}
	if idle > 6 {
		t.Errorf("share back to all from the floor after %d idle windows, want 6 at most", idle)
	}
	g.steer(10*time.Millisecond, many, 1, true)
	want("a spike as a collection ends", 1)
	g.steer(0, many, 1, false)
	g.steer(10*time.Millisecond, many, 1, false)
	want("a spike with no collection", 0.25)

	// Few samples: calm while they waited less than delayStalled
	// times the target, a spike past it (a processor held by a flood's
	// first requests makes few samples).
	for range 40 {
		g.steer(0, many, 1, false)
	}
	want("calm again", 1)
	g.steer(delayStalled*target, delayMinSamples-1, 1, false)
	want("few samples, long waits but not stalled", 1)
	g.admit.Store(math.Float64bits(0.1))
	g.steer(6*target, delayMinSamples-1, 1, false)
	want("few samples, long waits: up by a step, not doubled", 0.1+admitStep)
	g.admit.Store(math.Float64bits(1))
	g.steer(2*delayStalled*target, delayMinSamples-1, 1, false)
	want("few samples, stalled", 0.25)

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
// loopback, its connections stamped as Server.Listener stamps them.
func TestDelayGuardSheds(t *testing.T) {
	reg := prometheus.NewRegistry()
	sh := newShedder(ShedConfig{Enabled: true, MinLimit: 1, InitialLimit: 64, MaxLimit: 64, Delay: time.Millisecond}, reg)
	if sh.guard == nil {
		t.Skip("the runtime lacks " + schedLatencies)
	}
	srv := httptest.NewUnstartedServer(sh.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	// As Server.Listener and Server.ConnContext serve it: requests'
	// waits are known where the system stamps them.
	srv.Listener = stampListener(srv.Listener)
	srv.Config.ConnContext = stampContext
	srv.Start()
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

// TestDelayGuardPaces: the admitted share is paced, not drawn by lot:
// with a quarter admitted of requests arriving every millisecond, every
// fourth is served, after a burst of one per processor, and never more
// close together; with all admitted, all are.
func TestDelayGuardPaces(t *testing.T) {
	g := newDelayGuard(2 * time.Millisecond)
	if g == nil {
		t.Skip("the runtime lacks " + schedLatencies)
	}
	g.next.Store(math.MaxInt64) // no judging: the share stays as set
	g.mu.Lock()
	g.admit.Store(math.Float64bits(0.25))
	for range 100 {
		g.pace(1000) // arrivals a second, as smoothed over windows
	}
	g.mu.Unlock()
	if got := time.Duration(g.interval.Load()); got < 3900*time.Microsecond || got > 4100*time.Microsecond {
		t.Fatalf("interval %v at a quarter of 1,000 a second, want 4ms", got)
	}
	burst := runtime.GOMAXPROCS(0)
	base := time.Now()
	var admitted []int
	for i := range 1000 {
		if g.allow(base.Add(time.Duration(i)*time.Millisecond), 0, false) {
			admitted = append(admitted, i)
		}
	}
	// The burst: one interval per processor of credit, spent by the
	// first requests (arriving every millisecond, each takes 4 and gives
	// back 1), at most twice the burst.
	first := 1
	for first < len(admitted) && admitted[first]-admitted[first-1] < 4 {
		first++
	}
	if first > 2*(burst+1) {
		t.Fatalf("%d admitted in the first burst, want at most %d: %v", first, 2*(burst+1), admitted[:first])
	}
	for k := first; k < len(admitted); k++ {
		if gap := admitted[k] - admitted[k-1]; gap != 4 {
			t.Fatalf("admissions %d and %d are %d ms apart, want 4 (paced): %v", k-1, k, gap, admitted[:k+1])
		}
	}
	if n := len(admitted); n < 250 || n > 250+2*(burst+1) {
		t.Errorf("%d of 1,000 admitted at a share of a quarter, want 250 to %d", n, 250+2*(burst+1))
	}

	g.mu.Lock()
	g.admit.Store(math.Float64bits(1))
	g.pace(1000)
	g.mu.Unlock()
	for i := range 100 {
		if !g.allow(base.Add(time.Second+time.Duration(i)*time.Microsecond), 0, false) {
			t.Fatalf("request %d refused with all admitted", i)
		}
	}
}

// TestWakeProbe: a probe goes through the pipe to the reading goroutine,
// which sees it; a probe not yet seen counts as waiting since it was
// sent, so that a stalled processor reads as a long wait; the reader
// stops, closing its pipe, once probes stop coming.
func TestWakeProbe(t *testing.T) {
	var p wakeProbe
	now := time.Now().UnixNano()
	if !p.due(now) {
		t.Fatal("a new probe is not due")
	}
	p.send(now)
	deadline := time.Now().Add(5 * time.Second)
	for p.sent.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if p.sent.Load() != 0 {
		t.Fatal("the probe was not seen in 5 s")
	}
	if got := p.take(time.Now().UnixNano()); got <= 0 {
		t.Errorf("wait of a probe seen = %v, want more than 0", got)
	}
	if got := p.take(time.Now().UnixNano()); got != 0 {
		t.Errorf("wait with no probe since the last take = %v, want 0", got)
	}

	// In flight for a second, unseen (as if the processor never let the
	// reader run): the wait is the second.
	p.sent.Store(now)
	if got := p.take(now + int64(time.Second)); got != time.Second {
		t.Errorf("wait of a probe in flight for 1s = %v, want 1s", got)
	}
	if p.due(now + int64(time.Second)) {
		t.Error("a probe is due while one is in flight")
	}
	p.sent.Store(0)

	deadline = time.Now().Add(probeIdle + 5*time.Second)
	for {
		p.mu.Lock()
		stopped := p.w == nil
		p.mu.Unlock()
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader still runs %v after the last probe", probeIdle+5*time.Second)
		}
		time.Sleep(10 * time.Millisecond)
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
		g.judge(time.Now(), false)
	}
}

// TestDelayGuardRefusesLate: while some are refused, a request that has
// waited past the target is refused whatever the pacing says, and one
// that has not is paced; while all are admitted, late ones are served
// too, and one that waited many times the target makes the window be
// judged early.
func TestDelayGuardRefusesLate(t *testing.T) {
	target := 2 * time.Millisecond
	g := newDelayGuard(target)
	if g == nil {
		t.Skip("the runtime lacks " + schedLatencies)
	}
	now := time.Now()
	g.next.Store(now.Add(delayWindow).UnixNano()) // the window starts now
	if !g.allow(now, 3*target, true) {
		t.Error("a late request refused while all are admitted")
	}
	next := time.Unix(0, g.next.Load())
	early := next.Add(-delayWindow + delayEarly)
	if g.due(early.Add(-time.Microsecond).UnixNano(), 2*delaySpike*target, true) {
		t.Error("judged early less than delayEarly into the window")
	}
	if !g.due(early.UnixNano(), 2*delaySpike*target, true) {
		t.Error("not judged early for a request that waited many times the target")
	}
	if g.due(early.UnixNano(), delaySpike*target, true) || g.due(early.UnixNano(), 0, false) {
		t.Error("judged early for a request that did not wait many times the target")
	}

	// A flood whose requests wait six times the target, one every half
	// millisecond: the windows judged early hold too few for a
	// percentile, and their waits past the immediate cut count anyway,
	// so the share falls within the first window instead of each early
	// judgement only starting the window anew. (A collection ending
	// would explain a spike and delay the cut: start right after one.)
	runtime.GC()
	g.mu.Lock()
	metrics.Read(g.sample)
	g.cycles, g.gcNear = g.sample[1].Value.Uint64(), false
	g.mu.Unlock()
	for i := range 20 {
		g.allow(next.Add(time.Duration(i)*500*time.Microsecond), 3*delaySpike*target/2, true)
	}
	if a := g.share(); a >= 1 {
		t.Errorf("share %v after 10 ms of requests waiting %v, want cut", a, 3*delaySpike*target/2)
	}

	g.next.Store(math.MaxInt64) // no judging: the share stays as set
	g.mu.Lock()
	g.admit.Store(math.Float64bits(0.5))
	g.pace(1000)
	g.mu.Unlock()
	if g.due(now.UnixNano(), time.Hour, true) {
		t.Error("judged early while the share is steered")
	}
	base := now.Add(time.Second) // past any credit spent above
	if g.allow(base, target+time.Microsecond, true) {
		t.Error("a late request served while some are refused")
	}
	if !g.allow(base, target/2, true) {
		t.Error("a request on time refused with credit to admit it")
	}
	if !g.allow(base.Add(time.Second), 0, false) {
		t.Error("a request of unknown wait refused with credit to admit it")
	}
	// At the floor, the paced few are served late or not: a saturation
	// refusals cannot relieve leaves the API slow, not shut.
	g.mu.Lock()
	g.admit.Store(math.Float64bits(admitFloor))
	g.pace(1000)
	g.mu.Unlock()
	if !g.allow(base.Add(time.Hour), time.Second, true) {
		t.Error("a late request refused at the floor with credit to admit it")
	}
}
