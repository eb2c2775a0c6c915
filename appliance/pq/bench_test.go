package pq

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// The composite benchmarks report "x-bare": their time per operation over
// the sum of the bare ML-DSA-65 and bare traditional times measured in the
// same run (the bare sub-benchmarks run first). 1.0 means composite costs
// nothing beyond its two components. Composite signing also verifies both
// halves before it returns (a fault countermeasure), which the bare signing
// times do not; check/mldsa65 is the ML-DSA-65 half of that check alone.

func BenchmarkSign(b *testing.B) {
	ed, ec, k := benchKeys(b)
	bare := benchTimes{}
	bare.run(b, "bare/ed25519", func() { ed25519.Sign(ed.trad.(ed25519.PrivateKey), msg) })
	bare.run(b, "bare/ecdsa-p256", func() {
		d := sha256.Sum256(msg)
		if _, err := ecdsa.SignASN1(rand.Reader, ec.trad.(*ecdsa.PrivateKey), d[:]); err != nil {
			b.Fatal(err)
		}
	})
	bare.run(b, "bare/mldsa65", func() {
		sig := make([]byte, mldsa65.SignatureSize)
		if err := mldsa65.SignTo(k.ml.Private, msg, ctx, true, sig); err != nil {
			b.Fatal(err)
		}
	})
	mlSig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k.ml.Private, msg, ctx, true, mlSig); err != nil {
		b.Fatal(err)
	}
	bare.run(b, "check/mldsa65", func() {
		if !k.ml.verify(msg, ctx, mlSig) {
			b.Fatal("bad")
		}
	})
	for _, kk := range []key{ed, ec} {
		name := map[Alg]string{MLDSA65Ed25519: "ed25519", MLDSA65ECDSAP256: "ecdsa-p256"}[kk.alg]
		bare.runComposite(b, "composite/"+name, "bare/"+name, func() {
			if _, err := Sign(kk.alg, kk.ml, kk.trad, msg, ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	ed, ec, k := benchKeys(b)
	edPub := ed.trad.Public().(ed25519.PublicKey)
	edSig := ed25519.Sign(ed.trad.(ed25519.PrivateKey), msg)
	d := sha256.Sum256(msg)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ec.trad.(*ecdsa.PrivateKey), d[:])
	mlPub := k.pub
	mlSig := make([]byte, mldsa65.SignatureSize)
	_ = mldsa65.SignTo(k.ml.Private, msg, ctx, true, mlSig)

	bare := benchTimes{}
	bare.run(b, "bare/ed25519", func() {
		if !ed25519.Verify(edPub, msg, edSig) {
			b.Fatal("bad")
		}
	})
	bare.run(b, "bare/ecdsa-p256", func() {
		d := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&ec.trad.(*ecdsa.PrivateKey).PublicKey, d[:], ecSig) {
			b.Fatal("bad")
		}
	})
	// Bare ML-DSA-65 verification from the encoded key, as a verifier
	// holding only bytes must do.
	bare.run(b, "bare/mldsa65", func() {
		var pk mldsa65.PublicKey
		if pk.UnmarshalBinary(mlPub) != nil || !mldsa65.Verify(&pk, msg, ctx, mlSig) {
			b.Fatal("bad")
		}
	})
	for _, kk := range []key{ed, ec} {
		name := map[Alg]string{MLDSA65Ed25519: "ed25519", MLDSA65ECDSAP256: "ecdsa-p256"}[kk.alg]
		sig := mustSign(b, kk, msg, ctx)
		bare.runComposite(b, "composite/"+name, "bare/"+name, func() {
			if err := Verify(kk.alg, kk.pub, msg, ctx, sig); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func benchKeys(b *testing.B) (ed, ec, plain key) {
	return vectorKey(b, MLDSA65Ed25519), vectorKey(b, MLDSA65ECDSAP256), vectorKey(b, MLDSA65)
}

// benchTimes records the time per operation of the bare sub-benchmarks.
type benchTimes map[string]time.Duration

func (bt benchTimes) run(b *testing.B, name string, op func()) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			op()
		}
		bt[name] = b.Elapsed() / time.Duration(b.N)
	})
}

func (bt benchTimes) runComposite(b *testing.B, name, tradName string, op func()) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			op()
		}
		trad, okT := bt[tradName]
		ml, okM := bt["bare/mldsa65"]
		if okT && okM && b.N > 0 {
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(trad+ml), "x-bare")
		}
	})
}
