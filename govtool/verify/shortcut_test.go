package verify_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

// The verifier does not validate policy/policy.json against the schema
// when it equals the replay byte for byte: Replay has validated the same
// value. This test executes a proposal whose result breaks only the schema
// (65 minters; Policy.Validate has no such bound) with a policy file equal
// to that result, and requires the schema rejection all the same.
func TestReplayedPolicyStillMeetsSchema(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	var minters []policy.Minter
	for i := range 65 {
		seed := sha256.Sum256(fmt.Appendf(nil, "minter %d", i))
		pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		minters = append(minters, policy.Minter{KeyID: envelope.KeyID(pub), PublicKey: envelope.EncodePublicKey(pub)})
	}
	tenant := &policy.Tenant{PQMode: policy.PQHybridAnd, Mint: policy.Mint{MaxActive: 10, RatePerMinute: 60, MaxTTLSeconds: 3600},
		Minters: minters, Keys: map[string]policy.Key{}}
	value, err := json.Marshal(tenant)
	if err != nil {
		t.Fatal(err)
	}
	// A sensitive proposal as proposal.New makes it, then given the
	// changeset New would refuse, and signed.
	p := h.Proposal("tenant", global, h.Change(global, "pq_default=hybrid_or")...)
	p.Changeset = []policy.Op{{Op: policy.OpSet, Path: "/tenants/acme", Value: value}}
	h.Approve(p, "po", "so")
	d, _ := p.Digest()
	prev := h.Policy
	next := prev.Clone()
	next.Version++
	next.Previous, _ = prev.Digest()
	next.Applied = &policy.Applied{Proposal: p.ID, Digest: d, ExecutedAt: quorum.FormatTime(h.Clock)}
	next.Signatures = nil
	next.Tenants["acme"] = tenant
	if err := next.Validate(); err != nil {
		t.Fatalf("test premise: Validate refuses the result: %v", err)
	}
	ve := reject(t, v, h.Try(vt.ProposalChange(t, p), verify.Change{Path: policy.Path, After: vt.File(t, next)}), verify.ReasonSchema)
	if !strings.Contains(ve.Error(), "maxItems") {
		t.Errorf("want the schema's maxItems named: %v", ve)
	}
}

// A signature entry is judged by its own bytes every time the file that
// holds it changes: an entry with the key id and role of a signature that
// verified before, over the same digest, but with other signature bytes is
// rejected — whether it replaces the good entry or is added beside it.
func TestSameKeyOtherSignature(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po")
	accept(t, v, h.Next(vt.ProposalChange(t, p)))

	good := p.Signatures[0]
	raw, _ := base64.StdEncoding.DecodeString(good.Sig)
	raw[10] ^= 1
	bad := envelope.Signature{Role: good.Role, KeyID: good.KeyID, Sig: base64.StdEncoding.EncodeToString(raw)}
	// Another key's valid signature over another digest, relabelled.
	other := h.Sign("so", quorum.RoleSecurityOfficer, proposal.Type, "sha256:"+strings.Repeat("ab", 32))
	other.Role, other.KeyID = good.Role, good.KeyID

	for name, sigs := range map[string][]envelope.Signature{
		"replaced":       {bad},
		"added":          {good, bad},
		"added first":    {bad, good},
		"foreign bytes":  {good, other},
		"bad duplicated": {bad, bad},
	} {
		t.Run(name, func(t *testing.T) {
			q := *p
			q.Signatures = sigs
			reject(t, v, h.Try(vt.ProposalChange(t, &q)), verify.ReasonBadSignature)
		})
	}
	// The good entry with a valid new one beside it is accepted.
	r := accept(t, v, h.Next(vt.ProposalChange(t, h.Approve(p, "so"))))
	if len(r.Proposals) != 1 || len(r.Proposals[0].Signed) != 2 {
		t.Errorf("want two signers counted: %+v", r.Proposals)
	}
}
