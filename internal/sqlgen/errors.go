package sqlgen

import (
	"fmt"

	"basalt.dev/basalt"
)

// Conflict returns the error for a taken unique value. field is the
// offending field when the driver could tell it, "" otherwise.
func Conflict(c *basalt.Collection, field string, cause error) error {
	switch {
	case c == nil:
		return &basalt.Error{Code: basalt.CodeConflict, Message: "The value is already taken.", Err: cause}
	case field == "" || field == "id":
		return &basalt.Error{Code: basalt.CodeConflict, Err: cause,
			Message: fmt.Sprintf("A record of %s with this id or unique value already exists.", c.Name),
			Fields:  []basalt.FieldError{{Field: "id", Code: "unique", Message: "id is already taken"}}}
	}
	return &basalt.Error{Code: basalt.CodeConflict, Err: cause,
		Message: fmt.Sprintf("Another record of %s has the same %s; %s must be unique.", c.Name, field, field),
		Fields:  []basalt.FieldError{{Field: field, Code: "unique", Message: field + " must be unique"}}}
}

// FieldOfIndex returns the field whose unique index has the database name
// index, or "" if no unique field does.
func FieldOfIndex(c *basalt.Collection, index string) string {
	if c == nil {
		return ""
	}
	for _, f := range c.Fields {
		if f.Unique && basalt.UniqueIndexTableName(c.Name, f.Name) == index {
			return f.Name
		}
	}
	for _, ix := range c.Indexes {
		if ix.Unique && basalt.IndexTableName(c.Name, ix.Name) == index {
			return ix.Fields[0]
		}
	}
	return ""
}

// NotFound returns the error for a missing record.
func NotFound(c *basalt.Collection, id string) error {
	return basalt.Errorf(basalt.CodeNotFound, "No record %q in %s.", id, c.Name)
}

// Stale returns the error for a conditional write on a changed record.
func Stale(c *basalt.Collection, id string) error {
	return basalt.Errorf(basalt.CodePreconditionFailed,
		"Record %q of %s has changed since the version in If-Match; read it again and retry.", id, c.Name)
}
