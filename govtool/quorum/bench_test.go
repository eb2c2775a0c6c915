package quorum

import (
	"crypto/ed25519"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// BenchmarkTallyOverhead tallies three signatures (two counted, one by an
// operator) over a proposal against a validated signer set, and verifies
// the same three signatures with bare ed25519.Verify, interleaved in one
// run. Metrics are medians per operation (a preempted iteration on a shared
// machine moves a median little); overhead-ratio is Tally over bare, goal
// ≤ 1.10.
func BenchmarkTallyOverhead(b *testing.B) {
	a, c, op := key("a"), key("c"), key("op")
	s := set(1, 2, GenesisPrevious, member(RolePolicyOwner, a), member(RoleSecurityOfficer, key("b")), member(RoleCustodian, c), member(RoleOperator, op))
	if err := s.Validate(); err != nil {
		b.Fatal(err)
	}
	type signed struct {
		pub ed25519.PublicKey
		sig []byte
	}
	var sigs []envelope.Signature
	var raw []signed
	for _, x := range []struct {
		k    ed25519.PrivateKey
		role string
	}{{a, RolePolicyOwner}, {c, RoleCustodian}, {op, RoleOperator}} {
		e, err := envelope.Sign(x.k, x.role, "proposal", digest)
		if err != nil {
			b.Fatal(err)
		}
		sigs = append(sigs, e)
		r, _ := base64.StdEncoding.DecodeString(e.Sig)
		raw = append(raw, signed{x.k.Public().(ed25519.PublicKey), r})
	}
	msg, _ := envelope.Message("proposal", digest)
	bare := make([]time.Duration, 0, b.N)
	full := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for _, r := range raw {
			if !ed25519.Verify(r.pub, msg, r.sig) {
				b.Fatal("bare verify failed")
			}
		}
		t1 := time.Now()
		if t := s.Tally("proposal", digest, sigs); !t.Met() || len(t.Valid) != 3 {
			b.Fatal("tally failed")
		}
		full = append(full, time.Since(t1))
		bare = append(bare, t1.Sub(t0))
	}
	med := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Nanoseconds())
	}
	mb, mf := med(bare), med(full)
	b.ReportMetric(mb, "ns/bare-3-verifies")
	b.ReportMetric(mf, "ns/tally")
	b.ReportMetric(mf/mb, "overhead-ratio")
}
