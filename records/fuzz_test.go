package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// fuzzPosts is the collection of the fuzz tests: every writable field
// type, a required field, a unique field, a field with a default and a
// field named after an SQL keyword.
func fuzzPosts() *basalt.Collection {
	c := &basalt.Collection{Name: "posts", Fields: []basalt.Field{
		{Name: "title", Type: basalt.TypeText, Required: true},
		{Name: "slug", Type: basalt.TypeText, Unique: true},
		{Name: "views", Type: basalt.TypeNumber},
		{Name: "draft", Type: basalt.TypeBool, Default: json.RawMessage(`false`)},
		{Name: "published", Type: basalt.TypeDate},
		{Name: "meta", Type: basalt.TypeJSON},
		{Name: "order", Type: basalt.TypeText},
	}}
	c.Normalize()
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// bodySeeds are the seeds of FuzzDecodeBody, good and bad; the same
// bodies are in testdata/fuzz/FuzzDecodeBody, named by name.
var bodySeeds = []struct {
	name   string
	body   string
	update bool
}{
	{"minimal", `{"title":"Hello"}`, false},
	{"every_field", `{"id":"p1","title":"Hello","slug":"hello","views":12.5,"draft":true,"published":"2024-05-01T12:00:00Z","meta":{"a":[1,2]},"order":"1"}`, false},
	{"update_one", `{"views":3}`, true},
	{"update_null_required", `{"title":null}`, true},
	{"update_empty", `{}`, true},
	{"create_empty", `{}`, false},
	{"nulls", `{"title":"x","slug":null,"views":null,"draft":null,"published":null,"meta":null,"order":null}`, false},
	{"empty_title", `{"title":""}`, false},
	{"spaces", " \t\n{ \"title\" : \"x\" }\n ", false},
	{"malformed", `{"title":`, false},
	{"malformed_key", `{title:"x"}`, false},
	{"trailing_comma", `{"title":"x",}`, false},
	{"trailing_data", `{"title":"x"} {}`, false},
	{"trailing_garbage", `{"title":"x"}x`, false},
	{"empty", ``, false},
	{"null_body", `null`, false},
	{"array", `[{"title":"x"}]`, false},
	{"string_body", `"title"`, false},
	{"duplicate_key", `{"title":"a","title":"b"}`, false},
	{"duplicate_escaped_key", `{"title":"a","titl\u0065":"b"}`, false},
	{"huge_number", `{"title":"x","views":1e400}`, false},
	{"tiny_number", `{"title":"x","views":1e-400}`, false},
	{"negative_zero", `{"title":"x","views":-0}`, false},
	{"max_float", `{"title":"x","views":1.7976931348623157e308}`, false},
	{"number_as_string", `{"title":"x","views":"12"}`, false},
	{"nul_text", `{"title":"a\u0000b"}`, false},
	{"nul_json", `{"title":"x","meta":{"k":"\u0000"}}`, false},
	{"escaped_backslash_u0000_json", `{"title":"x","meta":"\\u0000"}`, false},
	{"invalid_utf8_text", "{\"title\":\"a\xffb\"}", false},
	{"invalid_utf8_json", "{\"title\":\"x\",\"meta\":\"\xff\"}", false},
	{"invalid_utf8_key", "{\"\xff\":1}", false},
	{"surrogate_escape", `{"title":"\ud800"}`, false},
	{"line_separator", "{\"title\":\"a\u2028b\"}", false},
	{"deep_json", `{"title":"x","meta":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, false},
	{"deep_json_unclosed", `{"title":"x","meta":` + strings.Repeat(`{"a":`, 100) + `}`, false},
	{"json_spaces", `{"title":"x","meta":{ "a" : [ 1 , 2 ] }}`, false},
	{"unknown_field", `{"title":"x","titel":"y"}`, false},
	{"id_on_update", `{"id":"p1"}`, true},
	{"bad_id", `{"id":"a/b","title":"x"}`, false},
	{"long_id", `{"id":"` + strings.Repeat("a", 65) + `","title":"x"}`, false},
	{"number_id", `{"id":1,"title":"x"}`, false},
	{"created", `{"title":"x","created":"2024-05-01T00:00:00Z"}`, false},
	{"updated", `{"updated":"2024-05-01T00:00:00Z"}`, true},
	{"tenant_id", `{"title":"x","tenant_id":"t"}`, false},
	{"date_only", `{"title":"x","published":"2024-05-01"}`, false},
	{"date_nanos", `{"title":"x","published":"2024-05-01T12:00:00.123456789+02:00"}`, false},
	{"date_year_0", `{"title":"x","published":"0000-12-31T23:59:59Z"}`, false},
	{"date_year_10000", `{"title":"x","published":"9999-12-31T23:59:59-01:00"}`, false},
	{"date_number", `{"title":"x","published":20240501}`, false},
	{"bool_string", `{"title":"x","draft":"true"}`, false},
	{"bool_number", `{"title":"x","draft":1}`, false},
	{"text_number", `{"title":1}`, false},
	{"order_field", `{"title":"x","order":"DROP TABLE posts"}`, false},
	{"many_keys", `{"title":"x"` + strings.Repeat(`,"a":1`, 3) + `}`, false},
}

// FuzzDecodeBody checks that decodeBody never panics, refuses with
// validation errors only, and that what it accepts has the Go type of
// each field, holds the required fields and no unknown key, and is what
// encoding/json reads from the same bytes (the oracle).
func FuzzDecodeBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s.body), s.update)
	}
	c := fuzzPosts()
	f.Fuzz(func(t *testing.T, data []byte, update bool) {
		m := forCreate
		if update {
			m = forUpdate
		}
		b, err := decodeBody(c, data, m)
		if err != nil {
			var e *basalt.Error
			if !errors.As(err, &e) || basalt.ErrorCode(err) != basalt.CodeValidation {
				t.Fatalf("decodeBody(%q, %s) error = %#v, want a *basalt.Error with code validation", data, modeName(m), err)
			}
			return
		}
		var oracle map[string]any
		if err := json.Unmarshal(data, &oracle); err != nil {
			t.Fatalf("decodeBody(%q, %s) succeeded, but encoding/json refuses it: %v", data, modeName(m), err)
		}
		checkBody(t, c, data, m, b, oracle)
	})
}

// checkBody checks an accepted body b against the value oracle that
// encoding/json decoded from the same data.
func checkBody(t *testing.T, c *basalt.Collection, data []byte, m mode, b *body, oracle map[string]any) {
	t.Helper()
	for key, want := range oracle {
		if key == "id" {
			if m != forCreate || b.id != want || !ValidID(b.id) {
				t.Fatalf("decodeBody(%q, %s).id = %q, want %q, a valid id, on create only", data, modeName(m), b.id, want)
			}
			continue
		}
		f := c.Field(key)
		if f == nil {
			t.Fatalf("decodeBody(%q, %s) accepted unknown key %q", data, modeName(m), key)
		}
		got, ok := b.values[key]
		if !ok {
			t.Fatalf("decodeBody(%q, %s) lost key %q", data, modeName(m), key)
		}
		checkValue(t, f, got)
		if !sameAsOracle(f, got, want) {
			t.Fatalf("decodeBody(%q, %s)[%q] = %#v, but encoding/json reads %#v", data, modeName(m), key, got, want)
		}
	}
	for key := range b.values {
		f := c.Field(key)
		if _, ok := oracle[key]; !ok && (m != forCreate || f == nil || len(f.Default) == 0) {
			t.Fatalf("decodeBody(%q, %s) has key %q, which is neither in the body nor a default", data, modeName(m), key)
		}
	}
	for _, f := range c.Fields {
		v, present := b.values[f.Name]
		if f.Required && (m == forCreate || present) && (v == nil || v == "") {
			t.Fatalf("decodeBody(%q, %s) accepted required %s = %#v", data, modeName(m), f.Name, v)
		}
	}
}

// checkValue fails unless v has the Go type that f's type implies, in
// its canonical form.
func checkValue(t *testing.T, f *basalt.Field, v any) {
	t.Helper()
	if v == nil {
		return
	}
	ok := false
	switch f.Type {
	case basalt.TypeText:
		s, isString := v.(string)
		ok = isString && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
	case basalt.TypeNumber:
		n, isFloat := v.(float64)
		ok = isFloat && !math.IsInf(n, 0) && !math.IsNaN(n)
	case basalt.TypeBool:
		_, ok = v.(bool)
	case basalt.TypeDate:
		d, isTime := v.(time.Time)
		ok = isTime && d.Location() == time.UTC && d.Nanosecond()%1000 == 0 && d.Year() >= 1 && d.Year() <= 9999
	case basalt.TypeJSON:
		raw, isRaw := v.(json.RawMessage)
		var compact bytes.Buffer
		ok = isRaw && json.Valid(raw) && json.Compact(&compact, raw) == nil && bytes.Equal(compact.Bytes(), raw)
	}
	if !ok {
		t.Fatalf("value of %s field %s = %#v (%T), not its canonical Go type", f.Type, f.Name, v, v)
	}
}

// sameAsOracle reports whether our value got means what encoding/json
// decoded into want (nil, string, float64, bool, map or slice).
func sameAsOracle(f *basalt.Field, got, want any) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	switch f.Type {
	case basalt.TypeDate:
		s, _ := want.(string)
		d, ok := basalt.ParseTime(s)
		return ok && d.Equal(got.(time.Time))
	case basalt.TypeJSON:
		var v any
		return json.Unmarshal(got.(json.RawMessage), &v) == nil && reflect.DeepEqual(v, want)
	}
	return got == want
}

// modeName names m in messages.
func modeName(m mode) string {
	if m == forCreate {
		return "forCreate"
	}
	return "forUpdate"
}

// cursorSeeds are the seeds of FuzzCursor; the same values are in
// testdata/fuzz/FuzzCursor.
var cursorSeeds = []struct {
	name   string
	cursor string
	sort   string
	id     string
	text   string
	num    float64
	flag   bool
	micros int64
	nulls  uint8
}{
	{"default_sort", "WyIiLCJhIl0", "", "01hzy", "Hello", 1, true, 1714564800123456, 0},
	{"text_desc", "WyItdGl0bGUiLCJhIiwiYiJd", "-title", "r1", "héllo \"w\"", 2.5, false, 0, 0},
	{"number", "WyJ2aWV3cyIsMSwiYSJd", "views", "r2", "", math.Copysign(0, -1), true, -62135596800000000, 0},
	{"date", "", "published,-created", "r-3", "x", math.MaxFloat64, false, 253402300799999999, 0},
	{"bool_nulls", "WyJkcmFmdCxpZCIsbnVsbCwiYSJd", "draft,id", "r_4", "\u2028", 1e21, true, 1, 0xff},
	{"three_keys", "not base64!", "order,views,-updated", "R5", "\x00\xff", math.SmallestNonzeroFloat64, false, -1, 0x0f},
	{"null_id", "WyIiLG51bGxd", "", "a", "a", 0, false, 0, 0},
	{"too_few", "WyJ0aXRsZSJd", "title", "a", "a", 0, false, 0, 0},
	{"wrong_type", "WyJ0aXRsZSIsMSwiYSJd", "title", "a", "a", 0, false, 0, 0},
	{"not_array", "eyJhIjoxfQ", "", "a", "a", 0, false, 0, 0},
	{"empty_array", "W10", "", "a", "a", 0, false, 0, 0},
	{"nul_text", "WyJ0aXRsZSIsIlx1MDAwMCIsImEiXQ", "title", "a", "a", 0, false, 0, 0},
	{"bad_sort", "WyIiLCJhIl0", "meta", "a", "a", 0, false, 0, 0},
}

// FuzzCursor checks that decodeCursor never panics and refuses with
// validation errors only, and that the cursor after any record a body can
// make decodes to that record's sort values.
func FuzzCursor(f *testing.F) {
	for _, s := range cursorSeeds {
		f.Add(s.cursor, s.sort, s.id, s.text, s.num, s.flag, s.micros, s.nulls)
	}
	c := fuzzPosts()
	f.Fuzz(func(t *testing.T, cursor, sortSrc, id, text string, num float64, flag bool, micros int64, nulls uint8) {
		sort, err := filter.ParseSort(sortSrc, c)
		if err != nil {
			sort = nil // the default order, by id
		}
		vals, ref, err := decodeCursor(cursor, c, sort)
		if err != nil {
			var e *basalt.Error
			if !errors.As(err, &e) || e.Code != basalt.CodeValidation {
				t.Fatalf("decodeCursor(%q, %q) error = %#v, want a validation error", cursor, sortString(sort), err)
			}
		} else if ref == "" {
			checkCursorValues(t, c, sort, vals)
		} else if !ValidID(ref) {
			t.Fatalf("decodeCursor(%q) names record %q, not a valid id", cursor, ref)
		}

		r := cursorRecord(id, text, num, flag, micros, nulls)
		enc := encodeCursor(c, sort, r)
		if len(enc) > maxCursor {
			t.Fatalf("encodeCursor(%q, %+v) is %d long, over the limit %d", sortString(sort), r, len(enc), maxCursor)
		}
		got, ref, err := decodeCursor(enc, c, sort)
		if err != nil {
			t.Fatalf("decodeCursor(encodeCursor(%q, %+v)) error = %v", sortString(sort), r, err)
		}
		if ref != "" {
			if ref != r.ID {
				t.Fatalf("reference cursor names %q, want %q", ref, r.ID)
			}
			return
		}
		for i, k := range store.SortKeys(sort) {
			if want := recordValue(r, k.Field); !sameValue(got[i], want) {
				t.Fatalf("decodeCursor(encodeCursor(%q, %+v))[%s] = %#v, want %#v", sortString(sort), r, k.Field, got[i], want)
			}
		}
	})
}

// checkCursorValues checks that the values of a decoded cursor have the
// types of their sort keys, and that only declared fields are null.
func checkCursorValues(t *testing.T, c *basalt.Collection, sort []filter.SortField, vals []any) {
	t.Helper()
	keys := store.SortKeys(sort)
	if len(vals) != len(keys) {
		t.Fatalf("decodeCursor(_, %q) = %d values, want %d", sortString(sort), len(vals), len(keys))
	}
	for i, k := range keys {
		if vals[i] == nil && c.Field(k.Field) == nil {
			t.Fatalf("decodeCursor(_, %q)[%s] = nil, but system fields are never null", sortString(sort), k.Field)
		}
		checkValue(t, c.SchemaField(k.Field), vals[i])
	}
}

// cursorRecord builds a record that decodeBody could have made from the
// fuzzed values: a valid id, text without NUL or invalid UTF-8, a finite
// number and dates within years 1 to 9999 at microsecond precision. Each
// bit of nulls leaves one field out.
func cursorRecord(id, text string, num float64, flag bool, micros int64, nulls uint8) *basalt.Record {
	if !ValidID(id) {
		id = "r1"
	}
	text = strings.ReplaceAll(strings.ToValidUTF8(text, "\uFFFD"), "\x00", "")
	if math.IsInf(num, 0) || math.IsNaN(num) {
		num = 0
	}
	const lo, hi = -62135596800000000, 253402300799999999 // years 1 and 9999 in µs
	if micros < lo || micros > hi {
		micros = lo + int64(uint64(micros)%uint64(hi-lo+1))
	}
	at := time.UnixMicro(micros).UTC()
	r := &basalt.Record{ID: id, Created: at, Updated: at.Add(time.Microsecond), Version: 1, Data: map[string]any{
		"title": text, "slug": text + "-", "views": num, "draft": flag, "published": at, "order": text,
	}}
	if r.Updated.Year() > 9999 {
		r.Updated = at
	}
	for i, name := range []string{"title", "slug", "views", "draft", "published", "order"} {
		if nulls&(1<<i) != 0 {
			delete(r.Data, name)
		}
	}
	return r
}

// sameValue reports whether two record values are equal: dates by
// instant, numbers by value.
func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}
