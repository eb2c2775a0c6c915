package verify

import (
	"fmt"
	"slices"
	"time"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// Signer is a signer-set member as status output names it.
type Signer struct {
	Role  string
	KeyID string
}

// ProposalStatus says where a proposal stands: who signed, who is missing,
// and whether it could be executed now — what `govtool status` renders.
type ProposalStatus struct {
	ID     string
	Status Status
	// Class and Required are computed against the policy in force ("" and
	// 0 when the changeset cannot be classified: see Problem).
	Class    policy.Class
	Required int
	// Signed are the distinct keys whose signatures verify, with their roles.
	Signed []Signer
	// Missing are the members whose signature would count and is absent
	// (for a parameter or revocation change: the keys of the roles that may
	// sign it).
	Missing []Signer
	// Rejected describes entries that do not count (duplicates, roles that
	// never count, bad signatures).
	Rejected []string
	// Approved is true when the signatures meet the requirement under the
	// signer set in force.
	Approved  bool
	ExpiresAt string
	Expired   bool
	// Problem says why the proposal cannot be executed as it is ("" when it
	// can, or when it was executed).
	Problem string
	// ExecutedIn and PolicyVersion are set for executed proposals.
	ExecutedIn    string
	PolicyVersion int
}

// Statuses returns the status of every proposal in the verified state at
// time at, sorted by id.
func (v *Verifier) Statuses(at time.Time) []ProposalStatus {
	ids := make([]string, 0, len(v.st.Proposals))
	for id := range v.st.Proposals {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]ProposalStatus, 0, len(ids))
	for _, id := range ids {
		out = append(out, v.status(v.st.Proposals[id], v.st.Policy, at, true))
	}
	return out
}

// Evaluate returns the status of p — a proposal being written or signed,
// not yet committed — against the verified state at time at.
func (v *Verifier) Evaluate(p *proposal.Proposal, at time.Time) ProposalStatus {
	ps := &ProposalState{ID: p.ID, Proposal: p, Status: StatusOpen}
	if old := v.st.Proposals[p.ID]; old != nil && old.Status == StatusExecuted {
		ps = old
	}
	if ps.Status == StatusOpen {
		d, err := p.Digest()
		if err != nil {
			return ProposalStatus{ID: p.ID, Status: StatusOpen, Problem: err.Error()}
		}
		ps.Digest = d
		if r := p.SignerSet; r.Version >= 1 && r.Version <= len(v.st.SignerSets) {
			ps.Tally = v.st.SignerSets[r.Version-1].Tally(proposal.Type, d, p.Signatures)
		}
	}
	return v.status(ps, v.st.Policy, at, true)
}

// signed reports whether s.Signed has keyID. (A handful of signers: a scan
// costs less than a map.)
func (s *ProposalStatus) signed(keyID string) bool {
	return slices.ContainsFunc(s.Signed, func(x Signer) bool { return x.KeyID == keyID })
}

// status computes a proposal's status; replay also tries the changeset on
// pol (costly: Apply reports without it, execution replays anyway).
func (v *Verifier) status(ps *ProposalState, pol *policy.Policy, at time.Time, replay bool) ProposalStatus {
	p := ps.Proposal
	s := ProposalStatus{ID: ps.ID, Status: ps.Status, ExpiresAt: p.ExpiresAt, Expired: p.Expired(at),
		ExecutedIn: ps.ExecutedIn, PolicyVersion: ps.PolicyVersion}
	set, setD := v.st.SignerSet()
	if ps.Tally != nil {
		for _, e := range ps.Tally.Valid {
			if !s.signed(e.KeyID) {
				s.Signed = append(s.Signed, Signer{Role: e.Role, KeyID: e.KeyID})
			}
		}
		for _, r := range ps.Tally.Rejected {
			s.Rejected = append(s.Rejected, r.Error())
		}
	}
	if ps.Status == StatusExecuted || pol == nil || set == nil {
		return s
	}
	problems := []string{}
	class, req, err := proposal.Classify(pol, p)
	if err != nil {
		problems = append(problems, "denied: "+err.Error())
	} else {
		s.Class, s.Required = class, req.Required(set)
		if p.Quorum.Class != class || p.Quorum.Required != s.Required {
			problems = append(problems, fmt.Sprintf("declares quorum %s/%d, needs %s/%d", p.Quorum.Class, p.Quorum.Required, class, s.Required))
		}
		for _, m := range set.Members {
			counts := quorum.IsQuorumRole(m.Role)
			if class != policy.Sensitive {
				counts = slices.Contains(req.Roles, m.Role)
			}
			if counts && !s.signed(m.KeyID) {
				s.Missing = append(s.Missing, Signer{Role: m.Role, KeyID: m.KeyID})
			}
		}
		if ps.Tally != nil && p.SignerSet.Names(set, setD) {
			s.Approved = req.CheckTally(ps.Tally) == nil
		}
		if !s.Approved {
			problems = append(problems, "not approved yet")
		}
		if replay {
			if _, err := proposal.Execute(pol, p, at); err != nil {
				problems = append(problems, "does not apply: "+err.Error())
			}
		}
	}
	if !p.SignerSet.Names(set, setD) {
		problems = append(problems, fmt.Sprintf("written for signer set version %d; version %d is in force: re-create it", p.SignerSet.Version, set.Version))
	}
	if s.Expired {
		problems = append(problems, "expired at "+p.ExpiresAt)
	}
	if set.Expired(at) {
		problems = append(problems, fmt.Sprintf("signer set version %d expired at %s", set.Version, set.ExpiresAt))
	}
	if len(problems) > 0 {
		s.Problem = problems[0]
		for _, x := range problems[1:] {
			s.Problem += "; " + x
		}
	}
	return s
}
