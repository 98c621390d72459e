package filter

import (
	"fmt"
	"unicode/utf8"

	"basalt.dev/basalt"
)

// Limits of a filter and a sort. They bound the work and the recursion one
// request can cause; the messages that enforce them name the numbers.
const (
	maxLength   = 4096 // bytes of source
	maxDepth    = 32   // nesting of ! and of parenthesized && and || groups
	maxCompares = 100  // comparisons in one filter
	maxSortKeys = 8
)

// The codes of the FieldErrors this package returns.
const (
	codeSyntax          = "syntax"
	codeTooLong         = "too_long"
	codeTooDeep         = "too_deep"
	codeTooMany         = "too_many"
	codeUnknownField    = "unknown_field"
	codeUnknownVariable = "unknown_variable"
	codeType            = "type"
	codeInvalid         = "invalid"
	codeUnsupported     = "unsupported"
	codeDuplicate       = "duplicate"
)

// filterError returns the validation error of a filter: the detail says
// where and what, in words that tell the user how to fix it.
func filterError(pos int, code, format string, args ...any) *basalt.Error {
	return newError("filter", pos, code, fmt.Sprintf(format, args...))
}

// sortError is filterError for the sort parameter.
func sortError(pos int, code, format string, args ...any) *basalt.Error {
	return newError("sort", pos, code, fmt.Sprintf(format, args...))
}

func newError(param string, pos int, code, msg string) *basalt.Error {
	detail := fmt.Sprintf("at offset %d: %s", pos, msg)
	return &basalt.Error{
		Code:    basalt.CodeValidation,
		Message: "invalid " + param + ": " + detail,
		Fields:  []basalt.FieldError{{Field: param, Code: code, Message: detail}},
	}
}

// brief shortens s for an error message, so a long string in a filter does
// not make a long message; it cuts at a character boundary.
func brief(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// wordHint suggests the operator for a word that users of SQL or Python
// write in its place.
func wordHint(word string) string {
	switch word {
	case "and", "AND":
		return "; write && for and"
	case "or", "OR":
		return "; write || for or"
	case "not", "NOT":
		return "; write ! for not"
	}
	return ""
}
