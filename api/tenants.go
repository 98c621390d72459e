package api

import (
	"net/http"
	"strconv"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/tenants"
)

func handleTenantCreate(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		t, err := svc.Create(r.Context(), in.Name)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/tenants/"+t.ID)
		writeJSON(w, http.StatusCreated, t)
		return nil
	})
}

func handleTenantList(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ts, err := svc.Mine(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": ts})
		return nil
	})
}

func handleTenantGet(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		t, err := svc.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	})
}

func handleTenantRename(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		t, err := svc.Rename(r.Context(), r.PathValue("id"), in.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	})
}

func handleTenantDelete(svc *tenants.Service, keys *auth.Keys) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.Delete(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		keys.ForgetTenant(r.PathValue("id")) // the tenant's keys went with it
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleMemberList(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		ms, err := svc.Members(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": ms})
		return nil
	})
}

func handleMemberRole(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Role string `json:"role"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		if err := svc.SetRole(r.Context(), r.PathValue("id"), r.PathValue("user"), in.Role); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleMemberRemove(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.RemoveMember(r.Context(), r.PathValue("id"), r.PathValue("user")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleRoleList(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		roles, err := svc.Roles(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": roles})
		return nil
	})
}

func handleRoleCreate(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		if err := svc.CreateRole(r.Context(), r.PathValue("id"), in.Name); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]string{"name": in.Name})
		return nil
	})
}

func handleRoleDelete(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.DeleteRole(r.Context(), r.PathValue("id"), r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleInviteCreate(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Email string `json:"email"`
			Role  string `json:"role"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		inv, err := svc.Invite(r.Context(), r.PathValue("id"), in.Email, in.Role)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, inv)
		return nil
	})
}

func handleInviteList(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		invs, err := svc.Invites(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": invs})
		return nil
	})
}

func handleInviteDelete(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := svc.WithdrawInvite(r.Context(), r.PathValue("id"), r.PathValue("invite")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func handleInviteAccept(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		token, err := tokenParam(r)
		if err != nil {
			return err
		}
		t, err := svc.Accept(r.Context(), token)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	})
}

func handleTenantExport(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if _, err := svc.Get(r.Context(), id); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", `attachment; filename="tenant-`+id+`.jsonl"`)
		w.Header().Set("Cache-Control", "no-store")
		// Authorization is checked before the first byte; an error after
		// it can only cut the stream short.
		return svc.Export(r.Context(), id, w)
	})
}

func handleAuditList(svc *tenants.Service) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		if err := onlyParams(r, "after", "limit"); err != nil {
			return err
		}
		q := r.URL.Query()
		after, err := intParam(q.Get("after"), "after", 0, 0, 1<<62)
		if err != nil {
			return err
		}
		limit, err := intParam(q.Get("limit"), "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		entries, err := svc.Audit(r.Context(), basalt.TenantFrom(r.Context()), after, int(limit))
		if err != nil {
			return err
		}
		next := after
		if len(entries) > 0 {
			next = entries[len(entries)-1].ID
		}
		if entries == nil {
			entries = nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(entries), "next_after": strconv.FormatInt(next, 10)})
		return nil
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
