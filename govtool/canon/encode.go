package canon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DigestPrefix starts every digest string.
const DigestPrefix = "sha256:"

// Canonical returns the RFC 8785 (JCS) bytes of a value produced by Parse
// or ParseStrict (or built of the same types).
func Canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, v, "", "", "$"); err != nil {
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
	if err := encode(&b, v, "\n", "  ", "$"); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// CheckFileForm reports whether data is exactly the file form of the object
// it holds, so that CI rejects hand-edited or re-formatted files.
func CheckFileForm(data []byte) error {
	v, err := ParseStrict(data)
	if err != nil {
		return err
	}
	want, err := FileForm(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(data, want) {
		line := 1 + bytes.Count(data[:firstDiff(data, want)], []byte("\n"))
		return &Error{Path: "$", Reason: ReasonNotFileForm, Detail: fmt.Sprintf("first difference on line %d; rewrite it with govtool fmt", line)}
	}
	return nil
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
	if obj, ok := v.(Object); ok {
		if _, has := obj["signatures"]; has {
			trimmed := make(Object, len(obj))
			for k, x := range obj {
				if k != "signatures" {
					trimmed[k] = x
				}
			}
			v = trimmed
		}
	}
	c, err := Canonical(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return DigestPrefix + hex.EncodeToString(sum[:]), nil
}

// DigestBytes parses data strictly and returns its digest.
func DigestBytes(data []byte) (string, error) {
	v, err := ParseStrict(data)
	if err != nil {
		return "", err
	}
	return Digest(v)
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
	tree, err := ParseStrict(data)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		reason := ReasonType
		if strings.Contains(err.Error(), "unknown field") {
			reason = ReasonUnknownField
		}
		return &Error{Path: "$", Reason: reason, Detail: strings.TrimPrefix(err.Error(), "json: ")}
	}
	in, err := Canonical(tree)
	if err != nil {
		return err
	}
	out, err := Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(in, out) {
		return &Error{Path: "$", Reason: ReasonUnknownField, Detail: fmt.Sprintf("input does not round-trip as %T (a field is misspelt, null, or left where the format has none)", v)}
	}
	return nil
}

func encode(b *bytes.Buffer, v any, nl, indent, path string) error {
	return encodeAt(b, v, nl, indent, "", path)
}

func encodeAt(b *bytes.Buffer, v any, nl, indent, cur, path string) error {
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
			return &Error{Path: path, Reason: ReasonInvalidUTF8, Detail: "string is not valid UTF-8"}
		}
		writeString(b, x)
	case Number:
		s, err := formatNumber(x, path)
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
		inner := cur + indent
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(nl)
			b.WriteString(inner)
			if err := encodeAt(b, e, nl, indent, inner, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		b.WriteString(nl)
		b.WriteString(cur)
		b.WriteByte(']')
	case Object:
		if len(x) == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			if !utf8.ValidString(k) {
				return &Error{Path: path, Reason: ReasonInvalidUTF8, Detail: "key is not valid UTF-8"}
			}
			keys = append(keys, k)
		}
		// RFC 8785 §3.2.3: sort by UTF-16 code units.
		slices.SortFunc(keys, compareUTF16)
		b.WriteByte('{')
		inner := cur + indent
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(nl)
			b.WriteString(inner)
			writeString(b, k)
			b.WriteByte(':')
			if nl != "" {
				b.WriteByte(' ')
			}
			if err := encodeAt(b, x[k], nl, indent, inner, childPath(path, k)); err != nil {
				return err
			}
		}
		b.WriteString(nl)
		b.WriteString(cur)
		b.WriteByte('}')
	default:
		return &Error{Path: path, Reason: ReasonType, Detail: fmt.Sprintf("cannot encode Go type %T", v)}
	}
	return nil
}

func compareUTF16(a, b string) int {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

// writeString writes s with the JCS escapes (RFC 8785 §3.2.2.2).
func writeString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
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
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[r>>4])
				b.WriteByte(hexDigits[r&0xf])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// formatNumber serialises a number as ECMAScript's Number.prototype.toString
// does (RFC 8785 §3.2.2.3).
func formatNumber(n Number, path string) (string, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", &Error{Path: path, Reason: ReasonNumberRange, Detail: fmt.Sprintf("%q is not a finite double", string(n))}
	}
	if !strings.ContainsAny(string(n), ".eE") && math.Abs(f) > MaxSafeInteger {
		return "", &Error{Path: path, Reason: ReasonNumberRange, Detail: fmt.Sprintf("%s is outside ±(2^53-1)", n)}
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
