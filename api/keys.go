package api

import (
	"net/http"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/store"
)

func keyAudit(r *http.Request, tenant, action, target string) *store.AuditEntry {
	return store.NewAuditEntry(r.Context(), time.Now(), tenant, action, target, nil)
}

func handleKeyCreate(keys *auth.Keys, st store.Store) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		tenant, err := keys.ManagedTenant(r.Context())
		if err != nil {
			return err
		}
		var in struct {
			Name      string      `json:"name"`
			Role      basalt.Role `json:"role"`
			Scopes    []string    `json:"scopes"`
			ExpiresIn string      `json:"expires_in"`
		}
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		spec := auth.KeySpec{Name: in.Name, Role: in.Role, Tenant: tenant, Scopes: in.Scopes}
		if in.ExpiresIn != "" {
			d, err := time.ParseDuration(in.ExpiresIn)
			if err != nil || d <= 0 {
				return basalt.Invalid("Invalid key.", basalt.FieldError{Field: "expires_in", Code: "invalid", Message: "expires_in must be a duration such as 720h"})
			}
			spec.Expires = time.Now().Add(d)
		}
		secret, k, err := keys.CreateScoped(r.Context(), spec)
		if err != nil {
			return err
		}
		if err := st.AuditAppend(r.Context(), keyAudit(r, tenant, "key.create", k.ID)); err != nil {
			return err
		}
		v := auth.ViewOf(k)
		v.Key = secret
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, v)
		return nil
	})
}

func handleKeyList(keys *auth.Keys) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		tenant, err := keys.ManagedTenant(r.Context())
		if err != nil {
			return err
		}
		list, err := keys.List(r.Context(), tenant)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": list})
		return nil
	})
}

func handleKeyRevoke(keys *auth.Keys) http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		tenant, err := keys.ManagedTenant(r.Context())
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		if err := keys.Revoke(r.Context(), tenant, id, keyAudit(r, tenant, "key.revoke", id)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
