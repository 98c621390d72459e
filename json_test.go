package basalt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// stdJSON returns v as encoding/json writes it without HTML escaping,
// which AppendJSONString does not do either.
func stdJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		tb.Fatalf("json.Encode(%#v) = %v", v, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// shortControlEscapes rewrites the \u0008 and \u000c escapes of a JSON
// text to \b and \f, as encoding/json writes them since Go 1.22;
// AppendJSONString writes the long form, which decodes the same.
func shortControlEscapes(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		switch rest := b[i:]; {
		case bytes.HasPrefix(rest, []byte(`\u0008`)):
			out, i = append(out, `\b`...), i+5
		case bytes.HasPrefix(rest, []byte(`\u000c`)):
			out, i = append(out, `\f`...), i+5
		default:
			out, i = append(out, b[i], b[i+1]), i+1
		}
	}
	return out
}

var jsonStrings = []string{
	"",
	"plain",
	`quote " and backslash \ and slash /`,
	"\x00\x01\x1f controls \x7f",
	"\b\f\n\r\t",
	"<script>&amp;</script>",
	"Grüße ✓ 日本語 😀",
	"\u2028 and \u2029",
	"\ufffd is valid",
	"bad \xff byte",
	"\xff\xfe\xfd",
	"truncated \xe2\x82",
	"surrogate half \xed\xa0\x80",
	"overlong \xc0\xaf",
	"\xf4\x90\x80\x80 above U+10FFFF",
	strings.Repeat("long ", 100),
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range jsonStrings {
		got := AppendJSONString(nil, s)
		if want := stdJSON(t, s); !bytes.Equal(shortControlEscapes(got), want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
		checkDecodesLikeStd(t, s, got)
	}
}

// checkDecodesLikeStd checks that out, our encoding of s, decodes to what
// encoding/json decodes from its own encoding of s: s with each invalid
// byte replaced by U+FFFD.
func checkDecodesLikeStd(t *testing.T, s string, out []byte) {
	t.Helper()
	var got, want string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("AppendJSONString(%q) = %s, not valid JSON: %v", s, out, err)
	}
	if err := json.Unmarshal(stdJSON(t, s), &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("AppendJSONString(%q) decodes to %q, want %q", s, got, want)
	}
	if utf8.ValidString(s) && got != s {
		t.Fatalf("AppendJSONString(%q) decodes to %q, want the string back", s, got)
	}
	if !utf8.Valid(out) || bytes.ContainsAny(out, "\u2028\u2029") {
		t.Fatalf("AppendJSONString(%q) = %q, want valid UTF-8 without U+2028 or U+2029", s, out)
	}
}

func TestAppendJSONStringAppends(t *testing.T) {
	t.Parallel()
	if got, want := string(AppendJSONString([]byte(`{"k":`), "v\n")), `{"k":"v\n"`; got != want {
		t.Errorf("AppendJSONString(%q, %q) = %s, want %s", `{"k":`, "v\n", got, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendJSONString(nil, s)
		if !json.Valid(out) {
			t.Fatalf("AppendJSONString(%q) = %s, not valid JSON", s, out)
		}
		if want := stdJSON(t, s); !bytes.Equal(shortControlEscapes(out), want) {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, out, want)
		}
		checkDecodesLikeStd(t, s, out)
	})
}

func TestAppendJSONNumber(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 1.5, 100, 1e9, 123456789.125,
		1 << 53, 1<<53 + 2, 1e20, 99999999999999990000, 1e21, -1e21, 1.5e21, 1e22, 1e100, 1.5e300,
		1e-6, 0.000001234, 9.99999e-7, 1e-7, -1e-7, 1.5e-9, 1e-10, 1e-100, 1e-300,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 2.2250738585072014e-308,
		math.MaxInt64, math.MinInt64, 1.0 / 3, 2.0 / 3, math.Pi, -math.E,
	} {
		checkNumber(t, f)
	}
	// Random bit patterns reach every exponent.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		if f := math.Float64frombits(rng.Uint64()); !math.IsNaN(f) && !math.IsInf(f, 0) {
			checkNumber(t, f)
		}
	}
}

func checkNumber(t *testing.T, f float64) {
	t.Helper()
	got := AppendJSONNumber(nil, f)
	want, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("json.Marshal(%v) = %v", f, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendJSONNumber(%v) = %s, want %s", f, got, want)
	}
	var back float64
	if err := json.Unmarshal(got, &back); err != nil || math.Float64bits(back) != math.Float64bits(f) {
		t.Fatalf("AppendJSONNumber(%v) = %s, which decodes to %v, %v", f, got, back, err)
	}
}

func TestAppendJSONNumberNotFinite(t *testing.T) {
	t.Parallel()
	// encoding/json refuses these; a record never holds one, and the
	// encoder writes null rather than invalid JSON.
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(AppendJSONNumber(nil, f)); got != "null" {
			t.Errorf("AppendJSONNumber(%v) = %s, want null", f, got)
		}
	}
}

// typicalCollection and typicalRecord are a typical record: eight fields of
// every type, one of them null.
var typicalCollection = &Collection{Name: "posts", Fields: []Field{
	{Name: "title", Type: TypeText, Required: true},
	{Name: "slug", Type: TypeText, Unique: true},
	{Name: "body", Type: TypeText},
	{Name: "views", Type: TypeNumber},
	{Name: "rating", Type: TypeNumber},
	{Name: "draft", Type: TypeBool},
	{Name: "published", Type: TypeDate},
	{Name: "meta", Type: TypeJSON},
}}

var typicalRecord = &Record{
	ID:      "01hzy3k0r8s4t5v6w7x8y9z0ab",
	Created: time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC),
	Updated: time.Date(2024, 5, 2, 8, 30, 0, 0, time.UTC),
	Version: 3,
	Data: map[string]any{
		"title":     "How we write \"fast\" JSON",
		"slug":      "how-we-write-fast-json",
		"body":      strings.Repeat("Records are the hot path of every read. ", 5),
		"views":     12345.0,
		"rating":    nil,
		"draft":     false,
		"published": time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"meta":      json.RawMessage(`{"tags":["go","json"],"n":1}`),
	},
}

// wantRecordJSON builds the record object key by key with encoding/json:
// the system fields, then the declared fields in order, dates in
// TimeLayout.
func wantRecordJSON(t *testing.T, c *Collection, r *Record, only map[string]bool) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte('{')
	add := func(k string, v any) {
		if only != nil && !only[k] {
			return
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		if d, ok := v.(time.Time); ok {
			v = FormatTime(d)
		}
		b.Write(stdJSON(t, k))
		b.WriteByte(':')
		b.Write(stdJSON(t, v))
	}
	add("id", r.ID)
	add("created", r.Created)
	add("updated", r.Updated)
	for _, f := range c.Fields {
		add(f.Name, r.Data[f.Name])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func TestAppendRecordJSON(t *testing.T) {
	t.Parallel()
	c := &Collection{Name: "things", Fields: []Field{
		{Name: "t", Type: TypeText}, {Name: "n", Type: TypeNumber}, {Name: "b", Type: TypeBool},
		{Name: "d", Type: TypeDate}, {Name: "j", Type: TypeJSON}, {Name: "missing", Type: TypeText},
		{Name: "order", Type: TypeText},
	}}
	berlin := time.FixedZone("CEST", 2*3600)
	for _, tt := range []struct {
		name string
		c    *Collection
		r    *Record
		only map[string]bool
	}{
		{"typical", typicalCollection, typicalRecord, nil},
		{"every type", c, &Record{ID: "a-_1", Created: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Updated: time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
			Data: map[string]any{"t": "<\"é\"\n\u2028\xff>", "n": -1e21, "b": true, "d": time.Date(2024, 5, 1, 14, 0, 0, 500000000, berlin),
				"j": json.RawMessage(`[1,{"a":null}]`), "order": ""}}, nil},
		{"nulls", c, &Record{ID: "x", Data: map[string]any{"t": nil, "n": nil, "b": nil, "d": nil, "j": nil}}, nil},
		{"empty raw JSON is null", c, &Record{ID: "x", Data: map[string]any{"j": json.RawMessage(nil)}}, nil},
		{"nil data", c, &Record{ID: "x"}, nil},
		{"only some", c, &Record{ID: "x", Data: map[string]any{"t": "a", "n": 1e-7}}, map[string]bool{"n": true, "id": true, "order": true}},
		{"only a system field", c, &Record{ID: "x", Created: time.Unix(0, 0)}, map[string]bool{"created": true}},
		{"only nothing", c, &Record{ID: "x"}, map[string]bool{}},
		{"no fields", &Collection{Name: "empty"}, &Record{ID: "x"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := AppendRecordJSON([]byte("prefix"), tt.c, tt.r, tt.only)
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatalf("AppendRecordJSON(%q, …) = %s, lost the prefix", "prefix", got)
			}
			got = got[len("prefix"):]
			if want := wantRecordJSON(t, tt.c, tt.r, tt.only); !bytes.Equal(got, want) {
				t.Errorf("AppendRecordJSON(%s) =\n%s\nwant\n%s", tt.name, got, want)
			}
			var decoded map[string]any
			if err := json.Unmarshal(got, &decoded); err != nil {
				t.Fatalf("AppendRecordJSON(%s) = %s, not a JSON object: %v", tt.name, got, err)
			}
			if want := wantKeys(tt.c, tt.only); len(decoded) != want {
				t.Errorf("AppendRecordJSON(%s) has %d keys, want %d", tt.name, len(decoded), want)
			}
		})
	}
}

func wantKeys(c *Collection, only map[string]bool) int {
	if only == nil {
		return 3 + len(c.Fields)
	}
	n := 0
	for _, f := range append(SystemFields[:3:3], c.Fields...) {
		if only[f.Name] {
			n++
		}
	}
	return n
}

func BenchmarkAppendRecordJSON(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecordJSON(buf[:0], typicalCollection, typicalRecord, nil)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodingJSONMap(b *testing.B) {
	m := map[string]any{"id": typicalRecord.ID, "created": typicalRecord.Created, "updated": typicalRecord.Updated}
	for k, v := range typicalRecord.Data {
		m[k] = v
	}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		out, err := json.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

func TestDecodeValue(t *testing.T) {
	t.Parallel()
	date := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.UTC()
	}
	for _, tt := range []struct {
		typ  FieldType
		raw  string
		want any
		code string // "" for no error
	}{
		{TypeText, `null`, nil, ""},
		{TypeText, ` null `, nil, ""},
		{TypeText, ``, nil, "invalid"},
		{TypeText, `  `, nil, "invalid"},
		{TypeText, `"abc"`, "abc", ""},
		{TypeText, `""`, "", ""},
		{TypeText, "\t\"a\"\n", "a", ""},
		{TypeText, `"\u00e9\ud83d\ude00\n"`, "é😀\n", ""},
		{TypeText, `"\ud800"`, "\ufffd", ""}, // a lone surrogate escape decodes to U+FFFD, as encoding/json does
		{TypeText, `"a\u0000b"`, nil, "invalid"},
		{TypeText, "\"a\xffb\"", nil, "type"},
		{TypeText, `"abc`, nil, "type"},
		{TypeText, `1`, nil, "type"},
		{TypeText, `["a"]`, nil, "type"},
		{TypeText, `true`, nil, "type"},

		{TypeNumber, `0`, 0.0, ""},
		{TypeNumber, `-0`, math.Copysign(0, -1), ""},
		{TypeNumber, `12.5`, 12.5, ""},
		{TypeNumber, `-1.5e300`, -1.5e300, ""},
		{TypeNumber, `1.7976931348623157e308`, math.MaxFloat64, ""},
		{TypeNumber, `1e309`, nil, "out_of_range"},
		{TypeNumber, `-1e400`, nil, "out_of_range"},
		{TypeNumber, `1e-400`, 0.0, ""},
		{TypeNumber, `4.9e-324`, math.SmallestNonzeroFloat64, ""},
		{TypeNumber, `123456789012345678901234567890`, 1.2345678901234568e29, ""},
		{TypeNumber, `"1"`, nil, "type"},
		{TypeNumber, `true`, nil, "type"},
		{TypeNumber, `NaN`, nil, "type"},
		{TypeNumber, `-Infinity`, nil, "type"},
		{TypeNumber, `[1]`, nil, "type"},

		{TypeBool, `true`, true, ""},
		{TypeBool, `false`, false, ""},
		{TypeBool, ` true `, true, ""},
		{TypeBool, `"true"`, nil, "type"},
		{TypeBool, `1`, nil, "type"},
		{TypeBool, `True`, nil, "type"},

		{TypeDate, `"2024-05-01"`, date("2024-05-01T00:00:00Z"), ""},
		{TypeDate, `"2024-05-01T12:00:00Z"`, date("2024-05-01T12:00:00Z"), ""},
		{TypeDate, `"2024-05-01T14:00:00+02:00"`, date("2024-05-01T12:00:00Z"), ""},
		{TypeDate, `"2024-05-01T12:00:00.123456789Z"`, date("2024-05-01T12:00:00.123456Z"), ""}, // truncated, not rounded
		{TypeDate, `"2024-05-01T12:00:00.9999999Z"`, date("2024-05-01T12:00:00.999999Z"), ""},
		{TypeDate, `"0001-01-01T00:00:00Z"`, date("0001-01-01T00:00:00Z"), ""},
		{TypeDate, `"9999-12-31T23:59:59.999999999Z"`, date("9999-12-31T23:59:59.999999Z"), ""},
		{TypeDate, `"0001-01-01T00:30:00+01:00"`, nil, "invalid"}, // year 0 in UTC
		{TypeDate, `"0000-01-01T00:00:00Z"`, nil, "invalid"},
		{TypeDate, `"9999-12-31T23:30:00-01:00"`, nil, "invalid"}, // year 10000 in UTC
		{TypeDate, `"10000-01-01T00:00:00Z"`, nil, "invalid"},
		{TypeDate, `"2024-02-30"`, nil, "invalid"},
		{TypeDate, `"2024-05-01T12:00:00"`, nil, "invalid"},
		{TypeDate, `"2024-05-01 12:00:00Z"`, nil, "invalid"},
		{TypeDate, `"2024-05-01T23:59:60Z"`, nil, "invalid"},
		{TypeDate, `"2024-05-01T12:00:00+25:00"`, nil, "invalid"},
		{TypeDate, `"2024/05/01"`, nil, "invalid"},
		{TypeDate, `""`, nil, "invalid"},
		{TypeDate, `20240501`, nil, "type"},
		{TypeDate, "\"2024-05-01\xff\"", nil, "type"},

		{TypeJSON, `{}`, json.RawMessage(`{}`), ""},
		{TypeJSON, ` { "a" : [ 1 , 2 ] } `, json.RawMessage(`{"a":[1,2]}`), ""},
		{TypeJSON, `"x"`, json.RawMessage(`"x"`), ""},
		{TypeJSON, `0`, json.RawMessage(`0`), ""},
		{TypeJSON, `1e400`, json.RawMessage(`1e400`), ""}, // kept as written: not a float
		{TypeJSON, `{"a":1,"a":2}`, json.RawMessage(`{"a":1,"a":2}`), ""},
		{TypeJSON, `"<&>"`, json.RawMessage(`"<&>"`), ""},
		{TypeJSON, `{"a":"\u0000"}`, nil, "invalid"},
		{TypeJSON, `{`, nil, "invalid"},
		{TypeJSON, `nul`, nil, "invalid"},
		{TypeJSON, `{} {}`, nil, "invalid"},

		{TypeRelation, `"x"`, nil, "unsupported"},
		{TypeFile, `null`, nil, ""},
	} {
		f := &Field{Name: "f", Type: tt.typ}
		got, fe := DecodeValue(f, json.RawMessage(tt.raw))
		if tt.code != "" {
			if fe == nil || fe.Code != tt.code || fe.Field != "f" || !strings.HasPrefix(fe.Message, "f ") {
				t.Errorf("DecodeValue(%s, %q) = %#v, %+v, want error code %s on field f", tt.typ, tt.raw, got, fe, tt.code)
			}
			continue
		}
		if fe != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("DecodeValue(%s, %q) = %#v, %+v, want %#v", tt.typ, tt.raw, got, fe, tt.want)
		}
		if n, ok := got.(float64); ok && math.Signbit(n) != math.Signbit(tt.want.(float64)) {
			t.Errorf("DecodeValue(%s, %q) = %v, want %v", tt.typ, tt.raw, n, tt.want)
		}
		if d, ok := got.(time.Time); ok && d.Location() != time.UTC {
			t.Errorf("DecodeValue(%s, %q) = %v, want it in UTC", tt.typ, tt.raw, d)
		}
	}
}

// TestDecodeValueEscapedBackslashU0000 shows a json value refused for a
// NUL it does not hold: "\\u0000" is a backslash and the text u0000.
func TestDecodeValueEscapedBackslashU0000(t *testing.T) {
	t.Parallel()
	f := &Field{Name: "f", Type: TypeJSON}
	if _, fe := DecodeValue(f, json.RawMessage(`"\\u0000"`)); fe != nil {
		t.Errorf("DecodeValue(json, %q) = %+v, want the value: it holds no NUL", `"\\u0000"`, fe)
	}
}

// TestDecodeValueNotJSON shows DecodeValue taking a number that is not
// JSON, which a Go caller may pass as a default: Validate then accepts a
// definition that encoding/json cannot write.
func TestDecodeValueNotJSON(t *testing.T) {
	t.Parallel()
	var accepted []string
	for _, raw := range []string{`01`, `-01`, `1.`, `-.5`, `0x1p4`, `-0x_1p0`, `1e`, `0x10`, `1_0`, `+1`, `.5`} {
		f := &Field{Name: "f", Type: TypeNumber}
		if json.Valid([]byte(raw)) {
			t.Fatalf("%q is JSON", raw)
		}
		if v, fe := DecodeValue(f, json.RawMessage(raw)); fe == nil {
			accepted = append(accepted, fmt.Sprintf("%s=%v", raw, v))
		}
	}
	if len(accepted) > 0 {
		t.Errorf("DecodeValue(number, …) accepts %q, which are not JSON", accepted)
	}
}

// schemaFieldCode is a FieldError without its message.
type schemaFieldCode struct{ Field, Code string }

func validateCodes(t *testing.T, err error) []schemaFieldCode {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := err.(*Error)
	if !ok || e.Code != CodeValidation {
		t.Fatalf("Validate() = %#v, want a validation *Error", err)
	}
	var out []schemaFieldCode
	for _, fe := range e.Fields {
		out = append(out, schemaFieldCode{fe.Field, fe.Code})
	}
	return out
}

func TestCollectionValidate(t *testing.T) {
	t.Parallel()
	text := func(name string) Field { return Field{Name: name, Type: TypeText} }
	many := func(n int, f func(i int) Field) []Field {
		out := make([]Field, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	name := func(i int) string { return fmt.Sprintf("f%d", i) }
	index := func(fields ...string) Index { return Index{Fields: fields} }
	for _, tt := range []struct {
		name string
		c    Collection
		want []schemaFieldCode
	}{
		{"valid", Collection{Name: "posts", Fields: []Field{{Name: "title", Type: TypeText, Required: true, Unique: true}, {Name: "meta", Type: TypeJSON}},
			Indexes: []Index{index("title", "created"), index("id"), {Fields: []string{"title"}, Unique: true}}}, nil},
		{"no fields", Collection{Name: "p"}, nil},
		{"longest names", Collection{Name: strings.Repeat("c", MaxCollectionName), Fields: []Field{text(strings.Repeat("f", MaxFieldName))}}, nil},
		{"most fields", Collection{Name: "p", Fields: many(MaxFields, func(i int) Field { return text(name(i)) })}, nil},

		{"name missing", Collection{}, []schemaFieldCode{{"name", "required"}}},
		{"name too long", Collection{Name: strings.Repeat("c", MaxCollectionName+1)}, []schemaFieldCode{{"name", "too_long"}}},
		{"name upper case", Collection{Name: "Posts"}, []schemaFieldCode{{"name", "invalid"}}},
		{"name starts with a digit", Collection{Name: "1posts"}, []schemaFieldCode{{"name", "invalid"}}},
		{"name starts with _", Collection{Name: "_posts"}, []schemaFieldCode{{"name", "invalid"}}},
		{"name with a dash", Collection{Name: "my-posts"}, []schemaFieldCode{{"name", "invalid"}}},
		{"name not ASCII", Collection{Name: "pöst"}, []schemaFieldCode{{"name", "invalid"}}},

		{"too many fields", Collection{Name: "p", Fields: many(MaxFields+1, func(i int) Field { return text(name(i)) })}, []schemaFieldCode{{"fields", "too_many"}}},
		{"field name missing", Collection{Name: "p", Fields: []Field{text("")}}, []schemaFieldCode{{"fields[0].name", "required"}}},
		{"field name too long", Collection{Name: "p", Fields: []Field{text(strings.Repeat("f", MaxFieldName+1))}}, []schemaFieldCode{{"fields[0].name", "too_long"}}},
		{"field name invalid", Collection{Name: "p", Fields: []Field{text("a"), text("Title")}}, []schemaFieldCode{{"fields[1].name", "invalid"}}},
		{"field id", Collection{Name: "p", Fields: []Field{text("id")}}, []schemaFieldCode{{"fields[0].name", "reserved"}}},
		{"field created", Collection{Name: "p", Fields: []Field{{Name: "created", Type: TypeDate}}}, []schemaFieldCode{{"fields[0].name", "reserved"}}},
		{"field updated", Collection{Name: "p", Fields: []Field{text("updated")}}, []schemaFieldCode{{"fields[0].name", "reserved"}}},
		{"field tenant_id", Collection{Name: "p", Fields: []Field{text("tenant_id")}}, []schemaFieldCode{{"fields[0].name", "reserved"}}},
		{"field twice", Collection{Name: "p", Fields: []Field{text("a"), {Name: "a", Type: TypeNumber}}}, []schemaFieldCode{{"fields[1].name", "duplicate"}}},
		{"type missing", Collection{Name: "p", Fields: []Field{{Name: "a"}}}, []schemaFieldCode{{"fields[0].type", "required"}}},
		{"type unknown", Collection{Name: "p", Fields: []Field{{Name: "a", Type: "string"}}}, []schemaFieldCode{{"fields[0].type", "invalid"}}},
		{"type relation", Collection{Name: "p", Fields: []Field{{Name: "a", Type: TypeRelation}}}, []schemaFieldCode{{"fields[0].type", "unsupported"}}},
		{"type file", Collection{Name: "p", Fields: []Field{{Name: "a", Type: TypeFile}}}, []schemaFieldCode{{"fields[0].type", "unsupported"}}},
		{"unique json", Collection{Name: "p", Fields: []Field{{Name: "a", Type: TypeJSON, Unique: true}}}, []schemaFieldCode{{"fields[0].unique", "unsupported"}}},
		{"default of the wrong type", Collection{Name: "p", Fields: []Field{{Name: "a", Type: TypeNumber, Default: json.RawMessage(`"1"`)}}},
			[]schemaFieldCode{{"fields[0].default", "invalid"}}},
		{"default out of range", Collection{Name: "p", Fields: []Field{{Name: "a", Type: TypeDate, Default: json.RawMessage(`"0000-01-01"`)}}},
			[]schemaFieldCode{{"fields[0].default", "invalid"}}},
		{"default not JSON", Collection{Name: "p", Fields: []Field{{Name: "a", Type: TypeJSON, Default: json.RawMessage(`{`)}}},
			[]schemaFieldCode{{"fields[0].default", "invalid"}}},
		{"default without a type", Collection{Name: "p", Fields: []Field{{Name: "a", Default: json.RawMessage(`1`)}}},
			[]schemaFieldCode{{"fields[0].type", "required"}}},

		{"too many indexes", Collection{Name: "p", Fields: many(MaxIndexes+1, func(i int) Field { return text(name(i)) }),
			Indexes: func() []Index {
				out := make([]Index, MaxIndexes+1)
				for i := range out {
					out[i] = index(name(i))
				}
				return out
			}()}, []schemaFieldCode{{"indexes", "too_many"}}},
		{"index name invalid", Collection{Name: "p", Fields: []Field{text("a")}, Indexes: []Index{{Name: "By A", Fields: []string{"a"}}}},
			[]schemaFieldCode{{"indexes[0].name", "invalid"}}},
		{"index name too long", Collection{Name: "p", Fields: []Field{text("a")}, Indexes: []Index{{Name: strings.Repeat("i", MaxFieldName+1), Fields: []string{"a"}}}},
			[]schemaFieldCode{{"indexes[0].name", "invalid"}}},
		{"index name twice", Collection{Name: "p", Fields: []Field{text("a"), text("b")}, Indexes: []Index{{Name: "i", Fields: []string{"a"}}, {Name: "i", Fields: []string{"b"}}}},
			[]schemaFieldCode{{"indexes[1].name", "duplicate"}}},
		{"index without fields", Collection{Name: "p", Indexes: []Index{{Name: "i"}}}, []schemaFieldCode{{"indexes[0].fields", "invalid"}}},
		{"index with too many fields", Collection{Name: "p", Fields: many(MaxIndexFields+1, func(i int) Field { return text(name(i)) }),
			Indexes: []Index{{Name: "i", Fields: func() []string {
				var out []string
				for i := range MaxIndexFields + 1 {
					out = append(out, name(i))
				}
				return out
			}()}}}, []schemaFieldCode{{"indexes[0].fields", "invalid"}}},
		{"index of an unknown field", Collection{Name: "p", Indexes: []Index{index("a")}}, []schemaFieldCode{{"indexes[0].fields", "unknown_field"}}},
		{"index of tenant_id", Collection{Name: "p", Indexes: []Index{index("tenant_id")}}, []schemaFieldCode{{"indexes[0].fields", "unknown_field"}}},
		{"index of a json field", Collection{Name: "p", Fields: []Field{{Name: "j", Type: TypeJSON}}, Indexes: []Index{index("j")}},
			[]schemaFieldCode{{"indexes[0].fields", "unsupported"}}},
		{"index lists a field twice", Collection{Name: "p", Fields: []Field{text("a")}, Indexes: []Index{index("a", "a")}},
			[]schemaFieldCode{{"indexes[0].fields", "duplicate"}}},
		{"identical indexes", Collection{Name: "p", Fields: []Field{text("a")}, Indexes: []Index{{Name: "one", Fields: []string{"a"}}, {Name: "two", Fields: []string{"a"}}}},
			[]schemaFieldCode{{"indexes[1]", "duplicate"}}},

		{"every problem at once", Collection{Name: "P", Fields: []Field{text("id"), {Name: "j", Type: TypeJSON, Unique: true}}, Indexes: []Index{index("x")}},
			[]schemaFieldCode{{"name", "invalid"}, {"fields[0].name", "reserved"}, {"fields[1].unique", "unsupported"}, {"indexes[0].fields", "unknown_field"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.c
			c.Normalize()
			if diff := cmp.Diff(tt.want, validateCodes(t, c.Validate())); diff != "" {
				t.Errorf("Validate(%s) field errors (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestCollectionNormalize(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 40)
	c := &Collection{Name: "p",
		Fields: []Field{
			{Name: long, Type: TypeText},
			{Name: long + "b", Type: TypeText, Default: json.RawMessage(` "x" `)},
			{Name: "j", Type: TypeJSON, Default: json.RawMessage("{ \"a\" :\n[1, 2] }")},
			{Name: "n", Type: TypeNumber, Default: json.RawMessage(` null `)},
			{Name: "bad", Type: TypeJSON, Default: json.RawMessage(`{`)},
		},
		Indexes: []Index{
			{Fields: []string{"n"}},
			{Fields: []string{"n", "j"}, Unique: true},
			{Name: "mine", Fields: []string{"n"}},
			{Fields: []string{long, long + "b"}},
		},
	}
	c.Normalize()
	var names []string
	for _, ix := range c.Indexes {
		names = append(names, ix.Name)
	}
	hashed := names[3]
	if want := []string{"n", "unique_n_j", "mine"}; !cmp.Equal(names[:3], want) {
		t.Errorf("Normalize() index names = %q, want %q", names[:3], want)
	}
	if len(hashed) != MaxFieldName || !ValidName(hashed) || !strings.HasPrefix(hashed, long+"_") {
		t.Errorf("Normalize() long index name = %q (%d bytes), want a valid name of %d bytes starting with the fields", hashed, len(hashed), MaxFieldName)
	}
	var defaults []string
	for _, f := range c.Fields {
		defaults = append(defaults, string(f.Default))
	}
	if want := []string{"", `"x"`, `{"a":[1,2]}`, "", `{`}; !cmp.Equal(defaults, want) {
		t.Errorf("Normalize() defaults = %q, want %q", defaults, want)
	}
	again := *c
	again.Fields = append([]Field(nil), c.Fields...)
	again.Indexes = append([]Index(nil), c.Indexes...)
	again.Normalize()
	if diff := cmp.Diff(c, &again); diff != "" {
		t.Errorf("Normalize() is not idempotent (-once +twice):\n%s", diff)
	}

	empty := &Collection{Name: "p"}
	empty.Normalize()
	if empty.Fields == nil || empty.Indexes == nil {
		t.Errorf("Normalize() of no fields = %#v, %#v, want empty lists, which encode as []", empty.Fields, empty.Indexes)
	}
	other := &Collection{Name: "p", Indexes: []Index{{Fields: []string{long, long + "c"}}}}
	other.Normalize()
	if other.Indexes[0].Name == hashed {
		t.Errorf("Normalize() gave two long indexes the same name %q", hashed)
	}
}
