package backend

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/schemas"
)

// TestLabelKeyNamesMatchSchema: a label with a '/' is accepted exactly
// when it is a key name as schemas/defs.json writes one (tenant/name,
// optionally /vN), on labels built from segments and versions at the edges
// of that format. Labels without a '/' are system names, which no schema
// writes; the ones the appliance uses are accepted.
func TestLabelKeyNamesMatchSchema(t *testing.T) {
	keyName := regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/key_name"))
	segs := []string{
		"a", "acme", "0", "a.b", "a_b", "a-", "a..b", "pay*",
		strings.Repeat("a", 63), strings.Repeat("a", 64),
		"", "-a", ".a", "_a", "A", "a b", "é", "a\n",
	}
	versions := []string{
		"", "/v1", "/v9", "/v10", "/v123456789",
		"/v0", "/v01", "/v1234567890", "/V1", "/v", "/v-1", "/1", "/x", "/v1/v2", "/",
	}
	n := 0
	for _, tenant := range segs {
		for _, name := range segs {
			for _, v := range versions {
				label := tenant + "/" + name + v
				want := keyName.MatchString(label)
				if got := CheckLabel(label) == nil; got != want {
					t.Errorf("label %q: schema's key_name says %v, CheckLabel accepts: %v", label, want, got)
				}
				if want {
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no sample is a key name: the samples test nothing")
	}
	for _, system := range []string{"audit", "seed-hmac"} {
		if err := CheckLabel(system); err != nil {
			t.Errorf("system label %q: %v", system, err)
		}
	}
}
