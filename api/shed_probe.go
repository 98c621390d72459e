package api

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// wakeProbe measures how long a network event waits before the goroutine
// it wakes runs: the wait of a request that has arrived, before net/http
// reads it. The scheduler's own histogram misses part of that wait. A
// goroutine parked on a socket becomes ready only when the network
// poller is consulted, and a processor that always has other goroutines
// to run consults it only when its run queue empties, or when the
// runtime's monitor does it (every 10 ms at most). Under a flood,
// requests wait there before they wait anywhere the histogram sees.
//
// The probe sends a byte through a pipe, which the runtime polls as it
// polls sockets, to a goroutine parked reading it, and records how long
// that goroutine took to see it. One probe is in flight at a time, at
// most one a millisecond, sent by requests as they finish; without
// traffic there are none, and the reading goroutine ends after a second
// without probes (its pipe closed), so an idle server holds nothing.
type wakeProbe struct {
	mu    sync.Mutex // held to send, and by the reader to decide to stop
	r, w  *os.File   // nil while no reader runs
	sent  atomic.Int64
	last  atomic.Int64 // UnixNano of the last probe sent
	total atomic.Int64 // the waits seen since the last take, ns
	seen  atomic.Int64 // probes seen since the last take
}

const (
	// probeEvery is the least time between two probes.
	probeEvery = time.Millisecond
	// probeIdle is how long the reader waits for a probe before it stops.
	probeIdle = time.Second
)

// due reports whether a probe may be sent at now (UnixNano): none is in
// flight and the last was sent probeEvery ago.
func (p *wakeProbe) due(now int64) bool {
	return p.sent.Load() == 0 && now-p.last.Load() >= int64(probeEvery)
}

// send sends a probe stamped now, starting the reader if none runs; or
// nothing, if another request is sending one.
func (p *wakeProbe) send(now int64) {
	if !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	if p.sent.Load() != 0 {
		return
	}
	if p.w == nil {
		r, w, err := os.Pipe()
		if err != nil {
			return // no probe: the guard steers on the histogram alone
		}
		p.r, p.w = r, w
		go p.read(r)
	}
	p.last.Store(now)
	p.sent.Store(now)
	if _, err := p.w.Write([]byte{0}); err != nil {
		p.sent.Store(0)
	}
}

// read receives probes until none comes for probeIdle.
func (p *wakeProbe) read(r *os.File) {
	buf := make([]byte, 16)
	for {
		r.SetReadDeadline(time.Now().Add(probeIdle))
		n, err := r.Read(buf)
		if n > 0 {
			if t := p.sent.Swap(0); t != 0 {
				p.total.Add(time.Now().UnixNano() - t)
				p.seen.Add(1)
			}
		}
		if err != nil {
			p.mu.Lock()
			if p.sent.Load() != 0 && os.IsTimeout(err) {
				p.mu.Unlock()
				continue // sent as the deadline passed: read it
			}
			p.r.Close()
			p.w.Close()
			p.r, p.w = nil, nil
			p.sent.Store(0)
			p.mu.Unlock()
			return
		}
	}
}

// take returns the mean wait of the probes seen since the last take, or
// the wait so far of the probe in flight if that is longer: a stalled
// processor sees no probe at all.
func (p *wakeProbe) take(now int64) time.Duration {
	// A probe seen between the two swaps counts in the next window.
	n, total := p.seen.Swap(0), p.total.Swap(0)
	var wait int64
	if n > 0 {
		wait = total / n
	}
	if t := p.sent.Load(); t != 0 {
		wait = max(wait, now-t)
	}
	return time.Duration(wait)
}
