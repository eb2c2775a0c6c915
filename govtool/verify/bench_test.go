package verify_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

type bareCheck struct {
	pubs  []ed25519.PublicKey
	msgs  [][]byte
	sigs  [][]byte
	files [][]byte
}

// benchHistory is genesis plus n commits, each adding and executing one
// sensitive proposal signed by all three quorum members.
func benchHistory(b *testing.B, n int) ([]verify.Commit, string, *bareCheck) {
	h := vt.New(b, policy.ProfileProduction)
	commits := []verify.Commit{h.Next(h.Genesis()...)}
	set, _ := h.Set()
	keys := map[string]ed25519.PublicKey{}
	for _, m := range set.Members {
		pub, _ := m.PublicKeyBytes()
		keys[m.KeyID] = pub
	}
	bare := &bareCheck{}
	modes := []string{policy.PQHybridOr, policy.PQHybridAnd}
	for i := 0; i < n; i++ {
		p := h.Approve(h.Proposal("bench", proposal.ScopeGlobal, h.Change(proposal.ScopeGlobal, "pq_default="+modes[i%2])...), "po", "so", "cust")
		changes := h.Execute(p)
		commits = append(commits, h.Next(changes...))
		d, _ := p.Digest()
		msg, _ := envelope.Message(proposal.Type, d)
		for _, s := range p.Signatures {
			sig, _ := base64.StdEncoding.DecodeString(s.Sig)
			bare.pubs, bare.msgs, bare.sigs = append(bare.pubs, keys[s.KeyID]), append(bare.msgs, msg), append(bare.sigs, sig)
		}
		for _, c := range changes {
			bare.files = append(bare.files, c.After)
		}
	}
	return commits, h.Pin(), bare
}

func (c *bareCheck) run(b *testing.B) {
	for i := range c.sigs {
		if !ed25519.Verify(c.pubs[i], c.msgs[i], c.sigs[i]) {
			b.Fatal("bare verify failed")
		}
	}
	for _, f := range c.files {
		_ = sha256.Sum256(f)
	}
}

// BenchmarkApplyHistory verifies 1,000 proposals × 3 signatures and reports
// the time against the bare ed25519.Verify + SHA-256 of the same signatures
// and files measured in the same run ("ratio"; the goal is ≤ 1.5).
func BenchmarkApplyHistory(b *testing.B) {
	commits, pin, bare := benchHistory(b, 1000)
	var tv, tb time.Duration
	for b.Loop() {
		t0 := time.Now()
		v := verify.New(pin, verify.Options{})
		for _, c := range commits {
			if _, err := v.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		bare.run(b)
		tv += t1.Sub(t0)
		tb += time.Since(t1)
	}
	b.ReportMetric(float64(tv)/float64(tb), "ratio")
	b.ReportMetric(float64(tb.Microseconds())/float64(b.N), "bare-µs/op")
}

// BenchmarkApplyIncremental verifies one new commit (a proposal added and
// executed) on a head that has verified 1,000 such commits, the way an
// appliance or CI does: Clone the verified state, Apply the commit. It
// reports the time of one commit ("ms/commit"; the goal for the whole
// incremental path, Git included, is < 50 ms) and its ratio to the bare
// Ed25519 and SHA-256 work of that commit.
func BenchmarkApplyIncremental(b *testing.B) {
	commits, pin, _ := benchHistory(b, 1001)
	head := verify.New(pin, verify.Options{})
	for _, c := range commits[:len(commits)-1] {
		if _, err := head.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	last := commits[len(commits)-1]
	bare := &bareCheck{}
	st := head.State()
	set, _ := st.SignerSet()
	keys := map[string]ed25519.PublicKey{}
	for _, m := range set.Members {
		pub, _ := m.PublicKeyBytes()
		keys[m.KeyID] = pub
	}
	for _, ch := range last.Changes {
		bare.files = append(bare.files, ch.After)
		if p, err := proposal.Parse(ch.After); err == nil {
			d, _ := p.Digest()
			msg, _ := envelope.Message(proposal.Type, d)
			for _, s := range p.Signatures {
				sig, _ := base64.StdEncoding.DecodeString(s.Sig)
				bare.pubs, bare.msgs, bare.sigs = append(bare.pubs, keys[s.KeyID]), append(bare.msgs, msg), append(bare.sigs, sig)
			}
		}
	}
	if len(bare.sigs) != 3 {
		b.Fatalf("bare: %d signatures, want 3", len(bare.sigs))
	}
	var tv, tb time.Duration
	for b.Loop() {
		t0 := time.Now()
		v := head.Clone()
		if _, err := v.Apply(last); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		bare.run(b)
		tv += t1.Sub(t0)
		tb += time.Since(t1)
	}
	b.ReportMetric(float64(tv)/float64(tb), "ratio")
	b.ReportMetric(float64(tv.Microseconds())/1e3/float64(b.N), "ms/commit")
}
