package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"basalt.dev/basalt/api"
	"basalt.dev/basalt/api/apitest"
)

// answer is what a concurrent request got; the goroutines that make them
// may not stop the test, so they only collect.
type answer struct {
	status     int
	retryAfter string
	code       string
	err        error
}

func fetch(c *http.Client, url, key string) answer {
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		var p struct{ Code string }
		json.Unmarshal(body, &p)
		a.code = p.Code
	}
	return a
}

// fetchAll makes the requests concurrently and returns their answers in
// order.
func fetchAll(c *http.Client, key string, urls ...string) []answer {
	out := make([]answer, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() { out[i] = fetch(c, u, key) })
	}
	wg.Wait()
	return out
}

// wantAll fails the test for each answer that is not status (with the
// problem code if not empty; a 503 must also say when to retry).
func wantAll(t *testing.T, what string, answers []answer, status int, code string) {
	t.Helper()
	for i, a := range answers {
		if a.err != nil || a.status != status || a.code != code || (status == 503 && a.retryAfter != "1") {
			t.Errorf("%s %d = %d, code %q, Retry-After %q, %v; want %d %s", what, i, a.status, a.code, a.retryAfter, a.err, status, code)
		}
	}
}

// slowRoute adds GET /test/slow to s: each request announces itself on
// entered and answers 200 once release is closed.
func slowRoute(s *apitest.Server) (entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 100), make(chan struct{})
	api.HandleForTest(s.App.Handler(), "GET /test/slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	return entered, release
}

// metric reads one sample of /metrics, -1 if absent.
func metric(t *testing.T, s *apitest.Server, name string) float64 {
	t.Helper()
	body := s.Do(t, apitest.Request{Method: "GET", Path: "/metrics"}).Body
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func TestShedOverload(t *testing.T) {
	t.Parallel()
	cfg := apitest.Config(t, apitest.SQLite)
	cfg.ShedMinLimit, cfg.ShedInitialLimit, cfg.ShedMaxLimit, cfg.ShedQueue = 1, 4, 4, 0
	s := apitest.StartConfig(t, cfg)
	s.Admin(t, "POST", "/api/collections", postsCollection, http.StatusCreated)
	s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"id": "first", "title": "Hello"}, http.StatusCreated)
	entered, release := slowRoute(s)

	// Four slow requests take every permit.
	held := make(chan []answer)
	go func() {
		held <- fetchAll(s.Client, "", s.URL+"/test/slow", s.URL+"/test/slow", s.URL+"/test/slow", s.URL+"/test/slow")
	}()
	for range 4 {
		<-entered
	}

	// The flood: each further request is refused, and answered while the
	// four are still being worked on, so without waiting for them.
	var flood []string
	for range 20 {
		flood = append(flood, s.URL+"/test/slow", s.URL+"/api/collections/posts/records/first")
	}
	wantAll(t, "flood request", fetchAll(s.Client, s.AdminKey, flood...), 503, "overloaded")

	// Probes, metrics and realtime streams are never shed.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := s.Do(t, apitest.Request{Method: "GET", Path: path}); r.StatusCode != 200 {
			t.Errorf("GET %s while overloaded = %d %s, want 200", path, r.StatusCode, r.Body)
		}
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/realtime?subscribe=posts", nil)
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	if resp, err := s.Client.Do(req); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("GET /api/realtime while overloaded = %v, %v; want a 200 event stream", resp, err)
	} else {
		resp.Body.Close()
	}
	for name, want := range map[string]float64{"basalt_shed_inflight": 4, "basalt_shed_limit": 4, `basalt_shed_rejected_total{reason="concurrency"}`: 40} {
		if got := metric(t, s, name); got != want {
			t.Errorf("%s = %v while overloaded, want %v", name, got, want)
		}
	}

	// The admitted requests finish normally.
	close(release)
	wantAll(t, "admitted request", <-held, 200, "")

	// Afterwards a burst as large as the limit is served whole.
	var burst []string
	for range 4 {
		burst = append(burst, s.URL+"/api/collections/posts/records/first")
	}
	wantAll(t, "request after the flood", fetchAll(s.Client, s.AdminKey, burst...), 200, "")
	if got := metric(t, s, `basalt_shed_rejected_total{reason="concurrency"}`); got != 40 {
		t.Errorf("basalt_shed_rejected_total = %v after the flood, want 40 still", got)
	}
}

func TestShedQueue(t *testing.T) {
	t.Parallel()
	cfg := apitest.Config(t, apitest.SQLite)
	// One permit, and room for one more (the queue's multiple) to wait;
	// the wait is long enough never to run out in the test.
	cfg.ShedMinLimit, cfg.ShedInitialLimit, cfg.ShedMaxLimit, cfg.ShedQueue, cfg.ShedQueueWait = 1, 1, 1, 1, 1<<40
	s := apitest.StartConfig(t, cfg)
	entered, release := slowRoute(s)

	held := make(chan []answer)
	go func() { held <- fetchAll(s.Client, "", s.URL+"/test/slow") }()
	<-entered
	queued := make(chan []answer)
	go func() { queued <- fetchAll(s.Client, "", s.URL+"/test/slow", s.URL+"/test/slow") }()
	for i := 0; metric(t, s, "basalt_shed_queued") != 2; i++ {
		if i == 10000 {
			t.Fatal("two requests never queued")
		}
	}
	// The queue holds twice its multiple of the limit: the next is refused.
	wantAll(t, "request over a full queue", fetchAll(s.Client, "", s.URL+"/test/slow"), 503, "overloaded")
	close(release)
	wantAll(t, "held or queued request", append(<-held, <-queued...), 200, "")
	if got := metric(t, s, `basalt_shed_rejected_total{reason="concurrency"}`); got != 1 {
		t.Errorf("basalt_shed_rejected_total = %v, want 1", got)
	}
}

func TestShedOff(t *testing.T) {
	t.Parallel()
	cfg := apitest.Config(t, apitest.SQLite)
	cfg.Shed = false
	s := apitest.StartConfig(t, cfg)
	entered, release := slowRoute(s)
	var urls []string
	for range 100 {
		urls = append(urls, s.URL+"/test/slow")
	}
	done := make(chan []answer)
	go func() { done <- fetchAll(s.Client, "", urls...) }()
	for range 100 {
		<-entered
	}
	close(release)
	wantAll(t, "request without shedding", <-done, 200, "")
	if got := metric(t, s, "basalt_shed_limit"); got != -1 {
		t.Errorf("basalt_shed_limit = %v with shedding off, want no such metric", got)
	}
}
