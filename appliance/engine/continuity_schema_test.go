package engine_test

import (
	"testing"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/schemas"
)

// The proofs the engine writes are what schemas/key_continuity.schema.json
// describes, for both traditional algorithms.
func TestContinuityProofsMatchSchema(t *testing.T) {
	v, _ := standard(t, policy.PQHybridAnd)
	for _, key := range []string{"ec", "pay"} {
		v.Govern("tenant:acme", "rotate_key="+key)
		info, err := v.Engine.PublicKey(v.Ctx, "acme", key)
		if err != nil || len(info.Continuity) != 1 {
			t.Fatalf("%s: %v, %d proofs", key, err, len(info.Continuity))
		}
		if err := schemas.Validate("key_continuity", info.Continuity[0]); err != nil {
			t.Errorf("%s proof: %v", key, err)
		}
	}
	if err := schemas.Validate("key_continuity", []byte(`{"type":"key_continuity"}`)); err == nil {
		t.Error("schema accepts an empty proof")
	}
}
