package basalt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "basalt.dev/basalt"

// Project packages named in the rules.
const (
	pkgRoot     = modulePath
	pkgAPI      = modulePath + "/api"
	pkgAPITest  = modulePath + "/api/apitest"
	pkgApp      = modulePath + "/app"
	pkgAuth     = modulePath + "/auth"
	pkgCmd      = modulePath + "/cmd/basalt"
	pkgFilter   = modulePath + "/filter"
	pkgRecords  = modulePath + "/records"
	pkgStore    = modulePath + "/store"
	pkgSQLite   = modulePath + "/store/sqlite"
	pkgPostgres = modulePath + "/store/postgres"
	pkgTestDB   = modulePath + "/internal/testdb"
	pkgBench    = modulePath + "/internal/bench"
)

// badDeps lists, for each package, the project packages it must not
// import directly, and why (STYLE.md, "Dependency direction").
var badDeps = map[string]map[string]string{
	pkgRecords: {
		pkgAPI:      "records is a capability: api alone knows HTTP",
		pkgApp:      "records is a capability: app alone wires",
		pkgSQLite:   "records reaches storage through store.Store, never a driver",
		pkgPostgres: "records reaches storage through store.Store, never a driver",
	},
	pkgAuth: {
		pkgAPI:      "auth is a capability: api alone knows HTTP",
		pkgApp:      "auth is a capability: app alone wires",
		pkgSQLite:   "auth reaches storage through store.Store, never a driver",
		pkgPostgres: "auth reaches storage through store.Store, never a driver",
	},
	pkgAPI: {
		pkgApp:      "api serves what app wires; app imports api, not the reverse",
		pkgAPITest:  "apitest is a test helper that starts app and its drivers",
		pkgSQLite:   "api is given a store; only app picks a driver",
		pkgPostgres: "api is given a store; only app picks a driver",
	},
}

// onlyDeps lists packages that may import nothing but the standard
// library and the named project packages, and why.
var onlyDeps = map[string]struct {
	allowed []string
	reason  string
}{
	pkgRoot:   {nil, "the root is the vocabulary every package shares, a leaf like WTF's and Litestream's"},
	pkgFilter: {[]string{pkgRoot}, "filter is the expression language: it knows the vocabulary, not storage"},
	pkgStore:  {[]string{pkgRoot, pkgFilter}, "store is the storage contract: it speaks the vocabulary and filters, nothing else"},
}

// projectOnlyDeps lists packages that may import any other module, but
// among project packages only the named ones.
var projectOnlyDeps = map[string]struct {
	allowed []string
	reason  string
}{
	pkgCmd: {[]string{pkgApp}, "main only wires: signal context, then app.Run"},
}

// driverImporters may import a store driver: app wires one, main starts
// app, and these test helpers start the real server or database.
var driverImporters = []string{pkgApp, pkgCmd, pkgAPITest, pkgTestDB, pkgBench}

// goPackage is what the rules read of `go list -json`.
type goPackage struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// goList runs `go list -json` with args from the module root, the
// working directory of this test, and decodes its stream of packages.
func goList(t *testing.T, args ...string) []goPackage {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not found: %v", err)
	}
	c := exec.Command("go", append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs
		} else if err != nil {
			t.Fatalf("go list %s: decode: %v", strings.Join(args, " "), err)
		}
		pkgs = append(pkgs, p)
	}
}

func isProject(path string) bool {
	return path == modulePath || strings.HasPrefix(path, modulePath+"/")
}

func TestDeps(t *testing.T) {
	t.Parallel()
	pkgs := goList(t, "-deps", "-json=ImportPath,Imports,Standard", "./...")
	standard := map[string]bool{}
	for _, p := range pkgs {
		standard[p.ImportPath] = p.Standard
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		if !isProject(p.ImportPath) {
			continue
		}
		seen[p.ImportPath] = true
		for _, imp := range p.Imports {
			if reason := forbidden(p.ImportPath, imp, standard[imp]); reason != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, reason)
			}
		}
	}
	// A rule about a package that no longer exists protects nothing.
	for pkg := range badDeps {
		if !seen[pkg] {
			t.Errorf("badDeps names %s, which go list does not list", pkg)
		}
	}
	for pkg := range onlyDeps {
		if !seen[pkg] {
			t.Errorf("onlyDeps names %s, which go list does not list", pkg)
		}
	}
}

// forbidden returns why pkg must not import imp, or "" if it may.
func forbidden(pkg, imp string, impStandard bool) string {
	if reason, ok := badDeps[pkg][imp]; ok {
		return reason
	}
	if rule, ok := onlyDeps[pkg]; ok && !impStandard && !slices.Contains(rule.allowed, imp) {
		return rule.reason
	}
	if rule, ok := projectOnlyDeps[pkg]; ok && isProject(imp) && !slices.Contains(rule.allowed, imp) {
		return rule.reason
	}
	if (imp == pkgSQLite || imp == pkgPostgres) && !slices.Contains(driverImporters, pkg) {
		return "only app wires a store driver; other packages take a store.Store"
	}
	return ""
}

// TestForbidden checks the rules themselves on edges that must and must
// not be reported, so a typo in a table cannot pass silently.
func TestForbidden(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pkg, imp string
		standard bool
		want     bool
	}{
		{pkgRoot, "strings", true, false},
		{pkgRoot, "github.com/google/uuid", false, true},
		{pkgRoot, pkgFilter, false, true},
		{pkgFilter, pkgRoot, false, false},
		{pkgFilter, pkgStore, false, true},
		{pkgStore, pkgFilter, false, false},
		{pkgStore, pkgRecords, false, true},
		{pkgRecords, pkgStore, false, false},
		{pkgRecords, pkgAPI, false, true},
		{pkgRecords, pkgSQLite, false, true},
		{pkgAuth, pkgApp, false, true},
		{pkgAPI, pkgRecords, false, false},
		{pkgAPI, pkgApp, false, true},
		{pkgAPI, pkgAPITest, false, true},
		{pkgAPI, pkgPostgres, false, true},
		{modulePath + "/store/storetest", pkgSQLite, false, true},
		{modulePath + "/internal/sqlgen", pkgPostgres, false, true},
		{pkgApp, pkgSQLite, false, false},
		{pkgAPITest, pkgApp, false, false},
		{pkgTestDB, "github.com/jackc/pgx/v5", false, false},
		{pkgCmd, pkgApp, false, false},
		{pkgCmd, "os/signal", true, false},
		{pkgCmd, pkgAPI, false, true},
		{pkgCmd, pkgSQLite, false, true},
	} {
		if got := forbidden(tt.pkg, tt.imp, tt.standard) != ""; got != tt.want {
			t.Errorf("forbidden(%s, %s) = %v, want %v", tt.pkg, tt.imp, got, tt.want)
		}
	}
}
