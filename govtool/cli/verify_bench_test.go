package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

const (
	benchCommits   = 1000 // commits after the genesis
	benchPerCommit = 10   // proposals each commit adds: 10,000 in all
)

// benchRepo is a generated governance repository and what a bare check of
// its signatures needs.
type benchRepo struct {
	dir  string
	pin  string
	now  time.Time
	prev gitrepo.Hash // the commit before HEAD
	// The same Ed25519 verifications and SHA-256 hashing as verification
	// does: each proposal's canonical bytes (its digest's input) and its
	// three signatures over "ron-kms/v1 proposal <digest>".
	canonical [][]byte
	pubs      []ed25519.PublicKey
	msgs      [][]byte
	sigs      [][]byte
}

// makeBenchRepo writes, with gitrepo's own plumbing (CommitToBranch on a
// bare repository: no git process per commit; one `git gc` packs it as a
// clone would be), a genesis commit and
// benchCommits commits each adding benchPerCommit sensitive proposals
// signed by the three quorum members. The last commit also executes one
// proposal of the commit before it, so that the incremental step is a
// whole governance step.
func makeBenchRepo(b *testing.B) *benchRepo {
	ctx := context.Background()
	dir, _ := gittest.NewBare(b)
	repo, err := gitrepo.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	h := vt.New(b, policy.ProfileProduction)
	br := &benchRepo{dir: dir}
	keys := map[string]ed25519.PublicKey{}
	var parent gitrepo.Hash
	write := func(msg string, changes []verify.Change) {
		c := h.Next(changes...)
		sig := gitrepo.Signature{Name: "Bench Signer", Email: "bench@example.org", When: c.Time}
		next, err := repo.CommitToBranch(ctx, "main", parent, vt.Files(c.Changes), msg, sig)
		if err != nil {
			b.Fatal(err)
		}
		br.prev, parent = parent, next
	}
	write("genesis", h.Genesis())
	br.pin = h.Pin()
	set, _ := h.Set()
	for _, m := range set.Members {
		pub, _ := m.PublicKeyBytes()
		keys[m.KeyID] = pub
	}
	ops := h.Change(proposal.ScopeGlobal, "pq_default=hybrid_or")
	var last []*proposal.Proposal
	for i := range benchCommits {
		var changes []verify.Change
		if i == benchCommits-1 {
			changes = append(changes, h.Execute(last[0])...)
		}
		last = last[:0]
		for range benchPerCommit {
			p := h.Approve(h.Proposal("bench", proposal.ScopeGlobal, ops...), "po", "so", "cust")
			last = append(last, p)
			changes = append(changes, vt.ProposalChange(b, p))
			tree, err := canon.ToTree(p)
			if err != nil {
				b.Fatal(err)
			}
			delete(tree.(canon.Object), "signatures")
			cb, err := canon.Canonical(tree)
			if err != nil {
				b.Fatal(err)
			}
			br.canonical = append(br.canonical, cb)
			d := "sha256:" + hexOf(sha256.Sum256(cb))
			if want, _ := p.Digest(); d != want {
				b.Fatalf("canonical bytes digest to %s, want %s", d, want)
			}
			msg, err := envelope.Message(proposal.Type, d)
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range p.Signatures {
				raw, _ := base64.StdEncoding.DecodeString(s.Sig)
				br.pubs, br.msgs, br.sigs = append(br.pubs, keys[s.KeyID]), append(br.msgs, msg), append(br.sigs, raw)
			}
		}
		write("add proposals", changes)
	}
	br.now = h.Clock
	// Pack it, as a clone (what CI and appliances verify) is packed.
	gittest.Git(b, dir, "gc", "-q")
	return br
}

func hexOf(sum [sha256.Size]byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(sum))
	for i, x := range sum {
		out[2*i], out[2*i+1] = digits[x>>4], digits[x&15]
	}
	return string(out)
}

// bare does the same Ed25519 verifications and SHA-256 hashing, and nothing
// else.
func (br *benchRepo) bare(b *testing.B) {
	for _, c := range br.canonical {
		_ = sha256.Sum256(c)
	}
	for i := range br.sigs {
		if !ed25519.Verify(br.pubs[i], br.msgs[i], br.sigs[i]) {
			b.Fatal("bare verify failed")
		}
	}
}

// BenchmarkVerifyRepo runs `govtool verify` (in process, --format github as
// CI does, no job summary) over a generated repository of 10,000 proposals ×
// 3 signatures in 1,000 commits, and in the same run the bare cost of the
// same Ed25519 verifications and SHA-256 hashing. It reports
//
//	ratio           verify time / bare time (goal ≤ 1.5)
//	incremental-ms  verifying one new commit (10 proposals added, one
//	                executed) on top of a verified head, as an appliance or
//	                a long-running verifier does (goal < 50 ms)
func BenchmarkVerifyRepo(b *testing.B) {
	gen := time.Now()
	br := makeBenchRepo(b)
	b.Logf("generated %d commits, %d proposals, %d signatures in %v", benchCommits+1, len(br.canonical), len(br.sigs), time.Since(gen).Round(time.Millisecond))
	args := []string{"verify", "-C", br.dir, "--root", br.pin, "--now", utc3339(br.now), "--format", "github"}

	// The verifier at the commit before HEAD, for the incremental step.
	ctx := context.Background()
	repo, err := gitrepo.Open(br.dir)
	if err != nil {
		b.Fatal(err)
	}
	head, err := repo.Resolve("HEAD")
	if err != nil {
		b.Fatal(err)
	}
	atPrev := verify.New(br.pin, verify.Options{Now: br.now})
	if _, err := history.Verify(ctx, repo, atPrev, br.prev, history.Options{}); err != nil {
		b.Fatal(err)
	}

	var tVerify, tBare, tIncr time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		var out, errb bytes.Buffer
		if code := Main(args, nil, &out, &errb); code != ExitOK {
			b.Fatalf("govtool verify exited %d: %s%s", code, out.String(), errb.String())
		}
		t1 := time.Now()
		br.bare(b)
		t2 := time.Now()
		v := atPrev.Clone()
		steps, err := history.Verify(ctx, repo, v, head, history.Options{AllNew: true})
		if err != nil || len(steps) != 1 || steps[0].Report.Executed == "" {
			b.Fatalf("incremental step: %d steps, %v", len(steps), err)
		}
		t3 := time.Now()
		tVerify += t1.Sub(t0)
		tBare += t2.Sub(t1)
		tIncr += t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tVerify)/float64(tBare), "ratio")
	b.ReportMetric(float64(tBare.Milliseconds())/n, "bare-ms/op")
	b.ReportMetric(float64(tIncr.Microseconds())/1000/n, "incremental-ms")
}
