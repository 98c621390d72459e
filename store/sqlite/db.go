// Package sqlite is the default Basalt store: an embedded SQLite database
// (modernc.org/sqlite, pure Go) in WAL mode, with one writer connection
// and a pool of readers.
//
// Durability: by default every acknowledged write is on stable storage
// (synchronous=FULL: the WAL is synced at every commit). Throughput comes
// from group commit instead of a weaker setting: concurrent writes queue
// for the one writer, which runs all queued writes in one transaction, each
// in its own savepoint, and syncs once for all of them.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/sqlgen"
	"basalt.dev/basalt/store"
	"basalt.dev/basalt/store/sqlstore"
	sqlite "modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tune the store. The zero value is the safe default.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "FULL" (default) syncs
	// the WAL at every commit, so an acknowledged write survives power
	// loss; "NORMAL" syncs only at checkpoints: an acknowledged write
	// survives a crash of the process but may be lost with power.
	Synchronous string
	// Readers is the size of the read pool; default max(4, GOMAXPROCS).
	Readers int
	// MaxBatch bounds how many writes share one commit; default 256.
	MaxBatch int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RecordCache, if positive, keeps up to that many records in memory
	// for reads (see recordCache). It needs the store to be the only
	// writer of the file, so it takes an exclusive lock on the data
	// directory: a second server on the same directory is refused.
	RecordCache int
}

// DB is a Store on one SQLite file. It is safe for concurrent use.
type DB struct {
	path     string
	w, r     *sql.DB
	cache    *recordCache // nil when off
	unlock   func()
	wstmts   stmtCache
	rstmts   stmtCache
	writes   chan *write
	stop     chan struct{}
	done     chan struct{}
	maxBatch int
	now      func() time.Time

	closeOnce sync.Once
	recs      sync.Map // collection name -> *sqlgen.Records

	*sqlstore.Identity
	*sqlstore.Cursors
	*sqlstore.Presence
	*sqlstore.Usage
	*sqlstore.RateLimits
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database data.db in dir.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	opts = opts.withDefaults()
	path := filepath.Join(dir, "data.db")
	unlock := func() {}
	if opts.RecordCache > 0 {
		var err error
		if unlock, err = lockDir(dir); err != nil {
			return nil, err
		}
	}
	// fdatasync syncs the data and the size, not timestamps: the same
	// durability as fsync at a lower cost (modernc.org/sqlite keeps fsync
	// unless asked; SQLite's own Linux builds use fdatasync).
	_, _ = sqlite.Fdatasync(true)
	w, err := openPool(path, 2, "_txlock=immediate",
		"_pragma=journal_mode(WAL)", "_pragma=synchronous("+opts.Synchronous+")")
	if err != nil {
		unlock()
		return nil, err
	}
	r, err := openPool(path, opts.Readers, "_pragma=query_only(1)")
	if err != nil {
		w.Close()
		unlock()
		return nil, err
	}
	db := &DB{
		path: path, w: w, r: r,
		writes: make(chan *write), stop: make(chan struct{}), done: make(chan struct{}),
		maxBatch: opts.MaxBatch, now: opts.Now, unlock: unlock,
	}
	if opts.RecordCache > 0 {
		db.cache = newRecordCache(opts.RecordCache)
	}
	db.Identity = sqlstore.NewIdentity(queries{db})
	db.Cursors = sqlstore.NewCursors(queries{db})
	db.Presence = sqlstore.NewPresence(queries{db})
	db.Usage = newUsage(db)
	db.RateLimits = sqlstore.NewRateLimits(queries{db})
	go db.writer()
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (o Options) withDefaults() Options {
	o.Synchronous = strings.ToUpper(o.Synchronous)
	if o.Synchronous == "" {
		o.Synchronous = "FULL"
	}
	if o.Readers <= 0 {
		o.Readers = max(4, runtime.GOMAXPROCS(0))
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func openPool(path string, conns int, params ...string) (*sql.DB, error) {
	params = append([]string{"_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)"}, params...)
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(params, "&")
	pool, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	pool.SetMaxOpenConns(conns)
	pool.SetMaxIdleConns(conns)
	pool.SetConnMaxLifetime(0)
	pool.SetConnMaxIdleTime(0)
	return pool, nil
}

// ValidSynchronous reports whether s is a synchronous setting Options accepts.
func ValidSynchronous(s string) bool {
	switch strings.ToUpper(s) {
	case "", "FULL", "NORMAL", "EXTRA":
		return true
	}
	return false
}

// Path returns the database file.
func (db *DB) Path() string { return db.path }

// Dialect implements store.Store.
func (db *DB) Dialect() filter.Dialect { return filter.SQLite }

// Ping implements store.Store.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	return nil
}

// Close implements store.Store: the write in progress commits, later
// writes fail, and the file is closed.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		close(db.stop)
		<-db.done
		db.wstmts.close()
		db.rstmts.close()
		err = errors.Join(db.r.Close(), db.w.Close())
		db.unlock()
	})
	return err
}

// Pools returns the writer and reader pools, for their metrics.
func (db *DB) Pools() (writer, readers *sql.DB) { return db.w, db.r }

// records returns the statements of collection c, built once per definition.
func (db *DB) records(c *basalt.Collection) *sqlgen.Records {
	if v, ok := db.recs.Load(c.Name); ok {
		if q := v.(*sqlgen.Records); q.Collection() == c {
			return q
		}
	}
	q := sqlgen.NewRecords(filter.SQLite, c)
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
