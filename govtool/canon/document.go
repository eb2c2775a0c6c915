package canon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Document is governance bytes parsed strictly, once. A verifier checks a
// file's form, decodes it into its Go type, validates it against its schema
// and digests it; with a Document these steps share one parse instead of
// parsing the same bytes again for each.
//
// A Document is read-only: neither the bytes given to ParseDocument nor the
// tree Value returns may be modified while it is in use.
type Document struct {
	data []byte
	src  string // a copy of data, which the strings of tree are slices of
	tree any
	form bool   // data is in file form, as found by the parser
	sig  [2]int // the span of the top-level "signatures" member (parsed.sig)

	digestOnce sync.Once
	digest     string
	digestErr  error
}

// ParseDocument parses data with ParseStrict and keeps both.
func ParseDocument(data []byte) (*Document, error) {
	r, err := parse(data, true)
	if err != nil {
		return nil, err
	}
	return &Document{data: data, src: r.src, tree: r.tree, form: r.form, sig: r.sig}, nil
}

// Bytes returns the bytes the document was parsed from.
func (d *Document) Bytes() []byte { return d.data }

// Value returns the parsed value (Object, []any, string, Number, bool,
// nil). It is shared: callers must not modify it.
func (d *Document) Value() any { return d.tree }

// Digest returns Digest(d.Value()), computed once. When the bytes are in
// file form it hashes them with the file form's whitespace (and the
// signatures) left out, which are the canonical bytes, instead of encoding
// the tree again.
func (d *Document) Digest() (string, error) {
	d.digestOnce.Do(func() {
		if !d.form {
			d.digest, d.digestErr = Digest(d.tree)
			return
		}
		b := getScratch()
		defer putScratch(b)
		d.digest = digestOf(canonicalOfFileForm(b, d.data, d.sig))
	})
	return d.digest, d.digestErr
}

// canonicalOfFileForm writes to b the canonical bytes of a value whose file
// form is data, without the top-level member at data[sig[0]:sig[1]] (when
// sig[0] >= 0), and returns them. File form is the canonical form with
// whitespace added between tokens — newlines and indentation in non-empty
// containers, a space after each colon, a newline at the end — so leaving
// out every space and newline outside strings gives the canonical form
// back. Strings keep theirs: file form writes no other whitespace in a
// string (a control character is always escaped).
func canonicalOfFileForm(b *bytes.Buffer, data []byte, sig [2]int) []byte {
	if sig[0] < 0 {
		stripSpace(b, data)
		return b.Bytes()
	}
	// {..., "signatures": [...], ...}: the member goes, and with it the
	// comma before it, or, when it is the first member, the comma after.
	stripSpace(b, data[:sig[0]])
	head := b.Len()
	stripSpace(b, data[sig[1]:])
	out := b.Bytes()
	switch {
	case out[head-1] == ',':
		out = append(out[:head-1], out[head:]...)
	case out[head] == ',':
		out = append(out[:head], out[head+1:]...)
	}
	return out
}

// stripSpace appends to b the bytes of data, a run of whole tokens, less the
// spaces and newlines between tokens.
func stripSpace(b *bytes.Buffer, data []byte) {
	b.Grow(len(data))
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case ' ', '\n':
			i++
		case '"':
			// A string, copied through its closing quote; an escape is a
			// backslash and one more byte (\uXXXX goes on plainly).
			j := i + 1
			for j < len(data) && data[j] != '"' {
				if data[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(data)) // (a string always ends after a parse)
			b.Write(data[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
}

// CheckFileForm is CheckFileForm(d.Bytes()) without parsing them again.
func (d *Document) CheckFileForm() error {
	if d.form {
		return nil
	}
	b := getScratch()
	defer putScratch(b)
	if err := encode(b, d.tree, true); err != nil {
		return err
	}
	b.WriteByte('\n')
	if want := b.Bytes(); !bytes.Equal(d.data, want) {
		line := 1 + bytes.Count(d.data[:firstDiff(d.data, want)], []byte("\n"))
		return &Error{Path: "$", Reason: ReasonNotFileForm, Detail: fmt.Sprintf("first difference on line %d; rewrite it with govtool fmt", line)}
	}
	return nil
}

// Unmarshal is Unmarshal(d.Bytes(), v) without parsing the bytes again.
//
// It decodes as encoding/json's Decoder with DisallowUnknownFields would,
// except that member names match exactly (never case-insensitively), and
// then requires the round trip: the value decoded must encode (as
// json.Marshal would) back to the value parsed. See unmarshal.go for how
// both are done without encoding/json for the usual governance types, and
// unmarshalJSON for the general path.
func (d *Document) Unmarshal(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		// Not a pointer to a zero value: encoding/json's merge rules apply.
		return d.unmarshalJSON(v)
	}
	pl := planFor(rv.Elem().Type())
	if pl == nil {
		return d.unmarshalJSON(v)
	}
	u := unmarshalers.Get().(*unmarshaler)
	defer u.release()
	u.dec.data, u.dec.src, u.dec.strict = d.data, d.src, true
	if err := u.dec.value(rv.Elem(), pl); err != nil {
		return err
	}
	return u.chk.match(rv.Elem(), pl, d.tree)
}

// unmarshalJSON is Unmarshal through encoding/json: decode, encode the
// value again with json.Marshal, parse that and compare. It is the path
// for the Go types the planned decoder leaves alone (planFor), and the
// reference the planned path is tested against.
func (d *Document) unmarshalJSON(v any) error {
	dec := json.NewDecoder(bytes.NewReader(d.data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		reason := ReasonType
		if strings.Contains(err.Error(), "unknown field") {
			reason = ReasonUnknownField
		}
		return &Error{Path: "$", Reason: reason, Detail: strings.TrimPrefix(err.Error(), "json: ")}
	}
	out, err := ToTree(v)
	if err != nil {
		return err
	}
	// The round trip: the value decoded must encode back to the value
	// parsed. Both trees come from ParseStrict, so equal trees are exactly
	// equal canonical forms (see equal).
	if !equal(d.tree, out) {
		return &Error{Path: "$", Reason: ReasonUnknownField, Detail: fmt.Sprintf("input does not round-trip as %T (a field is misspelt, null, or left where the format has none)", v)}
	}
	return nil
}

// equal reports whether two values produced by ParseStrict are the same
// JSON value, which is when their canonical forms are the same bytes:
// Canonical writes each object member once, sorted, and escapes strings
// injectively, so equal canonical bytes are equal member sets with equal
// values and equal strings; and ParseStrict accepts only integers written
// canonically (no fraction, exponent, leading zero, "+" or "-0") and within
// ±(2^53-1), so two of its Number literals denote the same value exactly
// when they are the same string, which is then also their canonical form.
// FuzzEqual checks equal against the canonical bytes. It is not for values
// from Parse, whose numbers may be spelt in several ways.
func equal(a, b any) bool {
	switch x := a.(type) {
	case Object:
		y, ok := b.(Object)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case Number:
		y, ok := b.(Number)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
