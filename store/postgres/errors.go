package postgres

import (
	"errors"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/sqlgen"
	"github.com/jackc/pgx/v5/pgconn"
)

// interpretError turns PostgreSQL's errors that a client caused into
// *basalt.Error, keyed on SQLSTATE codes. c, if known, names the field of
// a unique violation from the violated index.
func interpretError(err error, c *basalt.Collection) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return sqlgen.Conflict(c, sqlgen.FieldOfIndex(c, pe.ConstraintName), err)
	case "42P01", "42703": // undefined_table, undefined_column: another node changed the schema
		return &basalt.Error{Code: basalt.CodeConflict, Err: err,
			Message: "The collection's definition changed while the request ran; retry it."}
	}
	return err
}
