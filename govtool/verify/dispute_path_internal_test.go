package verify

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/schemas"
)

// TestDisputePathMatchesSchema: a path is a dispute file exactly when its
// name (less ".json") is a dispute id as dispute.schema.json defines it.
func TestDisputePathMatchesSchema(t *testing.T) {
	idRE := regexp.MustCompile(schemas.MustPattern("dispute.schema.json#/properties/id"))
	for _, id := range []string{
		"d-1", "a", "0", "a.b", "a_b", "x-" + strings.Repeat("a", 78), strings.Repeat("a", 80), strings.Repeat("a", 81),
		"", "A", "-a", ".a", "_a", "a/b", "../a", "a b", "a\n", "é", "a.json",
	} {
		path := "disputes/" + id + ".json"
		if got, want := disputePathRE.MatchString(path), idRE.MatchString(id); got != want {
			t.Errorf("%q: dispute path = %v, schema id = %v", path, got, want)
		}
	}
	for _, path := range []string{"disputes/a.json.bak", "disputes/a", "x/disputes/a.json", "disputes/a/b.json", "disputes/.json"} {
		if disputePathRE.MatchString(path) {
			t.Errorf("%q is taken for a dispute file", path)
		}
	}
}
