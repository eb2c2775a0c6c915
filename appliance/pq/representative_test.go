package pq

import (
	"crypto/ed25519"
	"testing"
)

// The Ed25519 half of the third-party vector verifies over the exported M'
// with the bare standard library: what an outside verifier (openssl) does.
func TestMessageRepresentativeAgainstVector(t *testing.T) {
	f, vs := loadVectors(t)
	v, ok := vs[string(MLDSA65Ed25519)]
	if !ok {
		t.Fatal("vector id-MLDSA65-Ed25519-SHA512 missing")
	}
	_, tradPub, err := SplitPublicKey(MLDSA65Ed25519, v.PK)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ctx, sig []byte
	}{{nil, v.S}, {f.Ctx, v.SWithContext}} {
		m, err := MessageRepresentative(MLDSA65Ed25519, f.M, c.ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, tradSig, err := SplitSignature(MLDSA65Ed25519, c.sig)
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(tradPub.(ed25519.PublicKey), m, tradSig) {
			t.Errorf("ctx %q: Ed25519 component does not verify over M'", c.ctx)
		}
		if ed25519.Verify(tradPub.(ed25519.PublicKey), f.M, tradSig) {
			t.Error("Ed25519 component verifies over the bare message")
		}
	}
	if _, err := MessageRepresentative(MLDSA65, f.M, nil); err == nil {
		t.Error("M' for a non-composite algorithm")
	}
	if _, err := MessageRepresentative(MLDSA65Ed25519, f.M, make([]byte, 256)); err == nil {
		t.Error("context of 256 bytes accepted")
	}
}
