package filter

// Parse parses a filter. It checks only the syntax and the limits; Check
// checks the filter against a collection's schema.
//
// The source is at most 4096 bytes, with at most 100 comparisons, nested
// at most 32 levels deep. Every error is a *basalt.Error with code
// validation whose message gives the byte offset of the problem.
func Parse(src string) (Expr, error) {
	if len(src) > maxLength {
		return nil, filterError(maxLength, codeTooLong, "the filter is longer than %d bytes; shorten it", maxLength)
	}
	return parse(src)
}

// parse parses src without the length limit. The canonical form that
// String writes may be longer than the source it came from (it adds
// spaces, parentheses and escapes), so the round-trip tests use this.
func parse(src string) (Expr, error) {
	p := &parser{lex: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, filterError(0, codeSyntax, "the filter is empty; write a comparison such as views > 500")
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.unexpected(-1)
	}
	if n := tooDeep(e, 0); n != nil {
		return nil, deepError(n.Pos())
	}
	return e, nil
}

// maxNesting bounds the parser's recursion on "(" and "!". The depth that
// users see is counted on the tree (see tooDeep), so that a filter and its
// canonical form have the same depth; String writes at most two of "(" and
// "!" per level, hence the factor.
const maxNesting = 2 * maxDepth

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lex      lexer
	tok      token
	nesting  int // open "(" and "!"
	compares int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

// parseOr parses and { "||" and }.
func (p *parser) parseOr() (Expr, error) {
	return p.parseChain(tokOr, "||", p.parseAnd)
}

// parseAnd parses unary { "&&" unary }.
func (p *parser) parseAnd() (Expr, error) {
	return p.parseChain(tokAnd, "&&", p.parseUnary)
}

// parseChain parses a left-associative chain of operator k. It loops
// rather than recursing, so a long chain costs no stack.
func (p *parser) parseChain(k kind, op string, next func() (Expr, error)) (Expr, error) {
	l, err := next()
	for err == nil && p.tok.kind == k {
		pos := p.tok.pos
		if err = p.advance(); err != nil {
			break
		}
		var r Expr
		r, err = next()
		l = &Logical{Op: op, L: l, R: r, Offset: pos}
	}
	return l, err
}

// parseUnary parses "!" unary | "(" expr ")" | compare.
func (p *parser) parseUnary() (Expr, error) {
	switch p.tok.kind {
	case tokNot:
		return p.parseNot()
	case tokLParen:
		return p.parseParen()
	}
	return p.parseCompare()
}

// enter counts one more level of "(" or "!" at the current token.
func (p *parser) enter() error {
	if p.nesting++; p.nesting > maxNesting {
		return deepError(p.tok.pos)
	}
	return p.advance()
}

func deepError(pos int) error {
	return filterError(pos, codeTooDeep, "the filter nests more than %d levels deep; simplify it", maxDepth)
}

func (p *parser) parseNot() (Expr, error) {
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	p.nesting--
	return &Not{X: x, Offset: pos}, err
}

func (p *parser) parseParen() (Expr, error) {
	open := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, p.unexpected(open)
	}
	p.nesting--
	return e, p.advance()
}

// parseCompare parses operand op operand.
func (p *parser) parseCompare() (Expr, error) {
	l := p.operand()
	if l == nil {
		return nil, filterError(p.tok.pos, codeSyntax, "expected a comparison such as views > 500, found %s", p.tok.describe())
	}
	lt := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokCompare {
		return nil, filterError(lt.pos, codeSyntax, "expected a comparison operator after %s%s", lt.describe(), wordHint(lt.text))
	}
	op := p.tok
	if p.compares++; p.compares > maxCompares {
		return nil, filterError(op.pos, codeTooMany, "the filter has more than %d comparisons; simplify it", maxCompares)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	r := p.operand()
	if r == nil {
		return nil, filterError(p.tok.pos, codeSyntax,
			"expected a field or a value after %q, found %s", op.text, p.tok.describe())
	}
	return &Compare{Op: op.text, L: l, R: r, Offset: op.pos}, p.advance()
}

// operand returns the current token as an operand, or nil.
func (p *parser) operand() Operand {
	t := p.tok
	switch t.kind {
	case tokField:
		return &Field{Name: t.text, Offset: t.pos}
	case tokLiteral:
		return &Literal{Value: t.val, Offset: t.pos}
	case tokVar:
		return &Variable{Path: t.val.([]string), Offset: t.pos}
	}
	return nil
}

// unexpected explains a token that cannot follow a complete comparison:
// at the end of the filter, or before the ")" of the "(" at offset open
// (-1 when none is open).
func (p *parser) unexpected(open int) error {
	t := p.tok
	switch {
	case t.kind == tokCompare:
		return filterError(t.pos, codeSyntax, "unexpected %q; comparisons cannot be chained, join them with && or ||", t.text)
	case wordHint(t.text) != "":
		return filterError(t.pos, codeSyntax, "unexpected %q%s", t.text, wordHint(t.text))
	case open < 0 && t.kind == tokRParen:
		return filterError(t.pos, codeSyntax, `unexpected ")" without a matching "("`)
	case open < 0:
		return filterError(t.pos, codeSyntax, "expected && or || before %s", t.describe())
	case t.kind == tokEOF:
		return filterError(t.pos, codeSyntax, `missing ")" to close the "(" at offset %d`, open)
	}
	return filterError(t.pos, codeSyntax, `expected &&, || or ")" before %s`, t.describe())
}

// tooDeep returns the first node of e nested deeper than maxDepth, where
// e is at the given level. A Not is one level, and so is a chain of the
// same logical operator, as in "a = 1 && b = 2 && c = 3": String writes
// one pair of parentheses per level.
func tooDeep(e Expr, level int) Expr {
	switch e := e.(type) {
	case *Not:
		if level+1 > maxDepth {
			return e
		}
		return tooDeep(e.X, level+1)
	case *Logical:
		if level+1 > maxDepth {
			return e
		}
		for {
			if n := tooDeep(e.R, level+1); n != nil {
				return n
			}
			l, ok := e.L.(*Logical)
			if !ok || l.Op != e.Op {
				return tooDeep(e.L, level+1)
			}
			e = l
		}
	}
	return nil
}
