package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newExecuteCmd) }

func newExecuteCmd(e *env) *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "execute ID",
		Short: "Apply an approved proposal: write the next policy version and commit it",
		Long: `execute applies approved proposal ID to the policy in force: it writes
policy/policy.json version N+1 (the changeset applied to version N, linked to
it by digest, naming the proposal and the execution time), the enrollment
files an appliance change needs, and for a signer-set rotation moves the
signed next set from pending/<ID>/ to signer-sets/NNNN.json. The result is
checked by the verifier, as the next commit, before anything is committed.
ID is a full id, proposals/<id>.json, or a unique prefix or slug.

"execute genesis" puts a new repository's signed genesis in place
(signer-sets/0001.json and policy/policy.json version 1).

Refuses (exit 1), saying why: a proposal that is not approved (and whose
signatures are missing), expired, already executed, written for another
signer set, denied; a rotation whose next set lacks a threshold of the old
or the new set; anything the verifier would reject.

Example:
  govtool execute 20260302-acme-pq-mode-4f1c2a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == genesisName {
				return executeGenesis(cmd.Context(), e, &rf)
			}
			return runExecute(cmd.Context(), e, &rf, args[0])
		},
	}
	rf.register(cmd)
	return cmd
}

func runExecute(ctx context.Context, e *env, rf *repoFlags, arg string) error {
	l, err := rf.load(ctx, e)
	if err != nil {
		return err
	}
	st := l.v.State()
	if st.Policy == nil {
		return failed(errors.New("the genesis is not executed yet: govtool execute genesis"))
	}
	ps, err := openProposal(l, st, arg)
	if err != nil {
		return err
	}
	now := l.now.Truncate(time.Second)
	if _, err := checkOpen(st, ps, now); err != nil {
		return err
	}
	p := ps.Proposal
	set, _ := st.SignerSet()
	s := l.v.Evaluate(p, now)
	if !s.Approved {
		return failed(fmt.Errorf("proposal %s is not approved: it needs %s; %s", p.ID, needs(st, p), missingText(s, set, nil)))
	}
	if s.Problem != "" {
		return failed(fmt.Errorf("proposal %s cannot be executed: %s", p.ID, s.Problem))
	}
	files, err := proposal.ExecutionFiles(st.Policy, p, now)
	if err != nil {
		return failed(fmt.Errorf("proposal %s does not apply to policy version %d: %w", p.ID, st.Policy.Version, err))
	}
	rotation := ""
	if ref, ok := rotationTarget(p); ok {
		next, path, err := pendingSet(ctx, l.repo, l.head, p, ref)
		if err != nil {
			return err
		}
		if !rotationSigned(set, next) {
			return failed(fmt.Errorf("signer set version %d is not signed enough: %s", next.Version, missingText(verify.ProposalStatus{Approved: true}, set, next)))
		}
		data, err := readHead(ctx, l.repo, l.head, path)
		if err != nil {
			return err
		}
		files[verify.SignerSetPath(next.Version)] = data
		files[path] = nil
		rotation = proposal.DescribeRotation(set, next)
	}
	changes := proposal.DescribeChange(st.Policy, p)
	msg := fmt.Sprintf("execute %s: policy version %d\n\n%s", p.ID, st.Policy.Version+1, strings.Join(changes, "\n"))
	if rotation != "" {
		msg += "\n" + rotation
	}
	h, rep, err := l.commit(ctx, e, files, msg)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "executed %s: policy version %d (committed %s)\n", p.ID, rep.PolicyVersion, h.Short())
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	if rotation != "" {
		fmt.Fprintf(w, "  %s\n", rotation)
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(e.stderr, "govtool: warning: %s\n", warn)
	}
	return nil
}

// executeGenesis moves the signed pending genesis into place.
func executeGenesis(ctx context.Context, e *env, rf *repoFlags) error {
	g, err := rf.loadGenesis(ctx, e)
	if err != nil {
		return err
	}
	ts := g.set.Tally(quorum.TypeSignerSet, g.setD, g.set.Signatures)
	tp := g.set.Tally(policy.Type, g.polD, g.pol.Signatures)
	if !ts.Met() || !tp.Met() {
		var ms []string
		for _, m := range ts.Missing {
			ms = append(ms, m.Role+" "+shortKey(m.KeyID))
		}
		return failed(fmt.Errorf("the genesis is not approved: signer set version 1 has %d of %d signatures, policy version 1 %d of %d (not signed yet: %s); each signer runs govtool approve genesis",
			len(ts.Counted), ts.Want, len(tp.Counted), tp.Want, orNone(ms)))
	}
	setData, err := readHead(ctx, g.l.repo, g.l.head, genesisSetPath)
	if err != nil {
		return err
	}
	polData, err := readHead(ctx, g.l.repo, g.l.head, genesisPolicyPath)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		verify.SignerSetPath(1): setData,
		policy.Path:             polData,
		genesisSetPath:          nil,
		genesisPolicyPath:       nil,
	}
	h, _, err := g.l.commit(ctx, e, files, fmt.Sprintf("execute genesis: root %s\n\nSigner set version 1 and policy version 1, each signed by %d of %d.", g.setD, g.set.Threshold, quorumCount(g.set)))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "executed the genesis (committed %s)\nroot %s: signer set version 1 and policy version 1 are in force\n", h.Short(), g.setD)
	return nil
}
