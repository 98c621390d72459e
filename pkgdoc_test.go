package basalt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs checks that every package has a doc comment that
// starts with "Package <name>", or "Command <name>" for a command, as
// go doc expects (Tailscale's pkgdoc_test.go).
func TestPackageDocs(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not found: %v", err)
	}
	c := exec.Command("go", "list", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles", "./...")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Name, Dir string
			GoFiles, CgoFiles     []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list: decode: %v", err)
		}
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command " + path.Base(p.ImportPath) + " "
		}
		if docs := packageDocs(t, p.Dir, append(p.GoFiles, p.CgoFiles...)); !hasDoc(docs, want) {
			t.Errorf("%s: no file has a package doc starting %q (docs: %q)", p.ImportPath, want, docs)
		}
	}
}

// packageDocs returns the package doc comments of the files in dir.
func packageDocs(t *testing.T, dir string, files []string) []string {
	t.Helper()
	var docs []string
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		if f.Doc != nil {
			docs = append(docs, f.Doc.Text())
		}
	}
	return docs
}

func hasDoc(docs []string, prefix string) bool {
	for _, d := range docs {
		if strings.HasPrefix(strings.ReplaceAll(d, "\n", " "), prefix) {
			return true
		}
	}
	return false
}
