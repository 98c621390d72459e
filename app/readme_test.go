package app

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeConfigTable keeps the README's configuration table in step
// with the options table: every option, its variable and its default.
func TestReadmeConfigTable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `--") {
			name := strings.Trim(strings.Split(line, "|")[1], " `-")
			rows[name] = line
		}
	}
	def := DefaultConfig()
	for _, o := range options {
		row, ok := rows[o.name]
		if !ok {
			t.Errorf("README lacks option --%s", o.name)
			continue
		}
		if !strings.Contains(row, "`"+envName(o.name)+"`") {
			t.Errorf("README row of --%s does not name %s: %s", o.name, envName(o.name), row)
		}
		if d := o.get(&def); d != "" && !strings.Contains(row, "`"+d+"`") {
			t.Errorf("README row of --%s does not give the default %q: %s", o.name, d, row)
		}
		delete(rows, o.name)
	}
	for name := range rows {
		t.Errorf("README lists --%s, which is not an option", name)
	}
}
