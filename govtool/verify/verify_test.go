package verify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

const global = proposal.ScopeGlobal

// started returns a history and a verifier that has accepted its genesis.
func started(t *testing.T, profile string) (*vt.History, *verify.Verifier) {
	t.Helper()
	h := vt.New(t, profile)
	g := h.Genesis()
	v := verify.New(h.Pin(), verify.Options{})
	accept(t, v, h.Next(g...))
	return h, v
}

func accept(t *testing.T, v *verify.Verifier, c verify.Commit) *verify.Report {
	t.Helper()
	r, err := v.Apply(c)
	if err != nil {
		t.Fatalf("commit %s rejected: %v", c.Hash[len(c.Hash)-4:], err)
	}
	return r
}

// reject applies c and requires an *verify.Error with reason want, and the
// state to be unchanged.
func reject(t *testing.T, v *verify.Verifier, c verify.Commit, want verify.Reason) *verify.Error {
	t.Helper()
	before := v.State()
	_, err := v.Apply(c)
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("want rejection %s, got %v", want, err)
	}
	if ve.Reason != want {
		t.Fatalf("want reason %s, got %s (%v)", want, ve.Reason, err)
	}
	after := v.State()
	if after.Commit != before.Commit || after.PolicyDigest != before.PolicyDigest || len(after.Proposals) != len(before.Proposals) || len(after.SignerSets) != len(before.SignerSets) {
		t.Fatalf("rejected commit changed the state")
	}
	return ve
}

func TestHappyPath(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	st := v.State()
	if st.Policy.Version != 1 || len(st.SignerSets) != 1 || st.Genesis == "" {
		t.Fatalf("after genesis: %+v", st)
	}

	// A non-governance commit is ignored.
	r := accept(t, v, h.Next(verify.Change{Path: "README.md", After: []byte("hello\n")}))
	if r.Governance {
		t.Fatal("README change counted as governance")
	}

	// A tenant (sensitive): proposed unsigned, signed in a later commit,
	// executed in a third.
	p := h.Proposal("create acme", "tenant:acme", h.Change("tenant:acme", "create_tenant")...)
	r = accept(t, v, h.Next(vt.ProposalChange(t, p)))
	if len(r.Proposals) != 1 || r.Proposals[0].Approved || len(r.Proposals[0].Missing) != 3 {
		t.Fatalf("open proposal status: %+v", r.Proposals)
	}
	h.Approve(p, "po", "cust")
	r = accept(t, v, h.Next(vt.ProposalChange(t, p)))
	if ps := r.Proposals[0]; !ps.Approved || ps.Problem != "" || len(ps.Signed) != 2 {
		t.Fatalf("approved proposal status: %+v", ps)
	}
	r = accept(t, v, h.Next(h.Execute(p)...))
	if r.Executed != p.ID || r.PolicyVersion != 2 {
		t.Fatalf("execution report: %+v", r)
	}

	// A key, and the tenant's PQ mode, in one proposal.
	ops := append(h.Change("tenant:acme", "create_key=signing:ed25519"), h.Change("tenant:acme", "pq_mode=pq_only")...)
	p = h.Approve(h.Proposal("acme key and pq", "tenant:acme", ops...), "so", "cust")
	accept(t, v, h.Next(h.Execute(p)...))

	// A parameter within bounds: one operator signature.
	p = h.Approve(h.Proposal("inflight", global, h.Change(global, "inflight_cap=70")...), "op")
	if p.Quorum.Class != policy.Parameter || p.Quorum.Required != 1 {
		t.Fatalf("quorum %+v", p.Quorum)
	}
	accept(t, v, h.Next(h.Execute(p)...))

	// A tenant mint rate within bounds (baseline 60): operator.
	p = h.Approve(h.Proposal("acme rate", "tenant:acme", h.Change("tenant:acme", "mint.rate_per_minute=50")...), "op")
	accept(t, v, h.Next(h.Execute(p)...))

	// Revocations: one security officer or policy owner.
	p = h.Approve(h.Proposal("revoke cap", "tenant:acme", h.Change("tenant:acme", "revoke_capability=cap-0001")...), "so")
	accept(t, v, h.Next(h.Execute(p)...))
	p = h.Approve(h.Proposal("revoke key", "tenant:acme", h.Change("tenant:acme", "revoke_key=signing")...), "po")
	accept(t, v, h.Next(h.Execute(p)...))

	// A rotation: the custodian is replaced, threshold stays 2.
	rot := h.Rotate(vt.Members{{quorum.RolePolicyOwner, "po"}, {quorum.RoleSecurityOfficer, "so"}, {quorum.RoleCustodian, "cust2"}, {quorum.RoleOperator, "op"}},
		2, []string{"po", "so"}, []string{"po", "cust2"}, []string{"po", "so"})
	r = accept(t, v, h.Next(rot...))
	if r.Rotated != 2 || r.SignerSetVersion != 2 {
		t.Fatalf("rotation report: %+v", r)
	}

	// The new custodian signs under version 2; an enrollment with its file.
	p = h.Approve(h.Proposal("enroll", global, h.Change(global, "enroll_appliance=edge-1:sealed-file:edge-1+8e4f0c1a+AbCd:default")...), "cust2", "so")
	accept(t, v, h.Next(h.Execute(p)...))

	// An emergency freeze and its end.
	p = h.Approve(h.Proposal("freeze", global, h.Change(global, "freeze=incident 42")...), "po", "cust2")
	accept(t, v, h.Next(h.Execute(p)...))
	p = h.Approve(h.Proposal("unfreeze", global, h.Change(global, "unfreeze")...), "po", "cust2")
	accept(t, v, h.Next(h.Execute(p)...))

	st = v.State()
	if st.Policy.Version != 11 || len(st.SignerSets) != 2 || st.Appliances["edge-1"].Backend.Kind != "sealed-file" {
		t.Fatalf("final state: version %d, sets %d, appliances %v", st.Policy.Version, len(st.SignerSets), st.Appliances)
	}
	if got, _ := h.Policy.Digest(); got != st.PolicyDigest {
		t.Fatal("verified policy differs from the one built")
	}
	if st.Policy.Tenants["acme"].PQMode != policy.PQOnly || !st.Policy.Tenants["acme"].Keys["signing"].Revoked || st.Policy.Limits.InflightCap != 70 {
		t.Fatalf("policy content: %+v", st.Policy.Tenants["acme"])
	}
	for _, s := range v.Statuses(h.Clock) {
		if s.Status != verify.StatusExecuted {
			t.Errorf("proposal %s: %s", s.ID, s.Status)
		}
	}
}

// Red-team drill: a rogue admin pushes a sensitive change with one signature.
func TestRogueSingleParty(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("attestation off", global, h.Change(global, "backend=pkcs11:pkcs11:token=evil")...), "po")
	ve := reject(t, v, h.Try(h.Execute(p)...), verify.ReasonThreshold)
	var te *quorum.ThresholdError
	if !errors.As(ve, &te) || te.Got != 1 || te.Want != 2 {
		t.Fatalf("want threshold 1 of 2, got %v", ve)
	}
	// Nor can an operator approve it, however many times it signs.
	h2, v2 := started(t, policy.ProfileProduction)
	p = h2.Approve(h2.Proposal("attestation", global, h2.Change(global, "attestation=required")...), "op", "po")
	reject(t, v2, h2.Try(h2.Execute(p)...), verify.ReasonThreshold)
}

// Red-team drill: one key counted twice.
func TestKeyCountedOnce(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "po")
	if len(p.Signatures) != 2 {
		t.Fatal("setup")
	}
	reject(t, v, h.Try(h.Execute(p)...), verify.ReasonThreshold)
}

// Red-team drill: a proposal changed after approval.
func TestChangedAfterApproval(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_and")...), "po", "so")
	accept(t, v, h.Next(vt.ProposalChange(t, p)))
	p.Changeset = h.Change(global, "pq_default=off")
	ve := reject(t, v, h.Try(vt.ProposalChange(t, p)), verify.ReasonBadSignature)
	if !strings.Contains(ve.Error(), "changed after it was signed") {
		t.Errorf("message: %v", ve)
	}
}

// Red-team drill: a signature from a removed signer.
func TestRemovedSigner(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	rot := h.Rotate(vt.Members{{quorum.RolePolicyOwner, "po"}, {quorum.RoleSecurityOfficer, "so"}, {quorum.RoleCustodian, "cust2"}},
		2, []string{"po", "so"}, []string{"po", "so", "cust2"}, []string{"po", "so"})
	accept(t, v, h.Next(rot...))
	p := h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...)
	d, _ := p.Digest()
	p.Signatures = append(p.Signatures, h.Sign("po", quorum.RolePolicyOwner, proposal.Type, d), h.Sign("cust", quorum.RoleCustodian, proposal.Type, d))
	reject(t, v, h.Try(vt.ProposalChange(t, p)), verify.ReasonUnknownSigner)
}

// A proposal approved under the old set cannot execute after a rotation.
func TestStaleSignerSet(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	old := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "cust")
	accept(t, v, h.Next(vt.ProposalChange(t, old)))
	rot := h.Rotate(vt.Members{{quorum.RolePolicyOwner, "po"}, {quorum.RoleSecurityOfficer, "so"}, {quorum.RoleCustodian, "cust2"}},
		2, []string{"po", "so"}, []string{"po", "so", "cust2"}, []string{"po", "so"})
	accept(t, v, h.Next(rot...))
	reject(t, v, h.Try(h.Execute(old)...), verify.ReasonSignerSetMismatch)
}

// Red-team drill: a rotation signed only by the new set.
func TestRotationSignedOnlyByNewSet(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	rot := h.Rotate(vt.Members{{quorum.RolePolicyOwner, "x1"}, {quorum.RoleSecurityOfficer, "x2"}, {quorum.RoleCustodian, "x3"}},
		2, nil, []string{"x1", "x2", "x3"}, []string{"po", "so"})
	ve := reject(t, v, h.Try(rot...), verify.ReasonThreshold)
	if !strings.Contains(ve.Error(), "old set") {
		t.Errorf("message: %v", ve)
	}
}

// Red-team drill: an expired proposal.
func TestExpired(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	accept(t, v, h.Next(vt.ProposalChange(t, p)))
	h.Clock = h.Clock.Add(25 * time.Hour)
	reject(t, v, h.Try(h.Execute(p)...), verify.ReasonExpired)

	// Only the loudly named option lets it through.
	h2 := vt.New(t, policy.ProfileProduction)
	g := h2.Genesis()
	v2 := verify.New(h2.Pin(), verify.Options{AllowExpiredUnsafe: true})
	accept(t, v2, h2.Next(g...))
	p = h2.Approve(h2.Proposal("pq", global, h2.Change(global, "pq_default=hybrid_or")...), "po", "so")
	h2.Clock = h2.Clock.Add(25 * time.Hour)
	accept(t, v2, h2.Next(h2.Execute(p)...))
}

// New commits are judged against Now: a back-dated execution of an expired
// proposal passes the history rules but not ApplyNew.
func TestApplyNewChecksNow(t *testing.T) {
	h := vt.New(t, policy.ProfileProduction)
	g := h.Genesis()
	now := vt.Start.Add(48 * time.Hour)
	v := verify.New(h.Pin(), verify.Options{Now: now})
	accept(t, v, h.Next(g...))
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	c := h.Next(h.Execute(p)...) // dated within the proposal's life
	w := v.Clone()
	if _, err := w.Apply(c); err != nil {
		t.Fatalf("history rules: %v", err)
	}
	_, err := v.ApplyNew(c)
	var ve *verify.Error
	if !errors.As(err, &ve) || ve.Reason != verify.ReasonExpired {
		t.Fatalf("ApplyNew: want expired, got %v", err)
	}
}

func TestParamBoundsAndClass(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	// 64 → 80 is +25 %: Classify makes it sensitive; an author who declares
	// it a parameter change is rejected with param_bounds.
	p := h.Proposal("inflight", global, h.Change(global, "inflight_cap=80")...)
	if p.Quorum.Class != policy.Sensitive || p.Quorum.Required != 2 {
		t.Fatalf("quorum %+v", p.Quorum)
	}
	p.Quorum = proposal.Quorum{Class: policy.Parameter, Required: 1}
	h.Approve(p, "op")
	reject(t, v, h.Try(h.Execute(p)...), verify.ReasonParamBounds)

	// With a threshold it is fine.
	h2, v2 := started(t, policy.ProfileProduction)
	p = h2.Approve(h2.Proposal("inflight", global, h2.Change(global, "inflight_cap=80")...), "po", "so")
	accept(t, v2, h2.Next(h2.Execute(p)...))

	// A sensitive change declared revocation is a class error.
	h3, v3 := started(t, policy.ProfileProduction)
	p = h3.Proposal("pq", global, h3.Change(global, "pq_default=off")...)
	p.Quorum = proposal.Quorum{Class: policy.Revocation, Required: 1}
	h3.Approve(p, "so")
	reject(t, v3, h3.Try(h3.Execute(p)...), verify.ReasonClass)
}

func TestUnclassifiableDenied(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	accept(t, v, h.Next(vt.ProposalChange(t, p)))
	// Hand-craft a proposal whose changeset no rule classifies.
	set, setD := h.Set()
	p2 := *p
	p2.ID = strings.Replace(p.ID, "pq", "pz", 1)
	p2.Changeset = []policy.Op{{Op: policy.OpSet, Path: "/amnesia", Value: []byte("true")}}
	p2.SignerSet = proposal.RefOf(set, setD)
	p2.Signatures = nil
	h.Approve(&p2, "po", "so", "cust")
	prev := h.Policy
	next := prev.Clone()
	next.Version++
	next.Previous, _ = prev.Digest()
	d, _ := p2.Digest()
	next.Applied = &policy.Applied{Proposal: p2.ID, Digest: d, ExecutedAt: quorum.FormatTime(h.Clock)}
	next.Signatures = nil
	reject(t, v, h.Try(vt.ProposalChange(t, &p2), verify.Change{Path: policy.Path, After: vt.File(t, next)}), verify.ReasonClass)
}

func TestReplayMismatch(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	changes := h.Execute(p)
	// Smuggle in a backend slot change beside the approved one.
	tampered := h.Policy.Clone()
	tampered.Backend.Slot = "evil"
	changes[1].After = vt.File(t, tampered)
	reject(t, v, h.Try(changes...), verify.ReasonReplayMismatch)
}

func TestPolicyVersionAndUnexplained(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	changes := h.Execute(p)
	skip := h.Policy.Clone()
	skip.Version = 3
	reject(t, v, h.Try(vt.ProposalChange(t, p), verify.Change{Path: policy.Path, After: vt.File(t, skip)}), verify.ReasonPolicyVersion)

	// The policy names a proposal that is not in the repository.
	reject(t, v, h.Try(changes[1]), verify.ReasonUnexplainedChange)
	// A stray file in a governance folder.
	reject(t, v, h.Try(verify.Change{Path: "policy/extra.json", After: []byte("{}\n")}), verify.ReasonUnexplainedChange)
	// One whose path is shorter than "proposals/" (it once panicked).
	reject(t, v, h.Try(verify.Change{Path: "policy/x", After: []byte("{}\n")}), verify.ReasonUnexplainedChange)
	// A signer set added by no proposal.
	next := h.SignerSet(2, 2, vt.Members{{quorum.RolePolicyOwner, "po"}, {quorum.RoleSecurityOfficer, "so"}}, h.Pin(), quorum.DefaultLifetime)
	h.SignSet(next, "po", "so")
	reject(t, v, h.Try(verify.Change{Path: verify.SignerSetPath(2), After: vt.File(t, next)}), verify.ReasonUnexplainedChange)
	// The policy deleted.
	reject(t, v, h.Try(verify.Change{Path: policy.Path, Deleted: true}), verify.ReasonUnexplainedChange)
}

func TestDigestMismatch(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	changes := h.Execute(p)
	bad := h.Policy.Clone()
	bad.Applied.Digest = h.Pin()
	changes[1].After = vt.File(t, bad)
	reject(t, v, h.Try(changes...), verify.ReasonDigest)
}

func TestExecutedIsImmutable(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	exec := h.Execute(p)
	accept(t, v, h.Next(exec...))
	h.Approve(p, "cust")
	reject(t, v, h.Try(vt.ProposalChange(t, p)), verify.ReasonExecutedChanged)
	reject(t, v, h.Try(verify.Change{Path: proposal.FilePath(p.ID), Deleted: true}), verify.ReasonExecutedChanged)

	// Executing it again (a replay of the same approval).
	again, err := proposal.Execute(h.Policy, p, h.Clock)
	if err == nil {
		reject(t, v, h.Try(verify.Change{Path: policy.Path, After: vt.File(t, again)}), verify.ReasonAlreadyExecuted)
	} else {
		// pq_default=hybrid_or applies twice; if it ever did not, build by hand.
		t.Fatalf("setup: %v", err)
	}
}

func TestPinnedRootAndGenesis(t *testing.T) {
	h := vt.New(t, policy.ProfileProduction)
	g := h.Genesis()
	other := vt.New(t, policy.ProfileMicronode)
	other.Genesis()
	v := verify.New(other.Pin(), verify.Options{})
	reject(t, v, h.Try(g...), verify.ReasonPinnedRoot)

	// A genesis policy signed by one member only.
	h = vt.New(t, policy.ProfileProduction)
	g = h.Genesis()
	h.Policy.Signatures = h.Policy.Signatures[:1]
	g[1].After = vt.File(t, h.Policy)
	v = verify.New(h.Pin(), verify.Options{})
	reject(t, v, h.Try(g...), verify.ReasonThreshold)

	// Pre-genesis commits without governance files are fine; a proposal
	// before genesis is not.
	h = vt.New(t, policy.ProfileProduction)
	g = h.Genesis()
	v = verify.New(h.Pin(), verify.Options{})
	accept(t, v, h.Next(verify.Change{Path: "README.md", After: []byte("x\n")}))
	reject(t, v, h.Try(verify.Change{Path: "proposals/20260302-x-000000.json", After: []byte("{}\n")}), verify.ReasonUnexplainedChange)
	if r := accept(t, v, h.Next(g...)); !r.Genesis {
		t.Fatal("genesis after a plain commit not reported")
	}
}

func TestNotFastForward(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	c := h.Next(verify.Change{Path: "README.md", After: []byte("x\n")})
	c.Parents = []string{strings.Repeat("f", 40)}
	reject(t, v, c, verify.ReasonNotFastForward)
	// The first commit must be a root.
	h2 := vt.New(t, policy.ProfileProduction)
	g := h2.Genesis()
	c = h2.Next(g...)
	c.Parents = []string{strings.Repeat("e", 40)}
	reject(t, verify.New(h2.Pin(), verify.Options{}), c, verify.ReasonNotFastForward)
}

func TestFileFormSchemaMalformed(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...)
	pc := vt.ProposalChange(t, p)
	compact := strings.Join(strings.Fields(string(pc.After)), "")
	reject(t, v, h.Try(verify.Change{Path: pc.Path, After: []byte(compact)}), verify.ReasonNotFileForm)

	dup := strings.Replace(string(pc.After), "{\n", "{\n  \"author\": \"x\",\n", 1)
	reject(t, v, h.Try(verify.Change{Path: pc.Path, After: []byte(dup)}), verify.ReasonMalformed)

	// A proposal without a rationale breaks its schema.
	q := *p
	q.Rationale = ""
	b := vt.File(t, &q)
	reject(t, v, h.Try(verify.Change{Path: pc.Path, After: b}), verify.ReasonSchema)

	reject(t, v, verify.Commit{}, verify.ReasonMalformed)
	reject(t, v, h.Try(verify.Change{Path: "Policy/policy.json", After: []byte("{}\n")}), verify.ReasonMalformed)
	reject(t, v, h.Try(verify.Change{Path: "proposals/x.json", After: []byte("{}\n")}), verify.ReasonMalformed)
}

func TestClock(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	changes := h.Execute(p)
	// An execution recorded before the commit that lands it is refused.
	early := h.Try(changes...)
	early.Time = early.Time.Add(-2 * time.Hour)
	reject(t, v, early, verify.ReasonClock)
	// Landed later than written (a pull request merged two hours on, within
	// the proposal's lifetime): accepted.
	late := h.Next(changes...)
	late.Time = late.Time.Add(2 * time.Hour)
	if _, err := v.Apply(late); err != nil {
		t.Fatalf("execution merged two hours after it was written: %v", err)
	}
}

func TestExecutionLandedAfterExpiry(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	c := h.Try(h.Execute(p)...)
	c.Time = c.Time.Add(25 * time.Hour) // the proposal lives 24h
	reject(t, v, c, verify.ReasonExpired)
}

func TestSignerSetChainAndExpiry(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	set, _ := h.Set()
	// Rewriting version 1.
	set2 := *set
	set2.Threshold = 1
	reject(t, v, h.Try(verify.Change{Path: verify.SignerSetPath(1), After: vt.File(t, &set2)}), verify.ReasonSignerSetChain)

	// A set past expires_at approves nothing.
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	accept(t, v, h.Next(vt.ProposalChange(t, p)))
	exp, _ := quorum.ParseTime(set.ExpiresAt)
	h.Clock = exp.Add(time.Hour)
	ve := reject(t, v, h.Try(h.Execute(p)...), verify.ReasonExpired) // the proposal expired first
	_ = ve
	h2, v2 := started(t, policy.ProfileProduction)
	set, _ = h2.Set()
	exp, _ = quorum.ParseTime(set.ExpiresAt)
	h2.Clock = exp.Add(-time.Minute)
	p = h2.Approve(h2.Proposal("pq", global, h2.Change(global, "pq_default=hybrid_or")...), "po", "so")
	h2.Clock = exp.Add(time.Minute)
	reject(t, v2, h2.Try(h2.Execute(p)...), verify.ReasonSignerSetExpired)
}

func TestMicronodeRotationOverdue(t *testing.T) {
	h, v := started(t, policy.ProfileMicronode)
	// A 1-of-2 micronode: one owner suffices.
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "owner")
	accept(t, v, h.Next(h.Execute(p)...))
	h.Clock = h.Clock.Add(8 * 24 * time.Hour)
	p = h.Approve(h.Proposal("pq2", global, h.Change(global, "pq_default=hybrid_and")...), "owner")
	prev := h.Policy
	reject(t, v, h.Try(h.Execute(p)...), verify.ReasonRotationOverdue)
	h.Policy = prev
	// The rotation itself is allowed, and clears it.
	rot := h.Rotate(vt.Members{{quorum.RoleOwner, "owner"}, {quorum.RoleOwner, "secondary2"}}, 1,
		[]string{"owner"}, []string{"secondary2"}, []string{"owner"})
	accept(t, v, h.Next(rot...))
}

func TestProductionNeedsTwo(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	rot := h.Rotate(vt.Members{{quorum.RolePolicyOwner, "po"}, {quorum.RoleSecurityOfficer, "so"}}, 1,
		[]string{"po", "so"}, []string{"po"}, []string{"po", "so"})
	reject(t, v, h.Try(rot...), verify.ReasonThreshold)
}

func TestAppliances(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Approve(h.Proposal("enroll", global, h.Change(global, "enroll_appliance=edge-1:tpm:edge-1+00000000+Zm9v:0x81000001")...), "po", "so")
	changes := h.Execute(p)
	if len(changes) != 3 {
		t.Fatalf("setup: %d changes", len(changes))
	}
	// Without its file.
	reject(t, v, h.Try(changes[:2]...), verify.ReasonApplianceMismatch)
	// With a file that differs from the entry.
	bad := policy.EnrollmentOf("edge-1", policy.Appliance{Backend: policy.Backend{Kind: "tpm", Slot: "0x81000002"}, AuditPublicKey: "edge-1+00000000+Zm9v"})
	reject(t, v, h.Try(changes[0], changes[1], verify.Change{Path: changes[2].Path, After: vt.File(t, bad)}), verify.ReasonApplianceMismatch)
	// An enrollment file alone.
	reject(t, v, h.Try(changes[2]), verify.ReasonUnexplainedChange)
	accept(t, v, h.Next(changes...))
	if _, ok := v.State().Appliances["edge-1"]; !ok {
		t.Fatal("appliance not enrolled")
	}
	// Removal deletes the file in the executing commit, and only then.
	reject(t, v, h.Try(verify.Change{Path: changes[2].Path, Deleted: true}), verify.ReasonUnexplainedChange)
	p = h.Approve(h.Proposal("remove", global, h.Change(global, "remove_appliance=edge-1")...), "po", "so")
	changes = h.Execute(p)
	reject(t, v, h.Try(changes[:2]...), verify.ReasonApplianceMismatch)
	accept(t, v, h.Next(changes...))
	if _, ok := v.State().Appliances["edge-1"]; ok {
		t.Fatal("appliance still enrolled")
	}
}

func TestCloneIsolates(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	w := v.Clone()
	p := h.Approve(h.Proposal("pq", global, h.Change(global, "pq_default=hybrid_or")...), "po", "so")
	accept(t, w, h.Next(h.Execute(p)...))
	if v.State().Policy.Version != 1 || w.State().Policy.Version != 2 {
		t.Fatal("clone shares state")
	}
}

func TestReasonsAreDistinct(t *testing.T) {
	seen := map[verify.Reason]bool{}
	for _, r := range verify.Reasons {
		if seen[r] {
			t.Errorf("reason %s listed twice", r)
		}
		seen[r] = true
	}
}

func TestEvaluateStatus(t *testing.T) {
	h, v := started(t, policy.ProfileProduction)
	p := h.Proposal("inflight", global, h.Change(global, "inflight_cap=70")...)
	s := v.Evaluate(p, h.Clock)
	if s.Class != policy.Parameter || s.Required != 1 || s.Approved || len(s.Missing) != 1 || s.Missing[0].Role != quorum.RoleOperator {
		t.Fatalf("unsigned parameter change: %+v", s)
	}
	h.Approve(p, "op")
	if s = v.Evaluate(p, h.Clock); !s.Approved || s.Problem != "" || len(s.Signed) != 1 {
		t.Fatalf("signed parameter change: %+v", s)
	}
	if s = v.Evaluate(p, h.Clock.Add(48*time.Hour)); !s.Expired || !strings.Contains(s.Problem, "expired") {
		t.Fatalf("expired: %+v", s)
	}
	// An out-of-scope change does not apply: the status says so.
	q := h.Proposal("pq", global, h.Change(global, "pq_default=off")...)
	q.Changeset[0].Path = "/tenants/nobody/pq_mode"
	if s = v.Evaluate(q, h.Clock); s.Problem == "" {
		t.Fatalf("unclassifiable: %+v", s)
	}
}
