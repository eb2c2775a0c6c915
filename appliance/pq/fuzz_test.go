package pq

import (
	"testing"
)

// FuzzVerify feeds arbitrary keys, messages, contexts and signatures to
// every mode and algorithm. It must never panic, and what it accepts must be
// consistent with the mode. Crashers and regression inputs live in
// testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	vf, byID := loadVectors(f)
	for ai, p := range fuzzParams {
		if p == nil {
			continue
		}
		v := byID[string(p.alg)]
		for mi := range fuzzModes {
			f.Add(uint8(mi), uint8(ai), v.PK, vf.M, []byte(nil), v.S)
			f.Add(uint8(mi), uint8(ai), v.PK, vf.M, vf.Ctx, v.SWithContext)
		}
	}
	f.Fuzz(func(t *testing.T, mi, ai uint8, pub, msg, ctx, sig []byte) {
		mode := fuzzModes[int(mi)%len(fuzzModes)]
		p := fuzzParams[int(ai)%len(fuzzParams)]
		var res Result
		var err error
		if p == nil {
			res, err = VerifyForMode(mode, "id-bogus", pub, msg, ctx, sig)
		} else {
			res, err = verifyForMode(mode, p, pub, msg, ctx, sig)
			if _, ok := algs[p.alg]; ok {
				_, _, _ = SplitPublicKey(p.alg, pub)
				_, _, _ = SplitSignature(p.alg, sig)
			}
		}
		if err != nil {
			if res != (Result{}) {
				t.Fatalf("error %v with non-zero result %+v", err, res)
			}
			return
		}
		if res.Mode != mode || res.Alg != p.alg || res.NonStandard != (mode == ModeHybridOr) {
			t.Fatalf("result %+v for mode %s", res, mode)
		}
		switch mode {
		case ModeOff:
			if res.MLDSA || !res.Traditional {
				t.Fatalf("off: %+v", res)
			}
		case ModePQOnly:
			if !res.MLDSA || res.Traditional {
				t.Fatalf("pq_only: %+v", res)
			}
		case ModeHybridOr:
			if !res.MLDSA && !res.Traditional {
				t.Fatalf("hybrid_or accepted with no valid component: %+v", res)
			}
		case ModeHybridAnd:
			if !res.MLDSA || !res.Traditional {
				t.Fatalf("hybrid_and: %+v", res)
			}
			if _, err := verifyForMode(ModeHybridOr, p, pub, msg, ctx, sig); err != nil {
				t.Fatalf("hybrid_and accepted but hybrid_or rejected: %v", err)
			}
		}
	})
}

var fuzzModes = []Mode{ModeOff, ModeHybridOr, ModeHybridAnd, ModePQOnly, "HYBRID_AND"}

// fuzzParams: the public algorithms, the test-only ML-DSA-44 composite, and
// nil for an unknown algorithm.
var fuzzParams = []*params{algs[MLDSA65Ed25519], algs[MLDSA65ECDSAP256], algs[MLDSA65], mldsa44Ed25519, nil}
