package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt/api/apitest"
)

// signup makes a user and returns its access token.
func signup(t *testing.T, s *apitest.Server, email string) string {
	t.Helper()
	r := s.Do(t, apitest.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": email, "password": "correct horse battery " + email}})
	if r.StatusCode != 201 {
		t.Fatalf("signup %s = %d %s", email, r.StatusCode, r.Body)
	}
	return r.JSON(t)["access_token"].(string)
}

// as makes a request with token and fails unless the status is want.
func as(t *testing.T, s *apitest.Server, token, method, path string, body any, want int) map[string]any {
	t.Helper()
	r := s.Do(t, apitest.Request{Method: method, Path: path, Key: token, Body: body})
	if r.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.StatusCode, want, r.Body)
	}
	if len(r.Body) == 0 || r.Header.Get("Content-Type") == "application/x-ndjson" {
		return nil
	}
	return r.JSON(t)
}

// switchTo returns an access token of the user acting in tenant.
func switchTo(t *testing.T, s *apitest.Server, token, tenant string) string {
	t.Helper()
	return as(t, s, token, "POST", "/api/auth/switch", map[string]any{"tenant": tenant}, 200)["access_token"].(string)
}

func TestTenantLifecycle(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		ada := signup(t, s, "ada@example.com")
		bob := signup(t, s, "bob@example.com")
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, 201)
		id := acme["id"].(string)
		if acme["role"] != "owner" {
			t.Errorf("creator's role = %v, want owner", acme["role"])
		}
		as(t, s, bob, "GET", "/api/tenants/"+id, nil, 404) // strangers learn nothing
		as(t, s, bob, "PATCH", "/api/tenants/"+id, map[string]any{"name": "Mine"}, 404)

		// Without mail, the inviter receives the link to pass on.
		inv := as(t, s, ada, "POST", "/api/tenants/"+id+"/invites", map[string]any{"email": "Bob@Example.com", "role": "member"}, 201)
		accept := inv["accept_url"].(string)
		token := accept[strings.Index(accept, "token=")+len("token="):]
		as(t, s, ada, "POST", "/api/invites/accept", map[string]any{"token": token}, 404) // for bob's address only
		as(t, s, bob, "POST", "/api/invites/accept", map[string]any{"token": token}, 200)
		as(t, s, bob, "POST", "/api/invites/accept", map[string]any{"token": token}, 404) // used

		bobAcme := switchTo(t, s, bob, id)
		me := as(t, s, bobAcme, "GET", "/api/auth/me", nil, 200)
		if me["tenant"] != id || me["role"] != "member" {
			t.Errorf("bob after switching = %v", me)
		}
		members := as(t, s, bobAcme, "GET", "/api/tenants/"+id+"/members", nil, 200)["items"].([]any)
		if len(members) != 2 {
			t.Errorf("members = %v", members)
		}
		as(t, s, bob, "PATCH", "/api/tenants/"+id, map[string]any{"name": "Bob's"}, 403) // members cannot manage
		as(t, s, ada, "POST", "/api/tenants/"+id+"/roles", map[string]any{"name": "editor"}, 201)
		bobID := me["id"].(string)
		as(t, s, ada, "PATCH", "/api/tenants/"+id+"/members/"+bobID, map[string]any{"role": "editor"}, 204)
		as(t, s, ada, "PATCH", "/api/tenants/"+id+"/members/"+bobID, map[string]any{"role": "wizard"}, 400)
		// The role change ended Bob's session in Acme (its tokens named the
		// old role): he signs in again.
		bob = as(t, s, "", "POST", "/api/auth/login", map[string]any{"email": "bob@example.com", "password": "correct horse battery bob@example.com"}, 200)["access_token"].(string)
		as(t, s, ada, "DELETE", "/api/tenants/"+id+"/roles/editor", nil, 409) // bob holds it

		// The last owner cannot leave or be demoted.
		adaID := as(t, s, ada, "GET", "/api/auth/me", nil, 200)["id"].(string)
		as(t, s, ada, "DELETE", "/api/tenants/"+id+"/members/"+adaID, nil, 409)
		as(t, s, ada, "PATCH", "/api/tenants/"+id+"/members/"+adaID, map[string]any{"role": "member"}, 409)
		as(t, s, ada, "PATCH", "/api/tenants/"+id, map[string]any{"name": "Acme Inc"}, 200)

		// The audit trail saw it all, for owners and admins.
		adaAcme := switchTo(t, s, ada, id)
		audit := as(t, s, adaAcme, "GET", "/api/audit", nil, 200)["items"].([]any)
		var actions []string
		for _, a := range audit {
			actions = append(actions, a.(map[string]any)["action"].(string))
		}
		for _, want := range []string{"tenant.create", "invite.create", "invite.accept", "role.create", "member.role", "tenant.rename"} {
			if !strings.Contains(strings.Join(actions, ","), want) {
				t.Errorf("audit lacks %s: %v", want, actions)
			}
		}
		as(t, s, switchTo(t, s, bob, id), "GET", "/api/audit", nil, 403)

		// Bob leaves; the owner deletes the tenant.
		as(t, s, bob, "DELETE", "/api/tenants/"+id+"/members/"+bobID, nil, 204)
		as(t, s, bob, "DELETE", "/api/tenants/"+id, nil, 401) // leaving ended his session there
		as(t, s, ada, "DELETE", "/api/tenants/"+id, nil, 204)
		// So did deleting the tenant Ada's session acted in.
		ada = as(t, s, "", "POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": "correct horse battery ada@example.com"}, 200)["access_token"].(string)
		as(t, s, ada, "GET", "/api/tenants/"+id, nil, 404)
		as(t, s, ada, "DELETE", "/api/tenants/default", nil, 403)
	})
}

func TestTenantExport(t *testing.T) {
	s := setup(t, apitest.SQLite)
	for i := range 5 {
		s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"title": fmt.Sprint("t", i)}, 201)
	}
	r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/tenants/default/export", Key: s.AdminKey})
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export = %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(r.Body)))
	for sc.Scan() {
		var line struct {
			Collection string
			Record     map[string]any
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Collection != "posts" || line.Record["id"] == nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 6 { // the setup record and five more
		t.Errorf("export has %d lines, want 6", lines)
	}
	if r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/tenants/default/export", Key: s.ServiceKey}); r.StatusCode != http.StatusForbidden {
		t.Errorf("export with a service key = %d, want 403", r.StatusCode)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRemovedMemberLosesAccess: an access token names its tenant and role
// and lives for minutes; removing the member, changing the role or
// deleting the tenant revokes the sessions acting there, so the token
// stops working at once rather than when it expires.
func TestRemovedMemberLosesAccess(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "notes", "fields": []map[string]any{{"name": "text", "type": "text"}},
			"rules": map[string]any{"list": "", "create": ""}}, 201)
		ada := signup(t, s, "ada@example.com")
		acme := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, 201)["id"].(string)
		adaAcme := switchTo(t, s, ada, acme)
		member := func(email, role string) (token, id string) {
			t.Helper()
			tok := signup(t, s, email)
			inv := as(t, s, adaAcme, "POST", "/api/tenants/"+acme+"/invites", map[string]any{"email": email, "role": role}, 201)
			accept := inv["accept_url"].(string)
			as(t, s, tok, "POST", "/api/invites/accept", map[string]any{"token": accept[strings.Index(accept, "token=")+len("token="):]}, 200)
			tok = switchTo(t, s, tok, acme)
			return tok, as(t, s, tok, "GET", "/api/auth/me", nil, 200)["id"].(string)
		}
		const notes = "/api/collections/notes/records"
		cut := func(token, what string) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				r := s.Do(t, apitest.Request{Method: "GET", Path: notes, Key: token})
				if r.StatusCode == 401 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the old access token still answers %d", what, r.StatusCode)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		alan, alanID := member("al@example.com", "member")
		as(t, s, alan, "POST", notes, map[string]any{"text": "mine"}, 201)
		as(t, s, adaAcme, "DELETE", "/api/tenants/"+acme+"/members/"+alanID, nil, 204)
		cut(alan, "removed member")

		grace, graceID := member("gh@example.com", "admin")
		as(t, s, grace, "GET", notes, nil, 200)
		as(t, s, adaAcme, "PATCH", "/api/tenants/"+acme+"/members/"+graceID, map[string]any{"role": "member"}, 204)
		cut(grace, "demoted admin")

		as(t, s, adaAcme, "DELETE", "/api/tenants/"+acme, nil, 204)
		cut(adaAcme, "owner of the deleted tenant")
		// The session itself was acting in Acme (a switch moves a session),
		// so Ada signs in again.
		as(t, s, "", "POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": "correct horse battery ada@example.com"}, 200)
	})
}
