package verify_test

import (
	"testing"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

// FuzzCommit feeds arbitrary bytes as the proposal and policy files of an
// execution commit to a verifier that has accepted genesis. It must never
// panic, and whatever it accepts must leave a state whose policy is the
// next version, made by a proposal that meets its threshold.
func FuzzCommit(f *testing.F) {
	h := vt.New(f, policy.ProfileProduction)
	genesis := h.Next(h.Genesis()...)
	pin := h.Pin()
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	exec := h.Execute(p)
	commit := h.Next()
	f.Add(exec[0].Path, exec[0].After, exec[1].After)
	f.Add("proposals/20260302-x-000000.json", []byte("{}\n"), []byte("{}\n"))
	f.Fuzz(func(t *testing.T, path string, prop, pol []byte) {
		v := verify.New(pin, verify.Options{})
		if _, err := v.Apply(genesis); err != nil {
			t.Fatal(err)
		}
		c := commit
		c.Changes = []verify.Change{{Path: path, After: prop}, {Path: policy.Path, After: pol}}
		if _, err := v.Apply(c); err != nil {
			if _, ok := err.(*verify.Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		st := v.State()
		if st.Policy.Version != 2 || st.Policy.Applied == nil {
			t.Fatalf("accepted a policy that is not version 2: %+v", st.Policy)
		}
		ps := st.Proposals[st.Policy.Applied.Proposal]
		if ps == nil || ps.Status != verify.StatusExecuted {
			t.Fatal("accepted an execution without an executed proposal")
		}
		set, _ := st.SignerSet()
		if len(ps.Tally.Counted) < set.Threshold && ps.Proposal.Quorum.Class == policy.Sensitive {
			t.Fatal("accepted a sensitive change below threshold")
		}
	})
}
