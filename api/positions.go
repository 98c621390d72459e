package api

import (
	"context"
	"net/http"
	"strconv"

	"basalt.dev/basalt"
	"basalt.dev/basalt/cache"
)

// The headers of read-your-writes across nodes: a record write answers
// with the log position of its change, and a read that sends it back is
// answered with data at least that new, from any node (docs/api.md).
const (
	headerPosition    = "Basalt-Position"
	headerMinPosition = "Basalt-Min-Position"
)

// readContext returns the context of a read: with the minimum log
// position the request asks for, if any.
func readContext(r *http.Request) (context.Context, error) {
	v := r.Header.Get(headerMinPosition)
	if v == "" {
		return r.Context(), nil
	}
	pos, err := strconv.ParseInt(v, 10, 64)
	if err != nil || pos < 0 {
		return nil, basalt.Invalid("Invalid "+headerMinPosition+" header.", basalt.FieldError{Field: headerMinPosition, Code: "invalid",
			Message: headerMinPosition + " must be a log position: the whole number a write returned in " + headerPosition})
	}
	return cache.WithMinPosition(r.Context(), pos), nil
}

// writeContext returns the context of a write, which notes the log
// position of the change for setPosition.
func writeContext(r *http.Request) (context.Context, *cache.Written) {
	return cache.WithWritten(r.Context())
}

// setPosition tells the client the log position of its write.
func setPosition(w http.ResponseWriter, written *cache.Written) {
	if pos := written.Position(); pos > 0 {
		w.Header().Set(headerPosition, strconv.FormatInt(pos, 10))
	}
}
