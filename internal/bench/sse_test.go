package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The load tool's bare client reads a real net/http event stream (chunked,
// flushed frame by frame) and records each write's number as it arrives.
func TestStreamRecordsArrivals(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\n")
		w.(http.Flusher).Flush()
		for _, n := range []int{7, 8, 1234} {
			fmt.Fprintf(w, "id: %d\nevent: create\ndata: {\"record\":{\"id\":\"x\",\"title\":\"w%d\",\"n\":%d}}\n\n", n, n, n)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, ": ping\n\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if _, err := dialStream(t.Context(), addr, net.IPv4(127, 0, 0, 1), "/", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("dialStream(wrong key) = %v, want a 401 error", err)
	}
	s, err := dialStream(t.Context(), addr, net.IPv4(127, 0, 0, 1), "/", "k")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.read(func() int64 { return int64(time.Since(start)) })
	var got []int64
	for _, a := range s.arrivals {
		got = append(got, a.seq)
	}
	if fmt.Sprint(got) != "[7 8 1234]" || s.got.Load() != 3 {
		t.Errorf("arrivals = %v (counted %d), want [7 8 1234]", got, s.got.Load())
	}
	if !s.ended {
		t.Error("a stream the server ended is not marked ended")
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	sorted := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 6}, {0.99, 10}, {1, 10}, {0, 1}} {
		if got := quantile(sorted, tt.q); got != tt.want {
			t.Errorf("quantile(1..10, %v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
}
