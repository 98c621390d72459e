package api_test

import (
	"fmt"
	"strings"
	"testing"

	"basalt.dev/basalt/api/apitest"
)

func ptr(s string) *string { return &s }

// TestAccessRules exercises rules over HTTP: ownership, mass assignment,
// hidden and read-only fields, anonymous access and global collections.
func TestAccessRules(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		own := "owner = @auth.id"
		s.Admin(t, "POST", "/api/collections", map[string]any{
			"name": "notes",
			"fields": []map[string]any{
				{"name": "owner", "type": "text"}, {"name": "text", "type": "text"},
				{"name": "secret", "type": "text", "hidden": true}, {"name": "status", "type": "text", "readonly": true, "default": "new"},
			},
			"rules": map[string]any{"list": own, "view": own, "create": own, "update": own + " && @request.body.status = null", "delete": own},
		}, 201)
		ada, bob := signup(t, s, "ada@example.com"), signup(t, s, "bob@example.com")
		adaID := as(t, s, ada, "GET", "/api/auth/me", nil, 200)["id"].(string)
		bobID := as(t, s, bob, "GET", "/api/auth/me", nil, 200)["id"].(string)
		const notes = "/api/collections/notes/records"

		note := as(t, s, ada, "POST", notes, map[string]any{"owner": adaID, "text": "mine"}, 201)
		if _, leaked := note["secret"]; leaked || note["status"] != "new" {
			t.Errorf("a user's view of its note = %v; want no secret and the default status", note)
		}
		id := note["id"].(string)
		as(t, s, ada, "POST", notes, map[string]any{"owner": bobID, "text": "for bob"}, 403) // mass assignment
		as(t, s, ada, "POST", notes, map[string]any{"owner": adaID, "secret": "x"}, 400)     // hidden: unknown to users
		as(t, s, ada, "POST", notes, map[string]any{"owner": adaID, "status": "done"}, 400)  // read-only
		s.Admin(t, "PATCH", notes+"/"+id, map[string]any{"secret": "s3cret"}, 200)

		if items := as(t, s, bob, "GET", notes, nil, 200)["items"].([]any); len(items) != 0 {
			t.Errorf("bob lists %v, want none of ada's notes", items)
		}
		as(t, s, bob, "GET", notes+"/"+id, nil, 404)
		as(t, s, bob, "PATCH", notes+"/"+id, map[string]any{"text": "mine now"}, 404)
		as(t, s, bob, "DELETE", notes+"/"+id, nil, 404)
		as(t, s, ada, "PATCH", notes+"/"+id, map[string]any{"owner": bobID}, 403) // the rule must hold after too
		as(t, s, ada, "PATCH", notes+"/"+id, map[string]any{"text": "edited"}, 200)

		// Hidden fields cannot be probed through filters, sorts or fields.
		for _, q := range []string{"filter=" + q(`secret = "s3cret"`), "sort=secret", "fields=id,secret"} {
			as(t, s, ada, "GET", notes+"?"+q, nil, 400)
		}
		list := as(t, s, ada, "GET", notes+"?filter="+q(`text ~ "edit"`), nil, 200)["items"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["secret"] != nil {
			t.Errorf("ada's list = %v; want her note without the secret", list)
		}
		if r := s.Admin(t, "GET", notes+"/"+id, nil, 200); r["secret"] != "s3cret" {
			t.Errorf("an admin key sees %v, want the secret", r["secret"])
		}
		// Anonymous callers have no identity: owner = @auth.id holds for nothing.
		anon := s.Do(t, apitest.Request{Method: "GET", Path: notes})
		if anon.StatusCode != 200 || strings.Contains(string(anon.Body), id) {
			t.Errorf("anonymous list = %d %s, want an empty page", anon.StatusCode, anon.Body)
		}
		as(t, s, "", "POST", notes, map[string]any{"owner": "", "text": "x"}, 403)
		as(t, s, ada, "DELETE", notes+"/"+id, nil, 204)

		// An invalid rule is refused when the collection is defined.
		r := s.Do(t, apitest.Request{Method: "PATCH", Path: "/api/collections/notes", Key: s.AdminKey, Body: map[string]any{"rules": map[string]any{"list": "owner = @auth.nope"}}})
		if r.StatusCode != 400 || !strings.Contains(string(r.Body), "rules.list") {
			t.Errorf("PATCH with an unknown variable = %d %s, want 400 naming rules.list", r.StatusCode, r.Body)
		}
	})
}

func TestGlobalCollections(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		s.Admin(t, "POST", "/api/collections", map[string]any{
			"name": "products", "global": true, "fields": []map[string]any{{"name": "name", "type": "text"}},
			"rules": map[string]any{"list": "", "view": ""},
		}, 201)
		for i := range 3 {
			s.Admin(t, "POST", "/api/collections/products/records", map[string]any{"name": fmt.Sprint("p", i)}, 201)
		}
		ada := signup(t, s, "ada@example.com")
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, 201)["id"].(string)
		adaAcme := switchTo(t, s, ada, acme)
		for _, tok := range []string{ada, adaAcme, ""} {
			if items := as(t, s, tok, "GET", "/api/collections/products/records", nil, 200)["items"].([]any); len(items) != 3 {
				t.Errorf("global list = %d items, want 3 for every tenant and anonymous callers", len(items))
			}
		}
		as(t, s, adaAcme, "POST", "/api/collections/products/records", map[string]any{"name": "mine"}, 403)
		s.Admin(t, "PATCH", "/api/collections/products", map[string]any{"global": false}, 422)
	})
}
