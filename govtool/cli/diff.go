package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newDiffCmd) }

func newDiffCmd(e *env) *cobra.Command {
	var fl repoFlags
	cmd := &cobra.Command{
		Use:   "diff BASE..HEAD",
		Short: "State in words what changed in governance between two commits",
		Long: `diff verifies the repository from its root to BASE and on to HEAD, then
states the change between the two verified states in words: signer-set
rotations ("signer set v1→v2: threshold 2→3, +custodian 3fa1…, −custodian
77aa…"), each executed proposal's policy change ("tenant acme pq_mode
hybrid_or→hybrid_and"), and the proposals added, signed, approved, executed
or withdrawn. "BASE.." means BASE..HEAD.

The root is pinned with --root or $` + RootEnv + `; without one, diff trusts
signer-sets/0001.json as found and says so on stderr.

Exit codes: 0 ok, 1 the history does not verify, 2 usage, 3 environment.

Example:
  govtool diff origin/main..HEAD
  govtool diff HEAD~3..`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd.Context(), e, &fl, args[0])
		},
	}
	fl.register(cmd)
	return cmd
}

func runDiff(ctx context.Context, e *env, fl *repoFlags, spec string) error {
	baseRev, headRev, ok := strings.Cut(spec, "..")
	if !ok || baseRev == "" || strings.HasPrefix(headRev, ".") {
		return usage("diff %q: want BASE..HEAD (two dots; BASE.. means BASE..HEAD)", spec)
	}
	if headRev == "" {
		headRev = "HEAD"
	}
	now, err := fl.clock()
	if err != nil {
		return err
	}
	a, err := openAudit(ctx, e, fl, headRev)
	if err != nil {
		return err
	}
	base, err := resolveRev(a.repo, baseRev)
	if err != nil {
		return envErr(fmt.Errorf("resolving %s: %w", baseRev, err))
	}
	vb := verify.New(a.root, verify.Options{Now: now})
	if _, err := history.Verify(ctx, a.repo, vb, base, history.Options{}); err != nil {
		return auditErr(base, err)
	}
	vh := vb.Clone()
	steps, err := history.Verify(ctx, a.repo, vh, a.head, history.Options{})
	descends := true
	if errors.As(err, new(*gitrepo.NotDescendantError)) {
		// Not a fast-forward: compare two independently verified states.
		descends = false
		vh = verify.New(a.root, verify.Options{Now: now})
		steps, err = history.Verify(ctx, a.repo, vh, a.head, history.Options{})
	}
	if err != nil {
		return auditErr(a.head, err)
	}
	d := govDiff{base: base, head: a.head, descends: descends, commits: len(steps), pinned: a.pinned,
		from: vb.State(), to: vh.State(), fromStatus: statusMap(vb, now), toStatus: statusMap(vh, now)}
	if d.from.Policy == nil && d.to.Genesis != "" {
		if d.genesisPolicy, err = genesisPolicyOf(ctx, a.repo, d.to.Genesis); err != nil {
			return err
		}
	}
	d.write(e.stdout)
	return nil
}

// genesisPolicyOf reads policy version 1 from the (verified) genesis commit.
func genesisPolicyOf(ctx context.Context, repo *gitrepo.Repo, genesis string) (*policy.Policy, error) {
	h, err := gitrepo.ParseHash(genesis)
	if err != nil {
		return nil, envErr(err)
	}
	data, err := repo.ReadFile(ctx, h, policy.Path)
	if err != nil {
		return nil, envErr(fmt.Errorf("reading %s at the genesis commit: %w", policy.Path, err))
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, failed(fmt.Errorf("%s at the genesis commit: %w", policy.Path, err))
	}
	return p, nil
}

func statusMap(v *verify.Verifier, at time.Time) map[string]verify.ProposalStatus {
	m := map[string]verify.ProposalStatus{}
	for _, s := range v.Statuses(at) {
		m[s.ID] = s
	}
	return m
}

// govDiff is the difference between two verified states.
type govDiff struct {
	base, head           gitrepo.Hash
	descends             bool
	commits              int
	pinned               bool
	from, to             *verify.State
	fromStatus, toStatus map[string]verify.ProposalStatus
	// genesisPolicy is policy version 1 when the genesis is between the two.
	genesisPolicy *policy.Policy
}

func (d *govDiff) write(w io.Writer) {
	how := fmt.Sprintf("%d commits", d.commits)
	if !d.descends {
		how = "HEAD does not descend from BASE along first parents; two verified states compared"
	}
	pin := "from the pinned root"
	if !d.pinned {
		pin = "from an UNPINNED root"
	}
	fmt.Fprintf(w, "diff %s..%s: %s, both verified %s\n", d.base.Short(), d.head.Short(), how, pin)
	lines := d.lines()
	if len(lines) == 0 {
		fmt.Fprintln(w, "no governance change")
		return
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func (d *govDiff) lines() []string {
	var out []string
	from, to := d.from, d.to
	if from.Policy == nil && to.Policy != nil {
		out = append(out, fmt.Sprintf("genesis: %s; policy v1 (%s profile)", describeSet(to.SignerSets[0]), to.Policy.Profile))
	}
	switch nf, nt := len(from.SignerSets), len(to.SignerSets); {
	case nt > nf:
		for v := max(nf, 1) + 1; v <= nt; v++ {
			out = append(out, proposal.DescribeRotation(to.SignerSets[v-2], to.SignerSets[v-1]))
		}
	case nt < nf:
		out = append(out, fmt.Sprintf("signer set v%d→v%d (HEAD is behind BASE)", nf, nt))
	}
	out = append(out, d.policyLines()...)
	out = append(out, d.proposalLines()...)
	for _, p := range sortedKeysOf(to.Disputes) {
		if _, ok := from.Disputes[p]; !ok {
			out = append(out, "+ dispute "+p)
		} else if from.Disputes[p] != to.Disputes[p] {
			out = append(out, "~ dispute "+p)
		}
	}
	for _, p := range sortedKeysOf(from.Disputes) {
		if _, ok := to.Disputes[p]; !ok {
			out = append(out, "− dispute "+p)
		}
	}
	return out
}

// policyLines states each execution between the two states against the
// policy it was executed on: the replay the verifier checked.
func (d *govDiff) policyLines() []string {
	from, to := d.from, d.to
	if to.Policy == nil {
		return nil
	}
	prev, fromVersion := from.Policy, 0
	if prev != nil {
		fromVersion = prev.Version
	} else {
		prev, fromVersion = d.genesisPolicy, 1
	}
	if fromVersion == to.Policy.Version {
		return nil
	}
	out := []string{fmt.Sprintf("policy v%d→v%d:", fromVersion, to.Policy.Version)}
	if !d.descends || prev == nil {
		return out
	}
	for _, ps := range executedAfter(to, fromVersion) {
		p := ps.Proposal
		out = append(out, fmt.Sprintf("  v%d %s (%s): %s", ps.PolicyVersion, ps.ID, p.Quorum.Class, strings.Join(policy.Describe(prev, p.Changeset), "; ")))
		next, err := proposal.Execute(prev, p, ps.ExecutedAt)
		if err != nil {
			out = append(out, fmt.Sprintf("  (cannot describe further: %v)", err))
			break
		}
		prev = next
	}
	return out
}

// proposalLines states what happened to each proposal.
func (d *govDiff) proposalLines() []string {
	from, to := d.from, d.to
	ids := map[string]bool{}
	for id := range from.Proposals {
		ids[id] = true
	}
	for id := range to.Proposals {
		ids[id] = true
	}
	var out []string
	for _, id := range sortedKeysOf(ids) {
		a, b := from.Proposals[id], to.Proposals[id]
		sa, sb := d.fromStatus[id], d.toStatus[id]
		switch {
		case a == nil && b.Status == verify.StatusExecuted:
			out = append(out, fmt.Sprintf("+ %s added and executed (policy v%d)", id, b.PolicyVersion))
		case a == nil:
			out = append(out, fmt.Sprintf("+ %s added: %s; signed by %s", id, need(sb), signerList(signerViews(sb.Signed), false)))
			if sb.Approved {
				out = append(out, fmt.Sprintf("✓ %s approved", id))
			}
		case b == nil:
			out = append(out, fmt.Sprintf("− %s withdrawn", id))
		case a.Status == verify.StatusOpen && b.Status == verify.StatusExecuted:
			if added := newSigners(sa.Signed, sb.Signed); len(added) > 0 {
				out = append(out, fmt.Sprintf("~ %s signed by %s", id, signerList(added, false)))
			}
			out = append(out, fmt.Sprintf("▶ %s executed (policy v%d)", id, b.PolicyVersion))
		case a.FileHash != b.FileHash:
			added := newSigners(sa.Signed, sb.Signed)
			if len(added) > 0 {
				out = append(out, fmt.Sprintf("~ %s signed by %s", id, signerList(added, false)))
			}
			if a.Digest != b.Digest {
				out = append(out, fmt.Sprintf("~ %s rewritten (new digest: earlier signatures no longer apply)", id))
			} else if len(added) == 0 {
				out = append(out, fmt.Sprintf("~ %s signatures changed", id))
			}
			if sb.Approved && !sa.Approved {
				out = append(out, fmt.Sprintf("✓ %s approved", id))
			}
		}
	}
	return out
}

func need(s verify.ProposalStatus) string {
	return proposalView{Class: string(s.Class), Required: s.Required}.need()
}

func newSigners(before, after []verify.Signer) []signerView {
	var out []signerView
	for _, s := range after {
		if !slices.ContainsFunc(before, func(x verify.Signer) bool { return x.KeyID == s.KeyID }) {
			out = append(out, signerView{Role: s.Role, KeyID: s.KeyID})
		}
	}
	return out
}

// executedAfter returns the proposals of st executed into a policy version
// above v, in version order.
func executedAfter(st *verify.State, v int) []*verify.ProposalState {
	var out []*verify.ProposalState
	for _, ps := range st.Proposals {
		if ps.Status == verify.StatusExecuted && ps.PolicyVersion > v {
			out = append(out, ps)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PolicyVersion < out[j].PolicyVersion })
	return out
}

// describeSet states a signer set: "signer set v1, 2-of-3: policy-owner
// 0f4b58ef3861…, …".
func describeSet(s *quorum.SignerSet) string {
	ms := make([]string, len(s.Members))
	n := 0
	for i, m := range s.Members {
		ms[i] = m.Role + " " + shortKeyID(m.KeyID)
		if quorum.IsQuorumRole(m.Role) {
			n++
		}
	}
	return fmt.Sprintf("signer set v%d, %d-of-%d: %s", s.Version, s.Threshold, n, strings.Join(ms, ", "))
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
