package quorum

import (
	"slices"
	"testing"

	"github.com/ron-kms/ron-kms/schemas"
)

// TestRolesMatchSchema: AllRoles is the role enum of schemas/defs.json, in
// the same order, so a role cannot be added to one and not the other.
func TestRolesMatchSchema(t *testing.T) {
	want, err := schemas.Enum("defs.json#/$defs/role")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(AllRoles, want) {
		t.Errorf("AllRoles is %q, the schema's role enum %q", AllRoles, want)
	}
}
