package filter

import (
	"strings"

	"basalt.dev/basalt"
)

// ParseSort parses a sort such as "-views,title": up to 8 fields of
// collection c, separated by commas, each descending when it starts with
// "-". Spaces around the names are allowed. An empty sort returns nil.
// Every error is a *basalt.Error with code validation.
func ParseSort(src string, c *basalt.Collection) ([]SortField, error) {
	if len(src) > maxLength {
		return nil, sortError(maxLength, codeTooLong, "the sort is longer than %d bytes; shorten it", maxLength)
	}
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	var keys []SortField
	for start := 0; start <= len(src); {
		end := strings.IndexByte(src[start:], ',')
		if end < 0 {
			end = len(src)
		} else {
			end += start
		}
		if len(keys) == maxSortKeys {
			return nil, sortError(start, codeTooMany, "sort by at most %d fields", maxSortKeys)
		}
		k, err := sortKey(src, start, end, c, keys)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		start = end + 1
	}
	return keys, nil
}

// sortKey parses the key src[start:end], which follows keys.
func sortKey(src string, start, end int, c *basalt.Collection, keys []SortField) (SortField, error) {
	var k SortField
	i := skipSpace(src, start, end)
	if i < end && src[i] == '-' {
		k.Desc = true
		i = skipSpace(src, i+1, end)
	}
	pos := i
	for i < end && isWordByte(src[i]) {
		i++
	}
	k.Field = src[pos:i]
	if rest := skipSpace(src, i, end); rest < end {
		return k, sortError(rest, codeSyntax, "%s; write field names separated by commas, such as -views,title", unexpectedChar(src, rest))
	}
	if k.Field == "" {
		return k, sortError(pos, codeSyntax, "a field name is missing; write field names separated by commas, such as -views,title")
	}
	return k, checkSortField(k.Field, pos, c, keys)
}

func checkSortField(name string, pos int, c *basalt.Collection, keys []SortField) error {
	if !isName(name) {
		return sortError(pos, codeSyntax, "invalid name %q; names are lower case letters, digits and _", brief(name))
	}
	f := c.SchemaField(name)
	switch {
	case f == nil:
		return sortError(pos, codeUnknownField, "unknown field %q", brief(name))
	case f.Type == basalt.TypeJSON:
		return sortError(pos, codeUnsupported, "%s is json, which cannot be sorted", name)
	case f.Type != basalt.TypeText && f.Type != basalt.TypeNumber && f.Type != basalt.TypeBool && f.Type != basalt.TypeDate:
		return sortError(pos, codeUnsupported, "%s is a %s field, which cannot be sorted yet", name, f.Type)
	}
	for _, k := range keys {
		if k.Field == name {
			return sortError(pos, codeDuplicate, "%s is listed twice; sort by each field once", name)
		}
	}
	return nil
}

// skipSpace returns the offset of the first non-space in s[i:end].
func skipSpace(s string, i, end int) int {
	for i < end && isSpace(s[i]) {
		i++
	}
	return i
}
