// Package verifytest builds governance histories in memory for tests: signer
// sets, signed proposals, executions and rotations as verify.Commit values,
// with Ed25519 keys derived from fixed names so that every run produces the
// same bytes. CommitTo and Remote write those commits into real Git
// repositories (through gitrepo, on a bare remote made by gittest). It is for
// tests only; its keys are public.
package verifytest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// Key returns the test key named name (seed: SHA-256 of "verifytest " + name).
func Key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("verifytest " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Member returns the signer-set member for the key named name.
func Member(role, name string) quorum.Member {
	pub := Key(name).Public().(ed25519.PublicKey)
	return quorum.Member{Role: role, KeyID: envelope.KeyID(pub), PublicKey: envelope.EncodePublicKey(pub), Alg: quorum.AlgEd25519}
}

// Start is the time of the first commit of a History.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Step is the time between two commits of a History.
const Step = time.Minute

// History is a governance repository being written in memory. Its methods
// fail the test on any error: they build valid objects; tests that need
// invalid ones edit the returned values or bytes.
type History struct {
	T       testing.TB
	Profile string
	// Clock is the time of the next commit.
	Clock time.Time
	// Names maps role to key name for the current signer set's members.
	Sets       []*quorum.SignerSet
	SetDigests []string
	Policy     *policy.Policy
	Head       string
	n          int
	roles      map[string]string // key name → role, for signing
}

// New starts a history. production: policy-owner "po", security-officer
// "so", custodian "cust" (2-of-3), operator "op", auditor "aud".
// micronode: owners "owner" and "secondary" (1-of-2), operator "op".
func New(tb testing.TB, profile string) *History {
	return &History{T: tb, Profile: profile, Clock: Start, roles: map[string]string{}}
}

// Members is a set's member list as (role, key name) pairs.
type Members [][2]string

// DefaultMembers returns the genesis members of a profile.
func DefaultMembers(profile string) (Members, int) {
	if profile == policy.ProfileMicronode {
		return Members{{quorum.RoleOwner, "owner"}, {quorum.RoleOwner, "secondary"}, {quorum.RoleOperator, "op"}}, 1
	}
	return Members{{quorum.RolePolicyOwner, "po"}, {quorum.RoleSecurityOfficer, "so"}, {quorum.RoleCustodian, "cust"},
		{quorum.RoleOperator, "op"}, {quorum.RoleAuditor, "aud"}}, 2
}

// SignerSet builds (unsigned) version v of the signer set with members,
// rotated at h.Clock, expiring after life, linked to previous.
func (h *History) SignerSet(v, threshold int, ms Members, previous string, life time.Duration) *quorum.SignerSet {
	s := &quorum.SignerSet{Type: quorum.TypeSignerSet, Version: v, Threshold: threshold,
		RotatedAt: quorum.FormatTime(h.Clock), ExpiresAt: quorum.FormatTime(h.Clock.Add(life)),
		Previous: previous, Signatures: []envelope.Signature{}}
	for _, m := range ms {
		s.Members = append(s.Members, Member(m[0], m[1]))
		h.roles[m[1]] = m[0]
	}
	return s
}

// Sign returns a signature entry by the key named name with role.
func (h *History) Sign(name, role, objType, digest string) envelope.Signature {
	h.T.Helper()
	s, err := envelope.Sign(Key(name), role, objType, digest)
	if err != nil {
		h.T.Fatal(err)
	}
	return s
}

// SignSet appends the signatures of the named keys to s.
func (h *History) SignSet(s *quorum.SignerSet, names ...string) {
	h.T.Helper()
	d, err := s.Digest()
	if err != nil {
		h.T.Fatal(err)
	}
	for _, n := range names {
		s.Signatures = append(s.Signatures, h.Sign(n, h.roles[n], quorum.TypeSignerSet, d))
	}
}

// File returns the file form of v.
func File(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := canon.MarshalFile(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Digest returns the digest of v.
func Digest(tb testing.TB, v any) string {
	tb.Helper()
	d, err := canon.DigestOf(v)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Pin returns the digest of signer set version 1 (after GenesisCommit).
func (h *History) Pin() string { return h.SetDigests[0] }

// Set returns the signer set in force and its digest.
func (h *History) Set() (*quorum.SignerSet, string) {
	return h.Sets[len(h.Sets)-1], h.SetDigests[len(h.SetDigests)-1]
}

// Next returns a commit on h.Head at h.Clock with changes, makes it the head
// and advances the clock by Step.
func (h *History) Next(changes ...verify.Change) verify.Commit {
	h.n++
	c := verify.Commit{Hash: fmt.Sprintf("%040x", h.n), Time: h.Clock, Author: "verifytest", Changes: changes}
	if h.Head != "" {
		c.Parents = []string{h.Head}
	}
	h.Head = c.Hash
	h.Clock = h.Clock.Add(Step)
	return c
}

// Genesis returns the genesis changes: the default members of h.Profile
// signed by all of them, and policy version 1 (DefaultConfig) signed by a
// threshold. It records them as h's state.
func (h *History) Genesis() []verify.Change {
	h.T.Helper()
	ms, th := DefaultMembers(h.Profile)
	life := quorum.DefaultLifetime
	if h.Profile == policy.ProfileMicronode {
		life = 30 * 24 * time.Hour
	}
	set := h.SignerSet(1, th, ms, quorum.GenesisPrevious, life)
	names := []string{}
	for _, m := range ms {
		if quorum.IsQuorumRole(m[0]) {
			names = append(names, m[1])
		}
	}
	h.SignSet(set, names...)
	setD := Digest(h.T, set)
	cfg := policy.DefaultConfig(h.Profile)
	cfg.SignerSetDigest = setD
	pol, err := policy.Genesis(cfg)
	if err != nil {
		h.T.Fatal(err)
	}
	polD := Digest(h.T, pol)
	pol.Signatures = []envelope.Signature{}
	for _, n := range names[:th] {
		pol.Signatures = append(pol.Signatures, h.Sign(n, h.roles[n], policy.Type, polD))
	}
	h.Sets, h.SetDigests, h.Policy = []*quorum.SignerSet{set}, []string{setD}, pol
	return []verify.Change{
		{Path: verify.SignerSetPath(1), After: File(h.T, set)},
		{Path: policy.Path, After: File(h.T, pol)},
	}
}

// Proposal builds an unsigned proposal of ops against the current policy and
// signer set, created at h.Clock, with a title that makes its id.
func (h *History) Proposal(title, scope string, ops ...policy.Op) *proposal.Proposal {
	h.T.Helper()
	set, setD := h.Set()
	h.n++
	id, err := proposal.NewID(h.Clock, title, fixedReader(h.n))
	if err != nil {
		h.T.Fatal(err)
	}
	p, err := proposal.New(proposal.Template{ID: id, Author: "Ada <ada@example.com>", Scope: scope,
		Rationale: "because " + title, Risk: "low", Rollback: "revert with a new proposal", Created: h.Clock},
		ops, h.Policy, set, setD)
	if err != nil {
		h.T.Fatal(err)
	}
	return p
}

// Change parses one high-level change (proposal.ParseChange) at h.Clock.
func (h *History) Change(scope, spec string) []policy.Op {
	h.T.Helper()
	ops, err := proposal.ParseChange(h.Policy, scope, spec, h.Clock)
	if err != nil {
		h.T.Fatal(err)
	}
	return ops
}

// Approve appends the signatures of the named keys (with their roles in the
// current set) to p.
func (h *History) Approve(p *proposal.Proposal, names ...string) *proposal.Proposal {
	h.T.Helper()
	d, err := p.Digest()
	if err != nil {
		h.T.Fatal(err)
	}
	for _, n := range names {
		p.Signatures = append(p.Signatures, h.Sign(n, h.roles[n], proposal.Type, d))
	}
	return p
}

// ProposalChange is the change that writes p's file.
func ProposalChange(tb testing.TB, p *proposal.Proposal) verify.Change {
	return verify.Change{Path: proposal.FilePath(p.ID), After: File(tb, p)}
}

// Execute returns the changes that execute p at h.Clock — p's file, the
// next policy, and for enrollments the appliance files — and records the
// next policy as h's.
func (h *History) Execute(p *proposal.Proposal) []verify.Change {
	h.T.Helper()
	files, err := proposal.ExecutionFiles(h.Policy, p, h.Clock)
	if err != nil {
		h.T.Fatal(err)
	}
	next, err := policy.Parse(files[policy.Path])
	if err != nil {
		h.T.Fatal(err)
	}
	changes := []verify.Change{ProposalChange(h.T, p), {Path: policy.Path, After: files[policy.Path]}}
	paths := make([]string, 0, len(files))
	for path := range files {
		if path != policy.Path {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	for _, path := range paths {
		changes = append(changes, verify.Change{Path: path, After: files[path], Deleted: files[path] == nil})
	}
	h.Policy = next
	return changes
}

// Rotate builds signer set version N+1 with members and threshold, signed
// by oldSigners (their roles in the old set) and newSigners (roles in the new
// set), and the proposal that sets /signer_set to it, approved by approvers.
// It returns the changes of the executing commit and records the new set.
func (h *History) Rotate(ms Members, threshold int, oldSigners, newSigners, approvers []string) []verify.Change {
	h.T.Helper()
	cur, curD := h.Set()
	oldRoles := map[string]string{}
	for k, v := range h.roles {
		oldRoles[k] = v
	}
	life := quorum.DefaultLifetime
	if h.Profile == policy.ProfileMicronode {
		life = 30 * 24 * time.Hour
	}
	next := h.SignerSet(cur.Version+1, threshold, ms, curD, life)
	newRoles := h.roles
	d := Digest(h.T, next)
	for _, n := range oldSigners {
		next.Signatures = append(next.Signatures, h.Sign(n, oldRoles[n], quorum.TypeSignerSet, d))
	}
	for _, n := range newSigners {
		next.Signatures = append(next.Signatures, h.Sign(n, newRoles[n], quorum.TypeSignerSet, d))
	}
	h.roles = oldRoles
	p := h.Proposal("rotate signer set", proposal.ScopeGlobal, h.Change(proposal.ScopeGlobal, fmt.Sprintf("signer_set=%d:%s", next.Version, d))...)
	h.Approve(p, approvers...)
	h.roles = newRoles
	changes := h.Execute(p)
	changes = append(changes, verify.Change{Path: verify.SignerSetPath(next.Version), After: File(h.T, next)})
	h.Sets = append(h.Sets, next)
	h.SetDigests = append(h.SetDigests, d)
	return changes
}

// Try returns a commit on h.Head at h.Clock with changes without making it
// the head: for commits a test expects to be rejected.
func (h *History) Try(changes ...verify.Change) verify.Commit {
	h.n++
	c := verify.Commit{Hash: fmt.Sprintf("%040x", h.n), Time: h.Clock, Author: "verifytest", Changes: changes}
	if h.Head != "" {
		c.Parents = []string{h.Head}
	}
	return c
}

type fixedReader int

func (r fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(int(r) >> (8 * (i % 3)))
	}
	return len(p), nil
}
