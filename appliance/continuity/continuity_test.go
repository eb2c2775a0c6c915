package continuity_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/continuity"
	"github.com/ron-kms/ron-kms/govtool/canon"
)

// vectors are the proofs in testdata, with what they link.
var vectors = []struct {
	file, key, alg string
	oldID, newID   string
}{
	{"ed25519.json", "pay", "ed25519",
		"27c28f45ad83d86bcccc6a7e259f5c8e7cb969577e11a12f80d58279130a62d2",
		"27a9211fece658759a33b624000df3a42a9077c634ed00b7534d1ad7e7e91c45"},
	{"ecdsa-p256.json", "ec", "ecdsa-p256",
		"095503d8de4deb5aa72a1384ff148ee3ece5742a265ff0d3959343e96a7d8d15",
		"8774bb3144bd5a7d1a8fbc1ce7044c614a119cf1548b30bba1fa507ea3a504f2"},
}

func readVector(t testing.TB, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.alg, func(t *testing.T) {
			data := readVector(t, v.file)
			p, err := continuity.Verify(data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Appliance != "app-1" || p.Tenant != "acme" || p.Key != v.key || p.Alg != v.alg ||
				p.Old.Version != 1 || p.New.Version != 2 || p.Old.KeyID != v.oldID || p.New.KeyID != v.newID ||
				p.CreatedAt != "2026-03-02T09:00:00Z" {
				t.Errorf("proof links other keys: %+v", p)
			}
			if re, err := canon.Marshal(p); err != nil || string(re) != string(data) {
				t.Errorf("proof does not re-encode to its bytes: %v", err)
			}
		})
	}
}

// TestRejects: each change to a good proof is refused, for the reason the
// case names.
func TestRejects(t *testing.T) {
	good := string(readVector(t, "ed25519.json"))
	goodEC := string(readVector(t, "ecdsa-p256.json"))
	other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)

	// edit changes the decoded proof and encodes it canonically again.
	edit := func(src string, f func(p *continuity.Proof)) string {
		p, err := continuity.Verify([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		f(p)
		out, err := canon.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	for _, c := range []struct {
		name, proof, want string
	}{
		{"too large", good + strings.Repeat(" ", 64<<10), "at most 65536"},
		{"not json", good[:len(good)/2], "canon:"},
		{"unknown field", strings.Replace(good, `"alg":`, `"extra":1,"alg":`, 1), "unknown field"},
		{"duplicate key", strings.Replace(good, `"alg":`, `"tenant":"acme","alg":`, 1), "duplicate"},
		{"type", edit(good, func(p *continuity.Proof) { p.Type = "key_continuity2" }), `type is "key_continuity2"`},
		{"tenant malformed", edit(good, func(p *continuity.Proof) { p.Tenant = "Acme" }), "malformed"},
		{"appliance malformed", edit(good, func(p *continuity.Proof) { p.Appliance = "" }), "malformed"},
		{"created_at", edit(good, func(p *continuity.Proof) { p.CreatedAt = "2026-03-02 09:00:00" }), "created_at"},
		{"versions not consecutive", edit(good, func(p *continuity.Proof) { p.New.Version = 3 }), "versions 1 → 3"},
		{"version 0", edit(good, func(p *continuity.Proof) { p.Old.Version, p.New.Version = 0, 1 }), "versions 0 → 1"},
		{"alg does not sign", edit(good, func(p *continuity.Proof) { p.Alg = string(backend.AES256GCM) }), `"aes-256-gcm" does not sign`},
		{"alg of other keys", edit(good, func(p *continuity.Proof) { p.Alg = string(backend.ECDSAP256) }), "old: ecdsa-p256 public key"},
		{"key id", edit(good, func(p *continuity.Proof) { p.New.KeyID = p.Old.KeyID }), "new: key_id does not match"},
		{"public key base64", edit(good, func(p *continuity.Proof) { p.Old.PublicKey = nonCanonical(t, p.Old.PublicKey) }), "old: public_key: not canonical"},
		{"mldsa key short", edit(good, func(p *continuity.Proof) {
			p.New.MLDSAPublicKey = base64.StdEncoding.EncodeToString(make([]byte, mldsa65.PublicKeySize-1))
		}), "new: mldsa_public_key"},
		{"same key", edit(good, func(p *continuity.Proof) { p.New.PublicKey, p.New.KeyID = p.Old.PublicKey, p.Old.KeyID }), "same key"},
		{"signature dropped", edit(good, func(p *continuity.Proof) { p.Signatures = p.Signatures[:3] }), "3 signatures, want 4"},
		{"signature added", edit(good, func(p *continuity.Proof) { p.Signatures = append(p.Signatures, p.Signatures[0]) }), "5 signatures, want 4"},
		{"roles swapped", edit(good, func(p *continuity.Proof) {
			p.Signatures[0], p.Signatures[1] = p.Signatures[1], p.Signatures[0]
		}), `signature 0 has role "new"`},
		{"signature base64", edit(good, func(p *continuity.Proof) { p.Signatures[1].Sig += "=" }), "signature new: not canonical"},
		{"signature names another key", edit(good, func(p *continuity.Proof) { p.Signatures[3].KeyID = p.Signatures[2].KeyID }), "signature new-mldsa names key"},
		{"signatures exchanged", edit(good, func(p *continuity.Proof) {
			p.Signatures[0].Sig, p.Signatures[1].Sig = p.Signatures[1].Sig, p.Signatures[0].Sig
		}), "signature old does not verify"},
		{"mldsa signature of the other key", edit(good, func(p *continuity.Proof) {
			p.Signatures[2].Sig = p.Signatures[3].Sig
		}), "signature old-mldsa does not verify"},
		{"tenant changed", edit(good, func(p *continuity.Proof) { p.Tenant = "beta" }), "signature old does not verify"},
		{"new key swapped", edit(good, func(p *continuity.Proof) {
			p.New.PublicKey, p.New.KeyID = base64.StdEncoding.EncodeToString(other), keyID(other)
			p.Signatures[1].KeyID = p.New.KeyID
		}), "signature old does not verify"},
		{"ecdsa versions changed", strings.Replace(goodEC, `"version":2`, `"version":3`, 1), "versions 1 → 3"},
		{"ecdsa created_at changed", edit(goodEC, func(p *continuity.Proof) { p.CreatedAt = "2026-03-02T09:00:01Z" }), "signature old does not verify"},
		{"ecdsa mldsa key swapped", edit(goodEC, func(p *continuity.Proof) {
			p.Old.MLDSAPublicKey = p.New.MLDSAPublicKey
		}), "signature old does not verify"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.proof == good || c.proof == goodEC {
				t.Fatal("the change changed nothing")
			}
			_, err := continuity.Verify([]byte(c.proof))
			if err == nil {
				t.Fatal("accepted")
			}
			if _, ok := err.(*continuity.Error); !ok {
				t.Errorf("error %T, want *continuity.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to say %q", err, c.want)
			}
		})
	}
}

// nonCanonical re-encodes the base64 s of a value whose length is not a
// multiple of 3 with a padding bit set: the same bytes, other text.
func nonCanonical(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(s, '=') - 1
	if i < 0 {
		t.Fatalf("%q has no padding", s)
	}
	v := strings.IndexByte(alphabet, s[i])
	return s[:i] + string(alphabet[v|1]) + s[i+1:]
}

func keyID(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestKeyID: a proof's key ids are the hex SHA-256 of the key bytes.
func TestKeyID(t *testing.T) {
	for _, v := range vectors {
		p, err := continuity.Verify(readVector(t, v.file))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(p.Old.PublicKey)
		if got := continuity.KeyID(raw); got != p.Old.KeyID || got != keyID(raw) {
			t.Errorf("%s: KeyID %s, proof says %s", v.file, got, p.Old.KeyID)
		}
	}
}

// TestVerifyTraditionalRefusesOtherKeys: a key of the wrong type, size or
// curve gives false, not a panic.
func TestVerifyTraditionalRefusesOtherKeys(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := []byte("m")
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384sig, err := ecdsa.SignASN1(rand.Reader, p384, sha256Sum(msg))
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&p384.PublicKey, sha256Sum(msg), p384sig) {
		t.Fatal("P-384 signature does not verify by itself")
	}
	if !continuity.VerifyTraditional(backend.Ed25519, pub, msg, sig) {
		t.Fatal("a good Ed25519 signature does not verify")
	}
	for name, c := range map[string]struct {
		alg backend.Algorithm
		pub any
	}{
		"short ed25519 key":   {backend.Ed25519, pub[:31]},
		"ecdsa alg":           {backend.ECDSAP256, pub},
		"nil ecdsa key":       {backend.ECDSAP256, (*ecdsa.PublicKey)(nil)},
		"aes alg":             {backend.AES256GCM, pub},
		"ed25519 alg, no key": {backend.Ed25519, nil},
	} {
		if continuity.VerifyTraditional(c.alg, c.pub, msg, sig) {
			t.Errorf("%s: verified", name)
		}
	}
	if continuity.VerifyTraditional(backend.ECDSAP256, &p384.PublicKey, msg, p384sig) {
		t.Error("a P-384 signature verified as ecdsa-p256")
	}
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
