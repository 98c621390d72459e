package api

import (
	"net/http"

	"basalt.dev/basalt"
	"basalt.dev/basalt/records"
)

// handleOpenAPI serves the OpenAPI 3.1 description of the live API. Only
// callers that may define collections see hidden fields: to everyone
// else the API answers as if they did not exist, and so does this.
func handleOpenAPI(svc *records.Service, version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cols := svc.Collections(r.Context())
		if !basalt.PrincipalFrom(r.Context()).Can(basalt.ScopeCollections) {
			cols = withoutHidden(cols)
		}
		writeJSON(w, http.StatusOK, OpenAPI(cols, version))
	})
}

// withoutHidden returns the collections without their hidden fields, and
// without indexes over them.
func withoutHidden(cols []*basalt.Collection) []*basalt.Collection {
	out := make([]*basalt.Collection, len(cols))
	for i, c := range cols {
		hidden := map[string]bool{}
		for _, f := range c.Fields {
			if f.Hidden {
				hidden[f.Name] = true
			}
		}
		if len(hidden) == 0 {
			out[i] = c
			continue
		}
		v := *c
		v.Fields, v.Indexes = nil, nil
		for _, f := range c.Fields {
			if !hidden[f.Name] {
				v.Fields = append(v.Fields, f)
			}
		}
	indexes:
		for _, ix := range c.Indexes {
			for _, f := range ix.Fields {
				if hidden[f] {
					continue indexes
				}
			}
			v.Indexes = append(v.Indexes, ix)
		}
		out[i] = &v
	}
	return out
}
