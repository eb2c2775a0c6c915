package envelope

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"filippo.io/edwards25519"
)

func enc(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hex %q", s)
	}
	return b
}

// yEnc is the little-endian encoding of a small y with the sign bit clear.
func yEnc(y uint64) []byte {
	b := make([]byte, 32)
	for i := 0; y > 0; i++ {
		b[i] = byte(y)
		y >>= 8
	}
	return b
}

// plusP adds p = 2^255-19 to a canonical encoding of a small y (y < 19),
// giving its non-canonical alias.
func plusP(b []byte) []byte {
	out := make([]byte, 32)
	copy(out, b)
	out[0] += 0xed
	for i := 1; i < 31; i++ {
		out[i] = 0xff
	}
	out[31] = 0x7f
	return out
}

// TestWeakKeysRejected: every small-order point, in every encoding, and
// keys that are no point or a non-canonical encoding of a good point.
func TestWeakKeysRejected(t *testing.T) {
	order8 := mustHex(t, "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
	order8b := mustHex(t, "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
	withSign := func(b []byte) []byte { c := append([]byte(nil), b...); c[31] |= 0x80; return c }
	weak := map[string][]byte{
		"identity":              yEnc(1),
		"identity, sign bit":    withSign(yEnc(1)),
		"order 4 (y = 0)":       yEnc(0),
		"order 4, sign bit":     withSign(yEnc(0)),
		"order 8":               order8,
		"order 8, sign bit":     withSign(order8),
		"order 8 (-y)":          order8b,
		"order 8 (-y) sign bit": withSign(order8b),
		"identity as y = p+1":   plusP(yEnc(1)),
		"y = 0 as y = p":        plusP(yEnc(0)),
	}
	// y = -1 is p-1: ec ff … ff 7f.
	m1 := plusP(yEnc(0))
	m1[0] = 0xec
	weak["order 2 (y = -1)"] = m1
	for name, b := range weak {
		// Prove the list: each decodes (leniently) to a point of small order.
		p, err := new(edwards25519.Point).SetBytes(b)
		if err != nil {
			t.Fatalf("%s: not a point: %v", name, err)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Fatalf("%s: not of small order", name)
		}
		if _, err := DecodePublicKey(enc(b)); err == nil {
			t.Errorf("%s: weak key accepted", name)
		}
	}
	var alias, offCurve int
	for y := uint64(2); y < 19; y++ {
		b := yEnc(y)
		if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
			offCurve++
			if _, err := DecodePublicKey(enc(b)); err == nil {
				t.Errorf("y=%d: not a point, accepted", y)
			}
			continue
		}
		if _, err := DecodePublicKey(enc(b)); err != nil {
			t.Errorf("y=%d: a good point rejected: %v", y, err)
		}
		alias++
		if _, err := DecodePublicKey(enc(plusP(b))); err == nil {
			t.Errorf("y=%d+p: non-canonical encoding accepted", y)
		}
	}
	if alias == 0 || offCurve == 0 {
		t.Fatalf("test covers %d aliases and %d off-curve keys; want both", alias, offCurve)
	}
	// Real keys pass, twice (the second time from the cache).
	pub := testKey(t, "good").Public().(ed25519.PublicKey)
	for i := 0; i < 2; i++ {
		if _, err := DecodePublicKey(EncodePublicKey(pub)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWeakKeyForgery shows why weak keys are refused: under the identity
// as public key, (R = B, S = 1) verifies for any message with
// crypto/ed25519 — anyone could sign for such a member.
func TestWeakKeyForgery(t *testing.T) {
	identity := ed25519.PublicKey(yEnc(1))
	one := make([]byte, 32)
	one[0] = 1
	sig := append(edwards25519.NewGeneratorPoint().Bytes(), one...)
	for _, msg := range []string{"ron-kms/v1 signer_set 00", "anything"} {
		if !ed25519.Verify(identity, []byte(msg), sig) {
			t.Fatal("forgery did not verify; the premise of the weak-key check changed")
		}
	}
	if _, err := DecodePublicKey(EncodePublicKey(identity)); err == nil {
		t.Fatal("identity accepted as a public key")
	}
}
