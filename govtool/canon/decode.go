// Package canon is the one place where ron-kms reads and writes the bytes of
// governance objects: a strict I-JSON decoder, the RFC 8785 (JCS) canonical
// encoder, the pretty "file form" and the object digest (DESIGN §2.1).
//
// The package is pure: it takes bytes and returns values or errors. It never
// normalises bad input into good input. Anything that is not I-JSON —
// duplicate keys, invalid UTF-8, lone surrogates, numbers that an IEEE double
// cannot hold exactly — is an *Error naming the JSON path and the reason.
package canon

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Reason is why input was rejected. The list is closed: every *Error carries
// one of these values.
type Reason string

const (
	ReasonSyntax             Reason = "syntax error"
	ReasonDuplicateKey       Reason = "duplicate key"
	ReasonInvalidUTF8        Reason = "invalid utf-8"
	ReasonLoneSurrogate      Reason = "lone surrogate"
	ReasonNumberRange        Reason = "number out of range"
	ReasonNonCanonicalNumber Reason = "non-canonical number"
	ReasonTrailingData       Reason = "trailing data"
	ReasonTooDeep            Reason = "nesting too deep"
	ReasonTooLarge           Reason = "input too large"
	ReasonNotFileForm        Reason = "not in file form"
	ReasonUnknownField       Reason = "unknown field"
	ReasonType               Reason = "wrong type"
)

// Error is a rejection of input, with the JSON path where it happened
// ("$" is the whole document, "$.members[1].key_id" a nested field).
type Error struct {
	Path   string
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("canon: %s at %s", e.Reason, e.Path)
	}
	return fmt.Sprintf("canon: %s at %s: %s", e.Reason, e.Path, e.Detail)
}

// Limits bound what the decoder accepts.
const (
	MaxDepth = 64
	MaxSize  = 16 << 20
	// MaxSafeInteger is 2^53-1, the largest integer every IEEE double
	// holds exactly and the I-JSON bound (RFC 7493 §2.2).
	MaxSafeInteger = 1<<53 - 1
)

// Number is a JSON number as written in the input. It has already been
// checked to be finite and within the exact-integer range of a double.
type Number string

// Float64 returns the number's value.
func (n Number) Float64() float64 {
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}

// Int64 returns the number as an integer and whether it is one.
func (n Number) Int64() (int64, bool) {
	f := n.Float64()
	if f != math.Trunc(f) || math.Abs(f) > MaxSafeInteger {
		return 0, false
	}
	return int64(f), true
}

// Object is a decoded JSON object. Keys are unique.
type Object = map[string]any

// Parse decodes one I-JSON value: the result is made of Object, []any,
// string, Number, bool and nil. Fractions and exponents are accepted (RFC
// 8785's own examples use them); ParseStrict is what governance objects use.
// The strings of the result share one copy of data (never data itself):
// keeping any of them keeps that copy.
func Parse(data []byte) (any, error) {
	r, err := parse(data, false)
	return r.tree, err
}

// ParseStrict is Parse for signed governance objects: in addition every
// number must be an integer written canonically (no fraction, exponent,
// leading zero, plus sign or "-0"), so no two encodings of a signed object
// differ only in how a number is spelled.
func ParseStrict(data []byte) (any, error) {
	r, err := parse(data, true)
	return r.tree, err
}

// parsed is what parse returns.
type parsed struct {
	tree any
	src  string // the copy of data as a string that tree's strings are slices of
	// form: data is exactly the file form of tree (FileForm(tree)). It is
	// found while parsing, and only in strict mode; false is not a
	// verdict (encode and compare for that), true is.
	form bool
	// sig is the byte span of the top-level "signatures" member, from its
	// key's opening quote to the end of its value, when tree is an object
	// that has one; sig[0] < 0 otherwise.
	sig [2]int
}

// parse parses data. In strict mode it also finds whether data is in file
// form: the canonical tokens (every number is canonical in strict mode;
// strings are checked to escape exactly what writeString escapes), members
// in canonical order, and exactly the whitespace FileForm writes — a
// newline and two spaces per level before each member, element and closing
// bracket of a non-empty container, one space after each colon, none
// anywhere else, and one newline at the end.
func parse(data []byte, strict bool) (parsed, error) {
	if len(data) > MaxSize {
		return parsed{}, &Error{Path: "$", Reason: ReasonTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(data), MaxSize)}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return parsed{}, &Error{Path: "$", Reason: ReasonInvalidUTF8, Detail: fmt.Sprintf("at byte offset %d", off)}
	}
	// One copy of the input as a string: the strings and numbers of the
	// tree that need no unescaping are slices of it, not one allocation
	// each. (They keep the input's bytes alive as long as the tree.)
	p := parsers.Get().(*parser)
	defer p.release()
	p.data, p.src, p.strict, p.form, p.sig = data, string(data), strict, strict, [2]int{-1, -1}
	p.space(noSpace)
	v, err := p.value(0)
	if err != nil {
		return parsed{}, err
	}
	end := p.pos
	p.skipSpace()
	if p.pos != len(p.data) {
		return parsed{}, &Error{Path: "$", Reason: ReasonTrailingData, Detail: fmt.Sprintf("at byte offset %d", p.pos)}
	}
	form := p.form && string(p.data[end:]) == "\n"
	return parsed{tree: v, src: p.src, form: form, sig: p.sig}, nil
}

// parsers keep the scratch stacks of a parser for the next parse.
var parsers = sync.Pool{New: func() any { return new(parser) }}

func (p *parser) release() {
	clear(p.members[:cap(p.members)])
	clear(p.elems[:cap(p.elems)])
	*p = parser{buf: p.buf[:0], path: p.path[:0], members: p.members[:0], elems: p.elems[:0]}
	parsers.Put(p)
}

// pathSeg is one step of a JSON path: an object member or an array index.
// The decoder and encoder keep the path to the current value as a stack of
// steps and format it ("$", "$.members[1].key_id") only when an error names
// it, so that a valid document costs no path strings.
type pathSeg struct {
	key   string // member name, when index < 0
	index int    // array index, or -1 for an object member
}

func formatPath(segs []pathSeg) string {
	s := "$"
	for _, g := range segs {
		if g.index >= 0 {
			s += "[" + strconv.Itoa(g.index) + "]"
		} else {
			s = childPath(s, g.key)
		}
	}
	return s
}

type parser struct {
	data   []byte
	src    string // == string(data)
	pos    int
	strict bool
	// form: what has been read so far is in file form (see parse); sig
	// is the span of the top-level "signatures" member.
	form bool
	sig  [2]int
	buf  []byte    // scratch for strings with escapes
	path []pathSeg // to the value being decoded
	// members and elems hold the members and elements of the objects and
	// arrays being read, innermost last.
	members []member
	elems   []any
}

func (p *parser) at() string { return formatPath(p.path) }

func (p *parser) push(g pathSeg) { p.path = append(p.path, g) }
func (p *parser) pop()           { p.path = p.path[:len(p.path)-1] }

func (p *parser) errf(format string, args ...any) error {
	return &Error{Path: p.at(), Reason: ReasonSyntax, Detail: fmt.Sprintf(format, args...) + fmt.Sprintf(" (byte offset %d)", p.pos)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// The whitespace file form has at a place: none, one space (after a
// colon), or, when >= 0, a newline and that many levels of indentation.
const (
	noSpace  = -1
	oneSpace = -2
)

// space skips whitespace, which in file form must be want.
func (p *parser) space(want int) {
	start := p.pos
	p.skipSpace()
	if p.form {
		p.form = isSpace(p.data[start:p.pos], want)
	}
}

// formSpace records whether the whitespace data[start:p.pos], already
// skipped, is want.
func (p *parser) formSpace(start, want int) {
	if p.form {
		p.form = isSpace(p.data[start:p.pos], want)
	}
}

func isSpace(s []byte, want int) bool {
	switch want {
	case noSpace:
		return len(s) == 0
	case oneSpace:
		return len(s) == 1 && s[0] == ' '
	}
	if len(s) != 1+2*want || s[0] != '\n' {
		return false
	}
	for _, c := range s[1:] {
		if c != ' ' {
			return false
		}
	}
	return true
}

func (p *parser) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, &Error{Path: p.at(), Reason: ReasonTooDeep, Detail: fmt.Sprintf("limit %d", MaxDepth)}
	}
	if p.pos >= len(p.data) {
		return nil, p.errf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("null"):
		return nil, nil
	default:
		return nil, p.errf("unexpected character %q", c)
	}
}

func (p *parser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

// member is a parsed object member waiting on the parser's stack.
type member struct {
	key string
	val any
}

// smallObject is the member count up to which duplicate keys are found by
// scanning the members read so far rather than with a map.
const smallObject = 16

// object reads members onto p.members and makes the Object once their
// number is known, so that a map is allocated once at its size instead of
// growing member by member; likewise array with p.elems.
func (p *parser) object(depth int) (any, error) {
	p.pos++ // '{'
	ws := p.pos
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.formSpace(ws, noSpace)
		p.pos++
		return Object{}, nil
	}
	p.formSpace(ws, depth+1)
	base := len(p.members)
	defer func() {
		clear(p.members[base:]) // drop references to the values
		p.members = p.members[:base]
	}()
	var seen map[string]struct{} // once the object is no longer small
	for {
		// The whitespace before the key was skipped after '{' or ','.
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errf("expected a string key")
		}
		keyStart := p.pos
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if p.form && len(p.members) > base && compareUTF16(p.members[len(p.members)-1].key, key) >= 0 {
			p.form = false // not in canonical order
		}
		p.push(pathSeg{key: key, index: -1})
		dup := false
		if seen != nil {
			_, dup = seen[key]
		} else {
			for _, m := range p.members[base:] {
				if m.key == key {
					dup = true
					break
				}
			}
		}
		if dup {
			return nil, &Error{Path: p.at(), Reason: ReasonDuplicateKey, Detail: fmt.Sprintf("key %q appears twice", key)}
		}
		p.space(noSpace)
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errf("expected ':'")
		}
		p.pos++
		p.space(oneSpace)
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if depth == 0 && key == "signatures" {
			p.sig = [2]int{keyStart, p.pos}
		}
		p.pop()
		p.members = append(p.members, member{key, v})
		if n := len(p.members) - base; seen != nil {
			seen[key] = struct{}{}
		} else if n == smallObject {
			seen = make(map[string]struct{}, 2*smallObject)
			for _, m := range p.members[base:] {
				seen[m.key] = struct{}{}
			}
		}
		ws := p.pos
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errf("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.formSpace(ws, noSpace)
			p.pos++
			p.space(depth + 1)
		case '}':
			p.formSpace(ws, depth)
			p.pos++
			obj := make(Object, len(p.members)-base)
			for _, m := range p.members[base:] {
				obj[m.key] = m.val
			}
			return obj, nil
		default:
			return nil, p.errf("expected ',' or '}'")
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	p.pos++ // '['
	ws := p.pos
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.formSpace(ws, noSpace)
		p.pos++
		return []any{}, nil
	}
	p.formSpace(ws, depth+1)
	base := len(p.elems)
	defer func() {
		clear(p.elems[base:])
		p.elems = p.elems[:base]
	}()
	for i := 0; ; i++ {
		// The whitespace before the element was skipped after '[' or ','.
		p.push(pathSeg{index: i})
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.pop()
		p.elems = append(p.elems, v)
		ws := p.pos
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errf("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.formSpace(ws, noSpace)
			p.pos++
			p.space(depth + 1)
		case ']':
			p.formSpace(ws, depth)
			p.pos++
			return slices.Clone(p.elems[base:]), nil
		default:
			return nil, p.errf("expected ',' or ']'")
		}
	}
}

// str decodes the string that starts at p.pos. A string without escapes
// (almost every string of a governance object) is one copy of its bytes;
// the input was checked to be valid UTF-8 up front, so they are copied as
// they are.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.data) && plain[p.data[p.pos]] {
		p.pos++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '"' {
		s := p.src[start:p.pos]
		p.pos++
		return s, nil
	}
	b := append(p.buf[:0], p.data[start:p.pos]...)
	defer func() { p.buf = b[:0] }()
	for {
		if p.pos >= len(p.data) {
			return "", p.errf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(b), nil
		case c < 0x20:
			return "", p.errf("control character 0x%02x in string must be escaped", c)
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.errf("unterminated escape")
			}
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\':
				b = append(b, e)
			case '/':
				p.form = false // writeString leaves '/' as it is
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				if p.form && !p.canonicalEscape() {
					p.form = false
				}
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				switch {
				case utf16.IsSurrogate(r) && r < 0xdc00:
					// A high surrogate must be followed by an escaped low one.
					if p.pos+6 > len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
						return "", &Error{Path: p.at(), Reason: ReasonLoneSurrogate, Detail: fmt.Sprintf("high surrogate \\u%04x without a low surrogate", r)}
					}
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", err
					}
					if r2 < 0xdc00 || r2 > 0xdfff {
						return "", &Error{Path: p.at(), Reason: ReasonLoneSurrogate, Detail: fmt.Sprintf("high surrogate \\u%04x followed by \\u%04x", r, r2)}
					}
					b = utf8.AppendRune(b, utf16.DecodeRune(r, r2))
				case utf16.IsSurrogate(r):
					return "", &Error{Path: p.at(), Reason: ReasonLoneSurrogate, Detail: fmt.Sprintf("low surrogate \\u%04x without a high surrogate", r)}
				default:
					b = utf8.AppendRune(b, r)
				}
			default:
				return "", p.errf("invalid escape \\%c", e)
			}
		default:
			// Valid UTF-8 (checked up front): bytes of a multi-byte rune
			// are all >= 0x80 and copied as they are.
			b = append(b, c)
			p.pos++
		}
	}
}

// plain are the bytes a string holds as they are: not the quote, not a
// backslash, not a control character.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// canonicalEscape reports whether the \\u escape whose four hex digits
// start at p.pos is one writeString writes: \\u00 and two lower-case hex
// digits, for a control character that has no short escape.
func (p *parser) canonicalEscape() bool {
	if p.pos+4 > len(p.data) || p.data[p.pos] != '0' || p.data[p.pos+1] != '0' {
		return false
	}
	var v byte
	for _, c := range p.data[p.pos+2 : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		default:
			return false
		}
	}
	switch v {
	case '\b', '\f', '\n', '\r', '\t':
		return false
	}
	return v < 0x20
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.data) {
		return 0, p.errf("short \\u escape")
	}
	var v rune
	for _, c := range p.data[p.pos : p.pos+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, p.errf("invalid \\u escape %q", p.data[p.pos:p.pos+4])
		}
		v = v<<4 | rune(d)
	}
	p.pos += 4
	return v, nil
}

// maxFastDigits is the longest integer literal that needs no range check:
// every integer below 10^15 is below 2^53 (≈ 9.007·10^15) and so exactly a
// double.
const maxFastDigits = 15

// number scans a JSON number (RFC 8259 grammar) and checks its range.
func (p *parser) number() (any, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	intStart := p.pos
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
	}
	nInt := p.pos - intStart
	if nInt == 0 {
		return nil, p.errf("invalid number")
	}
	if p.data[intStart] == '0' && nInt > 1 {
		return nil, p.errf("leading zero in number %q", p.data[start:p.pos])
	}
	integer := true
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		integer = false
		if p.digits() == 0 {
			return nil, p.errf("invalid fraction")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		integer = false
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, p.errf("invalid exponent")
		}
	}
	if integer && nInt <= maxFastDigits {
		// In range by its length (maxFastDigits); the grammar above has
		// excluded leading zeros. Only "-0" is left to refuse.
		if p.strict && nInt == 1 && p.data[intStart] == '0' && start != intStart {
			return nil, &Error{Path: p.at(), Reason: ReasonNonCanonicalNumber, Detail: `"-0" must be written 0`}
		}
		return Number(p.src[start:p.pos]), nil
	}
	lit := p.src[start:p.pos]
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &Error{Path: p.at(), Reason: ReasonNumberRange, Detail: fmt.Sprintf("%s is not a finite double", lit)}
	}
	if integer && math.Abs(f) > MaxSafeInteger {
		// An integer literal an IEEE double would round (I-JSON, RFC 7493 §2.2).
		return nil, &Error{Path: p.at(), Reason: ReasonNumberRange, Detail: fmt.Sprintf("%s is outside ±(2^53-1)", lit)}
	}
	if !integer && f == math.Trunc(f) && math.Abs(f) > MaxSafeInteger && math.Abs(f) < 1e21 {
		// RFC 8785 writes such a value as a plain integer ("1e20" becomes
		// "100000000000000000000"), which the rule above rejects. Refuse it
		// here too, so that the canonical form of anything accepted parses.
		return nil, &Error{Path: p.at(), Reason: ReasonNumberRange, Detail: fmt.Sprintf("%s is an integer outside ±(2^53-1) written as a float", lit)}
	}
	if integer && f == 0 && lit[0] == '-' && p.strict {
		return nil, &Error{Path: p.at(), Reason: ReasonNonCanonicalNumber, Detail: `"-0" must be written 0`}
	}
	if p.strict && !integer {
		return nil, &Error{Path: p.at(), Reason: ReasonNonCanonicalNumber, Detail: fmt.Sprintf("%s: governance numbers are integers written without fraction or exponent", lit)}
	}
	// A strict integer is what formatNumber writes (no leading zero, no
	// "-0", within ±(2^53-1)), so it leaves p.form as it is.
	return Number(lit), nil
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

func childPath(path, key string) string {
	simple := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			simple = false
			break
		}
	}
	if simple {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}
