package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecoverPanics(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	m := NewMetrics(nopRegisterer{})
	h := observe(&accessLog{log: log}, m, recoverPanics(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})))
	for range 2 { // the server keeps working after a panic
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		var p map[string]any
		if w.Code != 500 || json.Unmarshal(w.Body.Bytes(), &p) != nil || p["code"] != "internal" {
			t.Fatalf("panic answered %d %s, want a 500 problem", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "boom") {
			t.Errorf("the panic value leaked to the client: %s", w.Body)
		}
	}
	if !strings.Contains(logged.String(), "boom") || !strings.Contains(logged.String(), "stack") {
		t.Errorf("the panic was not logged with its stack: %s", logged.String())
	}
}

func BenchmarkAccessLog(b *testing.B) {
	for _, tc := range []struct {
		name string
		a    *accessLog
	}{
		{"hand", &accessLog{w: io.Discard, log: slog.New(slog.NewJSONHandler(io.Discard, nil))}},
		{"slog", &accessLog{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/api/collections/posts/records/01m8jf0s59v4w0xqhe2nhbqhvr", nil)
			info := &reqInfo{id: "8ab34a8c5b85fc4a512f1dab", route: "GET /api/collections/{name}/records/{id}", tenant: "default", principal: "mum656pmhimswrlv"}
			b.ReportAllocs()
			for b.Loop() {
				tc.a.write(r, info, 200, 341, 470*time.Microsecond)
			}
		})
	}
}

func TestAccessLogMatchesSlog(t *testing.T) {
	var hand, viaSlog strings.Builder
	r := httptest.NewRequest("GET", "/p/\"x\"", nil)
	info := &reqInfo{id: "id", route: "GET /p/{x}", tenant: "default", principal: "k", code: "internal", err: errors.New("db \"down\"")}
	(&accessLog{w: &hand, log: slog.New(slog.NewJSONHandler(io.Discard, nil))}).write(r, info, 500, 12, 1500*time.Microsecond)
	(&accessLog{log: slog.New(slog.NewJSONHandler(&viaSlog, nil))}).write(r, info, 500, 12, 1500*time.Microsecond)
	var a, b map[string]any
	if err := json.Unmarshal([]byte(hand.String()), &a); err != nil {
		t.Fatalf("hand-written line is not JSON: %v\n%s", err, hand.String())
	}
	json.Unmarshal([]byte(viaSlog.String()), &b)
	delete(a, "time")
	delete(b, "time")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("access log line differs from slog's:\n hand %v\n slog %v", a, b)
	}
}
