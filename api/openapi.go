package api

import (
	"net/http"

	"basalt.dev/basalt/records"
)

// handleOpenAPI serves the OpenAPI 3.1 description of the live API.
func handleOpenAPI(svc *records.Service, version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, OpenAPI(svc.Collections(r.Context()), version))
	})
}
