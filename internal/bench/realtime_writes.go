package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// writeLog holds when each write of a scenario was sent and answered, on
// the run's clock, by its number less base. Each entry is written by the
// one goroutine making that write and read after they all finished.
type writeLog struct {
	base       int64
	sent, resp []int64
	n          atomic.Int64
	failed     atomic.Int64
}

// newWriteLog reserves n write numbers, distinct from every other
// scenario's: a late event of an earlier scenario is never taken for one
// of this one.
func (r *rtRun) newWriteLog(n int) *writeLog {
	return &writeLog{base: r.seq.Add(int64(n)) - int64(n), sent: make([]int64, n), resp: make([]int64, n)}
}

func (w *writeLog) take() (int64, bool) {
	i := w.n.Add(1) - 1
	return i, i < int64(len(w.sent))
}

// taken is the number of writes made so far.
func (w *writeLog) taken() int64 { return min(w.n.Load(), int64(len(w.sent))) }

// write creates the record whose title carries write i's number.
func (r *rtRun) write(ctx context.Context, wl *writeLog, i int64) {
	seq := wl.base + i
	body := `{"title":"w` + strconv.FormatInt(seq, 10) + `","n":` + strconv.FormatInt(seq, 10) + `}`
	wl.sent[i] = r.now()
	if _, err := post(ctx, r.client, r.srv.url+"/api/collections/feed/records", r.key, body); err != nil {
		if wl.failed.Add(1) == 1 {
			fmt.Fprintf(r.o.Log, "bench: write: %v\n", err)
		}
		return
	}
	wl.resp[i] = r.now()
}

// writeFor writes for d: at rate a second, each write on its own so that
// a slow one does not delay the next, or with rate 0 from writers
// goroutines back to back.
func (r *rtRun) writeFor(ctx context.Context, wl *writeLog, rate, writers int, d time.Duration) {
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	if rate > 0 {
		interval := time.Second / time.Duration(rate)
		for next := time.Now(); next.Before(end) && ctx.Err() == nil; next = next.Add(interval) {
			time.Sleep(time.Until(next))
			i, ok := wl.take()
			if !ok {
				break
			}
			wg.Go(func() { r.write(ctx, wl, i) })
		}
	}
	if rate == 0 {
		for range writers {
			wg.Go(func() {
				for time.Now().Before(end) && ctx.Err() == nil {
					i, ok := wl.take()
					if !ok {
						return
					}
					r.write(ctx, wl, i)
				}
			})
		}
	}
	wg.Wait()
}
