package api

import (
	"net/http"

	"basalt.dev/basalt"
	"basalt.dev/basalt/quota"
)

// This file holds tenants to their request quotas and serves the usage
// and quota routes (package quota). The records and bytes quotas are
// enforced by the store, in the transaction of each record write.

// quotaRoutes are answered even to a tenant at its request quota, so it
// can see why, and the operator can raise the quota. They are counted.
var quotaRoutes = map[string]bool{
	"GET /api/tenants/{id}/usage":  true,
	"PUT /api/tenants/{id}/quotas": true,
}

// countRequest counts an authenticated (or anonymous) request against
// its tenant's request quotas; a tenant at one gets quota_exceeded, 429
// with Retry-After until the quota's period ends.
func (s *Server) countRequest(r *http.Request, p *basalt.Principal) error {
	if s.d.Quotas == nil {
		return nil
	}
	tenant := basalt.DefaultTenant
	if p != nil && p.TenantID != "" {
		tenant = p.TenantID
	}
	enforce := true
	if info := infoFrom(r.Context()); info != nil && quotaRoutes[info.route] {
		enforce = false
	}
	return s.d.Quotas.Admit(r.Context(), tenant, enforce)
}

func handleUsage(q *quota.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		v, err := q.Usage(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, v)
		return nil
	})
}

func handleQuotaPut(q *quota.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in quota.Override
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		v, err := q.SetOverride(r.Context(), r.PathValue("id"), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	})
}
