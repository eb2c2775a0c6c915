package canon

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/ron-kms/ron-kms/testvectors"
)

// fuzzSeeds are the inputs of the known-answer files: every canonical.json
// input (positive and negative) and output, and every object file. (Not the
// vector files themselves: minimising a 40 KB input stalls the fuzzer.)
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	var c testvectors.Canonical
	var d testvectors.Digests
	var s testvectors.Signatures
	for name, v := range map[string]any{testvectors.CanonicalFile: &c, testvectors.DigestsFile: &d, testvectors.SignaturesFile: &s} {
		data, err := testvectors.FS.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			tb.Fatal(err)
		}
	}
	for _, v := range c.Vectors {
		switch {
		case v.InputBase64 != "":
			b, err := base64.StdEncoding.DecodeString(v.InputBase64)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b)
		case v.Mode != "number":
			seeds = append(seeds, []byte(v.Input))
		}
		if v.Canonical != "" {
			seeds = append(seeds, []byte(v.Canonical))
		}
	}
	for _, v := range d.Vectors {
		seeds = append(seeds, []byte(v.File), []byte(v.Canonical))
	}
	for _, v := range s.SignerSets {
		seeds = append(seeds, []byte(v.File))
	}
	return seeds
}

func TestFuzzSeedsPresent(t *testing.T) {
	if n := len(fuzzSeeds(t)); n < 80 {
		t.Fatalf("only %d seeds", n)
	}
}
