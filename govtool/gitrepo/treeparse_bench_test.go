package gitrepo

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseAgainst parses a new version of a 10,000-entry directory
// (the size of govtool/cli's BenchmarkVerifyRepo's proposals/) that has one
// more entry in its middle, from the old version: the shared prefix and
// suffix are reused, the inserted entry alone is parsed.
func BenchmarkParseAgainst(b *testing.B) {
	const n = 10000
	var old, data strings.Builder
	var h Hash
	for i := range n {
		h[0], h[1] = byte(i), byte(i>>8)
		e := fmt.Sprintf("100644 p%05d.json\x00%s", 2*i, h[:])
		old.WriteString(e)
		data.WriteString(e)
		if i == n/2 {
			fmt.Fprintf(&data, "100644 p%05d.json\x00%s", 2*i+1, h[:])
		}
	}
	t, err := parseTree(old.String(), "proposals")
	if err != nil {
		b.Fatal(err)
	}
	newText := data.String()
	b.ReportAllocs()
	for b.Loop() {
		got, ok := parseAgainst(t, newText)
		if !ok || len(got.entries) != n+1 {
			b.Fatalf("shortcut %v, %d entries", ok, len(got.entries))
		}
	}
}
