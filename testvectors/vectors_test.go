package testvectors

import (
	"bytes"
	"os"
	"testing"
)

// TestFilesUpToDate regenerates every file from its inputs and compares it
// with the committed one byte for byte; -update rewrites them instead.
func TestFilesUpToDate(t *testing.T) {
	for name, want := range generate(t) {
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from a fresh generation; run go test ./testvectors -update and review the diff", name)
		}
	}
}
