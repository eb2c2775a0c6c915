package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/testvectors"
)

// FuzzParseSignature checks ParseSignature never panics, fails only with
// an *EntryError, and that an accepted entry is canonical: it re-marshals
// to exactly the input's canonical bytes and parses again to itself.
func FuzzParseSignature(f *testing.F) {
	var s testvectors.Signatures
	data, err := testvectors.FS.ReadFile(testvectors.SignaturesFile)
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		f.Fatal(err)
	}
	for _, v := range append(s.Valid, s.Invalid...) {
		if v.EntryJSON != "" {
			f.Add([]byte(v.EntryJSON))
		}
		if v.Entry != nil {
			b, _ := json.Marshal(v.Entry)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := ParseSignature(data)
		if err != nil {
			var ee *EntryError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not an *EntryError: %v", err, err)
			}
			return
		}
		if err := sig.Validate(); err != nil {
			t.Fatalf("accepted entry does not validate: %v", err)
		}
		out, err := canon.Marshal(sig)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := canon.ParseStrict(data)
		if err != nil {
			t.Fatalf("accepted input is not strict I-JSON: %v", err)
		}
		in, _ := canon.Canonical(tree)
		if !bytes.Equal(in, out) {
			t.Fatalf("accepted %q, re-marshals as %q", in, out)
		}
		again, err := ParseSignature(out)
		if err != nil || again != sig {
			t.Fatalf("re-marshalled entry does not parse back: %+v %v", again, err)
		}
	})
}
