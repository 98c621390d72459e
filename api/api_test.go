package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"basalt.dev/basalt/api/apitest"
)

// postsCollection has every field type, SQL keywords as field names and
// an index, so every scenario runs against a realistic schema.
var postsCollection = map[string]any{
	"name": "posts",
	"fields": []map[string]any{
		{"name": "title", "type": "text", "required": true},
		{"name": "views", "type": "number", "default": 0},
		{"name": "draft", "type": "bool"},
		{"name": "published", "type": "date"},
		{"name": "meta", "type": "json"},
		{"name": "select", "type": "text"},
		{"name": "order", "type": "number"},
		{"name": "slug", "type": "text", "unique": true},
	},
	"indexes": []map[string]any{{"fields": []string{"views"}}},
}

// setup starts a server on driver d with the posts collection and one
// record whose id is "first".
func setup(t *testing.T, d apitest.Driver) *apitest.Server {
	t.Helper()
	s := apitest.Start(t, d)
	s.Admin(t, "POST", "/api/collections", postsCollection, http.StatusCreated)
	s.Admin(t, "POST", "/api/collections/posts/records", map[string]any{"id": "first", "title": "Hello", "views": 10, "slug": "hello"}, http.StatusCreated)
	return s
}

// scenario is one request and the answer it must get.
type scenario struct {
	name    string
	method  string
	path    string
	auth    string // admin (default), service, none, bad
	body    any
	header  map[string]string
	noCT    bool
	status  int
	code    string // the problem code; empty for a success
	field   string // a field the problem must name in errors[]
	contain string // a substring of the problem detail
}

func (sc scenario) run(t *testing.T, s *apitest.Server) {
	t.Helper()
	key := s.AdminKey
	switch sc.auth {
	case "service":
		key = s.ServiceKey
	case "none":
		key = ""
	case "bad":
		key = "bsk_aaaaaaaaaaaaaaaa_notthesecret"
	}
	resp := s.Do(t, apitest.Request{Method: sc.method, Path: sc.path, Key: key, Body: sc.body, Header: sc.header, NoJSONH: sc.noCT})
	if resp.StatusCode != sc.status {
		t.Fatalf("%s %s = %d, want %d\n%s", sc.method, sc.path, resp.StatusCode, sc.status, resp.Body)
	}
	if sc.code == "" {
		return
	}
	p := resp.JSON(t)
	if got := resp.Code(t); got != sc.code {
		t.Errorf("problem code = %q, want %q\n%s", got, sc.code, resp.Body)
	}
	if p["status"] != float64(sc.status) || p["title"] == "" || p["type"] != "https://basalt.dev/errors/"+sc.code || p["detail"] == "" {
		t.Errorf("problem is not RFC 9457 shaped: %s", resp.Body)
	}
	if sc.field != "" && !namesField(p, sc.field) {
		t.Errorf("problem does not name field %q: %s", sc.field, resp.Body)
	}
	if sc.contain != "" && !strings.Contains(fmt.Sprint(p["detail"], p["errors"]), sc.contain) {
		t.Errorf("problem does not say %q: %s", sc.contain, resp.Body)
	}
}

func namesField(p map[string]any, field string) bool {
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return true
		}
	}
	return false
}

func q(s string) string { return url.QueryEscape(s) }

func TestScenarios(t *testing.T) {
	apitest.ForEachDriver(t, func(t *testing.T, d apitest.Driver) {
		s := setup(t, d)
		for _, sc := range scenarios() {
			t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
		}
		// Nothing above may have written a record or broken the table.
		list := s.Admin(t, "GET", "/api/collections/posts/records", nil, http.StatusOK)
		if items := list["items"].([]any); len(items) != 1 {
			t.Errorf("after the bad requests the collection holds %d records, want 1: %v", len(items), items)
		}
	})
}

func scenarios() []scenario {
	const recs = "/api/collections/posts/records"
	long := strings.Repeat("a", 5000)
	return []scenario{
		// Authentication and roles.
		{name: "no key on a locked collection", method: "GET", path: recs, auth: "none", status: 403, code: "forbidden"},
		{name: "no key on collections", method: "GET", path: "/api/collections", auth: "none", status: 401, code: "unauthenticated"},
		{name: "bad key", method: "GET", path: recs, auth: "bad", status: 401, code: "unauthenticated"},
		{name: "not bearer", method: "GET", path: recs, auth: "none", header: map[string]string{"Authorization": "Basic YTpi"}, status: 401, code: "unauthenticated"},
		{name: "empty bearer", method: "GET", path: recs, auth: "none", header: map[string]string{"Authorization": "Bearer "}, status: 401, code: "unauthenticated"},
		{name: "service key creates a collection", method: "POST", path: "/api/collections", auth: "service", body: map[string]any{"name": "x"}, status: 403, code: "forbidden"},
		{name: "service key reads events", method: "GET", path: "/api/events", auth: "service", status: 403, code: "forbidden"},
		{name: "service key reads records", method: "GET", path: recs, auth: "service", status: 200},

		// Routing.
		{name: "unknown route", method: "GET", path: "/api/nothing", status: 404, code: "not_found"},
		{name: "wrong method", method: "PUT", path: recs, status: 405, code: "method_not_allowed"},
		{name: "unknown collection", method: "GET", path: "/api/collections/nope/records", status: 404, code: "not_found"},
		{name: "unknown record", method: "GET", path: recs + "/nope", status: 404, code: "not_found"},
		{name: "injection in id", method: "GET", path: recs + "/" + url.PathEscape("x' OR '1'='1"), status: 404, code: "not_found"},
		{name: "injection in collection", method: "GET", path: "/api/collections/" + url.PathEscape(`posts"; DROP TABLE c_posts; --`) + "/records", status: 404, code: "not_found"},

		// Collection definitions.
		{name: "collection bad name", method: "POST", path: "/api/collections", body: map[string]any{"name": "Bad-Name"}, status: 400, code: "validation", field: "name"},
		{name: "collection keyword name is fine", method: "POST", path: "/api/collections", body: map[string]any{"name": "table", "fields": []map[string]any{{"name": "from", "type": "text"}}}, status: 201},
		{name: "collection exists", method: "POST", path: "/api/collections", body: postsCollection, status: 409, code: "conflict"},
		{name: "collection unknown key", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "colour": 1}, status: 400, code: "validation", field: "colour"},
		{name: "collection wrong type", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "fields": "title"}, status: 400, code: "validation", field: "fields"},
		{name: "collection unknown field type", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "fields": []map[string]any{{"name": "a", "type": "blob"}}}, status: 400, code: "validation", field: "fields[0].type"},
		{name: "collection reserved field", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "fields": []map[string]any{{"name": "id", "type": "text"}}}, status: 400, code: "validation", field: "fields[0].name"},
		{name: "collection duplicate field", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "fields": []map[string]any{{"name": "a", "type": "text"}, {"name": "a", "type": "text"}}}, status: 400, code: "validation", field: "fields[1].name"},
		{name: "collection bad default", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "fields": []map[string]any{{"name": "a", "type": "number", "default": "ten"}}}, status: 400, code: "validation", field: "fields[0].default"},
		{name: "collection index on unknown field", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "indexes": []map[string]any{{"fields": []string{"nope"}}}}, status: 400, code: "validation", field: "indexes[0].fields"},
		{name: "collection relation not yet", method: "POST", path: "/api/collections", body: map[string]any{"name": "x", "fields": []map[string]any{{"name": "a", "type": "relation"}}}, status: 400, code: "validation", field: "fields[0].type"},
		{name: "collection malformed json", method: "POST", path: "/api/collections", body: `{"name": "x",`, status: 400, code: "validation"},
		{name: "collection type change", method: "PATCH", path: "/api/collections/posts", body: map[string]any{"fields": []map[string]any{{"name": "title", "type": "number"}}, "indexes": []any{}}, status: 422, code: "unprocessable", field: "title"},
		{name: "collection rename refused", method: "PATCH", path: "/api/collections/posts", body: map[string]any{"name": "articles"}, status: 400, code: "validation", field: "name"},
		{name: "collection rename to taken field", method: "PATCH", path: "/api/collections/posts", body: map[string]any{"rename": map[string]string{"title": "views"}}, status: 400, code: "validation", field: "rename.title"},
		{name: "patch unknown collection", method: "PATCH", path: "/api/collections/nope", body: map[string]any{}, status: 404, code: "not_found"},
		{name: "delete unknown collection", method: "DELETE", path: "/api/collections/nope", status: 404, code: "not_found"},

		// Record bodies.
		{name: "malformed json", method: "POST", path: recs, body: `{"title": "x"`, status: 400, code: "validation"},
		{name: "trailing garbage", method: "POST", path: recs, body: `{"title": "x"} {}`, status: 400, code: "validation"},
		{name: "array body", method: "POST", path: recs, body: `[{"title": "x"}]`, status: 400, code: "validation"},
		{name: "empty body", method: "POST", path: recs, body: ``, status: 400, code: "validation"},
		{name: "wrong type", method: "POST", path: recs, body: map[string]any{"title": "x", "views": "many"}, status: 400, code: "validation", field: "views"},
		{name: "bool as string", method: "POST", path: recs, body: map[string]any{"title": "x", "draft": "true"}, status: 400, code: "validation", field: "draft"},
		{name: "bad date", method: "POST", path: recs, body: map[string]any{"title": "x", "published": "yesterday"}, status: 400, code: "validation", field: "published"},
		{name: "unknown field", method: "POST", path: recs, body: map[string]any{"title": "x", "titel": "y"}, status: 400, code: "validation", field: "titel"},
		{name: "missing required", method: "POST", path: recs, body: map[string]any{"views": 1}, status: 400, code: "validation", field: "title"},
		{name: "empty required", method: "POST", path: recs, body: map[string]any{"title": ""}, status: 400, code: "validation", field: "title"},
		{name: "null required", method: "POST", path: recs, body: map[string]any{"title": nil}, status: 400, code: "validation", field: "title"},
		{name: "huge number", method: "POST", path: recs, body: `{"title": "x", "views": 1e400}`, status: 400, code: "validation", field: "views"},
		{name: "huge negative number", method: "POST", path: recs, body: `{"title": "x", "views": -1e400}`, status: 400, code: "validation", field: "views"},
		{name: "NUL in text", method: "POST", path: recs, body: `{"title": "a\u0000b"}`, status: 400, code: "validation", field: "title"},
		{name: "NUL in json", method: "POST", path: recs, body: `{"title": "a", "meta": {"k": "\u0000"}}`, status: 400, code: "validation", field: "meta"},
		{name: "invalid utf-8", method: "POST", path: recs, body: []byte("{\"title\": \"\xff\xfe\"}"), status: 400, code: "validation", field: "title"},
		{name: "duplicate key", method: "POST", path: recs, body: `{"title": "a", "title": "b"}`, status: 400, code: "validation", field: "title"},
		{name: "created is read-only", method: "POST", path: recs, body: map[string]any{"title": "x", "created": "2020-01-01T00:00:00Z"}, status: 400, code: "validation", field: "created"},
		{name: "bad custom id", method: "POST", path: recs, body: map[string]any{"title": "x", "id": "../../etc"}, status: 400, code: "validation", field: "id"},
		{name: "duplicate id", method: "POST", path: recs, body: map[string]any{"title": "x", "id": "first"}, status: 409, code: "conflict", field: "id"},
		{name: "duplicate unique", method: "POST", path: recs, body: map[string]any{"title": "x", "slug": "hello"}, status: 409, code: "conflict", field: "slug"},
		{name: "text/plain", method: "POST", path: recs, body: `{"title": "x"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "no content type", method: "POST", path: recs, body: `{"title": "x"}`, noCT: true, status: 415, code: "unsupported_media_type"},
		{name: "latin-1 json", method: "POST", path: recs, body: `{"title": "x"}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}, status: 415, code: "unsupported_media_type"},
		{name: "patch id", method: "PATCH", path: recs + "/first", body: map[string]any{"id": "other"}, status: 400, code: "validation", field: "id"},
		{name: "patch required to null", method: "PATCH", path: recs + "/first", body: map[string]any{"title": nil}, status: 400, code: "validation", field: "title"},
		{name: "patch missing", method: "PATCH", path: recs + "/nope", body: map[string]any{"title": "x"}, status: 404, code: "not_found"},
		{name: "patch stale", method: "PATCH", path: recs + "/first", body: map[string]any{"title": "x"}, header: map[string]string{"If-Match": `"7-abc"`}, status: 412, code: "precondition_failed"},
		{name: "patch foreign etag", method: "PATCH", path: recs + "/first", body: map[string]any{"title": "x"}, header: map[string]string{"If-Match": `"whatever"`}, status: 412, code: "precondition_failed"},
		{name: "delete stale", method: "DELETE", path: recs + "/first", header: map[string]string{"If-Match": `"9-zz"`}, status: 412, code: "precondition_failed"},
		{name: "delete missing", method: "DELETE", path: recs + "/nope", status: 404, code: "not_found"},

		// List parameters.
		{name: "filter syntax", method: "GET", path: recs + "?filter=" + q("views >"), status: 400, code: "validation", field: "filter"},
		{name: "filter unknown field", method: "GET", path: recs + "?filter=" + q(`titel = "x"`), status: 400, code: "validation", field: "filter", contain: "titel"},
		{name: "filter type", method: "GET", path: recs + "?filter=" + q(`views = "x"`), status: 400, code: "validation", field: "filter"},
		{name: "filter sql injection", method: "GET", path: recs + "?filter=" + q(`title = "x" OR 1=1`), status: 400, code: "validation", field: "filter"},
		{name: "filter injection in a string is data", method: "GET", path: recs + "?filter=" + q(`title = "x'; DROP TABLE c_posts; --"`), status: 200},
		{name: "filter keyword fields", method: "GET", path: recs + "?filter=" + q(`select = "a" || order > 1`), status: 200},
		{name: "filter unicode", method: "GET", path: recs + "?filter=" + q(`title ~ "日本語 ✓"`), status: 200},
		{name: "filter too long", method: "GET", path: recs + "?filter=" + q(`title = "`+long+`"`), status: 400, code: "validation", field: "filter"},
		{name: "filter deep", method: "GET", path: recs + "?filter=" + q(strings.Repeat("(", 100)+"views > 1"+strings.Repeat(")", 100)), status: 400, code: "validation", field: "filter"},
		{name: "sort unknown", method: "GET", path: recs + "?sort=-viewz", status: 400, code: "validation", field: "sort"},
		{name: "sort json", method: "GET", path: recs + "?sort=meta", status: 400, code: "validation", field: "sort"},
		{name: "sort injection", method: "GET", path: recs + "?sort=" + q("views; DROP TABLE c_posts"), status: 400, code: "validation", field: "sort"},
		{name: "limit zero", method: "GET", path: recs + "?limit=0", status: 400, code: "validation", field: "limit"},
		{name: "limit too big", method: "GET", path: recs + "?limit=501", status: 400, code: "validation", field: "limit"},
		{name: "limit words", method: "GET", path: recs + "?limit=ten", status: 400, code: "validation", field: "limit"},
		{name: "cursor garbage", method: "GET", path: recs + "?cursor=" + q("' OR 1=1"), status: 400, code: "validation", field: "cursor"},
		{name: "cursor forged", method: "GET", path: recs + "?cursor=WyJ2aWV3cyIsMV0", status: 400, code: "validation", field: "cursor"},
		{name: "fields unknown", method: "GET", path: recs + "?fields=id,nope", status: 400, code: "validation", field: "fields"},
		{name: "unknown parameter", method: "GET", path: recs + "?filer=" + q("views > 1"), status: 400, code: "validation", field: "filer"},
		{name: "repeated parameter", method: "GET", path: recs + "?limit=1&limit=2", status: 400, code: "validation", field: "limit"},

		// Events.
		{name: "events after negative", method: "GET", path: "/api/events?after=-1", status: 400, code: "validation", field: "after"},
		{name: "events limit zero", method: "GET", path: "/api/events?limit=0", status: 400, code: "validation", field: "limit"},
		{name: "events after words", method: "GET", path: "/api/events?after=x", status: 400, code: "validation", field: "after"},
	}
}

func TestScenarioNamesUnique(t *testing.T) {
	var names []string
	for _, sc := range scenarios() {
		if slices.Contains(names, sc.name) {
			t.Errorf("scenario %q twice", sc.name)
		}
		names = append(names, sc.name)
	}
}
