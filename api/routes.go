package api

import (
	"net/http"

	"basalt.dev/basalt"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes registers every route of the API; this list is the API.
func (s *Server) routes() {
	admin := []basalt.Role{basalt.RoleAdmin}
	data := []basalt.Role{basalt.RoleAdmin, basalt.RoleService}
	recs := s.d.Records

	s.handle("GET /healthz", handleHealth())
	s.handle("GET /readyz", handleReady(s.d.Store, &s.draining))
	s.handle("GET /metrics", promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{Registry: s.d.Registry}))
	s.handle("GET /api/openapi.json", handleOpenAPI(recs, s.d.Version))

	s.handle("GET /api/collections", s.allow(handleCollectionList(recs), admin...))
	s.handle("POST /api/collections", s.allow(handleCollectionCreate(recs), admin...))
	s.handle("GET /api/collections/{name}", s.allow(handleCollectionGet(recs), admin...))
	s.handle("PATCH /api/collections/{name}", s.allow(handleCollectionUpdate(recs), admin...))
	s.handle("DELETE /api/collections/{name}", s.allow(handleCollectionDelete(recs), admin...))

	s.handle("GET /api/collections/{name}/records", s.allow(handleRecordList(recs), data...))
	s.handle("POST /api/collections/{name}/records", s.allow(handleRecordCreate(recs), data...))
	s.handle("GET /api/collections/{name}/records/{id}", s.allow(handleRecordGet(recs), data...))
	s.handle("PATCH /api/collections/{name}/records/{id}", s.allow(handleRecordUpdate(recs), data...))
	s.handle("DELETE /api/collections/{name}/records/{id}", s.allow(handleRecordDelete(recs), data...))

	s.handle("GET /api/events", s.allow(handleEventList(s.d.Store), admin...))
}

// errorHandler adapts a handler that returns an error: the error becomes
// the problem response.
type errorHandler func(w http.ResponseWriter, r *http.Request) error

func (h errorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeProblem(w, r, err)
	}
}
