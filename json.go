package basalt

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendRecordJSON appends the JSON object of r to dst: id, created and
// updated, then the collection's fields in declared order, null where a
// value is missing. With a non-nil only, it writes just the named keys.
//
// It is written by hand because records are the hot path of every read:
// it appends into a reused buffer with no reflection, several times faster
// than encoding/json on a map.
func AppendRecordJSON(dst []byte, c *Collection, r *Record, only map[string]bool) []byte {
	if only == nil && r.jsonOf == c && r.json != nil {
		return append(dst, r.json...)
	}
	dst = append(dst, '{')
	first := true
	key := func(name string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, name)
		dst = append(dst, ':')
	}
	if only == nil || only["id"] {
		key("id")
		dst = AppendJSONString(dst, r.ID)
	}
	if only == nil || only["created"] {
		key("created")
		dst = appendTime(dst, r.Created)
	}
	if only == nil || only["updated"] {
		key("updated")
		dst = appendTime(dst, r.Updated)
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		if only != nil && !only[f.Name] {
			continue
		}
		key(f.Name)
		dst = AppendValueJSON(dst, r.Data[f.Name])
	}
	return append(dst, '}')
}

// AppendValueJSON appends the JSON form of a record value (see Field).
func AppendValueJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return AppendJSONString(dst, v)
	case float64:
		return AppendJSONNumber(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case time.Time:
		return appendTime(dst, v)
	case json.RawMessage:
		if len(v) == 0 {
			return append(dst, "null"...)
		}
		return append(dst, v...)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = AppendTime(dst, t)
	return append(dst, '"')
}

// AppendJSONNumber appends f as encoding/json would.
func AppendJSONNumber(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Shorten e-09 to e-9, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped so the output is also valid
// JavaScript.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
