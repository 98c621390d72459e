package postgres

import (
	"context"
	"fmt"

	"basalt.dev/basalt/store"
	"github.com/jackc/pgx/v5"
)

// migrationLock is the advisory lock key nodes take to migrate: "basalt"
// in ASCII.
const migrationLock = 0x62617361_6c74

const createMigrations = `CREATE TABLE IF NOT EXISTS _migrations (
  version integer PRIMARY KEY,
  name    text NOT NULL,
  applied timestamptz NOT NULL
)`

func migrations() ([]store.Migration, error) {
	return store.LoadMigrations(mustSub(migrationFiles, "migrations"))
}

// Migrate implements store.Store. Nodes that start together wait on a
// transaction-level advisory lock; the first applies the migrations and
// the others find them applied.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("postgres: migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrations); err != nil {
			return fmt.Errorf("postgres: create _migrations: %w", err)
		}
		applied, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if _, ok := applied[m.Version]; ok {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %d %s: %w", m.Version, m.Name, err)
			}
			if m.Name == "usage" {
				if err := backfillUsage(ctx, tx); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO _migrations (version, name, applied) VALUES ($1, $2, $3)`,
				m.Version, m.Name, db.now().UTC()); err != nil {
				return fmt.Errorf("postgres: record migration %d: %w", m.Version, err)
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
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	applied := map[int]store.MigrationStatus{}
	if exists {
		rows, err := db.pool.Query(ctx, `SELECT version, applied FROM _migrations`)
		if err != nil {
			return nil, fmt.Errorf("postgres: migration status: %w", err)
		}
		for rows.Next() {
			var m store.MigrationStatus
			if err := rows.Scan(&m.Version, &m.Applied); err != nil {
				rows.Close()
				return nil, fmt.Errorf("postgres: migration status: %w", err)
			}
			m.Applied = m.Applied.UTC()
			applied[m.Version] = m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: migration status: %w", err)
		}
	}
	return store.Status(ms, applied), nil
}

func appliedVersions(ctx context.Context, tx pgx.Tx) (map[int]bool, error) {
	rows, err := tx.Query(ctx, `SELECT version FROM _migrations`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read _migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("postgres: read _migrations: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}
