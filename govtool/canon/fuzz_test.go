package canon

import (
	"bytes"
	"testing"
)

// FuzzDecode checks the decoder never panics and that what it accepts is
// stable: the canonical form of an accepted value parses again to the same
// canonical bytes, strictly accepted values keep their strictness, and the
// file form round-trips (CheckFileForm accepts it and it parses back to the
// same canonical bytes).
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{false, true} {
			parse := Parse
			if strict {
				parse = ParseStrict
			}
			v, err := parse(data)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("strict=%v: error %T is not a *canon.Error: %v", strict, err, err)
				}
				continue
			}
			c, err := Canonical(v)
			if err != nil {
				t.Fatalf("strict=%v: accepted input does not encode: %v", strict, err)
			}
			v2, err := parse(c)
			if err != nil {
				t.Fatalf("strict=%v: canonical form %q of %q does not parse: %v", strict, c, data, err)
			}
			c2, err := Canonical(v2)
			if err != nil || !bytes.Equal(c, c2) {
				t.Fatalf("strict=%v: canonical form not stable: %q then %q (%v)", strict, c, c2, err)
			}
			ff, err := FileForm(v)
			if err != nil {
				t.Fatalf("strict=%v: file form: %v", strict, err)
			}
			v3, err := parse(ff)
			if err != nil {
				t.Fatalf("strict=%v: file form %q does not parse: %v", strict, ff, err)
			}
			if c3, _ := Canonical(v3); !bytes.Equal(c, c3) {
				t.Fatalf("strict=%v: file form changes the value: %q vs %q", strict, c, c3)
			}
			if strict {
				if err := CheckFileForm(ff); err != nil {
					t.Fatalf("file form %q rejected by CheckFileForm: %v", ff, err)
				}
				if bytes.Equal(data, ff) != (CheckFileForm(data) == nil) {
					t.Fatalf("CheckFileForm(%q) disagrees with FileForm", data)
				}
				if _, err := Digest(v); err != nil {
					t.Fatalf("digest of accepted value: %v", err)
				}
			}
		}
	})
}
