// Package verify is the one verification path of a ron-kms governance
// repository (DESIGN §2): CI, `govtool verify` and the appliance all run it.
//
// A Verifier is a state machine over commits, in the spirit of go-tuf's
// trusted metadata: it starts from the pinned digest of signer set version 1
// and accepts commits one at a time, oldest first along the first-parent
// chain, each given as its governance changes against its first parent. It
// never reads files, Git or the clock: bytes and times come in, a verified
// State or a typed *Error comes out.
//
// What a commit may do:
//
//   - The genesis commit (the first that touches governance paths) adds
//     signer-sets/0001.json, whose digest must equal the pin and which a
//     threshold of itself signs, and policy/policy.json version 1, signed by
//     a threshold of that set. Nothing else.
//   - Any later commit may add, change or delete open proposals
//     (proposals/<id>.json); every signature present must verify against the
//     signer set the proposal names.
//   - A commit may execute one proposal: policy/policy.json becomes exactly
//     policy.Apply of that proposal on the previous version (byte for byte,
//     file form), and the proposal must be approved by its action class
//     under the signer set in force, unexpired, and not executed before. A
//     rotation (set /signer_set) adds signer-sets/<N+1>.json in that commit,
//     signed by a threshold of the old and of the new set. An enrollment
//     (set /appliances/<id>) writes appliances/<id>.json equal to the entry.
//   - Nothing else changes policy/, signer-sets/ or appliances/; executed
//     proposals never change or disappear. Files outside the governance
//     folders are ignored.
package verify

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// Governance folders. Everything else in the repository is ignored.
const (
	SignerSetDir = "signer-sets/"
	ProposalDir  = proposal.Dir
	PolicyPath   = policy.Path
	ApplianceDir = policy.ApplianceDir
	DisputeDir   = "disputes/"
)

// IsGovernancePath reports whether path is one the verifier checks.
func IsGovernancePath(path string) bool {
	for _, d := range []string{SignerSetDir, ProposalDir, "policy/", ApplianceDir, DisputeDir} {
		if strings.HasPrefix(path, d) {
			return true
		}
	}
	return false
}

// SignerSetPath is the repository path of signer set version v.
func SignerSetPath(v int) string { return fmt.Sprintf("%s%04d.json", SignerSetDir, v) }

var (
	signerSetPathRE = regexp.MustCompile(`^signer-sets/([0-9]{4,9})\.json$`)
	// disputes/<id>.json, the id as dispute.schema.json defines it.
	disputePathRE = regexp.MustCompile(`^disputes/(?:` + unanchored(schemas.MustPattern("dispute.schema.json#/properties/id")) + `)\.json$`)
)

// unanchored is an anchored pattern ^…$ without its anchors.
func unanchored(p string) string {
	return strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$")
}

// Commit is one commit of the first-parent chain, with its changes to
// governance paths against its first parent (the root commit: against the
// empty tree). Changes to other paths may be included; they are ignored.
type Commit struct {
	Hash    string
	Parents []string
	Time    time.Time // committer time
	Author  string
	Changes []Change
}

// Change is one file changed by a commit. After is nil (or Deleted set)
// when the file was deleted. Before is informational: the verifier compares
// against its own verified state, never against Before.
type Change struct {
	Path          string
	Before, After []byte
	Deleted       bool
}

func (c Change) deleted() bool { return c.Deleted || c.After == nil }

// DefaultSkew is the default of Options.Skew.
const DefaultSkew = 10 * time.Minute

// Options tune a Verifier.
type Options struct {
	// Now is the time of verification. ApplyNew checks proposals against
	// it; Apply uses it only to reject executions dated in the future. A
	// zero Now disables both.
	Now time.Time
	// Skew bounds how far a commit's time and the executed_at it records
	// may differ, and how far in the future either may be. Default
	// DefaultSkew.
	Skew time.Duration
	// AllowExpiredUnsafe accepts the execution of expired proposals. It
	// exists to re-verify a history that once relied on it; never set it
	// for CI or an appliance.
	AllowExpiredUnsafe bool
}

// Status is a proposal's place in its life.
type Status string

const (
	StatusOpen     Status = "open"
	StatusExecuted Status = "executed"
)

// ProposalState is a verified proposal. Values are never modified once in
// a State; a change replaces the pointer.
type ProposalState struct {
	ID       string
	Path     string
	Proposal *proposal.Proposal
	Digest   string
	FileHash [sha256.Size]byte // of the file bytes
	Status   Status
	// AddedIn is the commit that last added or changed the file.
	AddedIn string
	// ExecutedIn, ExecutedAt and PolicyVersion are set when executed.
	ExecutedIn    string
	ExecutedAt    time.Time
	PolicyVersion int
	// Tally is the proposal's signatures counted against the signer set it
	// names (quorum.Tally: Valid, Counted, Rejected, Missing).
	Tally *quorum.Tally
}

// State is what verification established as of Commit.
type State struct {
	Commit     string
	CommitTime time.Time
	// Genesis is the commit that added signer set 1 and policy 1 ("" until then).
	Genesis string
	// SignerSets[i] is version i+1; SignerSetDigests[i] its digest.
	SignerSets       []*quorum.SignerSet
	SignerSetDigests []string
	Policy           *policy.Policy
	PolicyDigest     string
	Proposals        map[string]*ProposalState
	// Appliances are the verified enrollments (equal to Policy.Appliances).
	Appliances map[string]policy.Appliance
	// Disputes maps each disputes/<id>.json path to its digest.
	Disputes map[string]string
}

// SignerSet returns the signer set in force and its digest (nil before genesis).
func (s *State) SignerSet() (*quorum.SignerSet, string) {
	if len(s.SignerSets) == 0 {
		return nil, ""
	}
	return s.SignerSets[len(s.SignerSets)-1], s.SignerSetDigests[len(s.SignerSetDigests)-1]
}

func (s *State) clone() *State {
	c := *s
	c.SignerSets = slices.Clone(s.SignerSets)
	c.SignerSetDigests = slices.Clone(s.SignerSetDigests)
	c.Proposals = maps.Clone(s.Proposals)
	c.Appliances = maps.Clone(s.Appliances)
	c.Disputes = maps.Clone(s.Disputes)
	return &c
}

// Verifier verifies commits from the pinned root. It is not safe for
// concurrent use; Clone it to verify a batch on the side and swap.
type Verifier struct {
	pin  string
	opts Options
	st   *State
}

// New returns a Verifier that trusts only signer set version 1 with digest
// pinnedRootDigest ("sha256:<hex>").
func New(pinnedRootDigest string, opts Options) *Verifier {
	if opts.Skew <= 0 {
		opts.Skew = DefaultSkew
	}
	return &Verifier{pin: pinnedRootDigest, opts: opts, st: &State{
		Proposals:  map[string]*ProposalState{},
		Appliances: map[string]policy.Appliance{},
		Disputes:   map[string]string{},
	}}
}

// Clone returns an independent copy: Apply on it leaves v unchanged. The
// appliance verifies a batch of new commits on a clone and swaps on success.
func (v *Verifier) Clone() *Verifier {
	return &Verifier{pin: v.pin, opts: v.opts, st: v.st.clone()}
}

// State returns a snapshot of the verified state. Its maps and slices are
// copies; the values they hold are shared and must not be modified.
func (v *Verifier) State() *State { return v.st.clone() }

// Pin returns the pinned root digest.
func (v *Verifier) Pin() string { return v.pin }

// Options returns the verifier's options (with defaults filled in).
func (v *Verifier) Options() Options { return v.opts }

// SetNow changes Options.Now, for a long-running appliance whose clock moves.
func (v *Verifier) SetNow(now time.Time) { v.opts.Now = now }

// Report says what one accepted commit did.
type Report struct {
	Commit string
	// Governance is false for a commit that touched no governance path.
	Governance bool
	Genesis    bool
	// Executed is the id of the proposal executed by the commit, or "".
	Executed string
	// Rotated is the signer-set version added by the commit, or 0.
	Rotated          int
	PolicyVersion    int
	SignerSetVersion int
	// Proposals are the proposals added, changed or deleted by the commit
	// (deleted ones with Status "" and Problem "withdrawn").
	Proposals []ProposalStatus
	Warnings  []string
}

// Apply verifies commit c on top of the verified state and, when it is
// accepted, makes it the new state. On error the state is unchanged and the
// error is an *Error. History rules only: times are judged by the commit's
// time and the executed_at it records (see ApplyNew).
func (v *Verifier) Apply(c Commit) (*Report, error) { return v.apply(c, false) }

// ApplyNew is Apply for commits that are being proposed now (CI on a pull
// request or a push): it also rejects proposals added, changed or executed
// by c that are expired at Options.Now, so that an old approved proposal
// cannot be executed later by back-dating a commit. An appliance that
// follows a branch CI guards uses Apply: it may pull long after a merge.
func (v *Verifier) ApplyNew(c Commit) (*Report, error) { return v.apply(c, true) }

// txn collects a commit's effects; they reach the state only if the whole
// commit verifies.
type txn struct {
	v       *Verifier
	c       Commit
	fresh   bool
	rep     *Report
	props   map[string]*ProposalState // nil value: deleted
	newSet  *quorum.SignerSet
	newSetD string
	pol     *policy.Policy
	polD    string
	appls   map[string]*policy.Appliance // nil value: removed
	disps   map[string]string            // "" value: deleted
}

func (t *txn) fail(reason Reason, path string, err error, format string, args ...any) error {
	return &Error{Reason: reason, Path: path, Commit: t.c.Hash, Msg: fmt.Sprintf(format, args...), Err: err}
}

func (t *txn) proposal(id string) *ProposalState {
	if p, ok := t.props[id]; ok {
		return p
	}
	return t.v.st.Proposals[id]
}

func (v *Verifier) apply(c Commit, fresh bool) (*Report, error) {
	t := &txn{v: v, c: c, fresh: fresh, rep: &Report{Commit: c.Hash},
		props: map[string]*ProposalState{}, appls: map[string]*policy.Appliance{}, disps: map[string]string{}}
	if c.Hash == "" {
		return nil, t.fail(ReasonMalformed, "", nil, "commit without a hash")
	}
	if v.st.Commit == "" {
		if len(c.Parents) != 0 {
			return nil, t.fail(ReasonNotFastForward, "", nil, "the first commit verified must be the root commit (no parents); feed the first-parent chain from the root")
		}
	} else if len(c.Parents) == 0 || c.Parents[0] != v.st.Commit {
		return nil, t.fail(ReasonNotFastForward, "", nil, "first parent is not the last verified commit %s (history rewritten or commits skipped)", short(v.st.Commit))
	}
	var gov []Change
	seen := map[string]bool{}
	for _, ch := range c.Changes {
		if !IsGovernancePath(ch.Path) {
			if IsGovernancePath(strings.ToLower(ch.Path)) {
				// "Policy/policy.json" is one file with "policy/policy.json"
				// on a case-insensitive checkout: never let it pass unseen.
				return nil, t.fail(ReasonMalformed, ch.Path, nil, "a governance folder in another case")
			}
			continue
		}
		if seen[ch.Path] {
			return nil, t.fail(ReasonMalformed, ch.Path, nil, "path listed twice in one commit")
		}
		seen[ch.Path] = true
		if strings.HasSuffix(ch.Path, "/.gitkeep") && strings.Count(ch.Path, "/") == 1 && (ch.deleted() || len(ch.After) == 0) {
			continue // an empty placeholder keeping a folder in Git
		}
		gov = append(gov, ch)
	}
	sort.Slice(gov, func(i, j int) bool { return gov[i].Path < gov[j].Path })
	var err error
	if len(gov) > 0 {
		t.rep.Governance = true
		if v.st.Policy == nil {
			err = t.genesis(gov)
		} else {
			err = t.update(gov)
		}
		if err != nil {
			return nil, err
		}
	}
	t.commit()
	st := v.st
	if st.Policy != nil {
		t.rep.PolicyVersion = st.Policy.Version
	}
	t.rep.SignerSetVersion = len(st.SignerSets)
	return t.rep, nil
}

// commit makes the transaction's effects the state.
func (t *txn) commit() {
	st := t.v.st
	// The maps are the verifier's own (State and Clone hand out copies),
	// so they are updated in place: a commit costs what it changes.
	for id, p := range t.props {
		if p == nil {
			delete(st.Proposals, id)
		} else {
			st.Proposals[id] = p
		}
	}
	if t.newSet != nil {
		st.SignerSets = append(st.SignerSets, t.newSet)
		st.SignerSetDigests = append(st.SignerSetDigests, t.newSetD)
	}
	if t.pol != nil {
		st.Policy, st.PolicyDigest = t.pol, t.polD
	}
	for id, a := range t.appls {
		if a == nil {
			delete(st.Appliances, id)
		} else {
			st.Appliances[id] = *a
		}
	}
	for p, d := range t.disps {
		if d == "" {
			delete(st.Disputes, p)
		} else {
			st.Disputes[p] = d
		}
	}
	st.Commit, st.CommitTime = t.c.Hash, t.c.Time
	if t.rep.Genesis {
		st.Genesis = t.c.Hash
	}
	t.v.st = st
}
