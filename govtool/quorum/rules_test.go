package quorum

import (
	"crypto/ed25519"
	"errors"
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

// TestRotationTimeOnlyGrows: version N+1 cannot claim to be rotated before
// version N was, and not after version N expired.
func TestRotationTimeOnlyGrows(t *testing.T) {
	a, b, c := key("a"), key("b"), key("c")
	v1 := set(1, 2, GenesisPrevious, member(RolePolicyOwner, a), member(RoleSecurityOfficer, b), member(RoleCustodian, c))
	v1.RotatedAt, v1.ExpiresAt = "2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z"
	d1, _ := v1.Digest()
	for rotated, ok := range map[string]bool{
		"2026-01-31T23:59:59Z": false, // before v1
		"2026-02-01T00:00:00Z": true,
		"2026-04-30T23:59:59Z": true,
		"2026-05-01T00:00:00Z": false, // v1 expired
	} {
		v2 := set(2, 2, d1, member(RolePolicyOwner, a), member(RoleSecurityOfficer, b), member(RoleCustodian, c))
		v2.RotatedAt, v2.ExpiresAt = rotated, "2026-08-01T00:00:00Z"
		d2, _ := v2.Digest()
		v2.Signatures = []envelope.Signature{sign(t, a, RolePolicyOwner, TypeSignerSet, d2), sign(t, b, RoleSecurityOfficer, TypeSignerSet, d2)}
		err := VerifyNext(v1, d1, v2)
		var se *SetError
		if ok && err != nil || !ok && !errors.As(err, &se) {
			t.Errorf("rotated_at %s: %v (want ok=%v)", rotated, err, ok)
		}
	}
}
