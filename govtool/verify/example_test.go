package verify_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

// A verifier starts from the pinned root and takes commits oldest first.
// Here a history is built in memory; a CLI or an appliance gets the same
// Commit values from govtool/gitrepo.
func Example() {
	h := vt.New(&testing.T{}, policy.ProfileProduction)
	commits := []verify.Commit{h.Next(h.Genesis()...)}
	p := h.Approve(h.Proposal("acme", "tenant:acme", h.Change("tenant:acme", "create_tenant")...), "po", "so")
	commits = append(commits, h.Next(h.Execute(p)...))
	rogue := h.Approve(h.Proposal("backend", proposal.ScopeGlobal, h.Change(proposal.ScopeGlobal, "backend=pkcs11:pkcs11:token=other")...), "po")
	commits = append(commits, h.Next(h.Execute(rogue)...))

	v := verify.New(h.Pin(), verify.Options{})
	for _, c := range commits {
		r, err := v.Apply(c)
		var ve *verify.Error
		if errors.As(err, &ve) {
			fmt.Println("rejected:", ve.Reason, ve.Path)
			break
		}
		fmt.Printf("accepted: policy v%d, signer set v%d, executed %q\n", r.PolicyVersion, r.SignerSetVersion, r.Executed)
	}
	st := v.State()
	fmt.Println("enforced policy version", st.Policy.Version, "pq_mode of acme", st.Policy.TenantPQMode("acme"))
	// Output:
	// accepted: policy v1, signer set v1, executed ""
	// accepted: policy v2, signer set v1, executed "20260302-acme-020000"
	// rejected: threshold proposals/20260302-backend-040000.json
	// enforced policy version 2 pq_mode of acme hybrid_and
}
