package capability

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkCheck measures Check of a typical token (decode, HMAC chain,
// caveats, revocation, rps) against one bare HMAC-SHA256 over the token's
// bytes in the same run, and reports the ratio as x-hmac.
func BenchmarkCheck(b *testing.B) {
	e := newEnv(b)
	c := e.mint(b, MintRequest{Tenant: "acme", Ops: []string{OpSign, OpVerify}, Algs: []string{"ed25519"},
		Key: "acme/pay*", TTL: time.Hour, RPS: MaxRPS})
	tok := c.Token()
	var baseline float64 // ns per bare HMAC
	b.Run("hmac-sha256", func(b *testing.B) {
		mac := hmac.New(sha256.New, rootA)
		msg := []byte(tok)
		var sum [sha256.Size]byte
		for b.Loop() {
			mac.Reset()
			mac.Write(msg)
			mac.Sum(sum[:0])
		}
		baseline = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("check", func(b *testing.B) {
		now := t0
		for b.Loop() {
			now = now.Add(time.Microsecond) // one rps token per iteration at MaxRPS
			if _, err := e.checker.Check(tok, signReq, now); err != nil {
				b.Fatal(err)
			}
		}
		if baseline > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "x-hmac")
		}
	})
}
