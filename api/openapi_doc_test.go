package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/records"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/tenants"
	"github.com/pb33f/jsonschema/v6"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/pquerna/otp/totp"
)

var update = flag.Bool("update", false, "rewrite golden files")

const oaGolden = "testdata/openapi.golden.json"

// oaSampleCollections cover every field type, required, unique and
// default fields, an index, and a name with an underscore.
func oaSampleCollections(t *testing.T) []*basalt.Collection {
	t.Helper()
	cols := []*basalt.Collection{
		{Name: "posts", Fields: []basalt.Field{
			{Name: "title", Type: basalt.TypeText, Required: true},
			{Name: "slug", Type: basalt.TypeText, Unique: true},
			{Name: "views", Type: basalt.TypeNumber},
			{Name: "rating", Type: basalt.TypeNumber, Required: true, Default: json.RawMessage(`3`)},
			{Name: "draft", Type: basalt.TypeBool, Required: true},
			{Name: "published", Type: basalt.TypeDate},
			{Name: "meta", Type: basalt.TypeJSON},
		}, Indexes: []basalt.Index{{Fields: []string{"views", "title"}}}},
		{Name: "blog_posts", Fields: []basalt.Field{
			{Name: "body", Type: basalt.TypeText},
			{Name: "tags", Type: basalt.TypeJSON, Required: true},
			{Name: "due", Type: basalt.TypeDate, Required: true, Unique: true},
		}},
	}
	for _, c := range cols {
		c.Normalize()
		if err := c.Validate(); err != nil {
			t.Fatalf("sample collection %s: %v", c.Name, err)
		}
	}
	return cols
}

func oaMarshal(t *testing.T, doc map[string]any) []byte {
	t.Helper()
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatalf("json.MarshalIndent(OpenAPI()) = %v", err)
	}
	return append(data, '\n')
}

// oaCheck returns what is wrong with an OpenAPI document: what
// libopenapi cannot build (dangling references), what the OpenAPI 3.1
// schema refuses (libopenapi-validator's ValidateDocument), and what that
// schema cannot see: invalid JSON Schemas, duplicate operation ids,
// missing summaries, undeclared path parameters.
func oaCheck(data []byte) []string {
	doc, err := oaNewDocument(data)
	if err != nil {
		return []string{"libopenapi.NewDocument: " + err.Error()}
	}
	var problems []string
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1.") {
		problems = append(problems, fmt.Sprintf("version %q, want 3.1.x", v))
	}
	if _, err := doc.BuildV3Model(); err != nil {
		return append(problems, "BuildV3Model: "+err.Error())
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return append(problems, fmt.Sprintf("validator.NewValidator: %v", errs))
	}
	if ok, verrs := v.ValidateDocument(); !ok || len(verrs) > 0 {
		problems = append(problems, fmt.Sprintf("ValidateDocument() = %v", ok))
		for _, e := range verrs {
			problems = append(problems, fmt.Sprintf("%s: %s (line %d)", e.Message, e.Reason, e.SpecLine))
			for _, f := range e.SchemaValidationErrors {
				problems = append(problems, fmt.Sprintf("  %s: %s", f.KeywordLocation, f.Reason))
			}
		}
	}
	problems = append(problems, oaCheckSchemas(data)...)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return append(problems, err.Error())
	}
	return append(problems, oaCheckOperations(m)...)
}

// oaCheckSchemas compiles every schema of the document as JSON Schema
// 2020-12, which the OpenAPI 3.1 schema leaves unchecked.
func oaCheckSchemas(data []byte) []string {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []string{err.Error()}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const base = "mem://openapi.json"
	if err := c.AddResource(base, doc); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, ptr := range oaSchemaPointers(doc, "") {
		if _, err := c.Compile(base + "#" + (&url.URL{Fragment: ptr}).EscapedFragment()); err != nil {
			problems = append(problems, fmt.Sprintf("schema %s: %v", ptr, err))
		}
	}
	return problems
}

// oaSchemaPointers lists the JSON pointers of the schemas in v: the
// components' schemas and the value of every other "schema" key.
func oaSchemaPointers(v any, ptr string) []string {
	var out []string
	for k, child := range oaObj(v) {
		p := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
		switch {
		case k == "schema":
			out = append(out, p)
		case ptr == "/components" && k == "schemas":
			for name := range oaObj(child) {
				out = append(out, p+"/"+name)
			}
		default:
			out = append(out, oaSchemaPointers(child, p)...)
		}
	}
	for i, child := range oaList(v) {
		out = append(out, oaSchemaPointers(child, fmt.Sprintf("%s/%d", ptr, i))...)
	}
	return out
}

// oaNewDocument is libopenapi.NewDocument without its log lines on stdout:
// the errors come back anyway.
func oaNewDocument(data []byte) (libopenapi.Document, error) {
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler)
	return libopenapi.NewDocumentWithConfiguration(data, cfg)
}

var oaPathParam = regexp.MustCompile(`\{([^}]+)\}`)

// oaCheckOperations checks what the OpenAPI schema does not: operation ids
// are unique, every operation has a summary and responses, and every
// template parameter of a path is declared.
func oaCheckOperations(doc map[string]any) []string {
	var problems []string
	ids := map[string]string{}
	for path, item := range oaObj(doc["paths"]) {
		item := oaObj(item)
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			op := oaObj(op)
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			switch {
			case id == "":
				problems = append(problems, where+": no operationId")
			case ids[id] != "":
				problems = append(problems, fmt.Sprintf("%s: operationId %s is also %s", where, id, ids[id]))
			}
			ids[id] = where
			if s, _ := op["summary"].(string); s == "" {
				problems = append(problems, where+": no summary")
			}
			if len(oaObj(op["responses"])) == 0 {
				problems = append(problems, where+": no responses")
			}
			declared := map[string]bool{}
			for _, p := range slices.Concat(oaList(item["parameters"]), oaList(op["parameters"])) {
				p := oaResolve(doc, oaObj(p))
				if p["in"] == "path" {
					declared[p["name"].(string)] = true
				}
			}
			for _, m := range oaPathParam.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					problems = append(problems, fmt.Sprintf("%s: path parameter %s is not declared", where, m[1]))
				}
			}
		}
	}
	return problems
}

func oaObj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func oaList(v any) []any { l, _ := v.([]any); return l }

// oaResolve follows a local $ref.
func oaResolve(doc, v map[string]any) map[string]any {
	ref, ok := v["$ref"].(string)
	if !ok {
		return v
	}
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		cur = oaObj(cur[part])
	}
	return cur
}

func oaSortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// oaDig walks keys down a decoded document, resolving references.
func oaDig(t *testing.T, doc map[string]any, keys ...string) map[string]any {
	t.Helper()
	cur := doc
	for _, k := range keys {
		next, ok := cur[k]
		if !ok {
			t.Fatalf("no %q in %v (path %v)", k, oaSortedKeys(cur), keys)
		}
		cur = oaResolve(doc, oaObj(next))
	}
	return cur
}

func TestOpenAPIValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		cols []*basalt.Collection
	}{
		{"no collections", nil},
		{"samples", oaSampleCollections(t)},
		{"names that look like fixed ones", oaNamedCollections(t, "collections", "collection", "events", "records", "record",
			"health", "open_api", "post_2", "post2", "post__2", "problem", "x_record")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := oaMarshal(t, OpenAPI(tc.cols, "1.2.3"))
			for _, p := range oaCheck(data) {
				t.Error(p)
			}
		})
	}
}

func oaNamedCollections(t *testing.T, names ...string) []*basalt.Collection {
	var cols []*basalt.Collection
	for _, n := range names {
		c := &basalt.Collection{Name: n, Fields: []basalt.Field{{Name: "title", Type: basalt.TypeText}}}
		c.Normalize()
		if err := c.Validate(); err != nil {
			t.Fatalf("collection %s: %v", n, err)
		}
		cols = append(cols, c)
	}
	return cols
}

// TestOpenAPICheckFails makes sure oaCheck is not blind: each broken
// variant of a valid document must be reported.
func TestOpenAPICheckFails(t *testing.T) {
	for name, breakDoc := range map[string]func(doc map[string]any){
		"no info": func(doc map[string]any) { delete(doc, "info") },
		"response without description": func(doc map[string]any) {
			delete(oaDig(t, doc, "paths", "/healthz", "get", "responses", "200"), "description")
		},
		"dangling reference": func(doc map[string]any) {
			oaDig(t, doc, "paths", "/api/collections", "get", "responses")["200"] = map[string]any{"$ref": "#/components/responses/Nope"}
		},
		"bad schema type": func(doc map[string]any) {
			oaDig(t, doc, "components", "schemas", "PostsRecord", "properties", "views")["type"] = 5
		},
		"bad parameter location": func(doc map[string]any) { oaDig(t, doc, "components", "parameters", "Limit")["in"] = "body" },
		"duplicate operation id": func(doc map[string]any) {
			oaDig(t, doc, "paths", "/healthz", "get")["operationId"] = "listPosts"
		},
		"undeclared path parameter": func(doc map[string]any) {
			delete(oaDig(t, doc, "paths", "/api/collections/posts/records/{id}"), "parameters")
		},
	} {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(oaMarshal(t, OpenAPI(oaSampleCollections(t), "")), &doc); err != nil {
				t.Fatal(err)
			}
			breakDoc(doc)
			problems := oaCheck(oaMarshal(t, doc))
			if len(problems) == 0 {
				t.Fatal("checkOpenAPI found nothing wrong with a broken document")
			}
			t.Logf("found %d problems; the first: %.300s", len(problems), problems[0])
		})
	}
}

func TestOpenAPIGolden(t *testing.T) {
	got := oaMarshal(t, OpenAPI(oaSampleCollections(t), "1.2.3"))
	if *update {
		if err := os.MkdirAll(filepath.Dir(oaGolden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(oaGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(oaGolden)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run OpenAPIGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("OpenAPI() differs from %s; check the change and run go test ./api -run OpenAPIGolden -update\n%s",
			oaGolden, oaFirstDiff(string(want), string(got)))
	}
	reversed := oaSampleCollections(t)
	slices.Reverse(reversed)
	again := oaMarshal(t, OpenAPI(reversed, "1.2.3"))
	if !bytes.Equal(got, again) {
		t.Error("OpenAPI() depends on the order of the collections")
	}
}

// oaFirstDiff shows the first differing line of want and got.
func oaFirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return ""
}

func TestOpenAPIFacts(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(oaMarshal(t, OpenAPI(oaSampleCollections(t), "")), &doc); err != nil {
		t.Fatal(err)
	}
	eq := func(what string, got, want any) {
		t.Helper()
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s = %s, want %s", what, g, w)
		}
	}
	eq("openapi", doc["openapi"], "3.1.0")
	eq("info.version", oaDig(t, doc, "info")["version"], "dev")
	eq("servers", doc["servers"], []any{map[string]any{"url": "/"}})
	eq("bearer scheme", oaDig(t, doc, "components", "securitySchemes", "bearer")["scheme"], "bearer")

	posts := oaDig(t, doc, "components", "schemas", "PostsRecord", "properties")
	eq("PostsRecord.views.type", posts["views"].(map[string]any)["type"], []string{"number", "null"})
	eq("PostsRecord.title.type", posts["title"].(map[string]any)["type"], "string")
	eq("PostsRecord.draft.type", posts["draft"].(map[string]any)["type"], "boolean")
	eq("PostsRecord.published", posts["published"], map[string]any{"type": []string{"string", "null"}, "format": "date-time"})
	eq("PostsRecord.meta", posts["meta"], map[string]any{"description": "Any JSON value."})
	eq("PostsRecord.created", posts["created"], map[string]any{"type": "string", "format": "date-time"})

	input := oaDig(t, doc, "components", "schemas", "PostsRecordInput")
	eq("PostsRecordInput.required", input["required"], []string{"title", "draft"}) // rating has a default
	eq("PostsRecordInput.additionalProperties", input["additionalProperties"], false)
	eq("PostsRecordInput.id.pattern", oaDig(t, input, "properties", "id")["pattern"], `^[A-Za-z0-9_-]{1,64}$`)
	eq("PostsRecordInput.rating.default", oaDig(t, input, "properties", "rating")["default"], 3)
	eq("PostsRecordInput.title.minLength", oaDig(t, input, "properties", "title")["minLength"], 1)
	patch := oaDig(t, doc, "components", "schemas", "PostsRecordPatch")
	eq("PostsRecordPatch.required", patch["required"], nil)
	eq("BlogPostsRecordPage.next_cursor.type",
		oaDig(t, doc, "components", "schemas", "BlogPostsRecordPage", "properties", "next_cursor")["type"], []string{"string", "null"})

	listOp := oaDig(t, doc, "paths", "/api/collections/posts/records", "get")
	eq("listPosts operationId", listOp["operationId"], "listPosts")
	var limit map[string]any
	for _, p := range oaList(listOp["parameters"]) {
		if p := oaResolve(doc, oaObj(p)); p["name"] == "limit" {
			limit = oaObj(p["schema"])
		}
	}
	eq("list limit", limit, map[string]any{"type": "integer", "minimum": 1, "maximum": 500, "default": 50})
	eq("list 200 schema", oaDig(t, listOp, "responses", "200", "content", "application/json")["schema"],
		map[string]any{"$ref": "#/components/schemas/PostsRecordPage"})

	one := oaDig(t, doc, "paths", "/api/collections/blog_posts/records/{id}")
	eq("getBlogPosts", oaDig(t, one, "get")["operationId"], "getBlogPosts")
	eq("getBlogPosts 304 ETag", oaSortedKeys(oaDig(t, one, "get", "responses", "304", "headers")), []string{"ETag"})
	eq("updateBlogPosts 412", oaDig(t, one, "patch", "responses")["412"], map[string]any{"$ref": "#/components/responses/PreconditionFailed"})
	create := oaDig(t, doc, "paths", "/api/collections/posts/records", "post", "responses", "201")
	eq("createPosts 201 headers", oaSortedKeys(oaObj(create["headers"])), []string{"ETag", "Location"})

	for _, code := range []string{"400", "401", "403", "404", "409", "412", "413", "415", "422", "500"} {
		path := "/api/collections/{name}"
		if code == "412" {
			path = "/api/collections/posts/records/{id}"
		}
		eq("problem "+code, oaSortedKeys(oaDig(t, doc, "paths", path, "patch", "responses", code, "content")), []string{"application/problem+json"})
	}
	eq("/healthz security", oaDig(t, doc, "paths", "/healthz", "get")["security"], []any{})
	eq("/api/events security", oaDig(t, doc, "paths", "/api/events", "get")["security"], nil)
	eq("global security", doc["security"], []any{map[string]any{"bearer": []any{}}})
	eq("metrics content", oaSortedKeys(oaDig(t, doc, "paths", "/metrics", "get", "responses", "200", "content")), []string{"text/plain"})

	for _, public := range []string{"/api/auth/signup", "/api/auth/login", "/api/auth/refresh", "/api/auth/reset/request"} {
		eq(public+" security", oaDig(t, doc, "paths", public, "post")["security"], []any{})
	}
	eq("/.well-known/jwks.json security", oaDig(t, doc, "paths", "/.well-known/jwks.json", "get")["security"], []any{})
	eq("/api/auth/me security", oaDig(t, doc, "paths", "/api/auth/me", "get")["security"], nil)
	eq("/api/auth/me tags", oaDig(t, doc, "paths", "/api/auth/me", "get")["tags"], []string{"Tokens"})
	login := oaDig(t, doc, "paths", "/api/auth/login", "post", "responses")
	eq("login 429", login["429"], map[string]any{"$ref": "#/components/responses/TooManyRequests"})
	eq("login 200 headers", oaSortedKeys(oaDig(t, login, "200", "headers")), []string{"Cache-Control"})
	eq("TooManyRequests headers", oaSortedKeys(oaDig(t, doc, "components", "responses", "TooManyRequests", "headers")), []string{"Retry-After"})
	eq("signup 201 schema", oaDig(t, doc, "paths", "/api/auth/signup", "post", "responses", "201", "content", "application/json")["schema"],
		map[string]any{"$ref": "#/components/schemas/TokenPair"})
	eq("SignupInput.required", oaDig(t, doc, "components", "schemas", "SignupInput")["required"], []string{"email", "password"})
	eq("Me.tenants item", oaDig(t, doc, "components", "schemas", "Me", "properties", "tenants", "items")["required"], []string{"tenant", "role"})
}

// TestOpenAPIMatchesServer drives a real server and checks each request
// and response against the document that server serves.
func TestOpenAPIMatchesServer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	recs := records.New(st, nil, nil)
	if err := recs.Load(ctx); err != nil {
		t.Fatal(err)
	}
	keys := auth.NewKeys(st, nil)
	admin, _, err := keys.Create(ctx, "admin", basalt.RoleAdmin, basalt.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	service, _, err := keys.Create(ctx, "service", basalt.RoleService, basalt.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	users, tokens := oaUsers(t, st)
	srv := NewServer(Config{BodyLimit: 1 << 20}, Deps{Records: recs, Store: st, Keys: keys, Users: users, Tokens: tokens,
		Tenants: tenants.New(st, recs, nil, "http://basalt.test", nil, nil), Version: "test"})
	c := &oaClient{t: t, srv: srv, key: admin}

	c.load()
	for _, col := range oaSampleCollections(t) {
		c.do(http.StatusCreated, "POST", "/api/collections", map[string]any{"name": col.Name, "fields": col.Fields, "indexes": col.Indexes})
	}
	c.load() // now with the typed paths of the collections

	rec := c.do(http.StatusCreated, "POST", "/api/collections/posts/records",
		map[string]any{"title": "Hello", "slug": "hello", "draft": false, "published": "2024-05-01T00:00:00Z", "meta": map[string]any{"a": 1}})
	id := rec.body["id"].(string)
	one := "/api/collections/posts/records/" + id
	got := c.do(http.StatusOK, "GET", one, nil)
	c.do(http.StatusNotModified, "GET", one, nil, "If-None-Match", got.header.Get("ETag"))
	c.do(http.StatusOK, "GET", one+"?fields=id,title", nil)
	c.do(http.StatusOK, "PATCH", one, map[string]any{"views": 7, "meta": nil}, "If-Match", got.header.Get("ETag"))
	c.do(http.StatusPreconditionFailed, "DELETE", one, nil, "If-Match", got.header.Get("ETag"))
	c.do(http.StatusCreated, "POST", "/api/collections/posts/records", map[string]any{"id": "second", "title": "Two", "draft": true})
	c.do(http.StatusConflict, "POST", "/api/collections/posts/records", map[string]any{"title": "Three", "slug": "hello", "draft": true})
	page := c.do(http.StatusOK, "GET", "/api/collections/posts/records?limit=1&sort=-views,title&filter=draft%20%3D%20false", nil)
	if page.body["next_cursor"] != nil {
		t.Errorf("next_cursor = %v on the last page", page.body["next_cursor"])
	}
	page = c.do(http.StatusOK, "GET", "/api/collections/posts/records?limit=1", nil)
	c.do(http.StatusOK, "GET", "/api/collections/posts/records?cursor="+page.body["next_cursor"].(string), nil)
	c.do(http.StatusCreated, "POST", "/api/collections/blog_posts/records", map[string]any{"tags": []string{"go"}, "due": "2030-01-02T03:04:05Z"})
	c.do(http.StatusNoContent, "DELETE", "/api/collections/posts/records/second", nil)
	c.do(http.StatusNotFound, "GET", "/api/collections/posts/records/second", nil)
	c.do(http.StatusNotFound, "GET", "/api/collections/nope/records", nil)

	c.do(http.StatusOK, "GET", "/api/collections", nil)
	c.do(http.StatusOK, "GET", "/api/collections/posts", nil)
	c.do(http.StatusOK, "PATCH", "/api/collections/blog_posts", map[string]any{"rename": map[string]string{"body": "text"}})
	c.do(http.StatusOK, "GET", "/api/events?after=0&limit=1000", nil)
	c.do(http.StatusOK, "GET", "/healthz", nil)
	c.do(http.StatusOK, "GET", "/readyz", nil)
	c.do(http.StatusOK, "GET", "/metrics", nil)

	c.key = ""
	c.do(http.StatusForbidden, "GET", "/api/collections/posts/records", nil) // no list rule: API keys only
	c.key = "bsk_aaaaaaaaaaaaaaaa_notthesecret"
	c.do(http.StatusUnauthorized, "GET", "/api/collections/posts/records", nil)
	c.key = service
	c.do(http.StatusForbidden, "GET", "/api/events", nil)
	c.do(http.StatusOK, "GET", "/api/collections/posts/records", nil)
	c.key = admin
	c.do(http.StatusNoContent, "DELETE", "/api/collections/blog_posts", nil)

	oaAccountRoutes(t, c)
	oaTenantRoutes(t, c)
}

// oaTenantRoutes drives the tenant routes through c as a new user, the
// owner of a new tenant.
func oaTenantRoutes(t *testing.T, c *oaClient) {
	t.Helper()
	c.key = ""
	signup := c.do(http.StatusCreated, "POST", "/api/auth/signup", map[string]any{"email": "grace@example.com", "password": "correct horse battery"})
	c.key = signup.body["access_token"].(string)
	user := signup.body["user"].(map[string]any)["id"].(string)

	created := c.do(http.StatusCreated, "POST", "/api/tenants", map[string]any{"name": "Navy"})
	tenant := "/api/tenants/" + created.body["id"].(string)
	c.do(http.StatusOK, "GET", "/api/tenants", nil)
	c.do(http.StatusOK, "GET", tenant, nil)
	c.do(http.StatusNotFound, "GET", "/api/tenants/nope", nil)
	c.do(http.StatusOK, "PATCH", tenant, map[string]any{"name": "US Navy"})
	c.do(http.StatusOK, "GET", tenant+"/members", nil)
	c.do(http.StatusConflict, "PATCH", tenant+"/members/"+user, map[string]any{"role": "member"})
	c.do(http.StatusCreated, "POST", tenant+"/roles", map[string]any{"name": "editor"})
	c.do(http.StatusOK, "GET", tenant+"/roles", nil)
	inv := c.do(http.StatusCreated, "POST", tenant+"/invites", map[string]any{"email": "ada@example.com", "role": "editor"})
	c.do(http.StatusOK, "GET", tenant+"/invites", nil)
	c.do(http.StatusNoContent, "DELETE", tenant+"/invites/"+inv.body["id"].(string), nil)
	c.do(http.StatusNoContent, "DELETE", tenant+"/roles/editor", nil)
	c.do(http.StatusOK, "GET", tenant+"/export", nil)
	c.do(http.StatusNotFound, "GET", "/api/invites/accept?token=bsi_unknown", nil)
	c.do(http.StatusNotFound, "POST", "/api/invites/accept", map[string]any{"token": "bsi_unknown"})

	switched := c.do(http.StatusOK, "POST", "/api/auth/switch", map[string]any{"tenant": created.body["id"]})
	c.key = switched.body["access_token"].(string)
	c.do(http.StatusOK, "GET", "/api/audit?after=0&limit=10", nil)
	c.do(http.StatusNoContent, "DELETE", tenant, nil)
}

// oaUsers returns the account service on st, with cheap password hashes.
func oaUsers(t *testing.T, st *sqlite.DB) (*auth.Users, *auth.Tokens) {
	t.Helper()
	box, err := auth.NewSecretBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, box, "basalt", nil)
	if err := tokens.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	users, err := auth.NewUsers(st, tokens, box, nil, auth.UsersConfig{SignupTenant: basalt.DefaultTenant, Issuer: "Basalt",
		Password: auth.PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return users, tokens
}

// oaAccountRoutes drives the account routes through c: sign-up, sign-in,
// refresh, the signed-in user's routes, mailed links (this server sends
// no mail) and sign-in throttling.
func oaAccountRoutes(t *testing.T, c *oaClient) {
	t.Helper()
	const email, password, newPassword = "ada@example.com", "correct horse battery", "staple of the engine"
	c.key = ""
	signup := c.do(http.StatusCreated, "POST", "/api/auth/signup", map[string]any{"email": email, "password": password, "name": "Ada"})
	c.do(http.StatusConflict, "POST", "/api/auth/signup", map[string]any{"email": email, "password": password})
	c.do(http.StatusBadRequest, "POST", "/api/auth/signup", map[string]any{"email": "ada2@example.com", "password": "short"})
	other := c.do(http.StatusOK, "POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	c.do(http.StatusOK, "POST", "/api/auth/login", map[string]any{"email": email, "password": password, "tenant": basalt.DefaultTenant})
	c.do(http.StatusForbidden, "POST", "/api/auth/login", map[string]any{"email": email, "password": password, "tenant": "elsewhere"})
	refreshed := c.do(http.StatusOK, "POST", "/api/auth/refresh", map[string]any{"refresh_token": signup.body["refresh_token"]})
	c.do(http.StatusUnauthorized, "POST", "/api/auth/refresh", map[string]any{"refresh_token": "bsr_unknown"})

	c.key = refreshed.body["access_token"].(string)
	me := c.do(http.StatusOK, "GET", "/api/auth/me", nil)
	c.do(http.StatusOK, "GET", "/api/auth/sessions", nil)
	switched := c.do(http.StatusOK, "POST", "/api/auth/switch", map[string]any{"tenant": basalt.DefaultTenant})
	c.do(http.StatusForbidden, "POST", "/api/auth/switch", map[string]any{"tenant": "elsewhere"})
	c.key = switched.body["access_token"].(string)
	c.do(http.StatusUnprocessableEntity, "POST", "/api/auth/verify/request", nil)

	setup := c.do(http.StatusOK, "POST", "/api/auth/totp/setup", nil)
	c.do(http.StatusBadRequest, "POST", "/api/auth/totp/enable", map[string]any{"code": "12345"})
	code, err := totp.GenerateCode(setup.body["secret"].(string), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.do(http.StatusOK, "POST", "/api/auth/totp/enable", map[string]any{"code": code})
	c.do(http.StatusConflict, "POST", "/api/auth/totp/setup", nil)
	c.do(http.StatusBadRequest, "POST", "/api/auth/totp/disable", map[string]any{"password": "not the password"})
	c.do(http.StatusNoContent, "POST", "/api/auth/totp/disable", map[string]any{"password": password})

	otherSession := oaSessionOf(t, other.body["access_token"].(string), c)
	c.do(http.StatusNoContent, "DELETE", "/api/auth/sessions/"+otherSession, nil)
	c.do(http.StatusNotFound, "DELETE", "/api/auth/sessions/"+otherSession, nil)
	c.do(http.StatusBadRequest, "POST", "/api/auth/password", map[string]any{"current_password": "wrong password", "new_password": newPassword})
	c.do(http.StatusNoContent, "POST", "/api/auth/password", map[string]any{"current_password": password, "new_password": newPassword})
	c.do(http.StatusUnsupportedMediaType, "POST", "/api/auth/password", nil)

	c.key = ""
	c.do(http.StatusNotFound, "GET", "/api/auth/verify?token=bse_unknown", nil)
	c.do(http.StatusNotFound, "POST", "/api/auth/verify", map[string]any{"token": "bse_unknown"})
	c.do(http.StatusNotFound, "GET", "/api/auth/unlock?token=bse_unknown", nil)
	c.do(http.StatusNotFound, "POST", "/api/auth/unlock", map[string]any{"token": "bse_unknown"})
	c.do(http.StatusNotFound, "GET", "/api/auth/reset?token=unknown", nil)
	c.do(http.StatusNotFound, "POST", "/api/auth/reset", map[string]any{"token": "bse_unknown", "password": newPassword})
	c.do(http.StatusUnprocessableEntity, "POST", "/api/auth/reset/request", map[string]any{"email": email})
	c.do(http.StatusOK, "GET", "/.well-known/jwks.json", nil)

	c.key = me.header.Get("X-Request-Id") // not a credential of any kind
	c.do(http.StatusUnauthorized, "GET", "/api/auth/me", nil)
	c.key = switched.body["access_token"].(string)
	c.do(http.StatusNoContent, "POST", "/api/auth/logout", nil)
	c.do(http.StatusUnauthorized, "GET", "/api/auth/me", nil)

	c.key = ""
	for range 3 {
		c.do(http.StatusUnauthorized, "POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	}
	limited := c.do(http.StatusTooManyRequests, "POST", "/api/auth/login", map[string]any{"email": email, "password": newPassword})
	if limited.header.Get("Retry-After") == "" {
		t.Error("POST /api/auth/login: 429 without Retry-After")
	}
}

// oaSessionOf returns the session id of an access token, asking the
// server through c (whose credential it restores).
func oaSessionOf(t *testing.T, token string, c *oaClient) string {
	t.Helper()
	key := c.key
	c.key = token
	defer func() { c.key = key }()
	s, _ := c.do(http.StatusOK, "GET", "/api/auth/me", nil).body["session"].(string)
	if s == "" {
		t.Fatal("GET /api/auth/me: no session")
	}
	return s
}

// oaClient sends requests to srv and checks each request and response
// against the document srv served last.
type oaClient struct {
	t   *testing.T
	srv http.Handler
	key string
	v   validator.Validator
}

type oaResult struct {
	status int
	header http.Header
	body   map[string]any
}

// load reads /api/openapi.json from the server and validates with it.
func (c *oaClient) load() {
	c.t.Helper()
	req := httptest.NewRequest("GET", "/api/openapi.json", nil)
	w := httptest.NewRecorder()
	c.srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		c.t.Fatalf("GET /api/openapi.json: %d %s", w.Code, w.Body)
	}
	doc, err := oaNewDocument(w.Body.Bytes())
	if err != nil {
		c.t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		c.t.Fatalf("NewValidator: %v", errs)
	}
	c.v = v
}

// do sends a request, checks it and its response against the document
// and the status against want, and returns the response. headers are
// name, value pairs.
func (c *oaClient) do(want int, method, target string, body any, headers ...string) oaResult {
	c.t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	newReq := func() *http.Request {
		req := httptest.NewRequest(method, target, bytes.NewReader(data))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return req
	}
	where := method + " " + target
	// A request refused with 400, 401 or 415 may break the document on
	// purpose (a short password, no credentials, no body); its response
	// is still checked.
	brokenOnPurpose := want == http.StatusBadRequest || want == http.StatusUnauthorized || want == http.StatusUnsupportedMediaType
	if ok, errs := c.v.ValidateHttpRequest(newReq()); !ok && !brokenOnPurpose {
		for _, e := range errs {
			c.t.Errorf("%s: request does not match the document: %s: %s", where, e.Message, e.Reason)
		}
	}
	req := newReq()
	w := httptest.NewRecorder()
	c.srv.ServeHTTP(w, req)
	resp := w.Result()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Errorf("%s: status %d, want %d: %s", where, resp.StatusCode, want, raw)
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if ok, errs := c.v.ValidateHttpResponse(newReq(), resp); !ok {
		for _, e := range errs {
			c.t.Errorf("%s: %d response does not match the document: %s: %s", where, resp.StatusCode, e.Message, e.Reason)
			for _, f := range e.SchemaValidationErrors {
				c.t.Errorf("  %s: %s", f.FieldPath, f.Reason)
			}
		}
	}
	res := oaResult{status: resp.StatusCode, header: resp.Header}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(raw) > 0 {
		_ = json.Unmarshal(raw, &res.body)
	}
	return res
}

// TestOpenAPICoversRoutes keeps the document and routes.go in step: with
// no collections, the document has exactly the routes registered with
// s.handle.
func TestOpenAPICoversRoutes(t *testing.T) {
	documented := map[string]bool{}
	for path, item := range OpenAPI(nil, "")["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	registered := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	handle := regexp.MustCompile(`s\.handle\("([A-Z]+ [^"]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range handle.FindAllSubmatch(src, -1) {
			registered[string(m[1])] = true
		}
	}
	if len(registered) == 0 {
		t.Fatal("found no s.handle calls")
	}
	for _, r := range slices.Sorted(maps.Keys(registered)) {
		if !documented[r] {
			t.Errorf("route %s is not in the OpenAPI document; describe it in openapi_doc.go", r)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(documented)) {
		if !registered[d] {
			t.Errorf("the OpenAPI document has %s, which no s.handle registers", d)
		}
	}
}
