package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeQuickstart runs the README's curl quickstart as written, with
// two substitutions: the built binary for "go run ./cmd/basalt" and the
// test server's address for localhost:8090. Every curl must succeed and
// the list must return the record created before it.
func TestReadmeQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a server")
	}
	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	var script string
	for _, b := range blocks {
		if strings.Contains(b[1], "keys create --name quickstart") {
			script = b[1]
		}
	}
	if script == "" {
		t.Fatal("README has no quickstart block")
	}
	bin, err := buildBasalt()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"BASALT_DATA=" + dir}
	s := start(t, env)
	host := strings.TrimPrefix(s.url, "http://")
	script = strings.ReplaceAll(script, "go run ./cmd/basalt", bin)
	script = strings.ReplaceAll(script, "localhost:8090", host)
	cmd := exec.Command("sh", "-e", "-c", script+"\n")
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = filepath.Dir(bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{`"name":"posts"`, `"title":"Hello, Basalt","views":600}`, `"items":[{"id":`, `"next_cursor":null`, `"op":"create"`} {
		if !strings.Contains(got, want) {
			t.Errorf("quickstart output lacks %s:\n%s", want, got)
		}
	}
}
