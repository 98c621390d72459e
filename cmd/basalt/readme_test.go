package main_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeQuickstart runs the README's curl quickstart as written (see
// docShell for the two substitutions). Every curl must succeed and the
// list must return the record created before it.
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script string
	for _, f := range fences(string(readme)) {
		if f.lang == "sh" && strings.Contains(f.body, "keys create --name quickstart") {
			script = f.body
		}
	}
	if script == "" {
		t.Fatal("README has no quickstart block")
	}
	d := newDocShell(t)
	got, err := d.run(script)
	if err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, got)
	}
	for _, want := range []string{`"name":"posts"`, `"title":"Hello, Basalt","views":600}`, `"items":[{"id":`, `"next_cursor":null`, `"op":"create"`} {
		if !strings.Contains(got, want) {
			t.Errorf("quickstart output lacks %s:\n%s", want, got)
		}
	}
}
