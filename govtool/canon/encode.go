package canon

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// DigestPrefix starts every digest string.
const DigestPrefix = "sha256:"

// Canonical returns the RFC 8785 (JCS) bytes of a value produced by Parse
// or ParseStrict (or built of the same types).
func Canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, v, false); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// FileForm returns the form in which governance files are written: the
// canonical member order and string escapes, indented by two spaces, with a
// trailing newline. What is signed is always the canonical form; the file
// form only makes diffs review well.
func FileForm(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, v, true); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// CheckFileForm reports whether data is exactly the file form of the object
// it holds, so that CI rejects hand-edited or re-formatted files.
func CheckFileForm(data []byte) error {
	d, err := ParseDocument(data)
	if err != nil {
		return err
	}
	return d.CheckFileForm()
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// Digest returns "sha256:" + hex(SHA-256(JCS(v without its top-level
// "signatures"))). v is a parsed value; it is not modified.
func Digest(v any) (string, error) {
	b := getScratch()
	defer putScratch(b)
	e := &encoder{b: b, skipTop: "signatures"}
	if err := e.value(v, 0); err != nil {
		return "", err
	}
	return digestOf(b.Bytes()), nil
}

// scratch holds buffers for encodings that are compared or hashed and then
// dropped (Digest, Document.Digest, Document.CheckFileForm). They hold only
// object bytes.
var scratch = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getScratch() *bytes.Buffer { return scratch.Get().(*bytes.Buffer) }

func putScratch(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // let an occasional huge one go
		b.Reset()
		scratch.Put(b)
	}
}

func digestOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return DigestPrefix + hex.EncodeToString(sum[:])
}

// DigestBytes parses data strictly and returns its digest.
func DigestBytes(data []byte) (string, error) {
	d, err := ParseDocument(data)
	if err != nil {
		return "", err
	}
	return d.Digest()
}

// ParseDigest checks that s is a well-formed digest string and returns its
// 32 raw bytes.
func ParseDigest(s string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(s, DigestPrefix)
	if !ok || len(hexPart) != 64 || strings.ToLower(hexPart) != hexPart {
		return nil, fmt.Errorf("canon: malformed digest %q (want sha256: and 64 lower-case hex digits)", s)
	}
	raw, err := hex.DecodeString(hexPart)
	if err != nil {
		return nil, fmt.Errorf("canon: malformed digest %q: %v", s, err)
	}
	return raw, nil
}

// Marshal converts a Go value (a struct with json tags) to its canonical
// bytes. It goes through encoding/json and then the strict parser, so a
// value that would not survive a round trip is an error, not a surprise.
func Marshal(v any) ([]byte, error) {
	tree, err := ToTree(v)
	if err != nil {
		return nil, err
	}
	return Canonical(tree)
}

// MarshalFile converts a Go value to its file form.
func MarshalFile(v any) ([]byte, error) {
	tree, err := ToTree(v)
	if err != nil {
		return nil, err
	}
	return FileForm(tree)
}

// DigestOf returns the digest of a Go value (its "signatures" left out).
func DigestOf(v any) (string, error) {
	tree, err := ToTree(v)
	if err != nil {
		return "", err
	}
	return Digest(tree)
}

// ToTree converts a Go value to the parsed form (Object, []any, …).
func ToTree(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canon: encoding %T: %w", v, err)
	}
	return ParseStrict(raw)
}

// Unmarshal decodes governance bytes into a Go value. It rejects everything
// ParseStrict rejects, fields the Go type does not have, and any input whose
// canonical form differs from the canonical form of the decoded value — so
// that what is signed (the bytes) and what is acted on (the value) can never
// differ, e.g. through encoding/json's case-insensitive field matching or a
// null where the type has no null.
func Unmarshal(data []byte, v any) error {
	d, err := ParseDocument(data)
	if err != nil {
		return err
	}
	return d.Unmarshal(v)
}

// encoder writes the JCS form (nl == false) or the file form (nl == true)
// of a parsed value.
type encoder struct {
	b    *bytes.Buffer
	file bool
	// skipTop is a top-level member left out (Digest: "signatures").
	skipTop string
	path    []pathSeg // to the value being encoded, for errors
}

func (e *encoder) at() string { return formatPath(e.path) }

func encode(b *bytes.Buffer, v any, file bool) error {
	e := &encoder{b: b, file: file}
	return e.value(v, 0)
}

const spaces = "                                                                " // 64

func (e *encoder) newline(depth int) {
	if !e.file {
		return
	}
	e.b.WriteByte('\n')
	for n := 2 * depth; n > 0; n -= len(spaces) {
		e.b.WriteString(spaces[:min(n, len(spaces))])
	}
}

func (e *encoder) value(v any, depth int) error {
	b := e.b
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		if !utf8.ValidString(x) {
			// Only a hand-built value gets here; writing it would replace
			// the bad bytes with U+FFFD and sign something else.
			return &Error{Path: e.at(), Reason: ReasonInvalidUTF8, Detail: "string is not valid UTF-8"}
		}
		writeString(b, x)
	case Number:
		if canonicalInteger(x) {
			b.WriteString(string(x))
			return nil
		}
		s, err := formatNumber(x, e.at)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			e.newline(depth + 1)
			e.path = append(e.path, pathSeg{index: i})
			if err := e.value(el, depth+1); err != nil {
				return err
			}
			e.path = e.path[:len(e.path)-1]
		}
		e.newline(depth)
		b.WriteByte(']')
	case Object:
		var buf [16]string
		keys := buf[:0]
		for k := range x {
			if !utf8.ValidString(k) {
				return &Error{Path: e.at(), Reason: ReasonInvalidUTF8, Detail: "key is not valid UTF-8"}
			}
			if depth == 0 && e.skipTop != "" && k == e.skipTop {
				continue
			}
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		// RFC 8785 §3.2.3: sort by UTF-16 code units.
		slices.SortFunc(keys, compareUTF16)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			e.newline(depth + 1)
			writeString(b, k)
			b.WriteByte(':')
			if e.file {
				b.WriteByte(' ')
			}
			e.path = append(e.path, pathSeg{key: k, index: -1})
			if err := e.value(x[k], depth+1); err != nil {
				return err
			}
			e.path = e.path[:len(e.path)-1]
		}
		e.newline(depth)
		b.WriteByte('}')
	default:
		return &Error{Path: e.at(), Reason: ReasonType, Detail: fmt.Sprintf("cannot encode Go type %T", v)}
	}
	return nil
}

// compareUTF16 orders two valid UTF-8 strings by their UTF-16 code units
// (RFC 8785 §3.2.3) without converting them.
//
// Why this is the UTF-16 order: let i be the first byte where a and b
// differ (if none, the shorter string is a prefix of the other, in bytes,
// in code points and in UTF-16 units, and sorts first). In valid UTF-8 the
// equal prefix a[:i] == b[:i] splits into the same runes in both strings, so
// the rune containing byte i starts at the same offset j in both (a lead
// byte fixes the rune's length; were byte i a continuation byte in one
// string and a lead byte in the other, the rune begun before i would be cut
// short in that one, which is not valid UTF-8). The runes before j are equal,
// so their UTF-16 units are equal, and the runes ra ≠ rb at j decide: their
// UTF-16 encodings differ, and neither is a proper prefix of the other (a
// one-unit encoding is a BMP code point that is not a surrogate, so it is
// never the first unit of a pair), so the first differing unit lies within
// them. Comparing utf16(ra) with utf16(rb) is therefore comparing a with b.
//
// Plain byte order would be wrong only there: UTF-8 byte order is code point
// order, which puts U+E000..U+FFFF before U+10000.., while UTF-16 puts the
// surrogate pairs (0xD800..) of U+10000.. before 0xE000..0xFFFF.
// TestCompareUTF16 and FuzzCompareUTF16 check it against the conversion.
func compareUTF16(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	j := i
	for j > 0 && !utf8.RuneStart(a[j]) {
		j--
	}
	ra, _ := utf8.DecodeRuneInString(a[j:])
	rb, _ := utf8.DecodeRuneInString(b[j:])
	if ra < 0x10000 && rb < 0x10000 {
		return cmp.Compare(ra, rb) // one unit each, equal to the code point
	}
	var ua, ub [2]uint16
	return slices.Compare(utf16.AppendRune(ua[:0], ra), utf16.AppendRune(ub[:0], rb))
}

// writeString writes s, which is valid UTF-8, with the JCS escapes (RFC
// 8785 §3.2.2.2): '"', '\\' and the controls below 0x20 are escaped, every
// other byte is copied (the bytes of a multi-byte rune are all >= 0x80).
func writeString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		start = i + 1
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// canonicalInteger reports whether n is already its own JCS form: an
// integer of at most maxFastDigits digits, without sign other than a "-"
// before a non-zero value, without leading zero. Such a value is below
// 10^15 < 2^53, so a double holds it exactly, and ECMAScript writes an
// integer-valued double below 10^21 as its plain decimal digits — the
// literal itself. FuzzFormatNumber checks it against formatNumber.
func canonicalInteger(n Number) bool {
	s := string(n)
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
		if s == "0" {
			return false
		}
	}
	if len(s) == 0 || len(s) > maxFastDigits || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatNumber serialises a number as ECMAScript's Number.prototype.toString
// does (RFC 8785 §3.2.2.3).
func formatNumber(n Number, at func() string) (string, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", &Error{Path: at(), Reason: ReasonNumberRange, Detail: fmt.Sprintf("%q is not a finite double", string(n))}
	}
	if !strings.ContainsAny(string(n), ".eE") && math.Abs(f) > MaxSafeInteger {
		return "", &Error{Path: at(), Reason: ReasonNumberRange, Detail: fmt.Sprintf("%s is outside ±(2^53-1)", n)}
	}
	return es6Number(f), nil
}

func es6Number(f float64) string {
	if f == 0 {
		return "0" // also for -0
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	// Go writes e-07 / e+07; ECMAScript writes e-7 / e+7.
	if i := strings.IndexByte(s, 'e'); i >= 0 && len(s) > i+3 && s[i+2] == '0' {
		s = s[:i+2] + s[i+3:]
	}
	return s
}
