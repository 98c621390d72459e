package api

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReady answers 200 when the database answers and every migration
// is applied, and 503 otherwise or while the server drains.
func handleReady(s store.Store, draining *atomic.Bool) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if draining.Load() {
			return basalt.Errorf(basalt.CodeUnavailable, "The server is shutting down.")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			return &basalt.Error{Code: basalt.CodeUnavailable, Message: "The database does not answer.", Err: err}
		}
		ms, err := s.MigrationStatus(ctx)
		if err != nil {
			return &basalt.Error{Code: basalt.CodeUnavailable, Message: "The migration state cannot be read.", Err: err}
		}
		for _, m := range ms {
			if m.Applied.IsZero() {
				return basalt.Errorf(basalt.CodeUnavailable, "Migration %d (%s) is not applied; run basalt migrate up.", m.Version, m.Name)
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
}
