package postgres

import (
	"context"
	"errors"

	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/internal/dbq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queries adapts the store to dbq, for the storage code both drivers
// share; ? placeholders are renumbered as $n.
type queries struct{ db *DB }

var _ dbq.DB = queries{}

func (q queries) Dialect() filter.Dialect { return filter.Postgres }

func (q queries) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.pool.Exec(ctx, dbq.Rebind(filter.Postgres, query), args...)
	return tag.RowsAffected(), err
}

func (q queries) Query(ctx context.Context, query string, args ...any) (dbq.Rows, error) {
	rows, err := q.db.pool.Query(ctx, dbq.Rebind(filter.Postgres, query), args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{rows}, nil
}

func (q queries) Tx(ctx context.Context, fn func(dbq.Q) error) error {
	return q.db.tx(ctx, func(tx pgx.Tx) error { return fn(txQueries{tx}) })
}

func (q queries) IsUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

type txQueries struct{ tx pgx.Tx }

func (q txQueries) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.tx.Exec(ctx, dbq.Rebind(filter.Postgres, query), args...)
	return tag.RowsAffected(), err
}

func (q txQueries) Query(ctx context.Context, query string, args ...any) (dbq.Rows, error) {
	rows, err := q.tx.Query(ctx, dbq.Rebind(filter.Postgres, query), args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{rows}, nil
}

// pgxRows gives pgx.Rows the database/sql shape.
type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}
