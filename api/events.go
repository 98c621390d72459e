package api

import (
	"net/http"
	"strconv"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

// Limits of an event read.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

func handleEventList(s store.Store) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyParams(r, "after", "limit"); err != nil {
			return err
		}
		q := r.URL.Query()
		after, err := intParam(q.Get("after"), "after", 0, 0, 1<<62)
		if err != nil {
			return err
		}
		limit, err := intParam(q.Get("limit"), "limit", defaultEventLimit, 1, maxEventLimit)
		if err != nil {
			return err
		}
		events, err := s.EventList(r.Context(), &store.EventListParams{TenantID: basalt.TenantFrom(r.Context()), After: after, Limit: int(limit)})
		if err != nil {
			return err
		}
		if events == nil {
			events = []basalt.Event{}
		}
		next := after
		if len(events) > 0 {
			next = events[len(events)-1].Position
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": events, "next_after": next})
		return nil
	})
}

func intParam(s, name string, def, lo, hi int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, basalt.Invalid("Invalid "+name+".", basalt.FieldError{Field: name, Code: "out_of_range",
			Message: name + " must be a whole number from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10)})
	}
	return n, nil
}
