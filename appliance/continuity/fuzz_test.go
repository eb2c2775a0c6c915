package continuity_test

import (
	"testing"

	"github.com/ron-kms/ron-kms/appliance/continuity"
	"github.com/ron-kms/ron-kms/govtool/canon"
)

// FuzzVerify: the offline proof checker never panics and never accepts a
// proof whose bytes were changed.
func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		data := readVector(f, v.file)
		f.Add(data, 100, byte(1))
		f.Add(data, 0, byte(0))
	}
	f.Add([]byte(`{"type":"key_continuity"}`), 0, byte(0))
	f.Add([]byte(`{}`), 3, byte(1))
	f.Fuzz(func(t *testing.T, data []byte, at int, x byte) {
		p, err := continuity.Verify(data)
		if err == nil && p == nil {
			t.Fatal("nil proof without error")
		}
		if err == nil && len(data) > 0 && x != 0 {
			// A verified proof must not survive a change of one byte of its
			// canonical form.
			canonical, err := canon.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			i := (at%len(canonical) + len(canonical)) % len(canonical)
			mutated := append([]byte(nil), canonical...)
			mutated[i] ^= x
			if _, err := continuity.Verify(mutated); err == nil {
				t.Fatalf("proof still verifies with byte %d changed", i)
			}
		}
	})
}
