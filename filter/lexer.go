package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the kind of a token.
type kind uint8

const (
	tokEOF     kind = iota
	tokField        // a field name
	tokLiteral      // a string, number, true, false or null; val holds the value
	tokVar          // a variable; val holds its path
	tokCompare      // = != > >= < <= ~ !~
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
)

// token is one lexical element of a filter.
type token struct {
	kind kind
	pos  int    // byte offset in the source
	text string // the source text
	val  any    // the decoded value of a literal or the path of a variable
}

// describe names the token in an error message.
func (t token) describe() string {
	if t.kind == tokEOF {
		return "the end of the filter"
	}
	return strconv.Quote(brief(t.text))
}

// lexer splits a filter into tokens, one at a time.
type lexer struct {
	src string
	pos int
}

// next returns the next token, or a syntax error that points at it.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: l.pos}, nil
	}
	switch c := l.src[l.pos]; {
	case c == '"' || c == '\'':
		return l.lexString()
	case c == '-' || isDigit(c):
		return l.lexNumber()
	case c == '@':
		return l.lexVariable()
	case isWordByte(c):
		return l.lexWord()
	}
	return l.lexPunct()
}

// token returns the token of kind k from start to the current position.
func (l *lexer) token(k kind, start int, val any) (token, error) {
	return token{kind: k, pos: start, text: l.src[start:l.pos], val: val}, nil
}

func isSpace(c byte) bool    { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isLower(c byte) bool    { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool    { return 'A' <= c && c <= 'Z' }
func isWordByte(c byte) bool { return isLower(c) || isUpper(c) || isDigit(c) || c == '_' }

// isName reports whether s matches [a-z_][a-z0-9_]*.
func isName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) || isUpper(s[i]) {
			return false
		}
	}
	return true
}

// scanWord advances over [A-Za-z0-9_]* and returns it. Words are scanned
// with upper-case letters so that "Title" is one bad name, not "T" + "itle".
func (l *lexer) scanWord() string {
	start := l.pos
	for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
		l.pos++
	}
	return l.src[start:l.pos]
}

// badName explains why the word at start is not a name.
func badName(start int, w string) error {
	if hint := wordHint(w); hint != "" {
		return filterError(start, codeSyntax, "unexpected %q%s", w, hint)
	}
	return filterError(start, codeSyntax, "invalid name %q; names are lower case letters, digits and _", brief(w))
}

// lexWord lexes a field name or one of the keywords true, false and null.
func (l *lexer) lexWord() (token, error) {
	start := l.pos
	w := l.scanWord()
	if !isName(w) {
		return token{}, badName(start, w)
	}
	switch w {
	case "true":
		return l.token(tokLiteral, start, true)
	case "false":
		return l.token(tokLiteral, start, false)
	case "null":
		return l.token(tokLiteral, start, nil)
	}
	return l.token(tokField, start, nil)
}

// lexVariable lexes @name(.name)*.
func (l *lexer) lexVariable() (token, error) {
	start := l.pos
	var path []string
	for {
		l.pos++ // the @ or the .
		at := l.pos
		w := l.scanWord()
		if w == "" {
			return token{}, filterError(at, codeSyntax, "expected a name after %q, such as @auth.id", l.src[start:at])
		}
		if !isName(w) {
			return token{}, badName(at, w)
		}
		path = append(path, w)
		if l.pos >= len(l.src) || l.src[l.pos] != '.' {
			return l.token(tokVar, start, path)
		}
	}
}

// puncts are the operators, longest first, and common mistakes, which
// have a hint and are errors.
var puncts = []struct {
	s    string
	k    kind
	hint string
}{
	{s: "==", hint: "write = to compare, not =="},
	{s: "<>", hint: "write != for not equal, not <>"},
	{s: "&&", k: tokAnd}, {s: "||", k: tokOr},
	{s: "!=", k: tokCompare}, {s: "!~", k: tokCompare},
	{s: ">=", k: tokCompare}, {s: "<=", k: tokCompare},
	{s: "=", k: tokCompare}, {s: ">", k: tokCompare}, {s: "<", k: tokCompare}, {s: "~", k: tokCompare},
	{s: "!", k: tokNot}, {s: "(", k: tokLParen}, {s: ")", k: tokRParen},
	{s: "&", hint: "write && for and"},
	{s: "|", hint: "write || for or"},
}

// lexPunct lexes an operator or a parenthesis.
func (l *lexer) lexPunct() (token, error) {
	start := l.pos
	for _, p := range puncts {
		if !strings.HasPrefix(l.src[start:], p.s) {
			continue
		}
		if p.hint != "" {
			return token{}, filterError(start, codeSyntax, "unexpected %q; %s", p.s, p.hint)
		}
		l.pos += len(p.s)
		return l.token(p.k, start, nil)
	}
	return token{}, filterError(start, codeSyntax, "%s", unexpectedChar(l.src, start))
}

// unexpectedChar describes the character at s[i] that cannot be there.
func unexpectedChar(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return fmt.Sprintf("invalid UTF-8 byte 0x%02x", s[i])
	}
	return fmt.Sprintf("unexpected character %q", string(r))
}

// lexNumber lexes a number in JSON syntax. It first takes everything that
// could belong to the number, so that "01" or "5abc" is one bad number
// rather than two surprising tokens.
func (l *lexer) lexNumber() (token, error) {
	start := l.pos
	for l.pos++; l.pos < len(l.src); l.pos++ {
		c := l.src[l.pos]
		sign := (c == '+' || c == '-') && (l.src[l.pos-1] == 'e' || l.src[l.pos-1] == 'E')
		if !isWordByte(c) && c != '.' && !sign {
			break
		}
	}
	text := l.src[start:l.pos]
	if msg := checkNumber(text); msg != "" {
		return token{}, filterError(start, codeSyntax, "invalid number %q; %s", brief(text), msg)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return token{}, filterError(start, codeSyntax,
			"number %s is out of range; numbers must be within ±1.7976931348623157e308", brief(text))
	}
	return l.token(tokLiteral, start, f)
}

// checkNumber returns what is wrong with s as a JSON number, or "".
func checkNumber(s string) string {
	const how = "write numbers as in JSON, such as 5, -2.5 or 1e6"
	i := 0
	if s[0] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		if i+1 < len(s) && isDigit(s[i+1]) {
			return "leading zeros are not allowed"
		}
		i++
	case i < len(s) && isDigit(s[i]):
		i = digits(s, i)
	default:
		return how
	}
	if i < len(s) && s[i] == '.' {
		if i = digits(s, i+1); !isDigit(s[i-1]) {
			return how
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := digits(s, i); j > i {
			i = j
		} else {
			return how
		}
	}
	if i < len(s) {
		return how
	}
	return ""
}

// digits returns the index after the run of digits at s[i:].
func digits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// lexString lexes a string in double or single quotes with JSON escapes.
// Unescaped strings are slices of the source and cost no allocation.
func (l *lexer) lexString() (token, error) {
	start := l.pos
	quote := l.src[start]
	var buf []byte
	escaped := false
	seg := start + 1 // start of the run not yet copied to buf
	for i := seg; i < len(l.src); {
		switch c := l.src[i]; {
		case c == quote:
			s := l.src[seg:i]
			if escaped {
				s = string(append(buf, s...))
			}
			l.pos = i + 1
			return l.token(tokLiteral, start, s)
		case c == '\\':
			r, n, err := l.escape(i)
			if err != nil {
				return token{}, err
			}
			buf = utf8.AppendRune(append(buf, l.src[seg:i]...), r)
			escaped, i, seg = true, n, n
		case c < 0x20:
			return token{}, controlError(i, c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(l.src[i:])
			if r == utf8.RuneError && size == 1 {
				return token{}, filterError(i, codeSyntax, "invalid UTF-8 byte 0x%02x in string", c)
			}
			i += size
		}
	}
	return token{}, filterError(start, codeSyntax, "unterminated string; end it with %c", quote)
}

func controlError(pos int, c byte) error {
	if c == 0 {
		return filterError(pos, codeSyntax, "strings cannot contain the NUL character")
	}
	return filterError(pos, codeSyntax, "control character %q in string; write it as an escape such as \\n or \\u001f", string(rune(c)))
}

// escape decodes the escape sequence at l.src[i] == '\\' and returns the
// character and the offset after the sequence.
func (l *lexer) escape(i int) (rune, int, error) {
	if i+1 >= len(l.src) {
		return 0, 0, filterError(i, codeSyntax, "unterminated string; end it with a quote")
	}
	switch c := l.src[i+1]; c {
	case '"', '\'', '\\', '/':
		return rune(c), i + 2, nil
	case 'b':
		return '\b', i + 2, nil
	case 'f':
		return '\f', i + 2, nil
	case 'n':
		return '\n', i + 2, nil
	case 'r':
		return '\r', i + 2, nil
	case 't':
		return '\t', i + 2, nil
	case 'u':
		return l.unicodeEscape(i)
	}
	_, size := utf8.DecodeRuneInString(l.src[i+1:])
	return 0, 0, filterError(i, codeSyntax,
		`invalid escape %q; use \" \' \\ \/ \b \f \n \r \t or \u followed by four hex digits`, l.src[i:i+1+size])
}

// unicodeEscape decodes \uXXXX at l.src[i], combining a UTF-16 surrogate
// pair. A lone surrogate is an error rather than U+FFFD, so the value is
// exactly what was written.
func (l *lexer) unicodeEscape(i int) (rune, int, error) {
	r, ok := hex4(l.src, i+2)
	if !ok {
		return 0, 0, filterError(i, codeSyntax, `invalid escape %q; write \u followed by four hex digits`, l.src[i:min(i+6, len(l.src))])
	}
	if r == 0 {
		return 0, 0, filterError(i, codeSyntax, "strings cannot contain the NUL character")
	}
	if !utf16.IsSurrogate(r) {
		return r, i + 6, nil
	}
	if r < 0xdc00 && strings.HasPrefix(l.src[i+6:], `\u`) {
		if r2, ok := hex4(l.src, i+8); ok && 0xdc00 <= r2 && r2 < 0xe000 {
			return utf16.DecodeRune(r, r2), i + 12, nil
		}
	}
	return 0, 0, filterError(i, codeSyntax,
		`unpaired surrogate %q; write a character above U+FFFF as a pair such as \ud83d\ude00`, l.src[i:i+6])
}

// hex4 decodes the four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
