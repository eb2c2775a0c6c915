package pq

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

var compositeAlgs = []Alg{MLDSA65Ed25519, MLDSA65ECDSAP256}

// key is a test key of one algorithm, from the known-answer vectors.
type key struct {
	alg  Alg
	pub  []byte
	ml   *MLDSAKey
	trad crypto.Signer
}

func vectorKey(t testing.TB, alg Alg) key {
	t.Helper()
	_, byID := loadVectors(t)
	v := byID[string(alg)]
	mpk, msk, trad := vectorKeys(t, v)
	return key{alg: alg, pub: v.PK, ml: &MLDSAKey{Public: mpk, Private: msk}, trad: trad}
}

func mustSign(t testing.TB, k key, msg, ctx []byte) []byte {
	t.Helper()
	sig, err := Sign(k.alg, k.ml, k.trad, msg, ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func wantComponentError(t *testing.T, err error, failed ...Component) {
	t.Helper()
	var ce *ComponentError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ComponentError", err)
	}
	if !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("ComponentError does not match ErrInvalidSignature")
	}
	if len(ce.Failed) != len(failed) {
		t.Fatalf("failed = %v, want %v", ce.Failed, failed)
	}
	for i := range failed {
		if ce.Failed[i] != failed[i] || !ce.Has(failed[i]) {
			t.Fatalf("failed = %v, want %v", ce.Failed, failed)
		}
	}
}

// wantMalformed wants a rejection that is not a ComponentError: the
// signature could not be parsed.
func wantMalformed(t *testing.T, err error) {
	t.Helper()
	var ce *ComponentError
	if !errors.Is(err, ErrInvalidSignature) || errors.As(err, &ce) {
		t.Fatalf("err = %v, want a malformed-signature error", err)
	}
}

var (
	msg = []byte("release v1.2.3 of the appliance")
	ctx = []byte("ron-kms/tenant-a")
)

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range compositeAlgs {
		t.Run(string(alg), func(t *testing.T) {
			k := vectorKey(t, alg)
			for _, c := range [][]byte{nil, {}, ctx, bytes.Repeat([]byte{0xa5}, MaxContextSize)} {
				sig := mustSign(t, k, msg, c)
				if err := Verify(alg, k.pub, msg, c, sig); err != nil {
					t.Fatalf("ctx len %d: %v", len(c), err)
				}
				res, err := VerifyForMode(ModeHybridAnd, alg, k.pub, msg, c, sig)
				if err != nil || !res.MLDSA || !res.Traditional || res.NonStandard {
					t.Fatalf("hybrid_and: %+v, %v", res, err)
				}
			}
			// Hedged: two signatures of one message differ, both verify.
			a, b := mustSign(t, k, msg, ctx), mustSign(t, k, msg, ctx)
			if bytes.Equal(a[:mldsa65.SignatureSize], b[:mldsa65.SignatureSize]) {
				t.Error("ML-DSA part repeated: signing is not hedged")
			}
		})
	}
}

func TestContextTooLong(t *testing.T) {
	k := vectorKey(t, MLDSA65Ed25519)
	long := make([]byte, MaxContextSize+1)
	if _, err := Sign(k.alg, k.ml, k.trad, msg, long); !errors.Is(err, ErrContextTooLong) {
		t.Errorf("Sign: err = %v, want ErrContextTooLong", err)
	}
	sig := mustSign(t, k, msg, nil)
	if err := Verify(k.alg, k.pub, msg, long, sig); !errors.Is(err, ErrContextTooLong) {
		t.Errorf("Verify: err = %v, want ErrContextTooLong", err)
	}
	pk := vectorKey(t, MLDSA65)
	if _, err := SignForMode(ModePQOnly, MLDSA65, pk.ml, nil, msg, long); !errors.Is(err, ErrContextTooLong) {
		t.Errorf("SignForMode pq_only: err = %v, want ErrContextTooLong", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	for _, alg := range compositeAlgs {
		t.Run(string(alg), func(t *testing.T) {
			k := vectorKey(t, alg)
			sig := mustSign(t, k, msg, ctx)
			ml, trad := sig[:mldsa65.SignatureSize], sig[mldsa65.SignatureSize:]

			t.Run("flip ML-DSA bit", func(t *testing.T) {
				for _, i := range []int{0, 1000, mldsa65.SignatureSize - 1} {
					wantBadSig(t, Verify(alg, k.pub, msg, ctx, flip(sig, i)))
				}
				wantComponentError(t, Verify(alg, k.pub, msg, ctx, flip(sig, 0)), ComponentMLDSA)
			})
			t.Run("flip traditional bit", func(t *testing.T) {
				// The last byte is inside s for DER and inside S for Ed25519.
				wantComponentError(t, Verify(alg, k.pub, msg, ctx, flip(sig, len(sig)-1)), ComponentTraditional)
				// Ed25519 R, or the DER header.
				err := Verify(alg, k.pub, msg, ctx, flip(sig, mldsa65.SignatureSize))
				if alg == MLDSA65ECDSAP256 {
					wantMalformed(t, err)
				} else {
					wantComponentError(t, err, ComponentTraditional)
				}
			})
			t.Run("swap components", func(t *testing.T) {
				swapped := append(bytes.Clone(trad), ml...)
				err := Verify(alg, k.pub, msg, ctx, swapped)
				if alg == MLDSA65Ed25519 {
					// Same total length, so it splits; neither part verifies.
					wantComponentError(t, err, ComponentMLDSA, ComponentTraditional)
				} else {
					wantMalformed(t, err)
				}
			})
			t.Run("mix components of two signatures", func(t *testing.T) {
				other := mustSign(t, k, []byte("another message"), ctx)
				mixed := append(bytes.Clone(ml), other[mldsa65.SignatureSize:]...)
				wantComponentError(t, Verify(alg, k.pub, msg, ctx, mixed), ComponentTraditional)
			})
			t.Run("truncated", func(t *testing.T) {
				for _, n := range []int{0, 1, mldsa65.SignatureSize - 1, mldsa65.SignatureSize, len(sig) - 1} {
					wantMalformed(t, Verify(alg, k.pub, msg, ctx, sig[:n]))
				}
			})
			t.Run("trailing bytes", func(t *testing.T) {
				wantMalformed(t, Verify(alg, k.pub, msg, ctx, append(bytes.Clone(sig), 0)))
				wantMalformed(t, Verify(alg, k.pub, msg, ctx, append(bytes.Clone(sig), sig...)))
			})
			t.Run("wrong context or message", func(t *testing.T) {
				wantComponentError(t, Verify(alg, k.pub, msg, nil, sig), ComponentMLDSA, ComponentTraditional)
				wantComponentError(t, Verify(alg, k.pub, msg[1:], ctx, sig), ComponentMLDSA, ComponentTraditional)
			})
			t.Run("wrong label", func(t *testing.T) {
				// Same keys, same construction, another algorithm's label.
				p := *algs[alg]
				p.label = "COMPSIG-MLDSA65-Ed448-SHAKE256"
				forged, err := signComposite(&p, k.ml, k.trad, msg, ctx)
				if err != nil {
					t.Fatal(err)
				}
				wantComponentError(t, Verify(alg, k.pub, msg, ctx, forged), ComponentMLDSA, ComponentTraditional)
			})
			t.Run("wrong algorithm", func(t *testing.T) {
				other := MLDSA65ECDSAP256
				if alg == other {
					other = MLDSA65Ed25519
				}
				if err := Verify(other, k.pub, msg, ctx, sig); !errors.Is(err, ErrMalformedPublicKey) {
					t.Errorf("err = %v, want ErrMalformedPublicKey", err)
				}
				if err := Verify(Alg("id-MLDSA65-Ed25519-SHA512 "), k.pub, msg, ctx, sig); !errors.Is(err, ErrUnknownAlg) {
					t.Errorf("err = %v, want ErrUnknownAlg", err)
				}
				if err := Verify(MLDSA65, k.pub[:mldsa65.PublicKeySize], msg, ctx, ml); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("ML-DSA part as a plain ML-DSA-65 signature: err = %v", err)
				}
			})
			t.Run("malformed public key", func(t *testing.T) {
				for _, pub := range [][]byte{nil, k.pub[:len(k.pub)-1], append(bytes.Clone(k.pub), 0)} {
					if err := Verify(alg, pub, msg, ctx, sig); !errors.Is(err, ErrMalformedPublicKey) {
						t.Errorf("len %d: err = %v, want ErrMalformedPublicKey", len(pub), err)
					}
				}
				if alg == MLDSA65ECDSAP256 {
					off := flip(k.pub, len(k.pub)-1) // no longer on the curve
					if err := Verify(alg, off, msg, ctx, sig); !errors.Is(err, ErrMalformedPublicKey) {
						t.Errorf("point off the curve: err = %v", err)
					}
					comp := bytes.Clone(k.pub)
					comp[mldsa65.PublicKeySize] = 0x02 // compressed tag, wrong length
					if err := Verify(alg, comp, msg, ctx, sig); !errors.Is(err, ErrMalformedPublicKey) {
						t.Errorf("compressed tag: err = %v", err)
					}
				}
			})
		})
	}
}

func wantBadSig(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("err = %v, want ErrInvalidSignature", err)
	}
}

// TestECDSAStrictDER: an ECDSA component must be the one DER encoding of a
// valid (r, s), whatever ecdsa.VerifyASN1 would tolerate.
func TestECDSAStrictDER(t *testing.T) {
	k := vectorKey(t, MLDSA65ECDSAP256)
	sig := mustSign(t, k, msg, ctx)
	ml, der := sig[:mldsa65.SignatureSize], sig[mldsa65.SignatureSize:]
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		t.Fatal(err)
	}
	with := func(trad []byte) []byte { return append(bytes.Clone(ml), trad...) }
	intDER := func(b []byte) []byte { return append([]byte{0x02, byte(len(b))}, b...) }
	seq := func(body []byte) []byte { return append([]byte{0x30, byte(len(body))}, body...) }
	padded := seq(append(intDER(append([]byte{0}, rs.R.Bytes()...)), intDER(rs.S.Bytes())...))
	if rs.R.Bytes()[0]&0x80 != 0 {
		padded = seq(append(intDER(append([]byte{0, 0}, rs.R.Bytes()...)), intDER(rs.S.Bytes())...))
	}
	longLen := append([]byte{0x30, 0x81, der[1]}, der[2:]...)
	n := elliptic.P256().Params().N
	big0, _ := asn1.Marshal(struct{ R, S *big.Int }{rs.R, new(big.Int).Add(rs.S, n)})
	zero, _ := asn1.Marshal(struct{ R, S *big.Int }{rs.R, big.NewInt(0)})
	neg, _ := asn1.Marshal(struct{ R, S *big.Int }{rs.R, new(big.Int).Neg(rs.S)})
	for name, trad := range map[string][]byte{
		"non-minimal integer": padded,
		"long-form length":    longLen,
		"s + n":               big0,
		"s = 0":               zero,
		"negative s":          neg,
		"raw r||s":            append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...),
		"empty":               {},
		"set not sequence":    append([]byte{0x31}, der[1:]...),
	} {
		if err := Verify(k.alg, k.pub, msg, ctx, with(trad)); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: err = %v, want ErrInvalidSignature", name, err)
		} else if _, ok := err.(*ComponentError); ok {
			t.Errorf("%s: err = %v, want a malformed-signature error", name, err)
		}
		if res, err := VerifyForMode(ModeHybridOr, k.alg, k.pub, msg, ctx, with(trad)); err == nil {
			t.Errorf("%s accepted under hybrid_or: %+v", name, res)
		}
	}
}

// TestEd25519NonCanonicalS: S + L is rejected (Go's ed25519 is strict).
func TestEd25519NonCanonicalS(t *testing.T) {
	k := vectorKey(t, MLDSA65Ed25519)
	sig := mustSign(t, k, msg, ctx)
	s := new(big.Int).SetBytes(reverse(sig[len(sig)-32:]))
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s.Add(s, l)
	bad := bytes.Clone(sig)
	copy(bad[len(bad)-32:], reverse(s.FillBytes(make([]byte, 32))))
	wantComponentError(t, Verify(k.alg, k.pub, msg, ctx, bad), ComponentTraditional)
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// faultySigner returns whatever sign returns.
type faultySigner struct {
	pub  crypto.PublicKey
	sign func(digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

func (f faultySigner) Public() crypto.PublicKey { return f.pub }
func (f faultySigner) Sign(_ io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return f.sign(d, o)
}

func TestSignErrors(t *testing.T) {
	ed := vectorKey(t, MLDSA65Ed25519)
	ec := vectorKey(t, MLDSA65ECDSAP256)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	ecKey := ec.trad.(*ecdsa.PrivateKey)

	for _, c := range []struct {
		name string
		alg  Alg
		ml   *MLDSAKey
		trad crypto.Signer
		want error
	}{
		{"ECDSA signer for Ed25519", MLDSA65Ed25519, ed.ml, ec.trad, ErrKeyType},
		{"Ed25519 signer for ECDSA", MLDSA65ECDSAP256, ec.ml, ed.trad, ErrKeyType},
		{"P-384 signer", MLDSA65ECDSAP256, ec.ml, p384, ErrKeyType},
		{"nil signer", MLDSA65Ed25519, ed.ml, nil, ErrKeyType},
		{"nil ML-DSA key", MLDSA65Ed25519, nil, ed.trad, ErrKeyType},
		{"plain ML-DSA alg", MLDSA65, ed.ml, nil, ErrModeAlg},
		{"unknown alg", "id-MLDSA87-Ed448-SHAKE256", ed.ml, ed.trad, ErrUnknownAlg},
		{"signer with a lying public key", MLDSA65Ed25519, ed.ml,
			faultySigner{pub: ed.trad.Public(), sign: func(d []byte, o crypto.SignerOpts) ([]byte, error) {
				return otherEd.Sign(nil, d, o)
			}}, ErrSignerFault},
		{"Ed25519 signer returning garbage", MLDSA65Ed25519, ed.ml,
			faultySigner{pub: ed.trad.Public(), sign: func([]byte, crypto.SignerOpts) ([]byte, error) {
				return make([]byte, 64), nil
			}}, ErrSignerFault},
		{"ECDSA signer returning raw r||s", MLDSA65ECDSAP256, ec.ml,
			faultySigner{pub: ec.trad.Public(), sign: func(d []byte, _ crypto.SignerOpts) ([]byte, error) {
				r, s, err := ecdsa.Sign(rand.Reader, ecKey, d)
				return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), err
			}}, ErrSignerFault},
	} {
		if _, err := Sign(c.alg, c.ml, c.trad, msg, ctx); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}

	// A signer's own error comes back wrapped.
	boom := errors.New("token removed")
	f := faultySigner{pub: ec.trad.Public(), sign: func([]byte, crypto.SignerOpts) ([]byte, error) { return nil, boom }}
	if _, err := Sign(MLDSA65ECDSAP256, ec.ml, f, msg, ctx); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the signer's error", err)
	}

	// The signer sees what the backend contract promises.
	var gotOpts crypto.SignerOpts
	var gotLen int
	spy := faultySigner{pub: ec.trad.Public(), sign: func(d []byte, o crypto.SignerOpts) ([]byte, error) {
		gotOpts, gotLen = o, len(d)
		return ecKey.Sign(rand.Reader, d, o)
	}}
	if _, err := Sign(MLDSA65ECDSAP256, ec.ml, spy, msg, ctx); err != nil {
		t.Fatal(err)
	}
	if gotOpts.HashFunc() != crypto.SHA256 || gotLen != 32 {
		t.Errorf("ECDSA signer got %v and %d bytes, want SHA-256 and a 32-byte digest", gotOpts.HashFunc(), gotLen)
	}
	spy = faultySigner{pub: ed.trad.Public(), sign: func(d []byte, o crypto.SignerOpts) ([]byte, error) {
		gotOpts, gotLen = o, len(d)
		return ed.trad.Sign(nil, d, o)
	}}
	if _, err := Sign(MLDSA65Ed25519, ed.ml, spy, msg, ctx); err != nil {
		t.Fatal(err)
	}
	if wantLen := len(messageRepresentative(algs[MLDSA65Ed25519], msg, ctx)); gotOpts.HashFunc() != 0 || gotLen != wantLen {
		t.Errorf("Ed25519 signer got %v and %d bytes, want Hash(0) and all %d bytes of M'", gotOpts.HashFunc(), gotLen, wantLen)
	}
}

// faultyMLDSA signs with its key, then hands back whatever fault makes of
// the signature; it checks under the key's public key as MLDSAKey does.
type faultyMLDSA struct {
	*MLDSAKey
	fault func(sig []byte) ([]byte, error)
}

func (f faultyMLDSA) sign(msg, ctx []byte) ([]byte, error) {
	sig, err := f.MLDSAKey.sign(msg, ctx)
	if err != nil {
		return nil, err
	}
	return f.fault(sig)
}

// TestMLDSAFaultNotReleased: an ML-DSA-65 signature that does not verify is
// never returned, composite or plain — the ML-DSA half is checked before
// release as the traditional half is — and the traditional signer is not
// asked to sign beside it.
func TestMLDSAFaultNotReleased(t *testing.T) {
	boom := errors.New("fault")
	faults := []struct {
		name  string
		fault func([]byte) ([]byte, error)
		want  error
	}{
		{"one bit flipped", func(s []byte) ([]byte, error) { return flip(s, len(s)/2), nil }, ErrSignerFault},
		{"first byte flipped", func(s []byte) ([]byte, error) { return flip(s, 0), nil }, ErrSignerFault},
		{"zeroed", func(s []byte) ([]byte, error) { return make([]byte, len(s)), nil }, ErrSignerFault},
		{"truncated", func(s []byte) ([]byte, error) { return s[:len(s)-1], nil }, ErrSignerFault},
		{"trailing byte", func(s []byte) ([]byte, error) { return append(s, 0), nil }, ErrSignerFault},
		{"unchanged", func(s []byte) ([]byte, error) { return s, nil }, nil},
		{"signing error", func([]byte) ([]byte, error) { return nil, boom }, boom},
	}
	for _, alg := range append(compositeAlgs, MLDSA65) {
		k := vectorKey(t, alg)
		p := algs[alg]
		for _, f := range faults {
			t.Run(string(alg)+"/"+f.name, func(t *testing.T) {
				ml := faultyMLDSA{k.ml, f.fault}
				var sig []byte
				var err error
				if alg == MLDSA65 {
					sig, err = signMLDSA(p, ml, msg, ctx)
				} else {
					tradCalls := 0
					trad := faultySigner{pub: k.trad.Public(), sign: func(d []byte, o crypto.SignerOpts) ([]byte, error) {
						tradCalls++
						return k.trad.Sign(rand.Reader, d, o)
					}}
					sig, err = signComposite(p, ml, trad, msg, ctx)
					if err != nil && tradCalls != 0 {
						t.Errorf("the traditional signer signed %d times beside a failed ML-DSA half", tradCalls)
					}
				}
				if f.want == nil {
					if err != nil {
						t.Fatal(err)
					}
					if _, err := VerifyForMode(map[bool]Mode{true: ModePQOnly, false: ModeHybridAnd}[alg == MLDSA65], alg, k.pub, msg, ctx, sig); err != nil {
						t.Fatalf("released signature does not verify: %v", err)
					}
					return
				}
				if !errors.Is(err, f.want) || sig != nil {
					t.Fatalf("got %d bytes, err = %v; want nothing and %v", len(sig), err, f.want)
				}
			})
		}
	}
}

// TestMLDSAKeyMismatch: through the public API, an ML-DSA-65 private key
// paired with a public key that is not its own (a seed derived wrongly)
// signs nothing in any mode that uses it; a missing or zero public key is a
// key-type error, not a panic.
func TestMLDSAKeyMismatch(t *testing.T) {
	_, otherPriv := KeyFromSeed([32]byte{0xee})
	for _, alg := range append(compositeAlgs, MLDSA65) {
		k := vectorKey(t, alg)
		modes := []Mode{ModeHybridAnd, ModeHybridOr, ModePQOnly}
		if alg == MLDSA65 {
			modes = []Mode{ModePQOnly}
		}
		for _, m := range modes {
			wrong := &MLDSAKey{Public: k.ml.Public, Private: otherPriv}
			sig, err := SignForMode(m, alg, wrong, k.trad, msg, ctx)
			if !errors.Is(err, ErrSignerFault) || sig != nil {
				t.Errorf("%s %s, foreign private key: got %d bytes, err = %v; want ErrSignerFault", alg, m, len(sig), err)
			}
			for name, bad := range map[string]*MLDSAKey{
				"nil public":  {Private: k.ml.Private},
				"zero public": {Public: new(mldsa65.PublicKey), Private: k.ml.Private},
				"nil private": {Public: k.ml.Public},
			} {
				if _, err := SignForMode(m, alg, bad, k.trad, msg, ctx); !errors.Is(err, ErrKeyType) {
					t.Errorf("%s %s, %s: err = %v, want ErrKeyType", alg, m, name, err)
				}
			}
		}
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	_, byID := loadVectors(t)
	v := byID[string(MLDSA65ECDSAP256)]
	mpk, tpk, err := SplitPublicKey(MLDSA65ECDSAP256, v.PK)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tpk.(*ecdsa.PublicKey); !ok {
		t.Fatalf("traditional key is %T", tpk)
	}
	again, err := PublicKey(MLDSA65ECDSAP256, mpk, tpk)
	if err != nil || !bytes.Equal(again, v.PK) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := PublicKey(MLDSA65Ed25519, mpk, tpk); !errors.Is(err, ErrKeyType) {
		t.Errorf("P-256 key for Ed25519 alg: err = %v", err)
	}
	if _, err := PublicKey(MLDSA65, mpk, tpk); !errors.Is(err, ErrKeyType) {
		t.Errorf("traditional key for plain ML-DSA: err = %v", err)
	}
	if _, err := PublicKey(MLDSA65ECDSAP256, nil, tpk); !errors.Is(err, ErrKeyType) {
		t.Errorf("nil ML-DSA key: err = %v", err)
	}
	if _, err := PublicKey(MLDSA65Ed25519, mpk, ed25519.PublicKey(make([]byte, 31))); !errors.Is(err, ErrKeyType) {
		t.Errorf("short Ed25519 key: err = %v", err)
	}
	plain, err := PublicKey(MLDSA65, mpk, nil)
	if err != nil || len(plain) != mldsa65.PublicKeySize {
		t.Fatalf("plain: %d bytes, %v", len(plain), err)
	}
	if _, tk, err := SplitPublicKey(MLDSA65, plain); err != nil || tk != nil {
		t.Fatalf("split plain: %v, %v", tk, err)
	}
	if _, err := ParseAlg("ID-MLDSA65-ED25519-SHA512"); !errors.Is(err, ErrUnknownAlg) {
		t.Errorf("ParseAlg case-folded: %v", err)
	}
	for _, a := range []Alg{MLDSA65Ed25519, MLDSA65ECDSAP256, MLDSA65} {
		if got, err := ParseAlg(string(a)); err != nil || got != a {
			t.Errorf("ParseAlg(%s) = %s, %v", a, got, err)
		}
	}
	if MLDSA65.Composite() || !MLDSA65Ed25519.Composite() || Alg("x").Composite() {
		t.Error("Composite wrong")
	}
}

func TestSplitSignature(t *testing.T) {
	k := vectorKey(t, MLDSA65Ed25519)
	sig := mustSign(t, k, msg, nil)
	ml, trad, err := SplitSignature(k.alg, sig)
	if err != nil || len(ml) != mldsa65.SignatureSize || len(trad) != ed25519.SignatureSize {
		t.Fatalf("%d, %d, %v", len(ml), len(trad), err)
	}
	if _, _, err := SplitSignature(MLDSA65, sig); !errors.Is(err, ErrModeAlg) {
		t.Errorf("plain alg: %v", err)
	}
	if _, _, err := SplitSignature(k.alg, sig[:100]); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("short: %v", err)
	}
}
