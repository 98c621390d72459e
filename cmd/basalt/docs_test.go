package main_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The documents' shell blocks are run as a reader runs them: against a
// freshly built server, with two substitutions, the built binary for "go
// run ./cmd/basalt" and the test server's address for localhost:8090.

// fence is one fenced code block of a Markdown document.
type fence struct {
	lang       string // the info string: sh, json, text...
	body       string
	start, end int  // the body's byte offsets in the document
	adjacent   bool // only blank lines separate it from the fence before
}

var fenceRE = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```[ \t]*$")

// fences returns the fenced code blocks of a Markdown document in order.
func fences(md string) []fence {
	var out []fence
	prevEnd := -1
	for _, m := range fenceRE.FindAllStringSubmatchIndex(md, -1) {
		f := fence{lang: md[m[2]:m[3]], body: md[m[4]:m[5]], start: m[4], end: m[5]}
		f.adjacent = prevEnd >= 0 && strings.TrimSpace(md[prevEnd:m[0]]) == ""
		out = append(out, f)
		prevEnd = m[1]
	}
	return out
}

// docShell is a server started for a document, and the shell that runs
// the document's commands against it.
type docShell struct {
	bin  string
	host string // the server's address, standing for localhost:8090
	env  []string
}

// newDocShell builds basalt and starts it on a new SQLite database. It
// skips the test in -short mode and where sh or curl is missing.
//
// The server listens on a port chosen here rather than on port 0, so the
// links it makes from its address (invitations) reach it.
func newDocShell(t *testing.T) *docShell {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a server")
	}
	for _, tool := range []string{"sh", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s is not installed", tool)
		}
	}
	bin, err := buildBasalt()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"BASALT_DATA=" + t.TempDir()}
	s := start(t, env, "--http", addr)
	return &docShell{bin: bin, host: strings.TrimPrefix(s.url, "http://"), env: env}
}

// run runs script with sh -e, as written but for the substitutions, and
// returns what it printed on standard output and error.
func (d *docShell) run(script string) (string, error) {
	script = strings.ReplaceAll(script, "go run ./cmd/basalt", d.bin)
	script = strings.ReplaceAll(script, "localhost:8090", d.host)
	cmd := exec.Command("sh", "-e", "-c", script+"\n")
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Dir = filepath.Dir(d.bin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
