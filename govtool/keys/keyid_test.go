package keys

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/schemas"
)

// TestKeyIDOptionMatchesSchema: LoadOptions.KeyID is accepted exactly when
// it is a key id as schemas/defs.json writes one, the form signer sets and
// signature entries carry.
func TestKeyIDOptionMatchesSchema(t *testing.T) {
	re := regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/key_id"))
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, id := range []string{
		hex64,
		strings.Repeat("f", 64),
		hex64[:63],
		hex64 + "0",
		hex64[:40],
		strings.ToUpper(hex64),
		hex64[:63] + "g",
		hex64[:63] + "\n",
		"\n" + hex64[1:],
		" " + hex64[1:],
		"sha256:" + hex64,
		hex64[:62] + "é",
		"ABC",
	} {
		_, err := LoadOptions{KeyID: id}.expected()
		if want := re.MatchString(id); (err == nil) != want {
			t.Errorf("key id %q: schema says %v, LoadOptions accepts: %v", id, want, err)
		}
	}
}
