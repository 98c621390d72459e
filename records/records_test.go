package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store/sqlite"
	"basalt.dev/basalt/store/storetest"
	"github.com/google/go-cmp/cmp"
)

// fieldCode is a FieldError without its message, which may be reworded.
type fieldCode struct{ Field, Code string }

// fieldCodes returns the field errors of err, which must be a *basalt.Error
// with code. It fails the test otherwise.
func fieldCodes(t *testing.T, err error, code basalt.Code) []fieldCode {
	t.Helper()
	var e *basalt.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %#v, want a *basalt.Error with code %s", err, code)
	}
	var out []fieldCode
	for _, fe := range e.Fields {
		out = append(out, fieldCode{fe.Field, fe.Code})
	}
	return out
}

func TestDecodeBodyErrors(t *testing.T) {
	t.Parallel()
	c := fuzzPosts()
	for _, tt := range []struct {
		name    string
		body    string
		m       mode
		want    []fieldCode // nil: an error of the whole body
		message string      // the start of the message of a body error
	}{
		{"empty", ``, forCreate, nil, "The body is empty or ends early"},
		{"truncated", `{"title":"x"`, forCreate, nil, "The body is empty or ends early"},
		{"malformed", `{"title" "x"}`, forCreate, nil, "Malformed JSON at byte"},
		{"bare key", `{title:"x"}`, forCreate, nil, "Malformed JSON at byte"},
		{"trailing comma", `{"title":"x",}`, forCreate, nil, "Malformed JSON at byte"},
		{"too deep", `{"meta":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, forUpdate, nil, "Malformed JSON at byte"},
		{"array", `[{"title":"x"}]`, forCreate, nil, "The body must be a JSON object"},
		{"null", `null`, forUpdate, nil, "The body must be a JSON object"},
		{"string", `"x"`, forUpdate, nil, "The body must be a JSON object"},
		{"two objects", `{"title":"x"} {}`, forCreate, nil, "The body must hold one JSON object"},
		{"trailing garbage", `{"title":"x"} x`, forCreate, nil, "The body must hold one JSON object"},
		{"too many keys", manyKeys(maxBodyFields + 1), forUpdate, nil, "The body has more than 1000 keys"},
		{"duplicate key", `{"title":"a","title":"b"}`, forCreate, []fieldCode{{"title", "duplicate"}}, ""},
		{"duplicate escaped key", `{"views":1,"vi\u0065ws":2}`, forUpdate, []fieldCode{{"views", "duplicate"}}, ""},
		{"unknown field", `{"title":"x","titel":"y"}`, forCreate, []fieldCode{{"titel", "unknown_field"}}, ""},
		{"tenant_id", `{"tenant_id":"t"}`, forUpdate, []fieldCode{{"tenant_id", "unknown_field"}}, ""},
		{"id on update", `{"id":"p1"}`, forUpdate, []fieldCode{{"id", "read_only"}}, ""},
		{"invalid id", `{"id":"a/b","title":"x"}`, forCreate, []fieldCode{{"id", "invalid"}}, ""},
		{"long id", `{"id":"` + strings.Repeat("a", 65) + `","title":"x"}`, forCreate, []fieldCode{{"id", "invalid"}}, ""},
		{"number id", `{"id":7,"title":"x"}`, forCreate, []fieldCode{{"id", "invalid"}}, ""},
		{"created", `{"created":"2024-05-01T00:00:00Z","title":"x"}`, forCreate, []fieldCode{{"created", "read_only"}}, ""},
		{"updated", `{"updated":null}`, forUpdate, []fieldCode{{"updated", "read_only"}}, ""},
		{"text as number", `{"title":1}`, forUpdate, []fieldCode{{"title", "type"}}, ""},
		{"text with NUL", `{"title":"a\u0000b"}`, forUpdate, []fieldCode{{"title", "invalid"}}, ""},
		{"text invalid UTF-8", "{\"title\":\"a\xffb\"}", forUpdate, []fieldCode{{"title", "type"}}, ""},
		{"required of the wrong type", `{"title":true}`, forCreate, []fieldCode{{"title", "type"}}, ""},
		{"number as string", `{"views":"1"}`, forUpdate, []fieldCode{{"views", "type"}}, ""},
		{"number too big", `{"views":1e400}`, forUpdate, []fieldCode{{"views", "out_of_range"}}, ""},
		{"number too negative", `{"views":-1e309}`, forUpdate, []fieldCode{{"views", "out_of_range"}}, ""},
		{"bool as number", `{"draft":1}`, forUpdate, []fieldCode{{"draft", "type"}}, ""},
		{"bool as string", `{"draft":"true"}`, forUpdate, []fieldCode{{"draft", "type"}}, ""},
		{"date as number", `{"published":20240501}`, forUpdate, []fieldCode{{"published", "type"}}, ""},
		{"date malformed", `{"published":"May 1, 2024"}`, forUpdate, []fieldCode{{"published", "invalid"}}, ""},
		{"date year 0", `{"published":"0000-12-31T23:59:59Z"}`, forUpdate, []fieldCode{{"published", "invalid"}}, ""},
		{"date past 9999 in UTC", `{"published":"9999-12-31T23:30:00-01:00"}`, forUpdate, []fieldCode{{"published", "invalid"}}, ""},
		{"json with NUL", `{"meta":{"k":"\u0000"}}`, forUpdate, []fieldCode{{"meta", "invalid"}}, ""},
		{"required missing", `{"views":1}`, forCreate, []fieldCode{{"title", "required"}}, ""},
		{"required null", `{"title":null}`, forCreate, []fieldCode{{"title", "required"}}, ""},
		{"required empty", `{"title":""}`, forCreate, []fieldCode{{"title", "required"}}, ""},
		{"required set to null", `{"title":null}`, forUpdate, []fieldCode{{"title", "required"}}, ""},
		{"required set to empty", `{"title":""}`, forUpdate, []fieldCode{{"title", "required"}}, ""},
		{"every problem at once", `{"titel":"x","views":"1","created":null,"draft":2}`, forCreate,
			[]fieldCode{{"titel", "unknown_field"}, {"views", "type"}, {"created", "read_only"}, {"draft", "type"}, {"title", "required"}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := decodeBody(c, []byte(tt.body), tt.m)
			if err == nil {
				t.Fatalf("decodeBody(%q, %s) = %+v, want an error", brief(tt.body), modeName(tt.m), b)
			}
			got := fieldCodes(t, err, basalt.CodeValidation)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeBody(%q, %s) field errors (-want +got):\n%s", brief(tt.body), modeName(tt.m), diff)
			}
			if msg := basalt.ErrorMessage(err); !strings.HasPrefix(msg, tt.message) {
				t.Errorf("decodeBody(%q, %s) message = %q, want it to start with %q", brief(tt.body), modeName(tt.m), msg, tt.message)
			}
		})
	}
}

// manyKeys returns a body of n distinct keys.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	b.WriteByte('}')
	return b.String()
}

// brief shortens long inputs in messages.
func brief(s string) string {
	if len(s) > 80 {
		return s[:60] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	c := fuzzPosts()
	date := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.UTC()
	}
	for _, tt := range []struct {
		name   string
		body   string
		m      mode
		wantID string
		want   map[string]any
	}{
		{"minimal create gets defaults", `{"title":"Hello"}`, forCreate, "",
			map[string]any{"title": "Hello", "draft": false}},
		{"update gets no defaults", `{"views":2}`, forUpdate, "", map[string]any{"views": 2.0}},
		{"empty update", ` {} `, forUpdate, "", map[string]any{}},
		{"every type", `{"id":"p-1_A","title":"Grüße ✓","slug":"x","views":-1.5e300,"draft":true,` +
			`"published":"2024-05-01T14:00:00.123456789+02:00","meta":{ "a" : [1, 2] },"order":"DROP TABLE posts"}`, forCreate, "p-1_A",
			map[string]any{"title": "Grüße ✓", "slug": "x", "views": -1.5e300, "draft": true,
				"published": date("2024-05-01T12:00:00.123456Z"), "meta": json.RawMessage(`{"a":[1,2]}`), "order": "DROP TABLE posts"}},
		{"nulls", `{"slug":null,"views":null,"draft":null,"published":null,"meta":null}`, forUpdate, "",
			map[string]any{"slug": nil, "views": nil, "draft": nil, "published": nil, "meta": nil}},
		{"null overrides a default", `{"title":"x","draft":null}`, forCreate, "", map[string]any{"title": "x", "draft": nil}},
		{"date alone is midnight UTC", `{"published":"2024-05-01"}`, forUpdate, "", map[string]any{"published": date("2024-05-01T00:00:00Z")}},
		{"date limits", `{"published":"0001-01-01T00:00:00Z"}`, forUpdate, "", map[string]any{"published": date("0001-01-01T00:00:00Z")}},
		{"negative zero", `{"views":-0}`, forUpdate, "", map[string]any{"views": math.Copysign(0, -1)}},
		{"tiny number", `{"views":1e-400}`, forUpdate, "", map[string]any{"views": 0.0}},
		{"escaped key", `{"vi\u0065ws":1}`, forUpdate, "", map[string]any{"views": 1.0}},
		{"escapes in text", `{"title":"\u2028\"\\\ud83d\ude00"}`, forCreate, "", map[string]any{"title": "\u2028\"\\😀", "draft": false}},
		{"json scalar", `{"meta":"\\u0041"}`, forUpdate, "", map[string]any{"meta": json.RawMessage(`"\\u0041"`)}},
		{"deep json", `{"meta":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}`, forUpdate, "",
			map[string]any{"meta": json.RawMessage(strings.Repeat("[", 500) + strings.Repeat("]", 500))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := decodeBody(c, []byte(tt.body), tt.m)
			if err != nil {
				t.Fatalf("decodeBody(%q, %s) = %v, want no error", brief(tt.body), modeName(tt.m), err)
			}
			if b.id != tt.wantID {
				t.Errorf("decodeBody(%q, %s).id = %q, want %q", brief(tt.body), modeName(tt.m), b.id, tt.wantID)
			}
			if diff := cmp.Diff(tt.want, b.values); diff != "" {
				t.Errorf("decodeBody(%q, %s).values (-want +got):\n%s", brief(tt.body), modeName(tt.m), diff)
			}
			if v, ok := b.values["views"].(float64); ok && math.Signbit(v) != math.Signbit(tt.want["views"].(float64)) {
				t.Errorf("decodeBody(%q, %s).views = %v, want %v", brief(tt.body), modeName(tt.m), v, tt.want["views"])
			}
		})
	}
}

// postsDef is the definition the collection tests start from.
func postsDef() *basalt.Collection {
	return &basalt.Collection{Name: "posts", Fields: []basalt.Field{
		{Name: "title", Type: basalt.TypeText, Required: true},
		{Name: "slug", Type: basalt.TypeText, Unique: true},
		{Name: "views", Type: basalt.TypeNumber},
		{Name: "draft", Type: basalt.TypeBool},
	}, Indexes: []basalt.Index{{Fields: []string{"views", "draft"}}}}
}

func normalized(c *basalt.Collection) *basalt.Collection {
	c.Normalize()
	return c
}

func fieldsPtr(fs ...basalt.Field) *[]basalt.Field { return &fs }

// patchString shows p in messages as a client would send it.
func patchString(p *CollectionPatch) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func TestApplyPatch(t *testing.T) {
	t.Parallel()
	old := normalized(postsDef())
	text := basalt.Field{Name: "title", Type: basalt.TypeText, Required: true}
	for _, tt := range []struct {
		name        string
		patch       CollectionPatch
		wantFields  []string // name:type
		wantIndexes [][]string
	}{
		{"nothing", CollectionPatch{}, []string{"title:text", "slug:text", "views:number", "draft:bool"}, [][]string{{"views", "draft"}}},
		{"rename moves the field and its indexes", CollectionPatch{Rename: map[string]string{"views": "hits"}},
			[]string{"title:text", "slug:text", "hits:number", "draft:bool"}, [][]string{{"hits", "draft"}}},
		{"rename then drop in one patch", CollectionPatch{Rename: map[string]string{"slug": "handle"}, Fields: fieldsPtr(text)},
			[]string{"title:text"}, [][]string{{"views", "draft"}}},
		{"new fields and indexes are taken as given", CollectionPatch{Rename: map[string]string{"views": "hits"},
			Fields:  fieldsPtr(text, basalt.Field{Name: "hits", Type: basalt.TypeNumber}),
			Indexes: &[]basalt.Index{{Fields: []string{"hits"}}}},
			[]string{"title:text", "hits:number"}, [][]string{{"hits"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := normalized(postsDef())
			next, err := applyPatch(old, &tt.patch)
			if err != nil {
				t.Fatalf("applyPatch(%s) = %v", patchString(&tt.patch), err)
			}
			var fields []string
			for _, f := range next.Fields {
				fields = append(fields, f.Name+":"+string(f.Type))
			}
			var indexes [][]string
			for _, ix := range next.Indexes {
				indexes = append(indexes, ix.Fields)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("applyPatch(%s) fields (-want +got):\n%s", patchString(&tt.patch), diff)
			}
			if diff := cmp.Diff(tt.wantIndexes, indexes); diff != "" {
				t.Errorf("applyPatch(%s) indexes (-want +got):\n%s", patchString(&tt.patch), diff)
			}
			if diff := cmp.Diff(before, old); diff != "" {
				t.Errorf("applyPatch(%s) changed the old definition (-before +after):\n%s", patchString(&tt.patch), diff)
			}
		})
	}
}

func TestCheckRenames(t *testing.T) {
	t.Parallel()
	old := normalized(postsDef())
	for _, tt := range []struct {
		name    string
		renames map[string]string
		want    []fieldCode // nil: accepted
	}{
		{"none", nil, nil},
		{"one", map[string]string{"views": "hits"}, nil},
		{"two", map[string]string{"views": "hits", "slug": "handle"}, nil},
		{"to a taken name", map[string]string{"views": "title"}, []fieldCode{{"rename.views", "conflict"}}},
		{"to itself", map[string]string{"views": "views"}, []fieldCode{{"rename.views", "conflict"}}},
		{"swap", map[string]string{"title": "slug", "slug": "title"},
			[]fieldCode{{"rename.slug", "conflict"}, {"rename.title", "conflict"}}},
		{"chain", map[string]string{"title": "slug", "slug": "handle"}, []fieldCode{{"rename.title", "conflict"}}},
		{"two to one name", map[string]string{"title": "name", "slug": "name"}, []fieldCode{{"rename.title", "conflict"}}},
		{"to a system field", map[string]string{"views": "id"}, []fieldCode{{"rename.views", "reserved"}}},
		{"to created", map[string]string{"views": "created"}, []fieldCode{{"rename.views", "reserved"}}},
		{"unknown field", map[string]string{"titel": "name"}, []fieldCode{{"rename.titel", "unknown_field"}}},
		{"system field", map[string]string{"id": "key"}, []fieldCode{{"rename.id", "unknown_field"}}},
		{"invalid name", map[string]string{"views": "Hits"}, []fieldCode{{"rename.views", "invalid"}}},
		{"empty name", map[string]string{"views": ""}, []fieldCode{{"rename.views", "invalid"}}},
		{"long name", map[string]string{"views": strings.Repeat("h", basalt.MaxFieldName+1)}, []fieldCode{{"rename.views", "invalid"}}},
		{"longest name", map[string]string{"views": strings.Repeat("h", basalt.MaxFieldName)}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkRenames(old, tt.renames)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("checkRenames(%v) = %v, want nil", tt.renames, err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, fieldCodes(t, err, basalt.CodeValidation)); diff != "" {
				t.Errorf("checkRenames(%v) field errors (-want +got):\n%s", tt.renames, diff)
			}
		})
	}
}

func TestCheckTypeChanges(t *testing.T) {
	t.Parallel()
	old := normalized(postsDef())
	title := basalt.Field{Name: "title", Type: basalt.TypeText, Required: true}
	for _, tt := range []struct {
		name    string
		fields  []basalt.Field
		renames map[string]string
		want    []fieldCode // nil: accepted
	}{
		{"same types", old.Fields, nil, nil},
		{"dropped and added", []basalt.Field{title, {Name: "score", Type: basalt.TypeDate}}, nil, nil},
		{"number to text", []basalt.Field{title, {Name: "views", Type: basalt.TypeText}}, nil, []fieldCode{{"views", "type_change"}}},
		{"bool to number", []basalt.Field{title, {Name: "draft", Type: basalt.TypeNumber}}, nil, []fieldCode{{"draft", "type_change"}}},
		{"renamed and changed", []basalt.Field{title, {Name: "hits", Type: basalt.TypeJSON}}, map[string]string{"views": "hits"},
			[]fieldCode{{"hits", "type_change"}}},
		{"renamed away, old name reused", []basalt.Field{title, {Name: "views", Type: basalt.TypeText}, {Name: "hits", Type: basalt.TypeNumber}},
			map[string]string{"views": "hits"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next := &basalt.Collection{Name: old.Name, Fields: tt.fields}
			err := checkTypeChanges(old, next, tt.renames)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("checkTypeChanges(%v, %v) = %v, want nil", tt.fields, tt.renames, err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, fieldCodes(t, err, basalt.CodeUnprocessable)); diff != "" {
				t.Errorf("checkTypeChanges(%v, %v) field errors (-want +got):\n%s", tt.fields, tt.renames, diff)
			}
		})
	}
}

// testBundle is a service on a real SQLite store, with one posts record.
type testBundle struct {
	ctx context.Context
	svc *Service
	db  *sqlite.DB
}

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) *testBundle {
	t.Helper()
	// An admin key: these tests are about records, not access rules.
	ctx := basalt.NewContext(context.Background(), &basalt.Principal{Kind: "key", ID: "k", TenantID: basalt.DefaultTenant, Role: basalt.RoleAdmin, Scopes: basalt.RoleScopes(basalt.RoleAdmin)})
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Open() = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	svc := New(db, func() time.Time { return testNow }, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatalf("Load() = %v", err)
	}
	c, err := svc.CreateCollection(ctx, postsDef())
	if err != nil {
		t.Fatalf("CreateCollection(posts) = %v", err)
	}
	storetest.MustInsert(t, db, basalt.DefaultTenant, c,
		storetest.NewRecord("p1", map[string]any{"title": "Hello", "slug": "hello", "views": 10.0, "draft": true}))
	return &testBundle{ctx: ctx, svc: svc, db: db}
}

func (tb *testBundle) mustCreate(t *testing.T, body string) {
	t.Helper()
	if _, err := tb.svc.Create(tb.ctx, "posts", []byte(body)); err != nil {
		t.Fatalf("Create(posts, %s) = %v", body, err)
	}
}

func (tb *testBundle) mustUpdate(t *testing.T, p *CollectionPatch) *basalt.Collection {
	t.Helper()
	c, err := tb.svc.UpdateCollection(tb.ctx, "posts", p)
	if err != nil {
		t.Fatalf("UpdateCollection(posts, %s) = %v", patchString(p), err)
	}
	return c
}

// recordJSON returns record p1 as clients see it.
func (tb *testBundle) recordJSON(t *testing.T) string {
	t.Helper()
	rd, err := tb.svc.Get(tb.ctx, "posts", "p1", "")
	if err != nil {
		t.Fatalf("Get(posts, p1) = %v", err)
	}
	return string(basalt.AppendRecordJSON(nil, rd.Collection, rd.Record, nil))
}

// storedDef returns the definition of posts as the store holds it.
func (tb *testBundle) storedDef(t *testing.T) *basalt.Collection {
	t.Helper()
	cs, err := tb.db.CollectionList(tb.ctx)
	if err != nil {
		t.Fatalf("CollectionList() = %v", err)
	}
	for _, c := range cs {
		if c.Name == "posts" {
			return c
		}
	}
	t.Fatalf("CollectionList() has no posts")
	return nil
}

// p1Times are the dates of storetest.NewRecord.
const p1Times = `"created":"2026-05-01T12:00:00.123456Z","updated":"2026-05-01T12:00:00.123456Z"`

func TestUpdateCollectionRenameThenDrop(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mustUpdate(t, &CollectionPatch{Rename: map[string]string{"views": "hits"}})
	if got, want := tb.recordJSON(t), `{"id":"p1",`+p1Times+`,"title":"Hello","slug":"hello","hits":10,"draft":true}`; got != want {
		t.Fatalf("after renaming views to hits, record = %s, want %s", got, want)
	}
	tb.mustUpdate(t, &CollectionPatch{
		Fields:  fieldsPtr(postsDef().Fields[0], postsDef().Fields[1], postsDef().Fields[3]),
		Indexes: &[]basalt.Index{},
	})
	if got, want := tb.recordJSON(t), `{"id":"p1",`+p1Times+`,"title":"Hello","slug":"hello","draft":true}`; got != want {
		t.Fatalf("after dropping hits, record = %s, want %s", got, want)
	}
	// A field of the dropped name starts empty: the data went with the drop.
	tb.mustUpdate(t, &CollectionPatch{Fields: fieldsPtr(append(postsDef().Fields, basalt.Field{Name: "hits", Type: basalt.TypeText})...)})
	if got, want := tb.recordJSON(t), `{"id":"p1",`+p1Times+`,"title":"Hello","slug":"hello","views":null,"draft":true,"hits":null}`; got != want {
		t.Fatalf("after adding views and hits again, record = %s, want %s", got, want)
	}
}

func TestUpdateCollectionRenameAndDropInOnePatch(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mustUpdate(t, &CollectionPatch{
		Rename:  map[string]string{"slug": "handle", "views": "hits"},
		Fields:  fieldsPtr(postsDef().Fields[0], basalt.Field{Name: "hits", Type: basalt.TypeNumber}),
		Indexes: &[]basalt.Index{{Fields: []string{"hits"}}},
	})
	if got, want := tb.recordJSON(t), `{"id":"p1",`+p1Times+`,"title":"Hello","hits":10}`; got != want {
		t.Fatalf("record = %s, want %s", got, want)
	}
	// The unique index of the dropped slug is gone with it.
	tb.mustUpdate(t, &CollectionPatch{Fields: fieldsPtr(postsDef().Fields[0], basalt.Field{Name: "handle", Type: basalt.TypeText}), Indexes: &[]basalt.Index{}})
	tb.mustCreate(t, `{"title":"a","handle":"hello"}`)
	tb.mustCreate(t, `{"title":"b","handle":"hello"}`)
}

func TestUpdateCollectionRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		patch CollectionPatch
		code  basalt.Code
		want  []fieldCode
	}{
		{"rename to a taken name", CollectionPatch{Rename: map[string]string{"views": "slug"}},
			basalt.CodeValidation, []fieldCode{{"rename.views", "conflict"}}},
		{"rename to a taken name that is dropped", CollectionPatch{Rename: map[string]string{"views": "slug"},
			Fields: fieldsPtr(postsDef().Fields[0], basalt.Field{Name: "slug", Type: basalt.TypeNumber})},
			basalt.CodeValidation, []fieldCode{{"rename.views", "conflict"}}},
		{"swap names", CollectionPatch{Rename: map[string]string{"title": "slug", "slug": "title"}},
			basalt.CodeValidation, []fieldCode{{"rename.slug", "conflict"}, {"rename.title", "conflict"}}},
		{"rename to a reserved name", CollectionPatch{Rename: map[string]string{"views": "tenant_id"}},
			basalt.CodeValidation, []fieldCode{{"rename.views", "reserved"}}},
		{"type change", CollectionPatch{Fields: fieldsPtr(postsDef().Fields[0], basalt.Field{Name: "views", Type: basalt.TypeText}), Indexes: &[]basalt.Index{}},
			basalt.CodeUnprocessable, []fieldCode{{"views", "type_change"}}},
		{"type change with a rename", CollectionPatch{Rename: map[string]string{"views": "hits"},
			Fields: fieldsPtr(postsDef().Fields[0], basalt.Field{Name: "hits", Type: basalt.TypeBool}), Indexes: &[]basalt.Index{}},
			basalt.CodeUnprocessable, []fieldCode{{"hits", "type_change"}}},
		{"rename the collection", CollectionPatch{Name: new("articles")},
			basalt.CodeValidation, []fieldCode{{"name", "read_only"}}},
		{"required without default", CollectionPatch{Fields: fieldsPtr(append(postsDef().Fields, basalt.Field{Name: "body", Type: basalt.TypeText, Required: true})...)},
			basalt.CodeUnprocessable, []fieldCode{{"body", "default_required"}}},
		{"index of a dropped field", CollectionPatch{Fields: fieldsPtr(postsDef().Fields[0])},
			basalt.CodeValidation, []fieldCode{{"indexes[0].fields", "unknown_field"}, {"indexes[0].fields", "unknown_field"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			before, stored := tb.recordJSON(t), tb.storedDef(t)
			c, err := tb.svc.UpdateCollection(tb.ctx, "posts", &tt.patch)
			if err == nil {
				t.Fatalf("UpdateCollection(posts, %s) = %+v, want an error", patchString(&tt.patch), c)
			}
			if diff := cmp.Diff(tt.want, fieldCodes(t, err, tt.code)); diff != "" {
				t.Errorf("UpdateCollection(posts, %s) field errors (-want +got):\n%s", patchString(&tt.patch), diff)
			}
			if after := tb.recordJSON(t); after != before {
				t.Errorf("after a refused patch, record = %s, want %s", after, before)
			}
			if diff := cmp.Diff(stored, tb.storedDef(t)); diff != "" {
				t.Errorf("a refused patch changed the stored definition (-before +after):\n%s", diff)
			}
		})
	}
}

// TestRenameToTenantID: a rename to the reserved name tenant_id, with a
// field list that does not name it, is refused before the database.
func TestRenameToTenantID(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	p := &CollectionPatch{Rename: map[string]string{"views": "tenant_id"}, Fields: fieldsPtr(postsDef().Fields[0]), Indexes: &[]basalt.Index{}}
	_, err := tb.svc.UpdateCollection(tb.ctx, "posts", p)
	if code := basalt.ErrorCode(err); code != basalt.CodeValidation {
		t.Errorf("UpdateCollection(posts, rename views to tenant_id) error code = %q (%v), want validation", code, err)
	}
}

// TestCursorLongText: after a long text sort value, the cursor names the
// record instead of holding the value, and the next page follows.
func TestCursorLongText(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	long := strings.Repeat("x", maxCursor)
	tb.mustCreate(t, `{"title":"`+long+`a"}`)
	tb.mustCreate(t, `{"title":"`+long+`b"}`)
	page, err := tb.svc.List(tb.ctx, "posts", ListParams{Sort: "-title", Limit: "1"})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("List(sort=-title, limit=1) = %+v, %v, want a page with a next cursor", page, err)
	}
	next, err := tb.svc.List(tb.ctx, "posts", ListParams{Sort: "-title", Limit: "1", Cursor: page.NextCursor})
	if err != nil || len(next.Items) != 1 || next.Items[0].Data["title"] != long+"a" {
		t.Errorf("List(sort=-title, cursor=next_cursor of %d chars) = %+v, %v, want the record ending in a", len(page.NextCursor), next, err)
	}
}

// TestJSONFieldInvalidUTF8: a json value with invalid UTF-8 is refused,
// as text is.
func TestJSONFieldInvalidUTF8(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	tb.mustUpdate(t, &CollectionPatch{Fields: fieldsPtr(append(postsDef().Fields, basalt.Field{Name: "meta", Type: basalt.TypeJSON})...)})
	_, err := tb.svc.Create(tb.ctx, "posts", []byte("{\"id\":\"p2\",\"title\":\"x\",\"meta\":\"a\xffb\"}"))
	if err != nil {
		return // refused, as text is
	}
	rd, err := tb.svc.Get(tb.ctx, "posts", "p2", "")
	if err != nil {
		t.Fatalf("Get(posts, p2) = %v", err)
	}
	if out := basalt.AppendRecordJSON(nil, rd.Collection, rd.Record, nil); !utf8.Valid(out) {
		t.Errorf("a json value with invalid UTF-8 is accepted and served as %q, which is not UTF-8", out)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"01hzy3k0r8s4t5v6w7x8y9z0ab", true},
		{"A-Z_a-z-0-9", true},
		{"-", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"a b", false},
		{"a/b", false},
		{"a.b", false},
		{"a%2F", false},
		{"é", false},
		{"a\x00", false},
		{"..", false},
	} {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	c := normalized(postsDef())
	for _, tt := range []struct {
		src     string
		want    map[string]bool
		wantErr bool
	}{
		{"", nil, false},
		{"  ", nil, false},
		{"title", map[string]bool{"title": true}, false},
		{" title , views ", map[string]bool{"title": true, "views": true}, false},
		{"id,created,updated", map[string]bool{"id": true, "created": true, "updated": true}, false},
		{"title,title", map[string]bool{"title": true}, false},
		{"titel", nil, true},
		{"title,", nil, true},
		{",title", nil, true},
		{"tenant_id", nil, true},
		{"Title", nil, true},
	} {
		got, err := ParseFields(tt.src, c)
		if tt.wantErr {
			if diff := cmp.Diff([]fieldCode{{"fields", "unknown_field"}}, fieldCodes(t, err, basalt.CodeValidation)); diff != "" {
				t.Errorf("ParseFields(%q) field errors (-want +got):\n%s", tt.src, diff)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("ParseFields(%q) = %v, %v, want %v, nil", tt.src, got, err, tt.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		src  string
		want int // 0: refused
	}{
		{"", DefaultLimit},
		{"1", 1},
		{"50", 50},
		{"500", MaxLimit},
		{"+7", 7},
		{"007", 7},
		{"0", 0},
		{"-1", 0},
		{"501", 0},
		{"1.5", 0},
		{" 5", 0},
		{"1e2", 0},
		{"ten", 0},
		{"99999999999999999999", 0},
	} {
		got, err := parseLimit(tt.src)
		if tt.want == 0 {
			if diff := cmp.Diff([]fieldCode{{"limit", "out_of_range"}}, fieldCodes(t, err, basalt.CodeValidation)); diff != "" {
				t.Errorf("parseLimit(%q) field errors (-want +got):\n%s", tt.src, diff)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseLimit(%q) = %d, %v, want %d, nil", tt.src, got, err, tt.want)
		}
	}
}
