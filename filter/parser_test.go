package filter

import (
	"errors"
	"strings"
	"testing"

	"basalt.dev/basalt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// goodFilters maps sources to their canonical form. The sources are also
// seeds of the fuzz tests.
var goodFilters = []struct{ src, want string }{
	{`views > 500`, `views > 500`},
	{`views>500`, `views > 500`},
	{" \t\r\nviews\n>=\t500 ", `views >= 500`},
	{`title = "go"`, `title = "go"`},
	{`title = 'go'`, `title = "go"`},
	{`title != ""`, `title != ""`},
	{`title ~ "Go"`, `title ~ "Go"`},
	{`title !~ 'x'`, `title !~ "x"`},
	{`views < -1.5`, `views < -1.5`},
	{`views <= 0`, `views <= 0`},
	{`views = -0`, `views = -0`},
	{`views = 1e3`, `views = 1000`},
	{`views = 1E+3`, `views = 1000`},
	{`views = 2.50`, `views = 2.5`},
	{`views = 1e21`, `views = 1e+21`},
	{`views = 0.000001`, `views = 0.000001`},
	{`views = 1e-7`, `views = 1e-7`},
	{`views = 1e-400`, `views = 0`},
	{`views = 1.7976931348623157e308`, `views = 1.7976931348623157e+308`},
	{`draft = true`, `draft = true`},
	{`draft = false`, `draft = false`},
	{`meta = null`, `meta = null`},
	{`5 < views`, `5 < views`},
	{`owner = @auth.id`, `owner = @auth.id`},
	{`created < @now`, `created < @now`},
	{`@a_1.b2.c = x`, `@a_1.b2.c = x`},
	{`_x = 1`, `_x = 1`},
	{`a = 1 && b = 2`, `(a = 1 && b = 2)`},
	{`a = 1 || b = 2`, `(a = 1 || b = 2)`},
	{`a = 1 && b = 2 && c = 3`, `(a = 1 && b = 2 && c = 3)`},
	{`(a = 1 && b = 2) && c = 3`, `(a = 1 && b = 2 && c = 3)`},
	{`a = 1 && (b = 2 && c = 3)`, `(a = 1 && (b = 2 && c = 3))`},
	{`a = 1 || b = 2 && c = 3`, `(a = 1 || (b = 2 && c = 3))`},
	{`a = 1 && b = 2 || c = 3`, `((a = 1 && b = 2) || c = 3)`},
	{`a = 1 && (b = 2 || c = 3)`, `(a = 1 && (b = 2 || c = 3))`},
	{`views > 500 && (title ~ "go" || draft = false)`, `(views > 500 && (title ~ "go" || draft = false))`},
	{`!a = 1`, `!(a = 1)`},
	{`!(a = 1)`, `!(a = 1)`},
	{`!!a = 1`, `!(!(a = 1))`},
	{`!(a = 1 || b = 2)`, `!(a = 1 || b = 2)`},
	{`!a = 1 && b = 2`, `(!(a = 1) && b = 2)`},
	{`((((a = 1))))`, `a = 1`},
	{`(a = 1)&&(b = 2)`, `(a = 1 && b = 2)`},
	{`a=1||!(b=2&&c=3)`, `(a = 1 || !(b = 2 && c = 3))`},
	{`t = "a\"b\\c\/d\b\f\n\r\t"`, `t = "a\"b\\c/d\b\f\n\r\t"`},
	{`t = 'it\'s "x"'`, `t = "it's \"x\""`},
	{`t = "\u00e9\u00C9 é"`, `t = "éÉ é"`},
	{`t = "\ud83d\ude00"`, `t = "😀"`},
	{`t = "\u001f\u007f"`, "t = \"\\u001f\x7f\""},
	{`t = "%_\\"`, `t = "%_\\"`},
	{`t = "a" && t = 'b'`, `(t = "a" && t = "b")`},
}

func TestParse(t *testing.T) {
	for _, tt := range goodFilters {
		e, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.src, got, tt.want)
		}
		e2, err := Parse(e.String())
		if err != nil {
			t.Errorf("Parse(%q) of canonical form: %v", e.String(), err)
			continue
		}
		if diff := cmp.Diff(e, e2, ignoreOffsets); diff != "" {
			t.Errorf("Parse(%q) trees differ (-first +canonical):\n%s", tt.src, diff)
		}
	}
}

// ignoreOffsets compares trees by structure: the canonical form moves nodes.
var ignoreOffsets = cmp.Options{
	cmpopts.IgnoreFields(Logical{}, "Offset"),
	cmpopts.IgnoreFields(Not{}, "Offset"),
	cmpopts.IgnoreFields(Compare{}, "Offset"),
	cmpopts.IgnoreFields(Field{}, "Offset"),
	cmpopts.IgnoreFields(Literal{}, "Offset"),
	cmpopts.IgnoreFields(Variable{}, "Offset"),
}

func TestParseTree(t *testing.T) {
	got, err := Parse(`5 < views && !(t ~ 'x' || owner = @auth.id)`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Logical{Op: "&&", Offset: 10,
		L: &Compare{Op: "<", Offset: 2, L: &Literal{Value: 5.0, Offset: 0}, R: &Field{Name: "views", Offset: 4}},
		R: &Not{Offset: 13, X: &Logical{Op: "||", Offset: 23,
			L: &Compare{Op: "~", Offset: 17, L: &Field{Name: "t", Offset: 15}, R: &Literal{Value: "x", Offset: 19}},
			R: &Compare{Op: "=", Offset: 32, L: &Field{Name: "owner", Offset: 26}, R: &Variable{Path: []string{"auth", "id"}, Offset: 34}},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse tree (-want +got):\n%s", diff)
	}
}

// badFilters are sources that Parse rejects, with the exact message and
// the FieldError code.
var badFilters = []struct{ src, code, msg string }{
	{``, "syntax", `at offset 0: the filter is empty; write a comparison such as views > 500`},
	{"  \n", "syntax", `at offset 0: the filter is empty; write a comparison such as views > 500`},
	{`draft`, "syntax", `at offset 0: expected a comparison operator after "draft"`},
	{`draft && x = 1`, "syntax", `at offset 0: expected a comparison operator after "draft"`},
	{`title "go"`, "syntax", `at offset 0: expected a comparison operator after "title"`},
	{`not draft = true`, "syntax", `at offset 0: expected a comparison operator after "not"; write ! for not`},
	{`views >`, "syntax", `at offset 7: expected a field or a value after ">", found the end of the filter`},
	{`views > )`, "syntax", `at offset 8: expected a field or a value after ">", found ")"`},
	{`views > 1 = 2`, "syntax", `at offset 10: unexpected "="; comparisons cannot be chained, join them with && or ||`},
	{`a = 1 b = 2`, "syntax", `at offset 6: expected && or || before "b"`},
	{`a = 1 and b = 2`, "syntax", `at offset 6: unexpected "and"; write && for and`},
	{`a = 1 AND b = 2`, "syntax", `at offset 6: unexpected "AND"; write && for and`},
	{`a = 1 or b = 2`, "syntax", `at offset 6: unexpected "or"; write || for or`},
	{`a = 1 & b = 2`, "syntax", `at offset 6: unexpected "&"; write && for and`},
	{`a = 1 | b = 2`, "syntax", `at offset 6: unexpected "|"; write || for or`},
	{`a == 1`, "syntax", `at offset 2: unexpected "=="; write = to compare, not ==`},
	{`a <> 1`, "syntax", `at offset 2: unexpected "<>"; write != for not equal, not <>`},
	{`&& a = 1`, "syntax", `at offset 0: expected a comparison such as views > 500, found "&&"`},
	{`()`, "syntax", `at offset 1: expected a comparison such as views > 500, found ")"`},
	{`(a = 1`, "syntax", `at offset 6: missing ")" to close the "(" at offset 0`},
	{`(a = 1 b`, "syntax", `at offset 7: expected &&, || or ")" before "b"`},
	{`a = 1)`, "syntax", `at offset 5: unexpected ")" without a matching "("`},
	{`a = 1 &&`, "syntax", `at offset 8: expected a comparison such as views > 500, found the end of the filter`},
	{`!`, "syntax", `at offset 1: expected a comparison such as views > 500, found the end of the filter`},
	{`Title = 1`, "syntax", `at offset 0: invalid name "Title"; names are lower case letters, digits and _`},
	{`a = 1 OR b = 2`, "syntax", `at offset 6: unexpected "OR"; write || for or`},
	{`a # 1`, "syntax", `at offset 2: unexpected character "#"`},
	{"a = 1 \x00", "syntax", `at offset 6: unexpected character "\x00"`},
	{"a = \xff", "syntax", `at offset 4: invalid UTF-8 byte 0xff`},
	{"a = 1 é", "syntax", `at offset 6: unexpected character "é"`},
	{`a = 01`, "syntax", `at offset 4: invalid number "01"; leading zeros are not allowed`},
	{`a = -01`, "syntax", `at offset 4: invalid number "-01"; leading zeros are not allowed`},
	{`a = 1.`, "syntax", `at offset 4: invalid number "1."; write numbers as in JSON, such as 5, -2.5 or 1e6`},
	{`a = 1e`, "syntax", `at offset 4: invalid number "1e"; write numbers as in JSON, such as 5, -2.5 or 1e6`},
	{`a = -`, "syntax", `at offset 4: invalid number "-"; write numbers as in JSON, such as 5, -2.5 or 1e6`},
	{`a = - 1`, "syntax", `at offset 4: invalid number "-"; write numbers as in JSON, such as 5, -2.5 or 1e6`},
	{`a = 5abc`, "syntax", `at offset 4: invalid number "5abc"; write numbers as in JSON, such as 5, -2.5 or 1e6`},
	{`a = 0x10`, "syntax", `at offset 4: invalid number "0x10"; write numbers as in JSON, such as 5, -2.5 or 1e6`},
	{`a = 1e999`, "syntax", `at offset 4: number 1e999 is out of range; numbers must be within ±1.7976931348623157e308`},
	{`a = -1e999`, "syntax", `at offset 4: number -1e999 is out of range; numbers must be within ±1.7976931348623157e308`},
	{`a = .5`, "syntax", `at offset 4: unexpected character "."`},
	{`a = "abc`, "syntax", `at offset 4: unterminated string; end it with "`},
	{`a = 'abc"`, "syntax", `at offset 4: unterminated string; end it with '`},
	{`a = "abc\`, "syntax", `at offset 8: unterminated string; end it with a quote`},
	{`a = "\x41"`, "syntax", `at offset 5: invalid escape "\\x"; use \" \' \\ \/ \b \f \n \r \t or \u followed by four hex digits`},
	{`a = "\é"`, "syntax", `at offset 5: invalid escape "\\é"; use \" \' \\ \/ \b \f \n \r \t or \u followed by four hex digits`},
	{`a = "\u12g4"`, "syntax", `at offset 5: invalid escape "\\u12g4"; write \u followed by four hex digits`},
	{`a = "\u12"`, "syntax", `at offset 5: invalid escape "\\u12\""; write \u followed by four hex digits`},
	{`a = "\u0000"`, "syntax", `at offset 5: strings cannot contain the NUL character`},
	{"a = \"\x00\"", "syntax", `at offset 5: strings cannot contain the NUL character`},
	{"a = \"x\ny\"", "syntax", `at offset 6: control character "\n" in string; write it as an escape such as \n or \u001f`},
	{"a = \"\xc3\x28\"", "syntax", `at offset 5: invalid UTF-8 byte 0xc3 in string`},
	{`a = "\ud800"`, "syntax", `at offset 5: unpaired surrogate "\\ud800"; write a character above U+FFFF as a pair such as \ud83d\ude00`},
	{`a = "\ude00"`, "syntax", `at offset 5: unpaired surrogate "\\ude00"; write a character above U+FFFF as a pair such as \ud83d\ude00`},
	{`a = "\ud800\u0041"`, "syntax", `at offset 5: unpaired surrogate "\\ud800"; write a character above U+FFFF as a pair such as \ud83d\ude00`},
	{`a = @`, "syntax", `at offset 5: expected a name after "@", such as @auth.id`},
	{`a = @auth.`, "syntax", `at offset 10: expected a name after "@auth.", such as @auth.id`},
	{`a = @Auth`, "syntax", `at offset 5: invalid name "Auth"; names are lower case letters, digits and _`},
	{`a = @1x`, "syntax", `at offset 5: invalid name "1x"; names are lower case letters, digits and _`},
	{`a = "` + strings.Repeat("x", 50) + `" b`, "syntax", `at offset 57: expected && or || before "b"`},
	{`a = 1 "` + strings.Repeat("x", 50) + `"`, "syntax", `at offset 6: expected && or || before "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."`},
	{strings.Repeat(" ", 4097), "too_long", `at offset 4096: the filter is longer than 4096 bytes; shorten it`},
	{strings.Repeat("!", 33) + "a = 1", "too_deep", `at offset 32: the filter nests more than 32 levels deep; simplify it`},
	{strings.Repeat("(", 65) + "a = 1" + strings.Repeat(")", 65), "too_deep", `at offset 64: the filter nests more than 32 levels deep; simplify it`},
	{nested(33), "too_deep", `at offset 326: the filter nests more than 32 levels deep; simplify it`},
	{chain("&&", 101), "too_many", `at offset 902: the filter has more than 100 comparisons; simplify it`},
}

// nested returns a filter n levels deep, whose canonical form has n levels
// of parentheses: a = 1 && (a = 1 || (a = 1 && ...)).
func nested(n int) string {
	ops := []string{" && ", " || "}
	s := "a = 1"
	for i := range n {
		s = "a = 1" + ops[i%2] + "(" + s + ")"
	}
	return s
}

// chain returns n comparisons joined by op.
func chain(op string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "a = 1"
	}
	return strings.Join(parts, " "+op+" ")
}

func TestParseError(t *testing.T) {
	for _, tt := range badFilters {
		_, err := Parse(tt.src)
		checkError(t, "Parse", tt.src, err, "filter", tt.code, tt.msg)
	}
}

// checkError checks that err is the validation error of param with the
// given code and detail.
func checkError(t *testing.T, fn, src string, err error, param, code, detail string) {
	t.Helper()
	var e *basalt.Error
	if !errors.As(err, &e) {
		t.Errorf("%s(%q) error = %v, want a *basalt.Error", fn, src, err)
		return
	}
	want := &basalt.Error{
		Code:    basalt.CodeValidation,
		Message: "invalid " + param + ": " + detail,
		Fields:  []basalt.FieldError{{Field: param, Code: code, Message: detail}},
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("%s(%q) error (-want +got):\n%s", fn, src, diff)
	}
}

func TestParseLimits(t *testing.T) {
	ok := []string{
		strings.Repeat("!", 32) + "a = 1",
		strings.Repeat("(", 64) + "a = 1" + strings.Repeat(")", 64),
		nested(32),
		chain("&&", 100),
		chain("||", 100),
		"a = 1" + strings.Repeat(" ", maxLength-5),
	}
	for _, src := range ok {
		e, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%.40q...): %v", src, err)
			continue
		}
		// The canonical form of a filter within the limits is within them
		// too, but for its length.
		if _, err := parse(e.String()); err != nil {
			t.Errorf("parse(%.40q...) of canonical form: %v", e.String(), err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(`views > 500 && (title ~ "go" || draft = false)`); err != nil {
			b.Fatal(err)
		}
	}
}
