package records

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"basalt.dev/basalt"
	"basalt.dev/basalt/filter"
	"basalt.dev/basalt/store"
)

// A cursor is the keyset position after a record: base64url of the JSON
// array [sort, value of each sort key..., id]. It carries the sort it was
// made for, so a cursor used with another sort is refused instead of
// silently skipping records. It holds no tenant: the store adds the
// request's tenant to every list, so a cursor cannot reach other data.

//
// A sort value can be long text, and a cursor must fit in a URL: when the
// values would make the cursor longer than maxCursorValues, the cursor
// names the record instead, [sort, {"ref": id}], and the next page starts
// after that record's values as they are then.

const (
	maxCursor       = 4096
	maxCursorValues = 2048
)

func sortString(sort []filter.SortField) string {
	parts := make([]string, len(sort))
	for i, s := range sort {
		parts[i] = s.Field
		if s.Desc {
			parts[i] = "-" + s.Field
		}
	}
	return strings.Join(parts, ",")
}

// encodeCursor returns the cursor after record r.
func encodeCursor(c *basalt.Collection, sort []filter.SortField, r *basalt.Record) string {
	buf := []byte{'['}
	buf = basalt.AppendJSONString(buf, sortString(sort))
	for _, k := range store.SortKeys(sort) {
		buf = append(buf, ',')
		buf = basalt.AppendValueJSON(buf, recordValue(r, k.Field))
	}
	buf = append(buf, ']')
	if len(buf) > maxCursorValues {
		buf = append(basalt.AppendJSONString([]byte{'['}, sortString(sort)), `,{"ref":`...)
		buf = append(basalt.AppendJSONString(buf, r.ID), "}]"...)
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// cursorRef is the id a reference cursor names, or "".
func cursorRef(parts []json.RawMessage) string {
	if len(parts) != 2 {
		return ""
	}
	var ref struct{ Ref string }
	if json.Unmarshal(parts[1], &ref) != nil || !ValidID(ref.Ref) {
		return ""
	}
	return ref.Ref
}

func recordValue(r *basalt.Record, field string) any {
	switch field {
	case "id":
		return r.ID
	case "created":
		return r.Created
	case "updated":
		return r.Updated
	}
	return r.Data[field]
}

// decodeCursor returns the keyset values of a cursor made for sort, or
// for a reference cursor the id of the record it names.
func decodeCursor(s string, c *basalt.Collection, sort []filter.SortField) ([]any, string, error) {
	bad := func(msg string) error {
		return basalt.Invalid("Invalid cursor.", basalt.FieldError{Field: "cursor", Code: "invalid", Message: msg})
	}
	if len(s) > maxCursor {
		return nil, "", bad("cursor is too long; pass next_cursor exactly as it was returned")
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, "", bad("cursor is not one this server returned; pass next_cursor exactly as it was returned")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil || len(parts) == 0 {
		return nil, "", bad("cursor is not one this server returned; pass next_cursor exactly as it was returned")
	}
	var made string
	if json.Unmarshal(parts[0], &made) != nil || made != sortString(sort) {
		return nil, "", bad("cursor was made for another sort; use the same sort for every page, or start again without a cursor")
	}
	if ref := cursorRef(parts); ref != "" {
		return nil, ref, nil
	}
	keys := store.SortKeys(sort)
	if len(parts)-1 != len(keys) {
		return nil, "", bad("cursor does not match the sort")
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		f := c.SchemaField(k.Field)
		v, fe := basalt.DecodeValue(f, parts[i+1])
		if fe != nil || (v == nil && c.Field(k.Field) == nil) {
			return nil, "", bad("cursor does not match the collection's fields")
		}
		vals[i] = v
	}
	return vals, "", nil
}
