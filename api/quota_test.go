package api_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"basalt.dev/basalt"
	"basalt.dev/basalt/api/apitest"
)

// quotaTenant makes a tenant with the operator's key and a service key
// acting in it.
func quotaTenant(t *testing.T, s *apitest.Server, name string) (id, key string) {
	t.Helper()
	id = s.Admin(t, "POST", "/api/tenants", map[string]any{"name": name}, 201)["id"].(string)
	return id, s.MustKey(t, name+"-service", basalt.RoleService, id)
}

// wantQuotaExceeded fails unless r is a quota_exceeded problem with status.
func wantQuotaExceeded(t *testing.T, r *apitest.Response, status int, detail string) {
	t.Helper()
	if r.StatusCode != status || r.Code(t) != "quota_exceeded" {
		t.Fatalf("status %d code %q, want %d quota_exceeded: %s", r.StatusCode, r.Code(t), status, r.Body)
	}
	if got, _ := r.JSON(t)["detail"].(string); !strings.Contains(got, detail) {
		t.Fatalf("detail = %q, want it to contain %q", got, detail)
	}
}

// usageOf reads a tenant's usage as the operator: used and limit of each quota.
func usageOf(t *testing.T, s *apitest.Server, tenant string) map[string][2]float64 {
	t.Helper()
	v := s.Admin(t, "GET", "/api/tenants/"+tenant+"/usage", nil, 200)
	out := map[string][2]float64{}
	for _, k := range []string{"requests_day", "requests_month", "records", "bytes"} {
		q := v[k].(map[string]any)
		out[k] = [2]float64{q["used"].(float64), q["limit"].(float64)}
	}
	return out
}

func TestQuotaRequests(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "posts", "fields": []map[string]any{{"name": "title", "type": "text"}}}, 201)
		acme, key := quotaTenant(t, s, "acme")
		s.Admin(t, "PUT", "/api/tenants/"+acme+"/quotas", map[string]any{"requests_day": 3}, 200)
		for range 3 {
			if r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/posts/records", Key: key}); r.StatusCode != 200 {
				t.Fatalf("request under the quota = %d: %s", r.StatusCode, r.Body)
			}
		}
		r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/posts/records", Key: key})
		wantQuotaExceeded(t, r, 429, "requests per day quota: the limit is 3 and 3 are used")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 86400 {
			t.Fatalf("Retry-After = %q, want the seconds to the next UTC midnight", r.Header.Get("Retry-After"))
		}
		// Refused requests are not counted; other tenants are not held.
		if u := usageOf(t, s, acme); u["requests_day"] != [2]float64{3, 3} || u["requests_month"] != [2]float64{3, 0} {
			t.Fatalf("usage = %v, want 3 of 3 today and 3 this month", u)
		}
		beta, betaKey := quotaTenant(t, s, "beta")
		if r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/posts/records", Key: betaKey}); r.StatusCode != 200 {
			t.Fatalf("another tenant's request = %d: %s", r.StatusCode, r.Body)
		}

		// A monthly quota refuses until the first of the next month.
		s.Admin(t, "PUT", "/api/tenants/"+beta+"/quotas", map[string]any{"requests_month": 1}, 200)
		r = s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/posts/records", Key: betaKey})
		wantQuotaExceeded(t, r, 429, "requests per month quota: the limit is 1 and 1 are used")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 31*86400 {
			t.Fatalf("Retry-After = %q, want the seconds to the next month", r.Header.Get("Retry-After"))
		}

		// The operator lifts the quota (null: back to the default,
		// unlimited here); the tenant is served again at once.
		s.Admin(t, "PUT", "/api/tenants/"+acme+"/quotas", map[string]any{"requests_day": nil}, 200)
		if r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/posts/records", Key: key}); r.StatusCode != 200 {
			t.Fatalf("request after the override was lifted = %d: %s", r.StatusCode, r.Body)
		}
	})
}

// TestQuotaRequestsDefault: --quota-requests-day holds anonymous
// requests, which act in the default tenant.
func TestQuotaRequestsDefault(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		cfg := apitest.Config(t, d)
		cfg.QuotaRequestsDay = 2
		s := apitest.StartConfig(t, cfg)
		for i := range 3 {
			r := s.Do(t, apitest.Request{Method: "GET", Path: "/api/collections/none/records"})
			if i < 2 && r.StatusCode != 404 {
				t.Fatalf("request %d = %d, want 404: %s", i, r.StatusCode, r.Body)
			}
			if i == 2 {
				wantQuotaExceeded(t, r, 429, `Tenant "default" is at its requests per day quota`)
			}
		}
	})
}

func TestQuotaRecordsAndBytes(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		cfg := apitest.Config(t, d)
		cfg.QuotaRecords = 3
		s := apitest.StartConfig(t, cfg)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "posts", "fields": []map[string]any{{"name": "title", "type": "text"}, {"name": "n", "type": "number"}}}, 201)
		s.Admin(t, "POST", "/api/collections", map[string]any{"name": "notes", "fields": []map[string]any{{"name": "body", "type": "text"}}}, 201)
		acme, key := quotaTenant(t, s, "acme")
		admin := s.MustKey(t, "acme-admin", basalt.RoleAdmin, acme)
		do := func(method, path string, body any) *apitest.Response {
			return s.Do(t, apitest.Request{Method: method, Path: path, Key: key, Body: body})
		}
		for i, title := range []string{"one", "two"} {
			if r := do("POST", "/api/collections/posts/records", map[string]any{"id": fmt.Sprint("p", i), "title": title, "n": i}); r.StatusCode != 201 {
				t.Fatalf("create = %d: %s", r.StatusCode, r.Body)
			}
		}
		if r := do("POST", "/api/collections/notes/records", map[string]any{"id": "n0", "body": "héllo"}); r.StatusCode != 201 {
			t.Fatalf("create = %d: %s", r.StatusCode, r.Body)
		}
		if u := usageOf(t, s, acme); u["records"] != [2]float64{3, 3} || u["bytes"] != [2]float64{3 + 8 + 3 + 8 + 6, 0} {
			t.Fatalf("usage = %v, want 3 of 3 records and 28 bytes", u)
		}
		events := func() int {
			t.Helper()
			return len(s.Do(t, apitest.Request{Method: "GET", Path: "/api/events", Key: admin}).JSON(t)["items"].([]any))
		}
		before := events()
		// Over the records quota, in either collection: 403, no record,
		// no event.
		wantQuotaExceeded(t, do("POST", "/api/collections/notes/records", map[string]any{"id": "n1", "body": "x"}), 403,
			`Tenant "`+acme+`" is at its records quota: the limit is 3, 3 are used and this write would add 1.`)
		if r := do("GET", "/api/collections/notes/records/n1", nil); r.StatusCode != 404 {
			t.Fatalf("refused record: GET = %d, want 404", r.StatusCode)
		}
		if after := events(); after != before {
			t.Fatalf("events after a refused create = %d, want %d", after, before)
		}

		// Updates that grow and shrink, and a delete.
		do("PATCH", "/api/collections/posts/records/p0", map[string]any{"title": "a longer one", "n": nil})
		do("PATCH", "/api/collections/notes/records/n0", map[string]any{"body": "h"})
		if r := do("DELETE", "/api/collections/posts/records/p1", nil); r.StatusCode != 204 {
			t.Fatalf("delete = %d: %s", r.StatusCode, r.Body)
		}
		if u := usageOf(t, s, acme); u["records"] != [2]float64{2, 3} || u["bytes"] != [2]float64{12 + 1, 0} {
			t.Fatalf("usage = %v, want 2 records and 13 bytes", u)
		}

		// A bytes quota of the tenant's own refuses growth, not shrinking.
		s.Admin(t, "PUT", "/api/tenants/"+acme+"/quotas", map[string]any{"bytes": 14}, 200)
		wantQuotaExceeded(t, do("PATCH", "/api/collections/notes/records/n0", map[string]any{"body": "hey"}), 403,
			"bytes quota: the limit is 14, 13 are used and this write would add 2.")
		if r := do("PATCH", "/api/collections/posts/records/p0", map[string]any{"title": "short"}); r.StatusCode != 200 {
			t.Fatalf("shrinking update = %d: %s", r.StatusCode, r.Body)
		}
		if u := usageOf(t, s, acme); u["records"] != [2]float64{2, 3} || u["bytes"] != [2]float64{6, 14} {
			t.Fatalf("usage = %v, want 2 records and 6 of 14 bytes", u)
		}

		// Deleting a collection takes its records off.
		s.Admin(t, "DELETE", "/api/collections/posts", nil, 204)
		if u := usageOf(t, s, acme); u["records"] != [2]float64{1, 3} || u["bytes"] != [2]float64{1, 14} {
			t.Fatalf("usage = %v, want 1 record and 1 byte", u)
		}
	})
}

// TestQuotaOperatorOnly: a tenant's owners, admins and their keys read
// the tenant's usage but cannot change its quotas; only the operator's
// key (an admin key with the collections scope) can.
func TestQuotaOperatorOnly(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := apitest.Start(t, d)
		ada := signup(t, s, "ada@example.com")
		bob := signup(t, s, "bob@example.com")
		id := as(t, s, ada, "POST", "/api/tenants", map[string]any{"name": "Acme"}, 201)["id"].(string)
		ada = switchTo(t, s, ada, id)
		key := as(t, s, ada, "POST", "/api/keys", map[string]any{"name": "ops", "role": "admin",
			"scopes": []string{"records:read", "records:write", "events:read", "tenant", "keys"}}, 201)["key"].(string)

		as(t, s, ada, "GET", "/api/tenants/"+id+"/usage", nil, 200)
		as(t, s, key, "GET", "/api/tenants/"+id+"/usage", nil, 200)
		as(t, s, bob, "GET", "/api/tenants/"+id+"/usage", nil, 404)
		as(t, s, s.ServiceKey, "GET", "/api/tenants/"+id+"/usage", nil, 404)

		raise := map[string]any{"records": 1000000}
		for _, who := range []string{ada, key, bob, s.ServiceKey} {
			r := s.Do(t, apitest.Request{Method: "PUT", Path: "/api/tenants/" + id + "/quotas", Key: who, Body: raise})
			if r.StatusCode != 403 || r.Code(t) != "forbidden" {
				t.Fatalf("PUT quotas by a non-operator = %d: %s", r.StatusCode, r.Body)
			}
		}
		v := s.Admin(t, "PUT", "/api/tenants/"+id+"/quotas", raise, 200)
		if rec := v["records"].(map[string]any); rec["limit"] != 1e6 || rec["override"] != true {
			t.Fatalf("records after the override = %v", rec)
		}
		s.Admin(t, "PUT", "/api/tenants/nope/quotas", raise, 404)
		r := s.Do(t, apitest.Request{Method: "PUT", Path: "/api/tenants/" + id + "/quotas", Key: s.AdminKey, Body: map[string]any{"bytes": -1}})
		if r.StatusCode != 400 || r.Code(t) != "validation" {
			t.Fatalf("negative quota = %d: %s", r.StatusCode, r.Body)
		}
	})
}
