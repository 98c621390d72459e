package sqlite

import (
	"context"
	"errors"

	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// queries adapts the store to dbq, for the storage code both drivers
// share: reads on the reader pool, transactions on the writer (so they
// join its group commit).
type queries struct{ db *DB }

var _ dbq.DB = queries{}

func (q queries) Dialect() filter.Dialect { return filter.SQLite }

func (q queries) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := q.Tx(ctx, func(tx dbq.Q) error {
		var err error
		n, err = tx.Exec(ctx, query, args...)
		return err
	})
	return n, err
}

func (q queries) Query(ctx context.Context, query string, args ...any) (dbq.Rows, error) {
	return q.db.query(ctx, query, args...)
}

func (q queries) Tx(ctx context.Context, fn func(dbq.Q) error) error {
	return q.db.do(ctx, func(t *txn) error { return fn(txnQueries{t}) })
}

func (q queries) IsUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// txnQueries runs statements in the writer's transaction.
type txnQueries struct{ t *txn }

func (q txnQueries) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q txnQueries) Query(ctx context.Context, query string, args ...any) (dbq.Rows, error) {
	return q.t.tx.QueryContext(ctx, query, args...)
}

// InvalidateRecordsAtCommit implements dbq.RecordCacheInvalidator.
func (q txnQueries) InvalidateRecordsAtCommit() {
	q.t.afterCommit(func(rc *recordCache) { rc.c.InvalidateAll() })
}
