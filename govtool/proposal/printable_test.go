package proposal

import (
	"regexp"
	"testing"
)

// TestPrintableASCII holds printableASCII to the pattern it replaces, for
// every byte alone and inside a string, and for multi-byte UTF-8.
func TestPrintableASCII(t *testing.T) {
	re := regexp.MustCompile(`^[\x20-\x7e]*$`)
	cases := []string{"", "Alice <alice@example.org>", "é", "tab\there", "\x7f", "~ "}
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range cases {
		if got, want := printableASCII(s), re.MatchString(s); got != want {
			t.Errorf("printableASCII(%q) = %v, want %v", s, got, want)
		}
	}
}
