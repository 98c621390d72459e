package basalt

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeLayout is how dates are written in JSON and stored as text: RFC 3339
// in UTC with exactly six fractional digits, so that text order is time
// order and PostgreSQL's microsecond timestamps round-trip exactly.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Date limits: a date outside them has no four-digit-year RFC 3339 form.
var (
	minDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// FormatTime formats t in TimeLayout.
func FormatTime(t time.Time) string { return string(AppendTime(make([]byte, 0, len(TimeLayout)), t)) }

// ParseTime parses an RFC 3339 date-time, or a date alone (midnight UTC),
// and returns it in UTC truncated to microseconds.
func ParseTime(s string) (time.Time, bool) {
	var t time.Time
	var err error
	if len(s) == len("2006-01-02") {
		t, err = time.Parse(time.DateOnly, s)
	} else {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC().Truncate(time.Microsecond)
	if t.Before(minDate) || t.After(maxDate) {
		return time.Time{}, false
	}
	return t, true
}

// DecodeValue decodes the JSON value raw for field f into the Go value that
// f's type implies (see Field). JSON null decodes to nil. A value of the
// wrong type or out of range returns a *FieldError that says what is wrong.
func DecodeValue(f *Field, raw json.RawMessage) (any, *FieldError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fieldErr(f, "invalid", "a value is missing")
	}
	if string(raw) == "null" {
		return nil, nil
	}
	switch f.Type {
	case TypeText:
		s, ok := decodeString(raw)
		if !ok {
			return nil, fieldErr(f, "type", "must be a string")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fieldErr(f, "invalid", "must not contain the NUL character")
		}
		return s, nil
	case TypeNumber:
		// json.Valid keeps out what ParseFloat would also take: 01, 1.,
		// 0x1p4, 1_0.
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') || !json.Valid(raw) {
			return nil, fieldErr(f, "type", "must be a number")
		}
		n, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, fieldErr(f, "out_of_range", "must be a number within ±1.7976931348623157e308")
		}
		return n, nil
	case TypeBool:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fieldErr(f, "type", "must be true or false")
	case TypeDate:
		s, ok := decodeString(raw)
		if !ok {
			return nil, fieldErr(f, "type", "must be a date string such as \"2024-05-01T12:00:00Z\"")
		}
		t, ok := ParseTime(s)
		if !ok {
			return nil, fieldErr(f, "invalid", "must be an RFC 3339 date between years 0001 and 9999, such as \"2024-05-01T12:00:00Z\"")
		}
		return t, nil
	case TypeJSON:
		if !json.Valid(raw) || !utf8.Valid(raw) {
			return nil, fieldErr(f, "invalid", "must be valid JSON in UTF-8")
		}
		if hasEscapedNUL(raw) {
			return nil, fieldErr(f, "invalid", "must not contain the NUL character")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fieldErr(f, "invalid", "must be valid JSON")
		}
		return json.RawMessage(buf.Bytes()), nil
	}
	return nil, fieldErr(f, "unsupported", "fields of type "+string(f.Type)+" cannot be written yet")
}

func fieldErr(f *Field, code, message string) *FieldError {
	return &FieldError{Field: f.Name, Code: code, Message: f.Name + " " + message}
}

// decodeString decodes a JSON string, refusing invalid UTF-8 rather than
// replacing it, so stored text is exactly what the client meant.
func decodeString(raw json.RawMessage) (string, bool) {
	if raw[0] != '"' || !utf8.Valid(raw) {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// hasEscapedNUL reports whether a valid JSON text holds the escape \u0000
// (raw NUL bytes cannot occur in valid JSON). PostgreSQL refuses NUL in
// text, so Basalt refuses it everywhere. It skips other escapes, so an
// escaped backslash followed by "u0000" is not a NUL.
func hasEscapedNUL(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+5 < len(raw) && string(raw[i+1:i+6]) == "u0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}
