package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecoverPanics(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	m := NewMetrics(nopRegisterer{})
	h := observe(log, m, recoverPanics(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
