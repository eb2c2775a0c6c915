package engine_test

import (
	"testing"

	"github.com/ron-kms/ron-kms/appliance/continuity"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/schemas"
)

// The proofs the engine writes are what schemas/key_continuity.schema.json
// describes, and pass the offline checker, for both traditional algorithms.
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
		p, err := continuity.Verify(info.Continuity[0])
		if err != nil {
			t.Errorf("%s proof: %v", key, err)
		} else if p.Key != key || p.Old.Version != 1 || p.New.Version != 2 {
			t.Errorf("%s proof links %s v%d → v%d", key, p.Key, p.Old.Version, p.New.Version)
		}
	}
	if err := schemas.Validate("key_continuity", []byte(`{"type":"key_continuity"}`)); err == nil {
		t.Error("schema accepts an empty proof")
	}
}
