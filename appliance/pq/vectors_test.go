package pq

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// vectorFile is testdata/composite-mldsa.json (provenance in
// testdata/README.md). encoding/json decodes the base64 fields.
type vectorFile struct {
	M     []byte   `json:"m"`
	Ctx   []byte   `json:"ctx"`
	Tests []vector `json:"tests"`
}

type vector struct {
	TcID         string `json:"tcId"`
	PK           []byte `json:"pk"`
	SK           []byte `json:"sk"` // ML-DSA seed || traditional private key
	S            []byte `json:"s"`
	SWithContext []byte `json:"sWithContext"`
}

func loadVectors(t testing.TB) (vectorFile, map[string]vector) {
	t.Helper()
	b, err := os.ReadFile("testdata/composite-mldsa.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	byID := make(map[string]vector)
	for _, v := range f.Tests {
		byID[v.TcID] = v
	}
	for _, id := range []string{"id-ML-DSA-65", string(MLDSA65Ed25519), string(MLDSA65ECDSAP256), string(mldsa44Ed25519.alg)} {
		if _, ok := byID[id]; !ok {
			t.Fatalf("testdata lacks vector %s", id)
		}
	}
	if len(byID) != 4 {
		t.Fatalf("testdata has %d vectors, want 4", len(byID))
	}
	return f, byID
}

// vectorKeys returns the ML-DSA-65 key and traditional signer of a vector.
func vectorKeys(t testing.TB, v vector) (*mldsa65.PublicKey, *mldsa65.PrivateKey, crypto.Signer) {
	t.Helper()
	mpk, msk := KeyFromSeed([32]byte(v.SK[:32]))
	switch Alg(v.TcID) {
	case MLDSA65:
		if len(v.SK) != 32 {
			t.Fatalf("sk is %d bytes", len(v.SK))
		}
		return mpk, msk, nil
	case MLDSA65Ed25519:
		return mpk, msk, ed25519.NewKeyFromSeed(v.SK[32:])
	case MLDSA65ECDSAP256:
		k, err := x509.ParseECPrivateKey(v.SK[32:])
		if err != nil {
			t.Fatal(err)
		}
		return mpk, msk, k
	}
	t.Fatalf("no keys for %s", v.TcID)
	return nil, nil, nil
}

// TestVectors checks every vector: the public key is reproduced byte-exact
// from sk; s (empty ctx) and sWithContext verify, and only with their own
// context; the deterministic parts (Ed25519) are reproduced byte-exact. The
// vectors' ML-DSA parts were made hedged (randomized), so no deterministic
// signer reproduces them: they are checked by verification only.
func TestVectors(t *testing.T) {
	f, byID := loadVectors(t)
	for _, alg := range []Alg{MLDSA65, MLDSA65Ed25519, MLDSA65ECDSAP256} {
		v := byID[string(alg)]
		t.Run(string(alg), func(t *testing.T) {
			mpk, msk, trad := vectorKeys(t, v)
			var tradPub crypto.PublicKey
			if trad != nil {
				tradPub = trad.Public()
			}
			pk, err := PublicKey(alg, mpk, tradPub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pk, v.PK) {
				t.Fatal("public key derived from sk differs from pk")
			}
			if _, _, err := SplitPublicKey(alg, v.PK); err != nil {
				t.Fatal(err)
			}

			for _, c := range []struct {
				name    string
				ctx     []byte
				sig     []byte
				wrong   []byte // the other context
				wantLen int
			}{
				{"s", nil, v.S, f.Ctx, len(v.S)},
				{"sWithContext", f.Ctx, v.SWithContext, nil, len(v.SWithContext)},
			} {
				if err := Verify(alg, v.PK, f.M, c.ctx, c.sig); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
				if err := Verify(alg, v.PK, f.M, c.wrong, c.sig); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("%s under the other context: err = %v, want ErrInvalidSignature", c.name, err)
				}
				if err := Verify(alg, v.PK, append([]byte("x"), f.M...), c.ctx, c.sig); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("%s on another message: err = %v, want ErrInvalidSignature", c.name, err)
				}

				// Sign again from sk: same length class, verifies, and the
				// Ed25519 part is byte-exact.
				var sig []byte
				if alg == MLDSA65 {
					sig, err = SignForMode(ModePQOnly, alg, &MLDSAKey{Public: mpk, Private: msk}, nil, f.M, c.ctx)
				} else {
					sig, err = Sign(alg, &MLDSAKey{Public: mpk, Private: msk}, trad, f.M, c.ctx)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(alg, v.PK, f.M, c.ctx, sig); err != nil {
					t.Errorf("%s re-signed: %v", c.name, err)
				}
				if alg == MLDSA65Ed25519 {
					if !bytes.Equal(sig[mldsa65.SignatureSize:], c.sig[mldsa65.SignatureSize:]) {
						t.Errorf("%s: Ed25519 component not byte-exact", c.name)
					}
					if len(sig) != c.wantLen {
						t.Errorf("%s: length %d, want %d", c.name, len(sig), c.wantLen)
					}
				}
			}
		})
	}

	// id-MLDSA44-Ed25519-SHA512 is not offered to callers; it runs through
	// the same internal code with the ML-DSA-44 parameter set.
	t.Run(string(mldsa44Ed25519.alg), func(t *testing.T) {
		v := byID[string(mldsa44Ed25519.alg)]
		p := mldsa44Ed25519
		mpk, msk := mldsa44.NewKeyFromSeed((*[32]byte)(v.SK[:32]))
		ed := ed25519.NewKeyFromSeed(v.SK[32:])
		pk := append(mpk.Bytes(), ed.Public().(ed25519.PublicKey)...)
		if !bytes.Equal(pk, v.PK) {
			t.Fatal("public key derived from sk differs from pk")
		}
		sign44 := mldsa44Key{mpk, msk}
		for _, c := range []struct {
			name     string
			ctx, sig []byte
		}{{"s", nil, v.S}, {"sWithContext", f.Ctx, v.SWithContext}} {
			if _, err := verifyForMode(ModeHybridAnd, p, v.PK, f.M, c.ctx, c.sig); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			sig, err := signComposite(p, sign44, ed, f.M, c.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sig[mldsa44.SignatureSize:], c.sig[mldsa44.SignatureSize:]) {
				t.Errorf("%s: Ed25519 component not byte-exact", c.name)
			}
			if _, err := verifyForMode(ModeHybridAnd, p, v.PK, f.M, c.ctx, sig); err != nil {
				t.Errorf("%s re-signed: %v", c.name, err)
			}
		}
		// And it is not reachable through the public API.
		if err := Verify(p.alg, v.PK, f.M, nil, v.S); !errors.Is(err, ErrUnknownAlg) {
			t.Errorf("Verify(%s) err = %v, want ErrUnknownAlg", p.alg, err)
		}
	})
}

// TestDeterministicKAT pins the deterministic (rnd = 0) ML-DSA-65 signatures
// of the vector keys. The upstream vectors are hedged, so these digests are
// this project's own regression values, not third-party ones: they catch a
// change in the message representative, the labels or circl's ML-DSA.
func TestDeterministicKAT(t *testing.T) {
	f, byID := loadVectors(t)
	want := map[Alg][2]string{
		MLDSA65Ed25519: {
			"dda68b9009e02e2b72bc9e82a6813e9629a443f2e386fe4e4a22501f7c184ff4",
			"ecd94c57e439c88375fe299d637f11460e812630e40b1ae62b81d5f1a4dc8695",
		},
		MLDSA65ECDSAP256: {
			"f4c84aecb745abaca2ea72ab139b3954122648fe03421f9877b395c64f189fda",
			"1d80241efc22b963ffa5c985d72a634a8cf135ac4b98a3a94473eaffbf9dbf92",
		},
		MLDSA65: {
			"062d3bfd26e55caf8f32792e64ce8de0a0555f58d4c652131edcac9102341b1a",
			"048dc64a17abd322a0f651384016022a23518f2be2ac00eada2bcaca2659dd6a",
		},
	}
	for alg, w := range want {
		mpk, msk, trad := vectorKeys(t, byID[string(alg)])
		det := deterministicMLDSA65{&MLDSAKey{Public: mpk, Private: msk}}
		for i, ctx := range [][]byte{nil, f.Ctx} {
			var sig []byte
			var err error
			if alg == MLDSA65 {
				sig, err = signMLDSA(algs[alg], det, f.M, ctx)
			} else {
				sig, err = signComposite(algs[alg], det, trad, f.M, ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256(sig[:mldsa65.SignatureSize])
			if got := hex.EncodeToString(d[:]); got != w[i] {
				t.Errorf("%s ctx#%d: SHA-256(ML-DSA part) = %s, want %s", alg, i, got, w[i])
			}
		}
	}
}

// mldsa44Key signs with ML-DSA-44, for the id-MLDSA44-Ed25519-SHA512 vector.
type mldsa44Key struct {
	pub  *mldsa44.PublicKey
	priv *mldsa44.PrivateKey
}

func (k mldsa44Key) sign(msg, ctx []byte) ([]byte, error) {
	sig := make([]byte, mldsa44.SignatureSize)
	return sig, mldsa44.SignTo(k.priv, msg, ctx, true, sig)
}

func (k mldsa44Key) verify(msg, ctx, sig []byte) bool {
	return len(sig) == mldsa44.SignatureSize && mldsa44.Verify(k.pub, msg, ctx, sig)
}

// deterministicMLDSA65 signs with rnd = 0 (FIPS 204's deterministic
// variant), so its signatures can be pinned.
type deterministicMLDSA65 struct{ *MLDSAKey }

func (k deterministicMLDSA65) sign(msg, ctx []byte) ([]byte, error) {
	sig := make([]byte, mldsa65.SignatureSize)
	return sig, mldsa65.SignTo(k.Private, msg, ctx, false, sig)
}
