package envelope

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

const digestA = "sha256:8929ea1827267c6ad90500758abf37313a84e40e119e3bfc2f9e516d532ea94d"
const digestB = "sha256:0000000000000000000000000000000000000000000000000000000000000001"

func testKey(t testing.TB, name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("envelope test " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func reasonOf(err error) Reason {
	var ee *EntryError
	if errors.As(err, &ee) {
		return ee.Reason
	}
	return ""
}

func TestMessage(t *testing.T) {
	msg, err := Message("signer_set", digestA)
	if err != nil || string(msg) != "ron-kms/v1 signer_set 8929ea1827267c6ad90500758abf37313a84e40e119e3bfc2f9e516d532ea94d" {
		t.Fatalf("%q %v", msg, err)
	}
	for _, tc := range []struct{ typ, digest string }{
		{"Proposal", digestA},                  // upper case
		{"proposal x", digestA},                // space: would forge another domain
		{"", digestA},                          // empty
		{"proposal", strings.ToUpper(digestA)}, // upper-case hex
		{"proposal", digestA[7:]},              // no prefix
		{"proposal", "sha512:" + digestA[7:]},
		{"proposal", digestA + "00"},
	} {
		if _, err := Message(tc.typ, tc.digest); err == nil {
			t.Errorf("Message(%q, %q) accepted", tc.typ, tc.digest)
		}
	}
}

// TestKeyIDKnownAnswer: the key id of RFC 8032 TEST 1's public key.
func TestKeyIDKnownAnswer(t *testing.T) {
	pub, _ := hex.DecodeString("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
	if got := KeyID(pub); got != "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9" {
		t.Fatal(got)
	}
	if got := EncodePublicKey(pub); got != "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" {
		t.Fatal(got)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, typ := range []string{"proposal", "signer_set", "policy", "dispute", "capability"} {
		k := testKey(t, typ)
		pub := k.Public().(ed25519.PublicKey)
		s, err := Sign(k, "custodian", typ, digestA)
		if err != nil {
			t.Fatal(err)
		}
		if s.Role != "custodian" || s.KeyID != KeyID(pub) {
			t.Fatalf("entry %+v", s)
		}
		if err := Verify(pub, typ, digestA, s); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		// The entry survives its own encoding.
		raw := []byte(`{"key_id":"` + s.KeyID + `","role":"custodian","sig":"` + s.Sig + `"}`)
		back, err := ParseSignature(raw)
		if err != nil || back != s {
			t.Fatalf("parse back: %+v %v", back, err)
		}
		// Another type, another digest, another key: each fails for its reason.
		other := "proposal"
		if typ == other {
			other = "signer_set"
		}
		if r := reasonOf(Verify(pub, other, digestA, s)); r != ReasonBadSignature {
			t.Errorf("%s verified as %s: %q", typ, other, r)
		}
		if r := reasonOf(Verify(pub, typ, digestB, s)); r != ReasonBadSignature {
			t.Errorf("%s: other digest: %q", typ, r)
		}
		otherPub := testKey(t, "other").Public().(ed25519.PublicKey)
		if r := reasonOf(Verify(otherPub, typ, digestA, s)); r != ReasonKeyMismatch {
			t.Errorf("%s: other key: %q", typ, r)
		}
		// The right key id with another key's signature.
		forged := s
		forged.Sig, _ = func() (string, error) {
			o, err := Sign(testKey(t, "other"), "custodian", typ, digestA)
			return o.Sig, err
		}()
		if r := reasonOf(Verify(pub, typ, digestA, forged)); r != ReasonBadSignature {
			t.Errorf("%s: forged: %q", typ, r)
		}
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	k := testKey(t, "m")
	pub := k.Public().(ed25519.PublicKey)
	s, err := Sign(k, "policy-owner", "proposal", digestA)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(s.Sig)
	mut := func(f func(*Signature)) Signature { c := s; f(&c); return c }
	for name, e := range map[string]Signature{
		"padding bits":   mut(func(c *Signature) { c.Sig = c.Sig[:85] + string(rune(c.Sig[85]+1)) + "==" }),
		"line break":     mut(func(c *Signature) { c.Sig = c.Sig[:76] + "\n" + c.Sig[76:] }),
		"no padding":     mut(func(c *Signature) { c.Sig = strings.TrimRight(c.Sig, "=") }),
		"url-safe":       mut(func(c *Signature) { c.Sig = base64.URLEncoding.EncodeToString(raw) }),
		"63 bytes":       mut(func(c *Signature) { c.Sig = base64.StdEncoding.EncodeToString(raw[:63]) }),
		"65 bytes":       mut(func(c *Signature) { c.Sig = base64.StdEncoding.EncodeToString(append(raw, 0)) }),
		"upper key id":   mut(func(c *Signature) { c.KeyID = strings.ToUpper(c.KeyID) }),
		"short key id":   mut(func(c *Signature) { c.KeyID = c.KeyID[:63] }),
		"empty role":     mut(func(c *Signature) { c.Role = "" }),
		"role with dots": mut(func(c *Signature) { c.Role = "policy.owner" }),
	} {
		if r := reasonOf(Verify(pub, "proposal", digestA, e)); r != ReasonMalformed {
			t.Errorf("%s: reason %q, want malformed", name, r)
		}
	}
	if r := reasonOf(Verify(pub[:31], "proposal", digestA, s)); r != ReasonMalformed {
		t.Errorf("short public key: %q", r)
	}
	// A non-canonical S (S + L) is the same signature to a lax verifier.
	// L, little-endian, added to the S half.
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	big := make([]byte, 64)
	copy(big, raw)
	carry := 0
	for i := 0; i < 32; i++ {
		v := int(raw[32+i]) + int(l[i]) + carry
		big[32+i], carry = byte(v), v>>8
	}
	if carry != 0 {
		t.Fatal("S+L overflowed 256 bits")
	}
	e := mut(func(c *Signature) { c.Sig = base64.StdEncoding.EncodeToString(big) })
	if r := reasonOf(Verify(pub, "proposal", digestA, e)); r != ReasonBadSignature {
		t.Errorf("S+L accepted: %q", r)
	}
}

func TestDecodePublicKey(t *testing.T) {
	pub := testKey(t, "d").Public().(ed25519.PublicKey)
	enc := EncodePublicKey(pub)
	got, err := DecodePublicKey(enc)
	if err != nil || !got.Equal(pub) {
		t.Fatal(err)
	}
	for _, bad := range []string{
		enc[:42] + string(rune(enc[42]+1)) + "=", // padding bits
		strings.TrimRight(enc, "="),
		base64.StdEncoding.EncodeToString(pub[:31]),
		base64.StdEncoding.EncodeToString(append(pub, 0)),
		" " + enc,
		enc[:20] + "\r\n" + enc[20:],
	} {
		if _, err := DecodePublicKey(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// lyingSigner returns a signature by another key, as a faulty token might.
type lyingSigner struct {
	pub   ed25519.PublicKey
	other ed25519.PrivateKey
}

func (l lyingSigner) Public() crypto.PublicKey { return l.pub }
func (l lyingSigner) Sign(r io.Reader, msg []byte, o crypto.SignerOpts) ([]byte, error) {
	return l.other.Sign(r, msg, o)
}

func TestSignRefuses(t *testing.T) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ek, "custodian", "proposal", digestA); err == nil {
		t.Error("ECDSA signer accepted")
	}
	k := testKey(t, "s")
	lie := lyingSigner{pub: k.Public().(ed25519.PublicKey), other: testKey(t, "x")}
	if _, err := Sign(lie, "custodian", "proposal", digestA); err == nil {
		t.Error("signature by another key accepted")
	}
	if _, err := Sign(k, "Custodian", "proposal", digestA); err == nil {
		t.Error("malformed role accepted")
	}
	if _, err := Sign(k, "custodian", "proposal", "sha256:00"); err == nil {
		t.Error("malformed digest accepted")
	}
}

func TestEntryErrorHidesNothingSecret(t *testing.T) {
	s, _ := Sign(testKey(t, "e"), "custodian", "proposal", digestA)
	err := Verify(testKey(t, "e").Public().(ed25519.PublicKey), "proposal", digestB, s)
	msg := err.Error()
	if !strings.HasPrefix(msg, "envelope: ") || strings.Contains(msg, s.Sig) {
		t.Fatalf("message %q", msg)
	}
}
