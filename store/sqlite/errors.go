package sqlite

import (
	"errors"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/internal/sqlgen"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// interpretError turns SQLite's errors that a client caused into
// *basalt.Error, keyed on SQLite's extended result codes. c, if known,
// names the field of a unique violation.
func interpretError(err error, c *basalt.Collection) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlgen.Conflict(c, uniqueField(se.Error()), err)
	}
	return err
}

// uniqueField picks the field out of SQLite's "UNIQUE constraint failed:
// c_posts.tenant_id, c_posts.email". The class of the error comes from its
// code; the text only adds which field, for the message.
func uniqueField(msg string) string {
	_, cols, ok := strings.Cut(msg, "constraint failed: ")
	if !ok {
		return ""
	}
	var field string
	for _, col := range strings.Split(cols, ",") {
		_, name, _ := strings.Cut(strings.TrimSpace(col), ".")
		if i := strings.IndexAny(name, " ("); i >= 0 {
			name = name[:i]
		}
		if name != "tenant_id" {
			field = name
		}
	}
	return field
}
