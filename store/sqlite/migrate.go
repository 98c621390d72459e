package sqlite

import (
	"context"
	"fmt"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/store"
)

const createMigrations = `CREATE TABLE IF NOT EXISTS _migrations (
  version INTEGER PRIMARY KEY,
  name    TEXT NOT NULL,
  applied TEXT NOT NULL
) STRICT`

func migrations() ([]store.Migration, error) {
	return store.LoadMigrations(mustSub(migrationFiles, "migrations"))
}

// Migrate implements store.Store. The writer's BEGIN IMMEDIATE takes
// SQLite's write lock, so two processes never apply a migration twice.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return db.do(ctx, func(t *txn) error {
		if _, err := t.execOnce(createMigrations); err != nil {
			return fmt.Errorf("sqlite: create _migrations: %w", err)
		}
		applied, err := appliedVersions(t)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if _, ok := applied[m.Version]; ok {
				continue
			}
			if _, err := t.execOnce(m.SQL); err != nil {
				return fmt.Errorf("sqlite: migration %d %s: %w", m.Version, m.Name, err)
			}
			if m.Name == "usage" {
				if err := backfillUsage(t); err != nil {
					return err
				}
			}
			if _, err := t.execOnce(`INSERT INTO _migrations (version, name, applied) VALUES (?, ?, ?)`,
				m.Version, m.Name, basalt.FormatTime(db.now())); err != nil {
				return fmt.Errorf("sqlite: record migration %d: %w", m.Version, err)
			}
		}
		return nil
	})
}

// MigrationStatus implements store.Store.
func (db *DB) MigrationStatus(ctx context.Context) ([]store.MigrationStatus, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var exists int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = '_migrations'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("sqlite: migration status: %w", err)
	}
	applied := map[int]store.MigrationStatus{}
	if exists == 1 {
		rows, err := db.r.QueryContext(ctx, `SELECT version, applied FROM _migrations`)
		if err != nil {
			return nil, fmt.Errorf("sqlite: migration status: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var at string
			if err := rows.Scan(&v, &at); err != nil {
				return nil, fmt.Errorf("sqlite: migration status: %w", err)
			}
			t, _ := time.Parse(basalt.TimeLayout, at)
			applied[v] = store.MigrationStatus{Version: v, Applied: t}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: migration status: %w", err)
		}
	}
	return store.Status(ms, applied), nil
}

func appliedVersions(t *txn) (map[int]bool, error) {
	rows, err := t.query(`SELECT version FROM _migrations`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read _migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: read _migrations: %w", err)
		}
		applied[v] = true
	}
	return applied, rows.Err()
}
