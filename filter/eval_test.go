package filter

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"basalt.dev/basalt"
)

func TestEval(t *testing.T) {
	may1 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	rec := func(data map[string]any) *basalt.Record {
		return &basalt.Record{ID: "r1", Created: may1, Updated: may1.Add(time.Hour), Data: data}
	}
	null := rec(nil) // every field is null
	tests := []struct {
		src  string
		r    *basalt.Record
		want bool
	}{
		{`views > 5`, rec(map[string]any{"views": 10.0}), true},
		{`views > 5`, rec(map[string]any{"views": 5.0}), false},
		{`5 < views`, rec(map[string]any{"views": 10.0}), true},
		{`views >= 5 && views <= 5`, rec(map[string]any{"views": 5.0}), true},
		{`views = 0`, rec(map[string]any{"views": negZero()}), true},

		// Null: every comparison with it is unknown, and so is its negation.
		{`views > 5`, null, false},
		{`!(views > 5)`, null, false},
		{`views != 5`, null, false},
		{`views = 5`, rec(map[string]any{"views": nil}), false},
		{`views = null`, null, true},
		{`views = null`, rec(map[string]any{"views": nil}), true},
		{`views != null`, null, false},
		{`views != null`, rec(map[string]any{"views": 1.0}), true},
		{`null = views`, null, true},
		{`views > 5 || views = null`, null, true},
		{`!(views > 5 && draft = true)`, rec(map[string]any{"draft": false}), true},
		{`!(views > 5 || draft = true)`, rec(map[string]any{"draft": false}), false},
		{`!(views > 5 || draft = false)`, rec(map[string]any{"draft": false}), false},
		{`!!(views > 5)`, null, false},
		{`title !~ "go"`, null, false},
		{`title < body`, rec(map[string]any{"title": "a"}), false},
		{`title = title`, null, false},
		{`title = title`, rec(map[string]any{"title": ""}), true},

		// Text compares by bytes; ~ ignores the case of ASCII letters only.
		{`title < "b"`, rec(map[string]any{"title": "B"}), true},
		{`title > "z"`, rec(map[string]any{"title": "é"}), true},
		{`title < body`, rec(map[string]any{"title": "a", "body": "ab"}), true},
		{`title ~ "GO"`, rec(map[string]any{"title": "Golang"}), true},
		{`title ~ ""`, rec(map[string]any{"title": ""}), true},
		{`title ~ "école"`, rec(map[string]any{"title": "ÉCOLE"}), false},
		{`title ~ "ÉCOLE"`, rec(map[string]any{"title": "École"}), true},
		{`title ~ "%"`, rec(map[string]any{"title": "50%"}), true},
		{`title ~ "_"`, rec(map[string]any{"title": "ab"}), false},
		{`title ~ "\\"`, rec(map[string]any{"title": `a\b`}), true},
		{`title !~ "go"`, rec(map[string]any{"title": "Go"}), false},
		{`title !~ "go"`, rec(map[string]any{"title": "rust"}), true},
		{`id = "r1" && id ~ "R"`, null, true},

		{`draft = false`, rec(map[string]any{"draft": false}), true},
		{`draft != pinned`, rec(map[string]any{"draft": false, "pinned": true}), true},

		// Dates compare as instants, to the microsecond.
		{`published = "2024-05-01"`, rec(map[string]any{"published": may1.Add(999 * time.Nanosecond)}), true},
		{`published > "2024-05-01T02:00:00+02:00"`, rec(map[string]any{"published": may1}), false},
		{`published >= "2024-05-01T02:00:00+02:00"`, rec(map[string]any{"published": may1.In(time.FixedZone("x", 3600))}), true},
		{`created < updated`, null, true},
		{`created = published`, rec(map[string]any{"published": may1}), true},
		{`updated > "2024-05-01"`, null, true},

		{`meta = null`, rec(map[string]any{"meta": json.RawMessage(`{}`)}), false},
		{`meta != null`, rec(map[string]any{"meta": json.RawMessage(`null`)}), true},
	}
	for _, tt := range tests {
		got, err := Eval(mustParse(t, tt.src), posts, tt.r)
		if err != nil {
			t.Errorf("Eval(%q, %v): %v", tt.src, tt.r.Data, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Eval(%q, %v) = %v, want %v", tt.src, tt.r.Data, got, tt.want)
		}
	}
}

func negZero() float64 {
	zero := 0.0
	return -zero
}

func TestEvalError(t *testing.T) {
	r := &basalt.Record{ID: "r1", Data: map[string]any{"views": "many"}}

	_, err := Eval(mustParse(t, `views > "1"`), posts, r)
	checkError(t, "Eval", `views > "1"`, err, "filter", "type", `at offset 8: views is a number; compare it with a number, not "1"`)

	// A record value of the wrong type is a fault of the caller, reported
	// even where the result does not depend on it.
	_, err = Eval(mustParse(t, `title = "x" && views > 1`), posts, r)
	var be *basalt.Error
	if err == nil || errors.As(err, &be) {
		t.Errorf("Eval with a string number: error = %v, want a plain error", err)
	}
}
