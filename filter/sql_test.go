package filter

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompile(t *testing.T) {
	may1 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		src        string
		sqlite     string
		sqliteArgs []any
		pg         string
		pgArgs     []any
	}{
		{`views > 500`, `"views" > ?`, []any{500.0}, `"views" > $1`, []any{500.0}},
		{`5 < views`, `"views" > ?`, []any{5.0}, `"views" > $1`, []any{5.0}},
		{`5 >= views`, `"views" <= ?`, []any{5.0}, `"views" <= $1`, []any{5.0}},
		{`views != -1.5`, `"views" <> ?`, []any{-1.5}, `"views" <> $1`, []any{-1.5}},
		{`views = null`, `"views" IS NULL`, nil, `"views" IS NULL`, nil},
		{`null != meta`, `"meta" IS NOT NULL`, nil, `"meta" IS NOT NULL`, nil},
		{`draft = true`, `"draft" = ?`, []any{int64(1)}, `"draft" = $1`, []any{true}},
		{`false != draft`, `"draft" <> ?`, []any{int64(0)}, `"draft" <> $1`, []any{false}},
		{`title = "it's"`, `"title" = ?`, []any{"it's"}, `"title" = $1`, []any{"it's"}},
		{`id = "abc"`, `"id" = ?`, []any{"abc"}, `"id" = $1`, []any{"abc"}},
		{`title ~ "Go"`, `"title" LIKE ? ESCAPE '\'`, []any{"%Go%"}, `"title" ILIKE $1 ESCAPE '\'`, []any{"%Go%"}},
		{`title !~ '50%_a\\b'`, `"title" NOT LIKE ? ESCAPE '\'`, []any{`%50\%\_a\\b%`},
			`"title" NOT ILIKE $1 ESCAPE '\'`, []any{`%50\%\_a\\b%`}},
		{`title ~ ""`, `"title" LIKE ? ESCAPE '\'`, []any{"%%"}, `"title" ILIKE $1 ESCAPE '\'`, []any{"%%"}},
		{`published >= "2024-05-01"`, `"published" >= ?`, []any{"2024-05-01T00:00:00.000000Z"}, `"published" >= $1`, []any{may1}},
		{`created < "2024-05-01T02:00:00.1234567+02:00"`, `"created" < ?`, []any{"2024-05-01T00:00:00.123456Z"},
			`"created" < $1`, []any{may1.Add(123456 * time.Microsecond)}},
		{`title < body`, `"title" < "body"`, nil, `"title" < "body"`, nil},
		{`draft != pinned`, `"draft" <> "pinned"`, nil, `"draft" <> "pinned"`, nil},
		{`!(views > 5)`, `(NOT "views" > ?)`, []any{5.0}, `(NOT "views" > $1)`, []any{5.0}},
		{`views > 500 && (title ~ "go" || draft = false)`,
			`("views" > ? AND ("title" LIKE ? ESCAPE '\' OR "draft" = ?))`, []any{500.0, "%go%", int64(0)},
			`("views" > $1 AND ("title" ILIKE $2 ESCAPE '\' OR "draft" = $3))`, []any{500.0, "%go%", false}},
		{`views > 1 && views < 9 && title = null`,
			`(("views" > ? AND "views" < ?) AND "title" IS NULL)`, []any{1.0, 9.0},
			`(("views" > $1 AND "views" < $2) AND "title" IS NULL)`, []any{1.0, 9.0}},
	}
	for _, tt := range tests {
		e := mustParse(t, tt.src)
		for _, d := range []struct {
			d    Dialect
			sql  string
			args []any
		}{{SQLite, tt.sqlite, tt.sqliteArgs}, {Postgres, tt.pg, tt.pgArgs}} {
			a := Args{Dialect: d.d}
			sql, err := Compile(e, posts, &a)
			if err != nil {
				t.Errorf("Compile(%q, %s): %v", tt.src, d.d, err)
				continue
			}
			if sql != d.sql {
				t.Errorf("Compile(%q, %s) = %s, want %s", tt.src, d.d, sql, d.sql)
			}
			if diff := cmp.Diff(d.args, a.Values); diff != "" {
				t.Errorf("Compile(%q, %s) args (-want +got):\n%s", tt.src, d.d, diff)
			}
		}
	}
}

// TestCompileArgs checks that parameters number on from those already in
// Args, and that a failed Compile leaves Args as it was.
func TestCompileArgs(t *testing.T) {
	a := Args{Dialect: Postgres, Values: []any{"tenant"}}
	sql, err := Compile(mustParse(t, `views > 1 || title = "x"`), posts, &a)
	if err != nil {
		t.Fatal(err)
	}
	if want := `("views" > $2 OR "title" = $3)`; sql != want {
		t.Errorf("Compile = %s, want %s", sql, want)
	}
	if diff := cmp.Diff([]any{"tenant", 1.0, "x"}, a.Values); diff != "" {
		t.Errorf("Compile args (-want +got):\n%s", diff)
	}

	a = Args{Dialect: SQLite, Values: []any{"tenant"}}
	_, err = Compile(mustParse(t, `views > 1 && titel = "x"`), posts, &a)
	checkError(t, "Compile", `views > 1 && titel = "x"`, err, "filter", "unknown_field", `at offset 13: unknown field "titel"`)
	if diff := cmp.Diff([]any{"tenant"}, a.Values); diff != "" {
		t.Errorf("failed Compile changed args (-want +got):\n%s", diff)
	}
}

func BenchmarkCompile(b *testing.B) {
	e := mustParse(b, `views > 500 && (title ~ "go" || draft = false)`)
	for b.Loop() {
		a := Args{Dialect: Postgres}
		if _, err := Compile(e, posts, &a); err != nil {
			b.Fatal(err)
		}
	}
}
