package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"basalt.dev/basalt"
)

// mode says what a body is for: creating a record or changing one.
type mode int

const (
	forCreate mode = iota
	forUpdate
)

// body is a decoded record body: the values by field, and the id a create
// may choose.
type body struct {
	id     string
	values map[string]any
	sent   map[string]any // the values the client sent, before defaults
}

// decodeBody decodes a JSON object of field values for collection c.
// It reports every problem at once: malformed JSON, duplicate keys,
// unknown and read-only fields, wrong types, and (on create) missing
// required fields.
func decodeBody(c *basalt.Collection, data []byte, m mode) (*body, error) {
	raw, err := splitObject(data)
	if err != nil {
		return nil, err
	}
	b := &body{values: make(map[string]any, len(raw))}
	var errs []basalt.FieldError
	bad := map[string]bool{}
	for _, kv := range raw {
		if fe := b.set(c, kv.key, kv.value, m); fe != nil {
			errs = append(errs, *fe)
			bad[kv.key] = true
		}
	}
	b.sent = make(map[string]any, len(b.values))
	for k, v := range b.values {
		b.sent[k] = v
	}
	if m == forCreate {
		errs = append(errs, b.applyDefaults(c)...)
	}
	for _, fe := range b.checkRequired(c, m) {
		if !bad[fe.Field] { // a value of the wrong type is already reported
			errs = append(errs, fe)
		}
	}
	if len(errs) > 0 {
		return nil, basalt.Invalid("Invalid record.", errs...)
	}
	return b, nil
}

func (b *body) set(c *basalt.Collection, key string, raw json.RawMessage, m mode) *basalt.FieldError {
	switch key {
	case "id":
		if m == forUpdate {
			return &basalt.FieldError{Field: "id", Code: "read_only", Message: "id cannot change; leave it out"}
		}
		s, ok := jsonString(raw)
		if !ok || !ValidID(s) {
			return &basalt.FieldError{Field: "id", Code: "invalid", Message: "id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"}
		}
		b.id = s
		return nil
	case "created", "updated":
		return &basalt.FieldError{Field: key, Code: "read_only", Message: key + " is set by the server; leave it out"}
	}
	f := c.Field(key)
	if f == nil {
		return &basalt.FieldError{Field: key, Code: "unknown_field", Message: fmt.Sprintf("%s has no field %q", c.Name, key)}
	}
	v, fe := basalt.DecodeValue(f, raw)
	if fe != nil {
		return fe
	}
	b.values[key] = v
	return nil
}

func (b *body) applyDefaults(c *basalt.Collection) []basalt.FieldError {
	for i := range c.Fields {
		f := &c.Fields[i]
		if _, ok := b.values[f.Name]; ok || len(f.Default) == 0 {
			continue
		}
		v, fe := basalt.DecodeValue(f, f.Default)
		if fe != nil {
			return []basalt.FieldError{*fe}
		}
		b.values[f.Name] = v
	}
	return nil
}

// checkRequired: a required field must be present and not null on create,
// and cannot be set to null on update. Empty text counts as missing.
func (b *body) checkRequired(c *basalt.Collection, m mode) []basalt.FieldError {
	var errs []basalt.FieldError
	for _, f := range c.Fields {
		if !f.Required {
			continue
		}
		v, present := b.values[f.Name]
		if !present && m == forUpdate {
			continue
		}
		if v == nil || v == "" {
			errs = append(errs, basalt.FieldError{Field: f.Name, Code: "required", Message: f.Name + " is required"})
		}
	}
	return errs
}

type keyValue struct {
	key   string
	value json.RawMessage
}

// maxBodyFields bounds the keys of a body, so a body of many tiny keys
// cannot make the server do work for nothing.
const maxBodyFields = 1000

// splitObject splits a JSON object into its members, refusing anything
// but exactly one object and refusing duplicate keys, which encoding/json
// would silently collapse to the last.
func splitObject(data []byte) ([]keyValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err, dec)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, basalt.Errorf(basalt.CodeValidation, "The body must be a JSON object of field values.")
	}
	var out []keyValue
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err, dec)
		}
		key := tok.(string) // inside an object, a token before a value is its key
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err, dec)
		}
		if slices.ContainsFunc(out, func(kv keyValue) bool { return kv.key == key }) {
			return nil, basalt.Invalid("Invalid record.", basalt.FieldError{Field: key, Code: "duplicate", Message: fmt.Sprintf("%q appears twice in the body", key)})
		}
		if len(out) == maxBodyFields {
			return nil, basalt.Errorf(basalt.CodeValidation, "The body has more than %d keys.", maxBodyFields)
		}
		out = append(out, keyValue{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err, dec)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, basalt.Errorf(basalt.CodeValidation, "The body must hold one JSON object and nothing after it.")
	}
	return out, nil
}

func syntaxError(err error, dec *json.Decoder) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &basalt.Error{Code: basalt.CodeValidation, Message: "The body is empty or ends early; send a complete JSON object.", Err: err}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &basalt.Error{Code: basalt.CodeValidation, Message: fmt.Sprintf("Malformed JSON at byte %d: %s.", se.Offset, se.Error()), Err: err}
	}
	return &basalt.Error{Code: basalt.CodeValidation, Message: fmt.Sprintf("Malformed JSON near byte %d.", dec.InputOffset()), Err: err}
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// ValidID reports whether s can be a record id: 1 to 64 characters of
// A-Z, a-z, 0-9, _ and -, safe in a URL path without escaping.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
