package api

import (
	"math"
	"math/rand/v2"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// delayGuard sheds requests when the server's processors are saturated.
//
// A concurrency limit sees a request only once net/http has read it and
// handed it to the handlers; when the processor itself is what runs out,
// requests wait before that, as goroutines ready to run that no
// processor takes, and the limit never sees the wait. Go measures exactly
// that wait: the runtime's /sched/latencies histogram, the time a
// goroutine spends runnable before it runs. The guard reads it every
// window and steers the share of requests it admits, additive increase
// and multiplicative decrease as TCP steers its window: when the window's
// 90th percentile of scheduling delay is over the target the share falls,
// in proportion to how far over, and while it is under half the target
// the share climbs back. A refused request costs the reading and the 503,
// far less than serving it, so the processor's backlog drains and the
// admitted requests run without queueing.
//
// It is off unless configured: the delay measures every goroutine, and
// other work makes it long without a flood of requests. A realtime event
// wakes every subscriber's goroutine at once (1,000 subscribers at 200
// writes a second keep the 90th percentile over 10 ms), and a closed
// loop of clients at full throughput keeps it at a few milliseconds. A
// node that serves the REST API alone can hold a low target; see
// docs/operations.md.
//
// Written here because it steers on the Go scheduler's own measure,
// which no load-shedding library reads. No goroutine: the first request
// after a window has passed reads the histogram (0.45 µs, see
// BenchmarkDelayGuardJudge), so a server without traffic does no work
// and a test server leaks nothing.
type delayGuard struct {
	target time.Duration
	next   atomic.Int64  // UnixNano when the next window ends
	admit  atomic.Uint64 // math.Float64bits of the share admitted
	delay  atomic.Int64  // the last window's 90th percentile, in ns
	over   int           // windows in a row over the target; under mu

	mu     sync.Mutex // held by the request that reads the histogram
	sample []metrics.Sample
	last   []uint64 // bucket counts at the last read
	cycles uint64   // garbage collections completed at the last read
	gcNear bool     // one completed in the last window
	read   time.Time
}

const (
	// delayWindow is how often the share is judged: short next to the
	// target's tolerance for a burst, long enough for many samples.
	delayWindow = 10 * time.Millisecond
	// delayMinSamples is the fewest scheduling samples that a window
	// must hold to judge it; a quiet window counts as calm.
	delayMinSamples = 20
	// delaySustained is how many windows in a row the delay must be over
	// the target (but not twice over) before the share falls: a burst of
	// wake-ups fills a window, a backlog outlasts it.
	delaySustained = 3
	// admitFloor is the least share admitted: some requests are always
	// served, so that a saturation the refusals cannot relieve (another
	// process taking the machine) leaves the API slow, not shut.
	admitFloor = 0.02
	// admitStep is the least share regained in a calm window.
	admitStep = 0.01
)

const (
	schedLatencies = "/sched/latencies:seconds"
	gcCycles       = "/gc/cycles/total:gc-cycles"
)

func newDelayGuard(target time.Duration) *delayGuard {
	if target <= 0 {
		return nil
	}
	g := &delayGuard{target: target, sample: []metrics.Sample{{Name: schedLatencies}, {Name: gcCycles}}}
	g.admit.Store(math.Float64bits(1))
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() != metrics.KindFloat64Histogram || g.sample[1].Value.Kind() != metrics.KindUint64 {
		return nil // a runtime without the measures: nothing to steer on
	}
	g.cycles = g.sample[1].Value.Uint64()
	g.last = append([]uint64(nil), g.sample[0].Value.Float64Histogram().Counts...)
	g.read = time.Now()
	g.next.Store(g.read.Add(delayWindow).UnixNano())
	return g
}

// allow reports whether to serve a request arriving at now.
func (g *delayGuard) allow(now time.Time) bool {
	if now.UnixNano() >= g.next.Load() && g.mu.TryLock() {
		if now.UnixNano() >= g.next.Load() {
			g.judge(now)
		}
		g.mu.Unlock()
	}
	a := g.share()
	return a >= 1 || rand.Float64() < a
}

func (g *delayGuard) share() float64 { return math.Float64frombits(g.admit.Load()) }

// judge reads the scheduling delays since the last window and moves the
// admitted share. g.mu is held.
func (g *delayGuard) judge(now time.Time) {
	metrics.Read(g.sample)
	h := g.sample[0].Value.Float64Histogram()
	delay, n := windowQuantile(h, g.last, 0.9)
	copy(g.last, h.Counts)
	cycles := g.sample[1].Value.Uint64()
	gc := cycles != g.cycles
	collecting := gc || g.gcNear
	g.cycles, g.gcNear = cycles, gc
	windows := max(1, now.Sub(g.read).Seconds()/delayWindow.Seconds())
	g.read = now
	g.next.Store(now.Add(delayWindow).UnixNano())

	g.steer(delay, n, windows, collecting)
}

// steer moves the admitted share after windows windows in which n
// scheduling samples had delay as their 90th percentile; collecting
// says a garbage collection ended in this window or the one before.
// g.mu is held.
func (g *delayGuard) steer(delay time.Duration, n uint64, windows float64, collecting bool) {
	a := g.share()
	quiet := n < delayMinSamples
	if quiet || delay <= g.target {
		g.over = 0
	} else {
		g.over++
	}
	switch {
	case quiet || delay < g.target/2:
		// Up by a step, or by a tenth of the share once that is more,
		// for each window gone by: from the floor to all in about a
		// third of a second.
		for range int(min(windows, 100)) {
			a = min(1, a+max(admitStep, a/10))
		}
	case delay <= g.target:
		// Held: near the target is where the share belongs.
	case g.over >= delaySustained || delay > 2*g.target && !collecting:
		// Down in proportion to the overshoot, by a tenth to three
		// quarters: a flood's backlog builds at several times the
		// rate the processor drains it, and a window of it takes many
		// to drain. At once when the delay is over twice the target,
		// unless a collection explains it (the mark phase takes a
		// quarter of the processors while it lasts).
		a = max(admitFloor, a*min(0.9, max(0.25, float64(g.target)/float64(delay))))
	}
	g.admit.Store(math.Float64bits(a))
	g.delay.Store(int64(delay))
}

// windowQuantile returns the q-quantile of the counts h holds over last,
// as the upper bound of the bucket it falls in, and how many there are.
func windowQuantile(h *metrics.Float64Histogram, last []uint64, q float64) (time.Duration, uint64) {
	var n uint64
	for i, c := range h.Counts {
		n += c - last[i]
	}
	if n == 0 {
		return 0, 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range h.Counts {
		if seen += c - last[i]; seen >= rank {
			bound := h.Buckets[i+1]
			if math.IsInf(bound, 1) {
				bound = h.Buckets[i]
			}
			return time.Duration(bound * float64(time.Second)), n
		}
	}
	return 0, n
}
