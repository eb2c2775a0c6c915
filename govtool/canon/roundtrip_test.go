package canon

import (
	"errors"
	"testing"
)

// TestCanonicalFormParses is the regression test for a value accepted as
// "1e20" whose canonical form "100000000000000000000" the parser refused.
func TestCanonicalFormParses(t *testing.T) {
	for _, in := range []string{"1e20", "9.007199254740992e15", "-1.5e17", "123456789012345678e3"} {
		_, err := Parse([]byte(in))
		var ce *Error
		if !errors.As(err, &ce) || ce.Reason != ReasonNumberRange {
			t.Errorf("%s: got %v, want %q", in, err, ReasonNumberRange)
		}
	}
	// Floats that stay floats in canonical form, and 2^53-1 spelt as a
	// float, are still accepted and their canonical form parses.
	for in, want := range map[string]string{"1E30": "1e+30", "1e21": "1e+21", "9.007199254740991e15": "9007199254740991", "4.5e15": "4500000000000000", "1.5e-7": "1.5e-7"} {
		v, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		c, _ := Canonical(v)
		if string(c) != want {
			t.Errorf("%s: canonical %s, want %s", in, c, want)
		}
		if _, err := Parse(c); err != nil {
			t.Errorf("%s: canonical form %s does not parse: %v", in, c, err)
		}
	}
}

// TestCanonicalRefusesInvalidUTF8: a hand-built value with bytes that are
// not UTF-8 is an error, not silently written as U+FFFD.
func TestCanonicalRefusesInvalidUTF8(t *testing.T) {
	for name, v := range map[string]any{
		"value":  Object{"a": "x\xffy"},
		"key":    Object{"\xfe": "x"},
		"nested": []any{Object{"a": []any{"\xc0\xaf"}}},
	} {
		for _, f := range []func(any) ([]byte, error){Canonical, FileForm} {
			out, err := f(v)
			var ce *Error
			if !errors.As(err, &ce) || ce.Reason != ReasonInvalidUTF8 {
				t.Errorf("%s: got %q, %v; want %q", name, out, err, ReasonInvalidUTF8)
			}
		}
	}
	if _, err := Canonical(Object{"a": "\u00e9\U0001F50F"}); err != nil {
		t.Fatal(err)
	}
}
