package quorum

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("quorum test " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func member(role string, k ed25519.PrivateKey) Member {
	pub := k.Public().(ed25519.PublicKey)
	return Member{Role: role, KeyID: envelope.KeyID(pub), PublicKey: envelope.EncodePublicKey(pub), Alg: AlgEd25519}
}

func set(version, threshold int, prev string, ms ...Member) *SignerSet {
	return &SignerSet{Type: TypeSignerSet, Version: version, Members: ms, Threshold: threshold,
		RotatedAt: "2026-01-01T00:00:00Z", ExpiresAt: "2026-04-01T00:00:00Z", Previous: prev, Signatures: []envelope.Signature{}}
}

func sign(t testing.TB, k ed25519.PrivateKey, role, typ, digest string) envelope.Signature {
	t.Helper()
	s, err := envelope.Sign(k, role, typ, digest)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestTallyCountsEachKeyOnce(t *testing.T) {
	a, b, c, op := key("a"), key("b"), key("c"), key("op")
	s := set(1, 2, GenesisPrevious, member(RolePolicyOwner, a), member(RoleSecurityOfficer, b), member(RoleCustodian, c), member(RoleOperator, op))
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	sa := sign(t, a, RolePolicyOwner, "proposal", digest)
	// The same key twice, plus an operator: still one.
	tl := s.Tally("proposal", digest, []envelope.Signature{sa, sa, sign(t, op, RoleOperator, "proposal", digest)})
	var te *ThresholdError
	if !errors.As(tl.Err(), &te) || te.Got != 1 || te.Want != 2 {
		t.Fatalf("want threshold error 1 of 2, got %v", tl.Err())
	}
	// Same key, two signatures (Ed25519 is deterministic, so re-sign under a different role label).
	sb := sign(t, b, RoleSecurityOfficer, "proposal", digest)
	if err := s.Tally("proposal", digest, []envelope.Signature{sa, sb}).Err(); err != nil {
		t.Fatalf("2 distinct keys: %v", err)
	}
	// Role lie: a's key claims to be custodian.
	lie := sign(t, a, RoleCustodian, "proposal", digest)
	if s.Tally("proposal", digest, []envelope.Signature{sa, lie}).Met() {
		t.Fatal("role mismatch counted")
	}
	// A signature over another type does not count.
	other := sign(t, b, RoleSecurityOfficer, "signer_set", digest)
	if s.Tally("proposal", digest, []envelope.Signature{sa, other}).Met() {
		t.Fatal("signature over another type counted")
	}
}

func TestValidateRejects(t *testing.T) {
	a, b := key("a"), key("b")
	ma, mb := member(RolePolicyOwner, a), member(RoleSecurityOfficer, b)
	for name, s := range map[string]*SignerSet{
		"threshold zero":         set(1, 0, GenesisPrevious, ma, mb),
		"threshold above quorum": set(1, 3, GenesisPrevious, ma, mb, member(RoleOperator, key("o"))),
		"key twice":              set(1, 1, GenesisPrevious, ma, Member{Role: RoleCustodian, KeyID: ma.KeyID, PublicKey: ma.PublicKey, Alg: AlgEd25519}),
		"bad key id":             set(1, 1, GenesisPrevious, Member{Role: RoleCustodian, KeyID: mb.KeyID, PublicKey: ma.PublicKey, Alg: AlgEd25519}),
		"unknown role":           set(1, 1, GenesisPrevious, Member{Role: "admin", KeyID: ma.KeyID, PublicKey: ma.PublicKey, Alg: AlgEd25519}),
		"genesis previous":       set(1, 1, digest, ma),
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRotationNeedsOldAndNew(t *testing.T) {
	a, b, c, d := key("a"), key("b"), key("c"), key("d")
	v1 := set(1, 2, GenesisPrevious, member(RolePolicyOwner, a), member(RoleSecurityOfficer, b), member(RoleCustodian, c))
	d1, _ := v1.Digest()
	v2 := set(2, 2, d1, member(RolePolicyOwner, a), member(RoleSecurityOfficer, b), member(RoleCustodian, d))
	v2.RotatedAt = "2026-02-01T00:00:00Z"
	v2.ExpiresAt = "2026-05-01T00:00:00Z"
	d2, _ := v2.Digest()
	// Signed only by the new custodian and one old member: old threshold 1 of 2.
	v2.Signatures = []envelope.Signature{sign(t, d, RoleCustodian, TypeSignerSet, d2), sign(t, a, RolePolicyOwner, TypeSignerSet, d2)}
	if err := VerifyNext(v1, d1, v2); err == nil {
		t.Fatal("rotation without old threshold accepted")
	}
	v2.Signatures = append(v2.Signatures, sign(t, b, RoleSecurityOfficer, TypeSignerSet, d2))
	if err := VerifyNext(v1, d1, v2); err != nil {
		t.Fatalf("good rotation: %v", err)
	}
	// Skipping a version fails.
	v2.Version = 3
	if err := VerifyNext(v1, d1, v2); err == nil {
		t.Fatal("version skip accepted")
	}
}
