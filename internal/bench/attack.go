package bench

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// scenario is one kind of request, made repeatedly.
type scenario struct {
	name   string
	target vegeta.Targeter
}

func scenarios(base, ceiling, key string, ids []string) []scenario {
	auth := http.Header{"Authorization": {"Bearer " + key}}
	jsonAuth := http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
	var n atomic.Int64
	get := func(url string, h http.Header) vegeta.Targeter {
		return func(t *vegeta.Target) error {
			t.Method, t.URL, t.Header = "GET", url+ids[rand.IntN(len(ids))], h
			return nil
		}
	}
	return []scenario{
		{"ceiling: bare net/http GET by id", get(ceiling+"/records/", nil)},
		{"GET by id", get(base+"/api/collections/posts/records/", auth)},
		{"list, indexed filter and sort, 20 a page", func(t *vegeta.Target) error {
			t.Method, t.Header = "GET", auth
			t.URL = fmt.Sprintf("%s/api/collections/posts/records?filter=views%%20%%3E%%3D%%20%d&sort=views&limit=20", base, rand.IntN(100000))
			return nil
		}},
		{"create", func(t *vegeta.Target) error {
			t.Method, t.URL, t.Header = "POST", base+"/api/collections/posts/records", jsonAuth
			t.Body = []byte(recordBody(int(n.Add(1)) + 1_000_000))
			return nil
		}},
	}
}

// attack runs a scenario at fixed concurrency: as many workers as
// Concurrency, each sending its next request when the last one answered.
func attack(sc scenario, o Options) Result {
	run := func(d time.Duration) *vegeta.Metrics {
		a := vegeta.NewAttacker(vegeta.Workers(uint64(o.Concurrency)), vegeta.MaxWorkers(uint64(o.Concurrency)),
			vegeta.Connections(o.Concurrency), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
		var m vegeta.Metrics
		for res := range a.Attack(sc.target, vegeta.Rate{}, d, sc.name) {
			m.Add(res)
		}
		m.Close()
		return &m
	}
	run(o.Warmup)
	m := run(o.Duration)
	errors := uint64(0)
	for code, n := range m.StatusCodes {
		if !strings.HasPrefix(code, "2") {
			errors += uint64(n)
		}
	}
	return Result{Name: sc.name, Requests: m.Requests, Rate: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99, Errors: errors}
}
