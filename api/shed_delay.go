package api

import (
	"math"
	"math/bits"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// delayGuard sheds requests when the server's processors are saturated.
//
// A concurrency limit sees a request only once net/http has read it and
// handed it to the handlers; when the processor itself is what runs out,
// requests wait before that, and the limit never sees the wait: first
// as sockets with data that the runtime's network poller has not yet
// looked at (a busy processor looks only when it runs out of work, or
// every 10 ms), then as goroutines ready to run that no processor takes.
// The guard measures both. On Linux each request's own wait is known:
// the connections record when its data reached the socket (the kernel's
// receive timestamp, see stampedConn). Everywhere it also reads the
// runtime's /sched/latencies histogram, the time a goroutine spends
// runnable before it runs, and sends a probe through a pipe that the
// poller watches as it watches sockets (wakeProbe). Every window it
// takes the longest of the requests' 90th percentile, the histogram's
// and the probes' mean wait, and steers the share of requests it
// admits, additive increase and multiplicative decrease as TCP steers
// its window: over the target the share falls, in proportion to how far
// over; under half the target it climbs back, and doubles while idle.
// The share is paced, not drawn by lot (see interval). While it is
// under all, a request that has already waited past the target is
// refused whatever the pacing says (see allow). A refused request
// costs the reading and the 503, far less than serving it, so the
// processor's backlog drains and the admitted requests run without
// queueing.
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
// which no load-shedding library reads. The first request after a
// window has passed reads the histogram (under a microsecond, see
// BenchmarkDelayGuardJudge) and requests send the probes, so a server
// without traffic does no work; the probe's reading goroutine ends a
// second after the traffic does.
type delayGuard struct {
	target time.Duration
	next   atomic.Int64  // UnixNano when the next window ends
	admit  atomic.Uint64 // math.Float64bits of the share admitted
	delay  atomic.Int64  // the delay judged over the last window, in ns
	over   int           // windows in a row over the target; under mu

	// The share is admitted by pacing, not by lot: requests are let
	// through one every interval (GCRA, as the rate limiter does; here
	// one lock-free theoretical arrival time whose interval changes every
	// window, where ratelimit.Memory keys, locks and builds a Result per
	// request), at the share of the rate at which they arrive. Admitted by lot, the
	// requests of a steady flood come in clumps as a Poisson stream does,
	// and each clump waits for the processor in turn; paced, they come
	// evenly spaced and find it free.
	arrivals atomic.Int64 // requests seen since the last window
	rate     float64      // smoothed arrivals a second; under mu
	interval atomic.Int64 // ns between admissions; 0 while all are admitted
	burst    atomic.Int64 // ns of credit: one interval per processor
	tat      atomic.Int64 // UnixNano of the next admission's theoretical time

	probe wakeProbe
	waits waitCounts // the waits of requests with a known one, this window

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
	// delayMinSamples is the fewest scheduling samples that make a
	// window's percentile: a window with fewer is quiet, and counts as
	// calm, unless they waited delayStalled times the target.
	delayMinSamples = 20
	// delaySpike: a window whose delay is this many times the target
	// cuts the share at once, as a flood begins.
	delaySpike = 4
	// delayStalled: a window of few samples that waited this many times
	// the target is not quiet but stalled. Requests that run long without
	// yielding, as a flood's first ones admitted before the share falls,
	// hold the processor and make few samples while the rest wait; one
	// goroutine that waited behind one such request at normal load does
	// not make this.
	delayStalled = 8
	// delayEarly is the least time into a window before it is judged
	// early (see due).
	delayEarly = time.Millisecond
	// delayQuantile is the quantile of the delay judged.
	delayQuantile = 0.9
	// delaySustained is how many windows in a row the delay must be over
	// the target (but not delaySpike times over) before the share
	// falls: a burst of wake-ups fills a window, a backlog outlasts it.
	delaySustained = 3
	// admitFloor is the least share admitted: some requests are always
	// served, so that a saturation the refusals cannot relieve (another
	// process taking the machine) leaves the API slow, not shut.
	admitFloor = 0.02
	// idleFraction: a window whose delay is under the target over this
	// is idle (see steer).
	idleFraction = 4
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

// allow reports whether to serve a request arriving at now, which has
// waited wait since it reached the socket if known.
func (g *delayGuard) allow(now time.Time, wait time.Duration, known bool) bool {
	g.arrivals.Add(1)
	if known {
		g.waits.add(wait)
	}
	t := now.UnixNano()
	if g.due(t, wait, known) && g.mu.TryLock() {
		if g.due(t, wait, known) {
			g.judge(now, t < g.next.Load())
		}
		g.mu.Unlock()
	}
	iv := g.interval.Load()
	if iv == 0 {
		return true
	}
	// While some are refused, a request that has already waited past
	// the target is one of them: it is late whatever is done now, and
	// serving it would spend on it the processor time that keeps the
	// others on time. Not at the floor: there the paced few are served
	// late or not, so that a saturation the refusals cannot relieve
	// leaves the API slow, not shut.
	if known && wait > g.target && g.share() > admitFloor {
		return false
	}
	// A burst of one interval per processor passes at once: requests
	// that arrive together, as the network poller hands them over, are
	// not refused for arriving together.
	tolerance := g.burst.Load()
	for {
		tat := g.tat.Load()
		if t < tat-tolerance {
			return false
		}
		if g.tat.CompareAndSwap(tat, max(tat, t)+iv) {
			return true
		}
	}
}

// due reports whether to judge the window at t: once it has ended, or
// early, as a flood begins, when a request arrives that has waited many
// times the target while all are admitted. Every request of the flood's
// first window would otherwise be served, each after a longer wait.
// Early is at least delayEarly into the window, and only while all are
// admitted: a shorter window has fewer samples, and while the share
// is steered those would read as quiet and raise it.
func (g *delayGuard) due(t int64, wait time.Duration, known bool) bool {
	next := g.next.Load()
	if t >= next {
		return true
	}
	return known && wait > delaySpike*g.target && g.interval.Load() == 0 && t >= next-int64(delayWindow-delayEarly)
}

// done is called as a request's handler returns (or its refusal is
// written), to send a probe if one is due. Sent then, the probe measures
// the wait of whatever runs next, not the request's own handler.
func (g *delayGuard) done() {
	if t := time.Now().UnixNano(); g.probe.due(t) {
		g.probe.send(t)
	}
}

func (g *delayGuard) share() float64 { return math.Float64frombits(g.admit.Load()) }

// judge reads the delays since the last window and moves the admitted
// share; early says the window is judged before its end (see due).
// g.mu is held.
func (g *delayGuard) judge(now time.Time, early bool) {
	metrics.Read(g.sample)
	h := g.sample[0].Value.Float64Histogram()
	delay, n := windowQuantile(h, g.last, delayQuantile)
	copy(g.last, h.Counts)
	// The requests' waits, where known, are the whole of what a request
	// waits; the others are parts of it, and either may be long alone.
	// Judged early, a window has had too little time for many samples:
	// its waits count once they are past the immediate cut, which is all
	// an early judgement is for, so that it cuts rather than only
	// starting the window anew.
	w, m := g.waits.take(delayQuantile)
	if m >= delayMinSamples {
		n = max(n, m)
	}
	if w > delay && (m >= delayMinSamples || w > delayStalled*g.target || early && w > delaySpike*g.target) {
		delay, n = w, max(n, delayMinSamples)
	}
	if lag := g.probe.take(now.UnixNano()); lag > delay {
		delay = lag
		if lag > g.target {
			n = max(n, delayMinSamples) // a probe that waited is no quiet spell
		}
	}
	cycles := g.sample[1].Value.Uint64()
	gc := cycles != g.cycles
	collecting := gc || g.gcNear
	g.cycles, g.gcNear = cycles, gc
	elapsed := now.Sub(g.read)
	windows := max(1, elapsed.Seconds()/delayWindow.Seconds())
	g.read = now
	g.next.Store(now.Add(delayWindow).UnixNano())

	g.steer(delay, n, windows, collecting)
	g.pace(float64(g.arrivals.Swap(0)) / elapsed.Seconds())
}

// pace sets the interval between admissions from the share and the rate
// of arrivals, smoothed over a few windows. g.mu is held.
func (g *delayGuard) pace(arriving float64) {
	g.rate += (arriving - g.rate) / 4
	a := g.share()
	if a >= 1 || g.rate <= 0 {
		g.interval.Store(0)
		return
	}
	iv := int64(float64(time.Second) / (a * g.rate))
	// Read here, every window, not per request: GOMAXPROCS takes the
	// scheduler's lock, and it can change while the server runs.
	g.burst.Store(iv * int64(runtime.GOMAXPROCS(0)))
	g.interval.Store(iv)
}

// steer moves the admitted share after windows windows judged at delay
// over n scheduling samples; collecting
// says a garbage collection ended in this window or the one before.
// g.mu is held.
func (g *delayGuard) steer(delay time.Duration, n uint64, windows float64, collecting bool) {
	a := g.share()
	quiet := n < delayMinSamples && delay <= delayStalled*g.target
	if quiet || delay <= g.target {
		g.over = 0
	} else {
		g.over++
	}
	switch {
	case delay < g.target/idleFraction:
		// Idle, or near it: whatever made the delay (a flood that has
		// ended, a stall of the whole process, as a collection or a
		// disk flush at normal load makes) has passed, and the share
		// doubles for each window gone by, back to all within a few.
		a = min(1, a*math.Pow(2, min(windows, 10)))
	case quiet || delay < g.target/2:
		// Up by a step, or by a tenth of the share once that is more,
		// for each window gone by: from the floor to all in about a
		// third of a second. A flood kept under the target by refusals
		// keeps the delay here, not idle, so the share climbs back to
		// it slowly.
		for range int(min(windows, 100)) {
			a = min(1, a+max(admitStep, a/10))
		}
	case delay <= g.target:
		// Held: near the target is where the share belongs.
	case g.over >= delaySustained || delay > delaySpike*g.target && !collecting:
		// Down in proportion to the overshoot, by a tenth to three
		// quarters: a flood's backlog builds at several times the
		// rate the processor drains it, and a window of it takes many
		// to drain. At once when the delay is over delaySpike times
		// the target, unless a collection explains it (the mark phase
		// takes a quarter of the processors while it lasts).
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

// waitCounts counts waits by powers of two of waitUnit, lock-free.
type waitCounts [waitBuckets]atomic.Uint64

const (
	waitUnit    = 32 * time.Microsecond
	waitBuckets = 18 // up to waitUnit<<16, about 2 s, and over
)

func (c *waitCounts) add(w time.Duration) {
	c[min(bits.Len64(uint64(w/waitUnit)), waitBuckets-1)].Add(1)
}

// take returns the q-quantile of the waits counted and how many there
// were, and starts counting anew.
func (c *waitCounts) take(q float64) (time.Duration, uint64) {
	var counts [waitBuckets]uint64
	var n uint64
	for i := range c {
		counts[i] = c[i].Swap(0)
		n += counts[i]
	}
	if n == 0 {
		return 0, 0
	}
	// Interpolated within the bucket: its bounds are a factor of two
	// apart, too coarse to hold a target by.
	rank := q * float64(n)
	var seen float64
	for i, k := range counts {
		if k > 0 && seen+float64(k) >= rank {
			lo, hi := float64(waitUnit<<i)/2, float64(waitUnit<<i)
			if i == 0 {
				lo = 0
			}
			return time.Duration(lo + (hi-lo)*(rank-seen)/float64(k)), n
		}
		seen += float64(k)
	}
	return waitUnit << (waitBuckets - 1), n
}
