package proposal

import (
	"regexp"
	"testing"

	"github.com/ron-kms/ron-kms/schemas"
)

// TestPrintableASCII holds printableASCII to the schema's author pattern,
// for every byte alone and inside a string, and for multi-byte UTF-8.
func TestPrintableASCII(t *testing.T) {
	re := regexp.MustCompile(schemas.MustPattern("proposal.schema.json#/properties/author"))
	cases := []string{"", "Alice <alice@example.org>", "é", "tab\there", "\x7f", "~ "}
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range cases {
		if got, want := printableASCII(s) && s != "", re.MatchString(s); got != want {
			t.Errorf("printableASCII(%q) = %v, want %v", s, got, want)
		}
	}
}
