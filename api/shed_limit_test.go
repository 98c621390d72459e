package api

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestShedLimitAdapts: the limit falls while more requests come than a
// bottleneck serves, so that they queue and slow down, and comes back to
// the initial limit once they are few again, after which a burst as
// large as it is served whole. The windows are short so that the limit
// moves within the test; the server is real, over loopback.
func TestShedLimitAdapts(t *testing.T) {
	t.Parallel()
	const initial = 16
	sh := newShedder(ShedConfig{Enabled: true, MinLimit: 1, InitialLimit: initial, MaxLimit: initial, Window: time.Millisecond, WindowSamples: 5}, prometheus.NewRegistry())
	// The bottleneck serves one request at a time, as a saturated
	// database or processor does: the more wait, the slower each is.
	var bottleneck sync.Mutex
	srv := httptest.NewServer(sh.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bottleneck.Lock()
		time.Sleep(time.Millisecond)
		bottleneck.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	// round makes n requests at once and returns the statuses not 204.
	round := func(n int) []int {
		var mu sync.Mutex
		var bad []int
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				resp, err := srv.Client().Get(srv.URL)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					bad = append(bad, -1)
				case resp.StatusCode != http.StatusNoContent:
					bad = append(bad, resp.StatusCode)
				}
				if err == nil {
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		return bad
	}
	// Episodes of a calm baseline, one request at a time, then a flood:
	// the limit follows a change of latency, so on a busy machine, where
	// one calm spell may itself be slow, a later episode shows it.
	for episode := 0; sh.limiter.Limit() == initial; episode++ {
		if episode == 20 {
			t.Fatalf("the limit stayed %d through %d floods of queued requests", initial, episode)
		}
		for range 50 {
			round(1)
		}
		for range 20 {
			if round(4 * initial); sh.limiter.Limit() < initial {
				break
			}
		}
	}
	t.Logf("limit fell to %d", sh.limiter.Limit())
	for i := 0; sh.limiter.Limit() < initial; i++ {
		if i == 5000 {
			t.Fatalf("the limit is %d after %d rounds of fast requests, want it back to %d", sh.limiter.Limit(), i, initial)
		}
		round(1)
	}
	if bad := round(initial); len(bad) > 0 {
		t.Errorf("a burst of %d after the limit recovered got %v, want every request served", initial, bad)
	}
}

// BenchmarkShed is the cost of admitting a request under the limit,
// against the same handler without shedding.
func BenchmarkShed(b *testing.B) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	cfg := ShedConfig{Enabled: true, MinLimit: 4, InitialLimit: 64, MaxLimit: 1000, Queue: 1, QueueWait: 50 * time.Millisecond}
	on := newShedder(cfg, prometheus.NewRegistry())
	// The delay guard at a target no benchmark reaches: the cost of
	// admitting, with the histogram read every 10 ms.
	cfg.Delay = time.Hour
	delay := newShedder(cfg, prometheus.NewRegistry())
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"off", noop}, {"on", on.wrap(noop)}, {"delay", delay.wrap(noop)}} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/api/collections/posts/records/x", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				for pb.Next() {
					tc.h.ServeHTTP(w, r)
				}
			})
		})
	}
}
