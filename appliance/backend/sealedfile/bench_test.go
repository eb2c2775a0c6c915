package sealedfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
)

// BenchmarkSign measures signing through the backend against the bare
// standard library in the same loop and reports their ratio.
func BenchmarkSign(b *testing.B) {
	msg := []byte("a governance checkpoint of typical length, some hundred bytes or so, " +
		"signed by the appliance audit key on every checkpoint")
	digest := sha256.Sum256(msg)

	b.Run("ed25519", func(b *testing.B) {
		be := mustOpen(b, Config{Amnesia: true})
		mustGenerate(b, be, "bench/ed/v1", backend.Ed25519)
		s, err := be.Signer(ctx, "bench/ed/v1")
		if err != nil {
			b.Fatal(err)
		}
		_, priv, _ := ed25519.GenerateKey(nil)
		benchRatio(b,
			func() { ed25519.Sign(priv, msg) },
			func() {
				if _, err := s.Sign(nil, msg, crypto.Hash(0)); err != nil {
					b.Fatal(err)
				}
			})
	})

	b.Run("ecdsa-p256", func(b *testing.B) {
		be := mustOpen(b, Config{Amnesia: true})
		mustGenerate(b, be, "bench/ec/v1", backend.ECDSAP256)
		s, err := be.Signer(ctx, "bench/ec/v1")
		if err != nil {
			b.Fatal(err)
		}
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		benchRatio(b,
			func() { ecdsa.SignASN1(rand.Reader, priv, digest[:]) },
			func() {
				if _, err := s.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			})
	})
}

// benchRatio times bare and via in one loop, in alternating order, so both
// see the same machine state, and reports each and via/bare.
func benchRatio(b *testing.B, bare, via func()) {
	var tBare, tVia time.Duration
	timed := func(f func(), total *time.Duration) {
		t0 := time.Now()
		f()
		*total += time.Since(t0)
	}
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			timed(bare, &tBare)
			timed(via, &tVia)
		} else {
			timed(via, &tVia)
			timed(bare, &tBare)
		}
	}
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(tVia.Nanoseconds())/float64(b.N), "backend-ns/op")
	b.ReportMetric(float64(tVia)/float64(tBare), "backend/bare")
}
