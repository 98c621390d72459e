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
	pool     *pgxpool.Pool
	now      func() time.Time
	channels channels // of notifications between nodes
	recs     sync.Map // collection name -> *sqlgen.Records
	horizon  horizon

	*sqlstore.Identity
	*sqlstore.Cursors
	*sqlstore.Presence
	*sqlstore.Usage
	*sqlstore.RateLimits
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
	// A new connection sees no tenant's rows until a statement says whose.
	cfg.ConnConfig.RuntimeParams["basalt.tenant"] = ""
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, now: opts.Now}
	db.Identity = sqlstore.NewIdentity(queries{db})
	db.Cursors = sqlstore.NewCursors(queries{db})
	db.Presence = sqlstore.NewPresence(queries{db})
	db.Usage = newUsage(db)
	db.RateLimits = sqlstore.NewRateLimits(queries{db})
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: current schema: %w", err)
	}
	db.channels = channelsOf(schema)
	return db, nil
}

func createSchema(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	// A role without CREATE on the database may still use a schema made
	// for it, so look before creating.
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regnamespace($1) IS NOT NULL`, filter.Quote(schema)).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: create schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
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

// allTenants is the tenant setting of Basalt's own cross-tenant work
// (the event log's readers, schema changes, deleting a tenant).
const allTenants = "*"

// tx runs fn in a transaction acting for every tenant (see txAs).
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.txAs(ctx, allTenants, fn)
}

// txAs runs fn in a transaction and commits it; an error rolls it back.
// The transaction's basalt.tenant setting is tenant: row-level security
// lets it see and write only that tenant's rows, whatever its statements
// say (the second wall behind the tenant predicate every statement has).
func (db *DB) txAs(ctx context.Context, tenant string, fn func(pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if _, err := tx.Exec(ctx, setTenant, tenant, true); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("postgres: set tenant: %w", err)
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

const setTenant = `SELECT set_config('basalt.tenant', $1, $2)`

// read runs a query as tenant outside a transaction: the setting and the
// query go in one round trip (a pipelined batch) on one connection.
func (db *DB) read(ctx context.Context, tenant, query string, args []any, fn func(pgx.Rows) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: acquire: %w", err)
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(setTenant, tenant, false)
	b.Queue(query, args...)
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("postgres: set tenant: %w", err)
	}
	rows, err := br.Query()
	if err == nil {
		err = fn(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	return errors.Join(err, br.Close())
}

// bypassesRLS reports whether the connecting role skips row-level
// security (a superuser, or a role with BYPASSRLS): then only the tenant
// predicates guard the tenants.
func (db *DB) bypassesRLS(ctx context.Context) (bool, error) {
	var bypass bool
	err := db.pool.QueryRow(ctx, `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&bypass)
	return bypass, err
}

// BypassesRLS reports whether row-level security does not apply to the
// role the store connects as; the app warns about it.
func (db *DB) BypassesRLS(ctx context.Context) bool {
	b, err := db.bypassesRLS(ctx)
	return err == nil && b
}
