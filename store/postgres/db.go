// Package postgres is the Basalt store on PostgreSQL (jackc/pgx/v5), for
// running many stateless nodes on one database.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tune the store. The zero value is the default.
type Options struct {
	// MaxConns is the pool size; default 20.
	MaxConns int32
	// Schema, if set, is created if missing and used as the search path:
	// one database can hold several independent deployments (and tests).
	Schema string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DB is a Store on PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool    *pgxpool.Pool
	now     func() time.Time
	recs    sync.Map // collection name -> *sqlgen.Records
	horizon horizon

	*sqlstore.Identity
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, basalt.Errorf(basalt.CodeValidation, "The database URL is not valid: %v", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 20
	}
	if opts.Schema != "" {
		if !basalt.ValidName(opts.Schema) {
			return nil, fmt.Errorf("postgres: schema %q must match [a-z][a-z0-9_]*", opts.Schema)
		}
		if err := createSchema(ctx, cfg.ConnConfig, opts.Schema); err != nil {
			return nil, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, now: opts.Now}
	db.Identity = sqlstore.NewIdentity(queries{db})
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func createSchema(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+filter.Quote(schema)); err != nil {
		return fmt.Errorf("postgres: create schema %s: %w", schema, err)
	}
	return nil
}

// Pool returns the connection pool, for its metrics.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Dialect implements store.Store.
func (db *DB) Dialect() filter.Dialect { return filter.Postgres }

// Ping implements store.Store.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close implements store.Store. It waits for connections in use.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// tx runs fn in a transaction and commits it; an error rolls it back.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			return errors.Join(err, fmt.Errorf("postgres: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return interpretError(fmt.Errorf("postgres: commit: %w", err), nil)
	}
	return nil
}

// records returns the statements of collection c, built once per definition.
func (db *DB) records(c *basalt.Collection) *sqlgen.Records {
	if v, ok := db.recs.Load(c.Name); ok {
		if q := v.(*sqlgen.Records); q.Collection() == c {
			return q
		}
	}
	q := sqlgen.NewRecords(filter.Postgres, c)
	db.recs.Store(c.Name, q)
	return q
}

func mustSub(fsys embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
