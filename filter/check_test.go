package filter

import (
	"errors"
	"testing"
	"time"

	"basalt.dev/basalt"
)

// posts is the collection of the Check, Compile, Eval and sort tests.
var posts = &basalt.Collection{Name: "posts", Fields: []basalt.Field{
	{Name: "title", Type: basalt.TypeText},
	{Name: "body", Type: basalt.TypeText},
	{Name: "owner", Type: basalt.TypeText},
	{Name: "views", Type: basalt.TypeNumber},
	{Name: "score", Type: basalt.TypeNumber},
	{Name: "draft", Type: basalt.TypeBool},
	{Name: "pinned", Type: basalt.TypeBool},
	{Name: "published", Type: basalt.TypeDate},
	{Name: "meta", Type: basalt.TypeJSON},
	{Name: "author", Type: basalt.TypeRelation},
}}

// mustParse parses src or fails the test.
func mustParse(t testing.TB, src string) Expr {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return e
}

func TestCheck(t *testing.T) {
	for _, src := range []string{
		`title = "go"`, `"go" = title`, `title < body`, `title ~ ""`, `id ~ "x"`, `id = title`,
		`views > 500`, `-1 <= views`, `views = score`, `views >= score`,
		`draft = true`, `false != draft`, `draft = pinned`, `draft != pinned`,
		`published > "2024-05-01"`, `published < "2024-05-01T12:00:00.123+02:00"`, `published = created`, `created < updated`,
		`meta = null`, `null != meta`, `title = null`, `views != null`, `draft = null`, `published = null`, `id != null`,
		`views > 500 && (title ~ "go" || draft = false)`, `!(views > 5)`,
	} {
		if err := Check(mustParse(t, src), posts); err != nil {
			t.Errorf("Check(%q) = %v, want nil", src, err)
		}
	}
}

var badChecks = []struct{ src, code, msg string }{
	{`titel = "x"`, "unknown_field", `at offset 0: unknown field "titel"`},
	{`title = "x" && titel = "y"`, "unknown_field", `at offset 15: unknown field "titel"`},
	{`"x" = titel`, "unknown_field", `at offset 6: unknown field "titel"`},
	{`views > "abc"`, "type", `at offset 8: views is a number; compare it with a number, not "abc"`},
	{`"abc" < views`, "type", `at offset 0: views is a number; compare it with a number, not "abc"`},
	{`views = true`, "type", `at offset 8: views is a number; compare it with a number, not true`},
	{`title = 5`, "type", `at offset 8: title is text; compare it with a string in quotes, not 5`},
	{`id = 5`, "type", `at offset 5: id is text; compare it with a string in quotes, not 5`},
	{`draft = "yes"`, "type", `at offset 8: draft is a bool; compare it with true or false, not "yes"`},
	{`published > "yesterday"`, "type", `at offset 12: published is a date; compare it with a date such as "2024-05-01" or "2024-05-01T12:00:00Z", not "yesterday"`},
	{`published > "2024-13-01"`, "type", `at offset 12: published is a date; compare it with a date such as "2024-05-01" or "2024-05-01T12:00:00Z", not "2024-13-01"`},
	{`created > "0000-12-31"`, "type", `at offset 10: created is a date; compare it with a date such as "2024-05-01" or "2024-05-01T12:00:00Z", not "0000-12-31"`},
	{`published > 20240501`, "type", `at offset 12: published is a date; compare it with a date such as "2024-05-01" or "2024-05-01T12:00:00Z", not 20240501`},
	{`draft > true`, "type", `at offset 6: draft is a bool; compare it with = or !=, not >`},
	{`draft <= pinned`, "type", `at offset 6: draft is a bool; compare it with = or !=, not <=`},
	{`views > null`, "type", `at offset 6: null can only be compared with = or !=, such as views = null`},
	{`null < views`, "type", `at offset 5: null can only be compared with = or !=, such as views = null`},
	{`meta = "x"`, "type", `at offset 0: meta is json; compare it only with null, such as meta = null or meta != null`},
	{`"x" != meta`, "type", `at offset 7: meta is json; compare it only with null, such as meta = null or meta != null`},
	{`meta = meta`, "type", `at offset 0: meta is json; compare it only with null, such as meta = null or meta != null`},
	{`title = meta`, "type", `at offset 8: meta is json; compare it only with null, such as meta = null or meta != null`},
	{`views ~ "x"`, "type", `at offset 6: ~ works on text fields only, and views is a number`},
	{`published !~ "2024"`, "type", `at offset 10: !~ works on text fields only, and published is a date`},
	{`title ~ 5`, "type", `at offset 8: ~ needs a string on the right, such as title ~ "go"`},
	{`title !~ body`, "type", `at offset 9: !~ needs a string on the right, such as title !~ "go"`},
	{`"go" ~ title`, "type", `at offset 5: ~ needs a text field on the left, such as title ~ "go"`},
	{`title ~ null`, "type", `at offset 6: null can only be compared with = or !=, such as title = null`},
	{`title = views`, "type", `at offset 6: title is text and views is a number; compare fields of the same type`},
	{`published < title`, "type", `at offset 10: published is a date and title is text; compare fields of the same type`},
	{`1 = 1`, "type", `at offset 2: compare a field with a value, such as views > 500`},
	{`null = null`, "type", `at offset 5: compare a field with a value, such as views > 500`},
	{`@x = 1`, "type", `at offset 3: compare a field with a value, such as views > 500`},
	{`title = @x`, "unknown_variable", `at offset 8: unknown variable @x`},
	{`@auth.id != owner`, "unknown_variable", `at offset 0: unknown variable @auth.id`},
	{`author = "x"`, "unsupported", `at offset 0: author is a relation field, which filters cannot use yet`},
}

func TestCheckError(t *testing.T) {
	for _, tt := range badChecks {
		err := Check(mustParse(t, tt.src), posts)
		checkError(t, "Check", tt.src, err, "filter", tt.code, tt.msg)
	}
}

// TestCheckBuilt checks trees built by hand, which Parse never produces.
func TestCheckBuilt(t *testing.T) {
	field := &Field{Name: "title"}
	tests := []struct {
		e         Expr
		code, msg string
	}{
		{nil, "syntax", `at offset 0: the filter is empty; write a comparison such as views > 500`},
		{field, "syntax", `at offset 0: expected a comparison operator after "title"`},
		{&Logical{Op: "AND", L: field, R: field}, "invalid", `at offset 0: unknown operator "AND"; join comparisons with && or ||`},
		{&Compare{Op: "==", L: field, R: &Literal{Value: "x"}}, "invalid", `at offset 0: unknown operator "=="; use = != > >= < <= ~ or !~`},
		{&Compare{Op: "=", L: field}, "syntax", `at offset 0: a comparison is missing an operand`},
		{&Compare{Op: "=", L: field, R: &Literal{Value: 5}}, "type", `at offset 0: unsupported value of type int; use a string, a number, true, false or null`},
		{&Compare{Op: "=", L: field, R: &Literal{Value: "a\x00"}}, "invalid", `at offset 0: strings must be valid UTF-8 without the NUL character`},
		{&Compare{Op: "=", L: field, R: &Literal{Value: "\xff"}}, "invalid", `at offset 0: strings must be valid UTF-8 without the NUL character`},
		{&Compare{Op: "=", L: &Field{Name: "views"}, R: &Literal{Value: posInf()}}, "invalid", `at offset 0: number +Inf is out of range; numbers must be finite`},
		{&Compare{Op: "=", L: &Field{Name: "created"}, R: &Literal{Value: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "invalid",
			`at offset 0: date "10000-01-01T00:00:00.000000Z" is out of range; dates are between the years 0001 and 9999`},
		{&Compare{Op: "=", L: field, R: &Literal{Value: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}}, "type",
			`at offset 0: title is text; compare it with a string in quotes, not "2024-05-01T00:00:00.000000Z"`},
	}
	for _, tt := range tests {
		err := Check(tt.e, posts)
		checkError(t, "Check", exprDebug(tt.e), err, "filter", tt.code, tt.msg)
	}
}

func posInf() float64 {
	var zero float64
	return 1 / zero
}

func exprDebug(e Expr) string {
	if e == nil {
		return "<nil>"
	}
	return e.String()
}

func TestBind(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	vars := func(path []string) (any, bool) {
		switch len(path) {
		case 1:
			return now, path[0] == "now"
		case 2:
			return "u1", path[0] == "auth" && path[1] == "id"
		}
		return nil, false
	}
	e := mustParse(t, `owner = @auth.id && (published < @now || !(@auth.id != owner))`)
	bound, err := Bind(e, vars)
	if err != nil {
		t.Fatal(err)
	}
	want := `(owner = "u1" && (published < "2024-05-01T12:00:00.123456Z" || !("u1" != owner)))`
	if got := bound.String(); got != want {
		t.Errorf("Bind(...).String() = %s, want %s", got, want)
	}
	if got, want := e.String(), `(owner = @auth.id && (published < @now || !(@auth.id != owner)))`; got != want {
		t.Errorf("Bind changed its input to %s, want %s", got, want)
	}
	if err := Check(bound, posts); err != nil {
		t.Errorf("Check(Bind(...)) = %v", err)
	}
	a := Args{Dialect: SQLite}
	sql, err := Compile(bound, posts, &a)
	if err != nil {
		t.Fatal(err)
	}
	if want := `("owner" = ? AND ("published" < ? OR (NOT "owner" <> ?)))`; sql != want {
		t.Errorf("Compile(Bind(...)) = %s, want %s", sql, want)
	}
	if got, want := a.Values[1], "2024-05-01T12:00:00.123456Z"; got != want {
		t.Errorf("Compile(Bind(...)) date argument = %v, want %v", got, want)
	}
}

func TestBindError(t *testing.T) {
	e := mustParse(t, `owner = @auth.id || owner = @auth.name`)
	_, err := Bind(e, func(path []string) (any, bool) { return "u1", path[1] == "id" })
	checkError(t, "Bind", e.String(), err, "filter", "unknown_variable", `at offset 28: unknown variable @auth.name`)

	_, err = Bind(e, nil)
	checkError(t, "Bind", e.String(), err, "filter", "unknown_variable", `at offset 8: unknown variable @auth.id`)

	// A value of the wrong type is the caller's fault, not the user's.
	_, err = Bind(e, func([]string) (any, bool) { return 42, true })
	var be *basalt.Error
	if err == nil || errors.As(err, &be) {
		t.Errorf("Bind with an int value: error = %v, want a plain error", err)
	}
}
