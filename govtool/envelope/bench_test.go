package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
)

// legs times several functions interleaved, once each per iteration, and
// reports medians: on a shared machine a preempted iteration moves a mean
// a lot and a median little.
type legs struct {
	d [][]time.Duration
}

func (l *legs) run(b *testing.B, fns ...func()) {
	l.d = make([][]time.Duration, len(fns))
	for i := 0; i < b.N; i++ {
		for j, f := range fns {
			t0 := time.Now()
			f()
			l.d[j] = append(l.d[j], time.Since(t0))
		}
	}
}

func (l *legs) median(j int) float64 {
	s := slices.Clone(l.d[j])
	slices.Sort(s)
	return float64(s[len(s)/2].Nanoseconds())
}

// BenchmarkVerifyOverhead verifies the same entry three ways, interleaved
// in one run: a bare ed25519.Verify of the message and signature bytes;
// sigstore's ED25519 verifier, which Verify used before it called
// crypto/ed25519 directly, alone; and Verify itself (shape checks, key id,
// message, ed25519.Verify). Metrics are medians per operation;
// overhead-ratio is Verify over bare (goal ≤ 1.10) and sigstore-ratio the
// sigstore verifier alone over bare.
func BenchmarkVerifyOverhead(b *testing.B) {
	k := testKey(b, "bench")
	pub := k.Public().(ed25519.PublicKey)
	s, err := Sign(k, "custodian", "proposal", digestA)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := Message("proposal", digestA)
	raw, _ := base64.StdEncoding.DecodeString(s.Sig)
	var l legs
	l.run(b,
		func() {
			if !ed25519.Verify(pub, msg, raw) {
				b.Fatal("bare verify failed")
			}
		},
		func() {
			v, err := signature.LoadED25519Verifier(pub)
			if err != nil || v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(msg)) != nil {
				b.Fatal("sigstore verify failed")
			}
		},
		func() {
			if err := Verify(pub, "proposal", digestA, s); err != nil {
				b.Fatal(err)
			}
		})
	bare := l.median(0)
	b.ReportMetric(bare, "ns/bare")
	b.ReportMetric(l.median(1), "ns/sigstore")
	b.ReportMetric(l.median(2), "ns/verify")
	b.ReportMetric(l.median(1)/bare, "sigstore-ratio")
	b.ReportMetric(l.median(2)/bare, "overhead-ratio")
}
