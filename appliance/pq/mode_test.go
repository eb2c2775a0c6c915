package pq

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

var allModes = []Mode{ModeOff, ModeHybridOr, ModeHybridAnd, ModePQOnly}

func TestParseMode(t *testing.T) {
	for _, m := range allModes {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, s := range []string{"", "OFF", "Hybrid_And", " hybrid_and", "hybrid_and\n", "hybrid-and", "hybrid", "pq-only", "hybrid_and,pq_only"} {
		if m, err := ParseMode(s); !errors.Is(err, ErrUnknownMode) || m != "" {
			t.Errorf("ParseMode(%q) = %q, %v; want ErrUnknownMode", s, m, err)
		}
	}
	if DefaultMode != ModeHybridAnd {
		t.Errorf("DefaultMode = %s, want hybrid_and", DefaultMode)
	}
}

// TestModeRoundTrip signs in every mode and checks which modes accept.
func TestModeRoundTrip(t *testing.T) {
	for _, alg := range compositeAlgs {
		k := vectorKey(t, alg)
		for _, signMode := range allModes {
			c := ctx
			if signMode == ModeOff {
				c = nil
			}
			sig, err := SignForMode(signMode, alg, k.ml, k.trad, msg, c)
			if err != nil {
				t.Fatalf("%s %s: %v", alg, signMode, err)
			}
			for _, verifyMode := range allModes {
				res, err := VerifyForMode(verifyMode, alg, k.pub, msg, c, sig)
				compatible := signMode == verifyMode ||
					(signMode == ModeHybridOr || signMode == ModeHybridAnd) && (verifyMode == ModeHybridOr || verifyMode == ModeHybridAnd)
				switch {
				case verifyMode == ModeOff && len(c) > 0:
					if !errors.Is(err, ErrContextUnsupported) {
						t.Errorf("%s signed %s, verified off with ctx: %v", alg, signMode, err)
					}
				case compatible && err != nil:
					t.Errorf("%s signed %s, verified %s: %v", alg, signMode, verifyMode, err)
				case !compatible && !errors.Is(err, ErrInvalidSignature):
					t.Errorf("%s signed %s, verified %s: err = %v, want ErrInvalidSignature", alg, signMode, verifyMode, err)
				case err == nil:
					want := Result{Mode: verifyMode, Alg: alg,
						MLDSA:       verifyMode != ModeOff,
						Traditional: verifyMode != ModePQOnly,
						NonStandard: verifyMode == ModeHybridOr}
					if res != want {
						t.Errorf("%s %s: result %+v, want %+v", alg, verifyMode, res, want)
					}
				}
			}
		}
	}
}

func TestModeSignatureShapes(t *testing.T) {
	k := vectorKey(t, MLDSA65Ed25519)
	off, _ := SignForMode(ModeOff, k.alg, nil, k.trad, msg, nil)
	if !bytes.Equal(off, ed25519.Sign(k.trad.(ed25519.PrivateKey), msg)) {
		t.Error("off: not a plain Ed25519 signature of the message")
	}
	pq, _ := SignForMode(ModePQOnly, k.alg, k.ml, nil, msg, ctx)
	if !mldsa65.Verify(k.ml.Public, msg, ctx, pq) {
		t.Error("pq_only: not a plain ML-DSA-65 signature of the message")
	}
	for _, m := range []Mode{ModeHybridOr, ModeHybridAnd} {
		sig, _ := SignForMode(m, k.alg, k.ml, k.trad, msg, ctx)
		if err := Verify(k.alg, k.pub, msg, ctx, sig); err != nil {
			t.Errorf("%s does not make a standard composite signature: %v", m, err)
		}
	}
}

// TestHybridOr: exactly one valid component passes hybrid_or, flagged
// non-standard, and fails hybrid_and; none valid fails both.
func TestHybridOr(t *testing.T) {
	for _, alg := range compositeAlgs {
		k := vectorKey(t, alg)
		sig := mustSign(t, k, msg, ctx)
		badTrad := flip(sig, len(sig)-1)
		badML := flip(sig, 10)
		for _, c := range []struct {
			name        string
			sig         []byte
			ml, trad    bool
			failedUnder []Component
		}{
			{"ML-DSA valid, traditional invalid", badTrad, true, false, []Component{ComponentTraditional}},
			{"traditional valid, ML-DSA invalid", badML, false, true, []Component{ComponentMLDSA}},
		} {
			_, err := VerifyForMode(ModeHybridAnd, alg, k.pub, msg, ctx, c.sig)
			wantComponentError(t, err, c.failedUnder...)
			res, err := VerifyForMode(ModeHybridOr, alg, k.pub, msg, ctx, c.sig)
			if err != nil {
				t.Fatalf("%s %s under hybrid_or: %v", alg, c.name, err)
			}
			if !res.NonStandard || res.MLDSA != c.ml || res.Traditional != c.trad || res.Mode != ModeHybridOr {
				t.Errorf("%s %s: %+v", alg, c.name, res)
			}
		}
		both := flip(badTrad, 10)
		_, err := VerifyForMode(ModeHybridOr, alg, k.pub, msg, ctx, both)
		wantComponentError(t, err, ComponentMLDSA, ComponentTraditional)
		// Structure is enforced under hybrid_or too.
		_, err = VerifyForMode(ModeHybridOr, alg, k.pub, msg, ctx, append(bytes.Clone(sig), 0))
		wantMalformed(t, err)
		_, err = VerifyForMode(ModeHybridOr, alg, k.pub, msg, ctx, sig[:mldsa65.SignatureSize])
		wantMalformed(t, err)
	}
}

// TestStrippedComponents: a component cut from a composite signature signs
// M', which begins with the composite prefix; off and pq_only refuse such
// messages, so the stripped component cannot pass on its own.
func TestStrippedComponents(t *testing.T) {
	for _, alg := range compositeAlgs {
		k := vectorKey(t, alg)
		p := algs[alg]
		sig := mustSign(t, k, msg, nil)
		m := messageRepresentative(p, msg, nil)
		ml, trad := sig[:mldsa65.SignatureSize], sig[mldsa65.SignatureSize:]

		// The attack is real without the check...
		tk, _ := parseTradPublicKey(p, k.pub[mldsa65.PublicKeySize:])
		if !verifyTrad(p, tk, m, trad) || !mldsa65Set.verify(k.pub[:mldsa65.PublicKeySize], m, []byte(p.label), ml) {
			t.Fatal("stripped components do not verify on M' at all; test is vacuous")
		}
		// ...and the check stops it.
		if _, err := VerifyForMode(ModeOff, alg, k.pub, m, nil, trad); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: stripped traditional component under off: %v", alg, err)
		}
		if _, err := VerifyForMode(ModePQOnly, alg, k.pub, m, []byte(p.label), ml); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: stripped ML-DSA component under pq_only: %v", alg, err)
		}
		if err := Verify(MLDSA65, k.pub[:mldsa65.PublicKeySize], m, []byte(p.label), ml); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: stripped ML-DSA component as plain ML-DSA-65: %v", alg, err)
		}
		// Signing such a message alone is refused.
		if _, err := SignForMode(ModeOff, alg, nil, k.trad, m, nil); !errors.Is(err, ErrPrefixedMessage) {
			t.Errorf("%s: off sign of prefixed message: %v", alg, err)
		}
		if _, err := SignForMode(ModePQOnly, alg, k.ml, nil, m, nil); !errors.Is(err, ErrPrefixedMessage) {
			t.Errorf("%s: pq_only sign of prefixed message: %v", alg, err)
		}
		// A composite signature of such a message is fine.
		if _, err := SignForMode(ModeHybridAnd, alg, k.ml, k.trad, m, nil); err != nil {
			t.Errorf("%s: composite sign of prefixed message: %v", alg, err)
		}
	}
}

func TestModeErrors(t *testing.T) {
	ed := vectorKey(t, MLDSA65Ed25519)
	plain := vectorKey(t, MLDSA65)
	sig := mustSign(t, ed, msg, nil)

	for _, m := range []Mode{ModeOff, ModeHybridOr, ModeHybridAnd} {
		if _, err := VerifyForMode(m, MLDSA65, plain.pub, msg, nil, sig); !errors.Is(err, ErrModeAlg) {
			t.Errorf("verify %s with plain ML-DSA-65: %v", m, err)
		}
		if _, err := SignForMode(m, MLDSA65, plain.ml, nil, msg, nil); !errors.Is(err, ErrModeAlg) {
			t.Errorf("sign %s with plain ML-DSA-65: %v", m, err)
		}
	}
	for _, m := range []Mode{"", "HYBRID_AND", "both"} {
		if _, err := VerifyForMode(m, ed.alg, ed.pub, msg, nil, sig); !errors.Is(err, ErrUnknownMode) {
			t.Errorf("verify mode %q: %v", m, err)
		}
		if _, err := SignForMode(m, ed.alg, ed.ml, ed.trad, msg, nil); !errors.Is(err, ErrUnknownMode) {
			t.Errorf("sign mode %q: %v", m, err)
		}
	}
	if _, err := SignForMode(ModeOff, ed.alg, nil, ed.trad, msg, ctx); !errors.Is(err, ErrContextUnsupported) {
		t.Errorf("off with ctx: %v", err)
	}
	if _, err := SignForMode(ModeOff, ed.alg, ed.ml, nil, msg, nil); !errors.Is(err, ErrKeyType) {
		t.Errorf("off without a signer: %v", err)
	}
	if _, err := SignForMode(ModePQOnly, ed.alg, nil, ed.trad, msg, nil); !errors.Is(err, ErrKeyType) {
		t.Errorf("pq_only without an ML-DSA key: %v", err)
	}
	// pq_only with the plain algorithm takes the bare ML-DSA-65 key.
	s, err := SignForMode(ModePQOnly, MLDSA65, plain.ml, nil, msg, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := VerifyForMode(ModePQOnly, MLDSA65, plain.pub, msg, ctx, s); err != nil || !res.MLDSA || res.Traditional || res.NonStandard {
		t.Errorf("pq_only plain: %+v, %v", res, err)
	}
	if _, err := VerifyForMode(ModePQOnly, MLDSA65, plain.pub, msg, ctx, append(s, 0)); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("pq_only trailing byte: %v", err)
	}
}

func TestClassifyTransition(t *testing.T) {
	sensitive := map[[2]Mode]bool{
		{ModeOff, ModePQOnly}:         true,
		{ModeHybridOr, ModePQOnly}:    true,
		{ModeHybridAnd, ModePQOnly}:   true,
		{ModeHybridAnd, ModeHybridOr}: true,
		{ModeHybridAnd, ModeOff}:      true,
		{ModePQOnly, ModeHybridOr}:    true,
		{ModePQOnly, ModeOff}:         true,
	}
	for _, from := range allModes {
		for _, to := range allModes {
			tr, err := ClassifyTransition(from, to)
			if err != nil {
				t.Fatal(err)
			}
			want := sensitive[[2]Mode{from, to}]
			if tr.Sensitive != want || tr.From != from || tr.To != to || (tr.Reason != "") != want {
				t.Errorf("%s → %s: %+v, want sensitive=%v", from, to, tr, want)
			}
		}
	}
	if _, err := ClassifyTransition(ModeOff, "pq"); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("unknown to: %v", err)
	}
	if _, err := ClassifyTransition("", ModeOff); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("unknown from: %v", err)
	}
}
