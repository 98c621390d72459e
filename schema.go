package basalt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
)

// Limits of a collection's schema. They keep every generated identifier
// within PostgreSQL's 63 bytes and every index within its column limit.
const (
	MaxCollectionName = 48
	MaxFieldName      = 63
	MaxFields         = 200
	MaxIndexes        = 32
	MaxIndexFields    = 8
)

// SystemFields are the columns every record has. They cannot be declared,
// but they can be filtered, sorted and indexed (created, updated).
var SystemFields = []Field{
	{Name: "id", Type: TypeText},
	{Name: "created", Type: TypeDate},
	{Name: "updated", Type: TypeDate},
}

// reservedNames cannot name a field: the system columns, and tenant_id,
// which leads every table's key.
var reservedNames = map[string]bool{"id": true, "created": true, "updated": true, "tenant_id": true}

// Reserved reports whether name is a system column that no field may take.
func Reserved(name string) bool { return reservedNames[name] }

// ValidName reports whether s is a valid collection or field name:
// a lower-case letter, then lower-case letters, digits and underscores.
func ValidName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SchemaField returns the declared or system field called name, or nil.
func (c *Collection) SchemaField(name string) *Field {
	if f := c.Field(name); f != nil {
		return f
	}
	for i := range SystemFields {
		if SystemFields[i].Name == name {
			return &SystemFields[i]
		}
	}
	return nil
}

// Normalize fills in derived parts of the definition: index names and
// the compact form of defaults. Call it before Validate.
func (c *Collection) Normalize() {
	if c.Fields == nil {
		c.Fields = []Field{}
	}
	if c.Indexes == nil {
		c.Indexes = []Index{}
	}
	for i := range c.Indexes {
		if c.Indexes[i].Name == "" {
			c.Indexes[i].Name = defaultIndexName(c.Indexes[i])
		}
	}
	for i := range c.Fields {
		if d := c.Fields[i].Default; len(d) > 0 {
			var buf bytes.Buffer
			if json.Compact(&buf, d) == nil {
				c.Fields[i].Default = buf.Bytes()
			}
			if bytes.Equal(c.Fields[i].Default, []byte("null")) {
				c.Fields[i].Default = nil
			}
		}
	}
}

func defaultIndexName(ix Index) string {
	name := strings.Join(ix.Fields, "_")
	if ix.Unique {
		name = "unique_" + name
	}
	if len(name) > MaxFieldName {
		h := fnv.New32a()
		h.Write([]byte(name))
		name = fmt.Sprintf("%s_%08x", name[:MaxFieldName-9], h.Sum32())
	}
	return name
}

// Validate checks a normalized definition and returns a validation *Error
// naming every invalid part, or nil.
func (c *Collection) Validate() error {
	var errs []FieldError
	add := func(field, code, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case c.Name == "":
		add("name", "required", "name is required")
	case len(c.Name) > MaxCollectionName:
		add("name", "too_long", "name must be at most %d characters", MaxCollectionName)
	case !ValidName(c.Name):
		add("name", "invalid", "name must match [a-z][a-z0-9_]*")
	}
	if len(c.Fields) > MaxFields {
		add("fields", "too_many", "a collection has at most %d fields", MaxFields)
	}
	seen := map[string]bool{}
	for i, f := range c.Fields {
		path := fmt.Sprintf("fields[%d]", i)
		switch {
		case f.Name == "":
			add(path+".name", "required", "a field needs a name")
		case len(f.Name) > MaxFieldName:
			add(path+".name", "too_long", "field name %q is longer than %d characters", f.Name, MaxFieldName)
		case !ValidName(f.Name):
			add(path+".name", "invalid", "field name %q must match [a-z][a-z0-9_]*", f.Name)
		case reservedNames[f.Name]:
			add(path+".name", "reserved", "%q is a system field; choose another name", f.Name)
		case seen[f.Name]:
			add(path+".name", "duplicate", "field %q is declared twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Type {
		case TypeText, TypeNumber, TypeBool, TypeDate, TypeJSON:
		case TypeRelation, TypeFile:
			add(path+".type", "unsupported", "field type %q is not available yet", f.Type)
		case "":
			add(path+".type", "required", "field %q needs a type: text, number, bool, date or json", f.Name)
		default:
			add(path+".type", "invalid", "unknown field type %q; use text, number, bool, date or json", f.Type)
		}
		if f.Unique && f.Type == TypeJSON {
			add(path+".unique", "unsupported", "a json field cannot be unique")
		}
		if len(f.Default) > 0 && f.Type != "" {
			if _, ferr := DecodeValue(&f, f.Default); ferr != nil {
				add(path+".default", "invalid", "default of %q: %s", f.Name, ferr.Message)
			}
		}
	}
	errs = append(errs, c.validateIndexes()...)
	if len(errs) > 0 {
		return Invalid("Invalid collection definition", errs...)
	}
	return nil
}

func (c *Collection) validateIndexes() []FieldError {
	var errs []FieldError
	add := func(field, code, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if len(c.Indexes) > MaxIndexes {
		add("indexes", "too_many", "a collection has at most %d indexes", MaxIndexes)
	}
	names := map[string]bool{}
	shapes := map[string]bool{}
	for i, ix := range c.Indexes {
		path := fmt.Sprintf("indexes[%d]", i)
		if !ValidName(ix.Name) || len(ix.Name) > MaxFieldName {
			add(path+".name", "invalid", "index name %q must match [a-z][a-z0-9_]* and have at most %d characters", ix.Name, MaxFieldName)
		} else if names[ix.Name] {
			add(path+".name", "duplicate", "index %q is declared twice", ix.Name)
		}
		names[ix.Name] = true
		if len(ix.Fields) == 0 || len(ix.Fields) > MaxIndexFields {
			add(path+".fields", "invalid", "an index covers 1 to %d fields", MaxIndexFields)
			continue
		}
		inIndex := map[string]bool{}
		for _, name := range ix.Fields {
			f := c.SchemaField(name)
			switch {
			case f == nil:
				add(path+".fields", "unknown_field", "index field %q is not a field of the collection", name)
			case f.Type == TypeJSON:
				add(path+".fields", "unsupported", "json field %q cannot be indexed", name)
			case inIndex[name]:
				add(path+".fields", "duplicate", "index lists field %q twice", name)
			}
			inIndex[name] = true
		}
		shape := fmt.Sprint(ix.Unique, ix.Fields)
		if shapes[shape] {
			add(path, "duplicate", "an identical index is already declared")
		}
		shapes[shape] = true
	}
	return errs
}

// IndexTableName returns the database name of index ix of collection coll:
// a stable hash of both, so it stays within identifier limits and does not
// change when the indexed fields are renamed.
func IndexTableName(coll, index string) string {
	h := fnv.New64a()
	h.Write([]byte(coll))
	h.Write([]byte{0})
	h.Write([]byte(index))
	if len(coll) > 24 {
		coll = coll[:24]
	}
	return fmt.Sprintf("i_%s_%016x", coll, h.Sum64())
}

// UniqueIndexTableName returns the database name of the unique index that
// backs a unique field.
func UniqueIndexTableName(coll, field string) string {
	return IndexTableName(coll, "unique field "+field)
}

// TableName returns the name of the table that holds coll's records.
func TableName(coll string) string { return "c_" + coll }
