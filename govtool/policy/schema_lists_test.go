package policy

import (
	"slices"
	"testing"

	"github.com/ron-kms/ron-kms/schemas"
)

// TestListsMatchSchemas: every list of names policy checks by itself is the
// enum the schema writes for it, in the same order, so the two cannot drift.
func TestListsMatchSchemas(t *testing.T) {
	for _, c := range []struct {
		ref  string
		list []string
	}{
		{"policy.schema.json#/properties/profile", Profiles},
		{"policy.schema.json#/$defs/pq_mode", PQModes},
		{"policy.schema.json#/$defs/backend/properties/kind", BackendKinds},
		{"policy.schema.json#/$defs/tenant/properties/keys/additionalProperties/properties/alg", KeyAlgs},
		{"proposal.schema.json#/properties/changeset/items/properties/op", []string{OpSet, OpUnset, OpAdd, OpRemove}},
		{"proposal.schema.json#/properties/quorum/properties/class", []string{string(Sensitive), string(Parameter), string(Revocation)}},
	} {
		want, err := schemas.Enum(c.ref)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.list, want) {
			t.Errorf("%s: Go has %q, the schema %q", c.ref, c.list, want)
		}
	}
}
