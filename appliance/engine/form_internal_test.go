package engine

import (
	"slices"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/capability"
	"github.com/ron-kms/ron-kms/appliance/pq"
)

// TestFormAlgsAreCapabilityAlgs ties formOf to capability's closed list of
// alg caveat values: every form a signing key can take in every PQ mode
// names an algorithm a capability can grant, and the audit record's alg
// field carries the same value. A new algorithm or mode added on one side
// only fails here, not as a refusal in production.
func TestFormAlgsAreCapabilityAlgs(t *testing.T) {
	algs := capability.Algs()
	for _, mode := range []pq.Mode{pq.ModeOff, pq.ModeHybridOr, pq.ModeHybridAnd, pq.ModePQOnly} {
		for _, alg := range []backend.Algorithm{backend.Ed25519, backend.ECDSAP256} {
			f, rej := formOf(string(mode), alg)
			if rej != nil {
				t.Fatalf("mode %s, %s: %v", mode, alg, rej)
			}
			if !slices.Contains(algs, f.capAlg) {
				t.Errorf("mode %s, %s key: capability alg %q is not in capability.Algs() %q", mode, alg, f.capAlg, algs)
			}
		}
	}
	if _, rej := formOf(string(pq.ModeOff), backend.AES256GCM); rej == nil || rej.Reason != ReasonAlgMismatch {
		t.Errorf("an AES key got a signature form: %v", rej)
	}
}
