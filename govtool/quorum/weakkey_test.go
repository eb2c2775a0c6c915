package quorum

import (
	"crypto/ed25519"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// TestValidateRejectsWeakKey: a member whose public key is a small-order
// point (here the identity, for which anyone can forge a signature) makes
// the signer set invalid, so such a key can never count toward a threshold.
func TestValidateRejectsWeakKey(t *testing.T) {
	weak := make(ed25519.PublicKey, 32)
	weak[0] = 1
	m := Member{Role: RoleCustodian, KeyID: envelope.KeyID(weak), PublicKey: envelope.EncodePublicKey(weak), Alg: AlgEd25519}
	s := set(1, 2, GenesisPrevious, member(RolePolicyOwner, key("a")), member(RoleSecurityOfficer, key("b")), m)
	if err := s.Validate(); err == nil {
		t.Fatal("signer set with a weak key accepted")
	}
	if _, err := m.PublicKeyBytes(); err == nil {
		t.Fatal("weak member key decoded")
	}
}
