package api_test

import (
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
)

func TestScopedKeys(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		const recs = "/api/collections/posts/records"
		reader := s.Admin(t, "POST", "/api/keys", map[string]any{"name": "reader", "role": "service", "scopes": []string{"records:read"}}, 201)
		readKey := reader["key"].(string)
		as(t, s, readKey, "GET", recs, nil, 200)
		as(t, s, readKey, "POST", recs, map[string]any{"title": "x"}, 403)
		as(t, s, readKey, "GET", "/api/collections", nil, 403)
		s.Admin(t, "POST", "/api/keys", map[string]any{"name": "x", "role": "service", "scopes": []string{"collections"}}, 400) // not a service scope

		list := s.Admin(t, "GET", "/api/keys", nil, 200)["items"].([]any)
		if len(list) < 3 || strings.Contains(strings.Join([]string{toJSON(list)}, ""), readKey) {
			t.Errorf("key list = %v; want every key and no secret", list)
		}
		as(t, s, s.AdminKey, "DELETE", "/api/keys/"+reader["id"].(string), nil, 204)
		as(t, s, readKey, "GET", recs, nil, 401)

		// A key with only the keys scope manages keys but cannot make one
		// stronger than itself.
		keyman := s.Admin(t, "POST", "/api/keys", map[string]any{"name": "keyman", "role": "admin", "scopes": []string{"keys", "records:read"}}, 201)["key"].(string)
		as(t, s, keyman, "POST", "/api/keys", map[string]any{"name": "full", "role": "admin"}, 403)
		as(t, s, keyman, "POST", "/api/keys", map[string]any{"name": "writer", "role": "service", "scopes": []string{"records:write"}}, 403)
		as(t, s, keyman, "POST", "/api/keys", map[string]any{"name": "reader2", "role": "service", "scopes": []string{"records:read"}}, 201)
		as(t, s, keyman, "GET", "/api/keys", nil, 200)

		short := s.Admin(t, "POST", "/api/keys", map[string]any{"name": "short", "role": "service", "expires_in": "50ms"}, 201)["key"].(string)
		as(t, s, short, "GET", recs, nil, 200)
		time.Sleep(100 * time.Millisecond)
		// The verified key may be cached; its expiry still applies.
		as(t, s, short, "GET", recs, nil, 401)

		// Users manage the keys of a tenant they own, not of one they are a member of.
		ada := signup(t, s, "ada@example.com")
		as(t, s, ada, "POST", "/api/keys", map[string]any{"name": "mine", "role": "service"}, 403)
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, 201)["id"].(string)
		adaAcme := switchTo(t, s, ada, acme)
		k := as(t, s, adaAcme, "POST", "/api/keys", map[string]any{"name": "acme backend", "role": "service"}, 201)
		if !strings.HasPrefix(k["key"].(string), "bsk_") {
			t.Errorf("created key = %v", k)
		}
		// That key reaches acme's records only.
		as(t, s, k["key"].(string), "GET", recs, nil, 200)
		if items := as(t, s, k["key"].(string), "GET", recs, nil, 200)["items"].([]any); len(items) != 0 {
			t.Errorf("acme's key sees the default tenant's records: %v", items)
		}
	})
}
