package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// scenario is one kind of request, made repeatedly.
type scenario struct {
	name    string
	target  vegeta.Targeter
	ceiling bool // served by the ceiling process
}

func scenarios(base, ceiling, key string, ids []string) []scenario {
	// Uncompressed, as the ceiling answers: both send the same bytes. (Go's
	// client would otherwise ask for gzip, which Basalt does for pages
	// over 1 KiB: a sixth of its processor time on a 20-record page.)
	auth := http.Header{"Authorization": {"Bearer " + key}, "Accept-Encoding": {"identity"}}
	jsonAuth := http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}, "Accept-Encoding": {"identity"}}
	var n atomic.Int64
	get := func(url string, h http.Header) vegeta.Targeter { return byID(url, h, ids) }
	return []scenario{
		{"ceiling: bare net/http GET by id", get(ceiling+"/records/", nil), true},
		{"GET by id", get(base+"/api/collections/posts/records/", auth), false},
		{"bare list (for reference, not the ceiling)", func(t *vegeta.Target) error {
			t.Method, t.URL = "GET", fmt.Sprintf("%s/list?min=%d", ceiling, rand.IntN(100000))
			return nil
		}, true},
		{"list, indexed filter and sort, 20 a page", listPage(base, auth, 20), false},
		// A read-heavy feed: many clients ask for the same 1,000 pages,
		// which the list cache serves from memory once read.
		{"list, 1,000 popular pages, same query", func(t *vegeta.Target) error {
			t.Method, t.Header = "GET", auth
			t.URL = fmt.Sprintf("%s/api/collections/posts/records?filter=views%%20%%3E%%3D%%20%d&sort=views&limit=20", base, 100*rand.IntN(1000))
			return nil
		}, false},
		{"create", func(t *vegeta.Target) error {
			t.Method, t.URL, t.Header = "POST", base+"/api/collections/posts/records", jsonAuth
			t.Body = []byte(recordBody(int(n.Add(1)) + 1_000_000))
			return nil
		}, false},
	}
}

// listPage reads pages of limit records of the seeded collection, each
// from a random value of the indexed field views and sorted on it: a
// query the list cache seldom holds.
func listPage(base string, h http.Header, limit int) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		t.Method, t.Header = "GET", h
		t.URL = fmt.Sprintf("%s/api/collections/posts/records?filter=views%%20%%3E%%3D%%20%d&sort=views&limit=%d", base, rand.IntN(100000), limit)
		return nil
	}
}

// byID reads a random one of ids from url, the collection's records path.
func byID(url string, h http.Header, ids []string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header = "GET", url+ids[rand.IntN(len(ids))], h
		return nil
	}
}

// closedLoop makes requests at fixed concurrency for d: as many workers
// as concurrency, each sending its next request when the last one
// answered.
func closedLoop(tr vegeta.Targeter, name string, concurrency int, d time.Duration) *vegeta.Metrics {
	a := vegeta.NewAttacker(vegeta.Workers(uint64(concurrency)), vegeta.MaxWorkers(uint64(concurrency)),
		vegeta.Connections(concurrency), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	var m vegeta.Metrics
	for res := range a.Attack(tr, vegeta.Rate{}, d, name) {
		m.Add(res)
	}
	m.Close()
	return &m
}

// attack runs a scenario at fixed concurrency.
func attack(sc scenario, o Options, p *process) Result {
	run := func(d time.Duration) *vegeta.Metrics { return closedLoop(sc.target, sc.name, o.Concurrency, d) }
	run(o.Warmup)
	pid := p.cmd.Process.Pid
	cpu0 := cpuTime(pid)
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		if p.pprof != "" {
			profile(p.pprof, o.Duration-time.Second, filepath.Join(o.ProfileDir, slug(sc.name)+".pprof"), o.Log)
		}
	}()
	m := run(o.Duration)
	cpu := cpuTime(pid) - cpu0
	<-profiled
	errors := uint64(0)
	for code, n := range m.StatusCodes {
		if !strings.HasPrefix(code, "2") {
			errors += uint64(n)
		}
	}
	res := Result{Name: sc.name, Requests: m.Requests, Rate: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99, Errors: errors}
	if m.Requests > 0 {
		res.CPU = cpu / time.Duration(m.Requests)
	}
	return res
}

// profile saves a CPU profile of d from the profiler at addr.
func profile(addr string, d time.Duration, path string, log io.Writer) {
	saveProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(1, int(d.Seconds()))), path, log)
}

// saveProfile saves what the profiler serves at url (a CPU profile, or a
// snapshot such as the heap) to path.
func saveProfile(url, path string, log io.Writer) {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintf(log, "bench: profile: %v\n", err)
		return
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fmt.Fprintf(log, "bench: profile: %v\n", err)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(log, "bench: profile: %v\n", err)
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
	fmt.Fprintf(log, "bench: wrote %s\n", path)
}

func slug(name string) string {
	name, _, _ = strings.Cut(name, ":")
	return strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(name), " ", "-"), ",", "")
}
