package store

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one versioned, embedded schema change of Basalt's own
// tables. Migrations follow expand/contract: a migration never breaks the
// previous release, so two versions can run side by side during a rolling
// upgrade.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the files NNNN_name.sql in the root of fsys, in
// version order. Versions must be unique and start at 1 without gaps.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("store: migration %q: name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("store: read migration %q: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migration versions must run 1, 2, 3...; found %d at place %d", m.Version, i+1)
		}
	}
	return ms, nil
}

// Status merges the known migrations with the applied versions.
func Status(ms []Migration, applied map[int]MigrationStatus) []MigrationStatus {
	out := make([]MigrationStatus, len(ms))
	for i, m := range ms {
		out[i] = MigrationStatus{Version: m.Version, Name: m.Name}
		if a, ok := applied[m.Version]; ok {
			out[i].Applied = a.Applied
		}
	}
	return out
}
