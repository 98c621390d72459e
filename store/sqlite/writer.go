package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"basalt.dev/basalt"
)

// errClosed is returned by writes after Close.
var errClosed = errors.New("sqlite: store is closed")

// write is one logical write waiting for the writer.
type write struct {
	ctx  context.Context
	fn   func(*txn) error
	done chan error
}

// txn is the transaction a write runs in, with the writer's cached
// statements.
type txn struct {
	tx *sql.Tx
	db *DB
	// effects change the record cache once the transaction commits; the
	// effects of a write that rolls back to its savepoint are dropped.
	effects []func(*recordCache)
}

// afterCommit queues a change of the record cache for after the commit.
func (t *txn) afterCommit(f func(*recordCache)) {
	if t.db.cache != nil {
		t.effects = append(t.effects, f)
	}
}

// exec runs a statement that every write uses, prepared once.
func (t *txn) exec(query string, args ...any) (sql.Result, error) {
	s, err := t.db.wstmts.get(t.db.w, query)
	if err != nil || s == nil {
		return t.tx.Exec(query, args...)
	}
	return t.tx.Stmt(s).Exec(args...)
}

func (t *txn) queryRow(query string, dest []any, args ...any) error {
	s, err := t.db.wstmts.get(t.db.w, query)
	if err != nil || s == nil {
		return t.tx.QueryRow(query, args...).Scan(dest...)
	}
	return t.tx.Stmt(s).QueryRow(args...).Scan(dest...)
}

// execOnce runs a statement that is not worth caching (DDL, rare updates).
func (t *txn) execOnce(query string, args ...any) (sql.Result, error) {
	return t.tx.Exec(query, args...)
}

func (t *txn) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.Query(query, args...)
}

// do runs fn in the writer's transaction and returns once it has
// committed (nil) or failed. Writes are never abandoned half-way: once the
// writer has taken fn, do waits for the commit even if ctx ends.
func (db *DB) do(ctx context.Context, fn func(*txn) error) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.stop:
		return errClosed
	}
	return <-w.done
}

// writer is the one goroutine that writes. It takes every write that is
// waiting, runs them in one transaction, each in a savepoint so that one
// failure does not undo the others, and commits them with one sync.
func (db *DB) writer() {
	defer close(db.done)
	for {
		var batch []*write
		select {
		case w := <-db.writes:
			batch = append(batch, w)
		case <-db.stop:
			return
		}
	gather:
		for len(batch) < db.maxBatch {
			select {
			case w := <-db.writes:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		db.commit(batch)
	}
}

func (db *DB) commit(batch []*write) {
	results := make([]error, len(batch))
	err := db.runBatch(batch, results)
	for i, w := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		w.done <- results[i]
	}
}

func (db *DB) runBatch(batch []*write, results []error) error {
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	t := &txn{tx: tx, db: db}
	if len(batch) == 1 {
		if results[0] = runOne(batch[0], t); results[0] != nil {
			return rollback(tx, results[0])
		}
	} else {
		for i, w := range batch {
			mark := len(t.effects)
			if results[i] = db.runSavepoint(w, t); results[i] != nil {
				t.effects = t.effects[:mark]
				if !isClientError(results[i]) && !errors.Is(results[i], context.Canceled) {
					// The transaction itself may be broken; give up on all.
					return rollback(tx, results[i])
				}
			}
		}
	}
	db.cache.beginCommit()
	defer db.cache.endCommit()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	for _, f := range t.effects {
		f(db.cache)
	}
	return nil
}

func runOne(w *write, t *txn) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return w.fn(t)
}

func (db *DB) runSavepoint(w *write, t *txn) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if _, err := t.tx.Exec("SAVEPOINT w"); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	err := w.fn(t)
	if err != nil {
		if _, rerr := t.tx.Exec("ROLLBACK TO w"); rerr != nil {
			return fmt.Errorf("sqlite: rollback to savepoint: %w (after %w)", rerr, err)
		}
	}
	if _, rerr := t.tx.Exec("RELEASE w"); rerr != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", rerr)
	}
	return err
}

func rollback(tx *sql.Tx, cause error) error {
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("sqlite: rollback: %w (after %w)", err, cause)
	}
	return nil
}

// stmtCache keeps prepared statements for the statements that run on
// every request (reads by id, inserts, event appends), which SQLite would
// otherwise compile each time. Statements are keyed by their text, which
// names every column, so a schema change never runs a stale statement;
// SQLite re-prepares a statement whose table changed underneath.
type stmtCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

const maxCachedStmts = 512

// get returns the prepared statement of query, or nil when the cache is
// full (the caller runs the query unprepared). A statement that fails to
// prepare is not cached; the caller runs it unprepared to get its error
// where it belongs. The writer pool has a
// second connection so that preparing never waits for the connection that
// holds the open transaction; Tx.Stmt then prepares it on that one.
func (c *stmtCache) get(db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	s, err := db.Prepare(query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

// close closes every cached statement, when the store closes.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}

// isClientError reports whether err is a refusal (a conflict, a missing
// record) after which the transaction is still sound, so the writes
// batched with it can commit.
func isClientError(err error) bool {
	var e *basalt.Error
	return errors.As(err, &e)
}
