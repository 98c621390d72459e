package api

import (
	"net/http"

	"basalt.dev/basalt"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes registers every route of the API; this list is the API.
func (s *Server) routes() {
	recs := s.d.Records

	s.handle("GET /healthz", handleHealth())
	s.handle("GET /readyz", handleReady(s.d.Store, &s.draining))
	s.handle("GET /metrics", promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{Registry: s.d.Registry}))
	s.handle("GET /api/openapi.json", s.optional(handleOpenAPI(recs, s.d.Version)))

	s.handle("GET /api/collections", s.scoped(handleCollectionList(recs), basalt.ScopeCollections))
	s.handle("POST /api/collections", s.scoped(handleCollectionCreate(recs), basalt.ScopeCollections))
	s.handle("GET /api/collections/{name}", s.scoped(handleCollectionGet(recs), basalt.ScopeCollections))
	s.handle("PATCH /api/collections/{name}", s.scoped(handleCollectionUpdate(recs), basalt.ScopeCollections))
	s.handle("DELETE /api/collections/{name}", s.scoped(handleCollectionDelete(recs), basalt.ScopeCollections))

	// Records: API keys pass, users and anonymous callers meet the
	// collection's access rules in the records service.
	s.handle("GET /api/collections/{name}/records", s.optional(handleRecordList(recs)))
	s.handle("POST /api/collections/{name}/records", s.optional(handleRecordCreate(recs)))
	s.handle("GET /api/collections/{name}/records/{id}", s.optional(handleRecordGet(recs)))
	s.handle("PATCH /api/collections/{name}/records/{id}", s.optional(handleRecordUpdate(recs)))
	s.handle("DELETE /api/collections/{name}/records/{id}", s.optional(handleRecordDelete(recs)))

	s.handle("POST /api/keys", s.authed(handleKeyCreate(s.d.Keys, s.d.Store)))
	s.handle("GET /api/keys", s.authed(handleKeyList(s.d.Keys)))
	s.handle("DELETE /api/keys/{id}", s.authed(handleKeyRevoke(s.d.Keys)))
	s.handle("GET /api/events", s.scoped(handleEventList(s.d.Store), basalt.ScopeEvents))

	if s.limits != nil {
		s.handle("GET /api/admin/rate-limits", s.adminKey(s.handleRateLimitList()))
		s.handle("POST /api/admin/rate-limits", s.adminKey(s.handleRateLimitPut()))
		s.handle("GET /api/admin/rate-limits/{name}", s.adminKey(s.handleRateLimitGet()))
		s.handle("PUT /api/admin/rate-limits/{name}", s.adminKey(s.handleRateLimitPut()))
		s.handle("DELETE /api/admin/rate-limits/{name}", s.adminKey(s.handleRateLimitDelete()))
	}

	if s.d.Hub != nil {
		s.handle("GET /api/realtime", s.streaming(s.handleSSE()))
		s.handle("GET /api/realtime/ws", s.streaming(s.handleWS()))
		s.handle("POST /api/realtime/tickets", s.authed(handleTicket(s.d.Tickets)))
		if s.d.Channels != nil && s.d.Presence != nil {
			s.handle("POST /api/realtime/broadcast", s.optional(s.handleBroadcast()))
			s.handle("GET /api/realtime/presence", s.optional(s.handlePresenceList()))
		}
	}

	if users := s.d.Users; users != nil {
		s.handle("POST /api/auth/signup", handleSignup(users))
		s.handle("POST /api/auth/login", handleLogin(users))
		s.handle("POST /api/auth/refresh", handleRefresh(users))
		s.handle("POST /api/auth/logout", s.signedIn(handleLogout(users)))
		s.handle("GET /api/auth/me", s.signedIn(handleMe(users)))
		s.handle("POST /api/auth/switch", s.signedIn(handleSwitch(users)))
		s.handle("GET /api/auth/sessions", s.signedIn(handleSessionList(users)))
		s.handle("DELETE /api/auth/sessions/{id}", s.signedIn(handleSessionRevoke(users)))
		s.handle("POST /api/auth/password", s.signedIn(handlePasswordChange(users)))
		s.handle("GET /api/auth/verify", handleVerify(users))
		s.handle("POST /api/auth/verify", handleVerify(users))
		s.handle("POST /api/auth/verify/request", s.signedIn(handleVerifyRequest(users)))
		s.handle("POST /api/auth/reset/request", handleResetRequest(users))
		s.handle("GET /api/auth/reset", handleReset(users))
		s.handle("POST /api/auth/reset", handleReset(users))
		s.handle("GET /api/auth/unlock", handleUnlock(users))
		s.handle("POST /api/auth/unlock", handleUnlock(users))
		s.handle("POST /api/auth/totp/setup", s.signedIn(handleTOTPSetup(users)))
		s.handle("POST /api/auth/totp/enable", s.signedIn(handleTOTPEnable(users)))
		s.handle("POST /api/auth/totp/disable", s.signedIn(handleTOTPDisable(users)))
		s.handle("GET /.well-known/jwks.json", handleJWKS(s.d.Tokens))
	}
	if ts := s.d.Tenants; ts != nil {
		s.handle("POST /api/tenants", s.authed(handleTenantCreate(ts)))
		s.handle("GET /api/tenants", s.authed(handleTenantList(ts)))
		s.handle("GET /api/tenants/{id}", s.authed(handleTenantGet(ts)))
		s.handle("PATCH /api/tenants/{id}", s.authed(handleTenantRename(ts)))
		s.handle("DELETE /api/tenants/{id}", s.authed(handleTenantDelete(ts, s.d.Keys)))
		s.handle("GET /api/tenants/{id}/export", s.authed(handleTenantExport(ts)))
		s.handle("GET /api/tenants/{id}/members", s.authed(handleMemberList(ts)))
		s.handle("PATCH /api/tenants/{id}/members/{user}", s.authed(handleMemberRole(ts)))
		s.handle("DELETE /api/tenants/{id}/members/{user}", s.authed(handleMemberRemove(ts)))
		s.handle("GET /api/tenants/{id}/roles", s.authed(handleRoleList(ts)))
		s.handle("POST /api/tenants/{id}/roles", s.authed(handleRoleCreate(ts)))
		s.handle("DELETE /api/tenants/{id}/roles/{name}", s.authed(handleRoleDelete(ts)))
		s.handle("GET /api/tenants/{id}/invites", s.authed(handleInviteList(ts)))
		s.handle("POST /api/tenants/{id}/invites", s.authed(handleInviteCreate(ts)))
		s.handle("DELETE /api/tenants/{id}/invites/{invite}", s.authed(handleInviteDelete(ts)))
		s.handle("GET /api/invites/accept", s.signedIn(handleInviteAccept(ts)))
		s.handle("POST /api/invites/accept", s.signedIn(handleInviteAccept(ts)))
		s.handle("GET /api/audit", s.authed(handleAuditList(ts)))
	}
	if q := s.d.Quotas; q != nil {
		s.handle("GET /api/tenants/{id}/usage", s.authed(handleUsage(q)))
		s.handle("PUT /api/tenants/{id}/quotas", s.authed(handleQuotaPut(q)))
	}
}

// errorHandler adapts a handler that returns an error: the error becomes
// the problem response.
type errorHandler func(w http.ResponseWriter, r *http.Request) error

func (h errorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeProblem(w, r, err)
	}
}
