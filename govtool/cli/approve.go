package cli

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/keys"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newApproveCmd) }

// keyFlags say which signing key a command uses.
type keyFlags struct {
	key            string
	passphraseFile string
	role           string
}

func (k *keyFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&k.key, "key", "", "signing key: a key file, ssh-agent, or a pkcs11: URI (required)")
	f.StringVar(&k.passphraseFile, "passphrase-file", "", "file holding the key file's passphrase (mode 0600); default: ask on the terminal")
	f.StringVar(&k.role, "role", "", "the role to sign as (default: the key's role in the signer set)")
}

// load opens the signing key. When ssh-agent holds several Ed25519 keys and
// exactly one of them is in members, that one is used.
func (k *keyFlags) load(ctx context.Context, members []string) (keys.Signer, string, error) {
	if k.key == "" {
		return nil, "", usage("--key is required: a key file (govtool keygen), ssh-agent, or pkcs11:token=…;object=…")
	}
	opts := keys.LoadOptions{PassphraseFile: k.passphraseFile}
	s, err := keys.LoadSigner(ctx, k.key, opts)
	var amb *keys.AmbiguousKeyError
	if errors.As(err, &amb) {
		var match []string
		for _, id := range amb.KeyIDs {
			if slices.Contains(members, id) {
				match = append(match, id)
			}
		}
		if len(match) == 1 {
			opts.KeyID = match[0]
			s, err = keys.LoadSigner(ctx, k.key, opts)
		}
	}
	if errors.Is(err, keys.ErrNoPassphrase) {
		return nil, "", envErr(fmt.Errorf("%w (or give --passphrase-file)", err))
	}
	if err != nil {
		return nil, "", envErr(err)
	}
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok {
		s.Close()
		return nil, "", envErr(keys.ErrNotEd25519)
	}
	return s, envelope.KeyID(pub), nil
}

func memberIDs(sets ...*quorum.SignerSet) []string {
	var out []string
	for _, s := range sets {
		if s == nil {
			continue
		}
		for _, m := range s.Members {
			out = append(out, m.KeyID)
		}
	}
	return out
}

func newApproveCmd(e *env) *cobra.Command {
	var (
		rf repoFlags
		kf keyFlags
	)
	cmd := &cobra.Command{
		Use:   "approve ID --key FILE|ssh-agent|pkcs11:URI [--role ROLE] [--passphrase-file F]",
		Short: "Sign a proposal (or the pending genesis) and commit the signature",
		Long: `approve signs the digest of proposal ID — "ron-kms/v1 proposal <digest>", pure
Ed25519 — with your key, adds the signature to proposals/<ID>.json and
commits it on the current branch. Open a pull request with it; signatures
made on parallel branches merge through the govtool-signatures merge driver.
ID is a full id, proposals/<id>.json, or any unique prefix or slug of one.

A signer-set rotation needs the new signer set signed by a threshold of the
old set and of the new one. Approving a rotation proposal signs both the
proposal and the pending set (pending/<id>/signer-sets/NNNN.json); a new
member who is not in the set in force approves it the same way and signs
only the new set.

"approve genesis" signs the pending genesis of a new repository (signer set
1 and policy 1). Compare the root digest it prints with the one you were
given out of band, or pin it (--root, $GOVTOOL_ROOT_DIGEST) and approve
refuses any other.

Refuses (exit 1), saying why: a proposal that is expired, malformed,
uncommitted or already executed, written for another signer set than the one
in force, or denied (unclassifiable); a key that is not in the signer set in
force (e.g. a removed signer); --role other than the key's role in the set;
a role whose signature does not count for the proposal's class; a key that
has signed already.

Example:
  govtool approve 20260302-acme-pq-mode-4f1c2a --key ~/.ron-kms/alice
  govtool approve pq-mode --key 'pkcs11:token=signer;object=alice?pin-source=file:/run/pin'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == genesisName {
				return approveGenesis(cmd.Context(), e, &rf, &kf)
			}
			return runApprove(cmd.Context(), e, &rf, &kf, args[0])
		},
	}
	rf.register(cmd)
	kf.register(cmd)
	return cmd
}

// openProposal finds proposal arg in the verified state and checks that the
// working tree holds it exactly as committed.
func openProposal(l *loaded, st *verify.State, arg string) (*verify.ProposalState, error) {
	id, err := resolveID(st, arg)
	if err != nil {
		return nil, err
	}
	path := proposal.FilePath(id)
	wt, err := readWorktree(l.repo, path)
	if err != nil {
		return nil, err
	}
	ps := st.Proposals[id]
	if ps == nil {
		if wt != nil {
			if _, err := proposal.Parse(wt); err != nil {
				return nil, failed(fmt.Errorf("%s is malformed: %w", path, err))
			}
			return nil, failed(fmt.Errorf("%s is not committed on this branch: commit it (or pull the branch that has it) first", path))
		}
		return nil, failed(fmt.Errorf("no proposal %s on this branch", id))
	}
	if wt == nil {
		return nil, failed(fmt.Errorf("%s is deleted in the working tree: restore it (git checkout -- %s)", path, path))
	}
	if sha256.Sum256(wt) != ps.FileHash {
		if _, err := proposal.Parse(wt); err != nil {
			return nil, failed(fmt.Errorf("%s is malformed in the working tree: %w (restore it: git checkout -- %s)", path, err, path))
		}
		return nil, failed(fmt.Errorf("%s has uncommitted changes: commit or restore it first", path))
	}
	return ps, nil
}

// checkOpen refuses a proposal that can no longer be signed or executed:
// executed, expired, written for another signer set, denied.
func checkOpen(st *verify.State, ps *verify.ProposalState, now time.Time) (policy.Requirement, error) {
	p := ps.Proposal
	if ps.Status == verify.StatusExecuted {
		return policy.Requirement{}, failed(fmt.Errorf("proposal %s was executed in commit %s (policy version %d): it can no longer change", p.ID, shortKey(ps.ExecutedIn), ps.PolicyVersion))
	}
	if p.Expired(now) {
		return policy.Requirement{}, failed(fmt.Errorf("proposal %s expired at %s (%s): write a new proposal", p.ID, p.ExpiresAt, timeLeft(mustTime(p.ExpiresAt), now)))
	}
	set, setD := st.SignerSet()
	if !p.SignerSet.Names(set, setD) {
		return policy.Requirement{}, failed(fmt.Errorf("proposal %s was written for signer set version %d; version %d is in force: write it again (govtool propose)", p.ID, p.SignerSet.Version, set.Version))
	}
	if set.Expired(now) {
		return policy.Requirement{}, failed(fmt.Errorf("signer set version %d expired at %s and approves nothing: re-pin a new root", set.Version, set.ExpiresAt))
	}
	_, req, err := proposal.Classify(st.Policy, p)
	if err != nil {
		return policy.Requirement{}, failed(fmt.Errorf("proposal %s is denied (K-G8): %w", p.ID, err))
	}
	return req, nil
}

// counts reports whether a signature by role can count toward r.
func counts(r policy.Requirement, role string) bool {
	return quorum.IsQuorumRole(role) || (r.Class != policy.Sensitive && slices.Contains(r.Roles, role))
}

func runApprove(ctx context.Context, e *env, rf *repoFlags, kf *keyFlags, arg string) error {
	l, err := rf.load(ctx, e)
	if err != nil {
		return err
	}
	st := l.v.State()
	if st.Policy == nil {
		return failed(errors.New("the genesis is not executed yet: sign it with govtool approve genesis"))
	}
	ps, err := openProposal(l, st, arg)
	if err != nil {
		return err
	}
	now := l.now.Truncate(time.Second)
	req, err := checkOpen(st, ps, now)
	if err != nil {
		return err
	}
	// The verified state's proposal is shared: sign a copy.
	pc := *ps.Proposal
	pc.Signatures = slices.Clone(pc.Signatures)
	p := &pc
	set, _ := st.SignerSet()

	// A rotation: the pending next set is signed too.
	var (
		next     *quorum.SignerSet
		nextPath string
	)
	ref, isRot := rotationTarget(p)
	if isRot {
		if next, nextPath, err = pendingSet(ctx, l.repo, l.head, p, ref); err != nil {
			return err
		}
	}

	signer, kid, err := kf.load(ctx, memberIDs(set, next))
	if err != nil {
		return err
	}
	defer signer.Close()
	sg, err := signFor(signer, kid, kf.role, st, p, req, next)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	if sg.proposal {
		if files[proposal.FilePath(p.ID)], err = p.File(); err != nil {
			return failed(err)
		}
	}
	if sg.set {
		if files[nextPath], err = canon.MarshalFile(next); err != nil {
			return failed(err)
		}
	}
	did := sg.did
	d, err := p.Digest()
	if err != nil {
		return failed(err)
	}
	h, _, err := l.commit(ctx, e, files, fmt.Sprintf("approve %s (%s)\n\nSigned by key %s: %s.", p.ID, sg.role, kid, strings.Join(did, "; ")))
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "signed %s with key %s (committed %s)\n", strings.Join(did, " and "), shortKey(kid), h.Short())
	fmt.Fprintf(w, "  digest %s:\n", d)
	for _, c := range proposal.DescribeChange(st.Policy, p) {
		fmt.Fprintf(w, "    %s\n", c)
	}
	s := l.v.Evaluate(p, now)
	fmt.Fprintf(w, "proposal %s: %d signature(s) valid; needs %s\n", p.ID, len(s.Signed), needs(st, p))
	if next != nil {
		nextD, _ := next.Digest()
		to := set.Tally(quorum.TypeSignerSet, nextD, next.Signatures)
		tn := next.Tally(quorum.TypeSignerSet, nextD, next.Signatures)
		fmt.Fprintf(w, "signer set version %d: %d of %d needed from version %d, %d of %d needed from version %d\n",
			next.Version, len(to.Counted), to.Want, set.Version, len(tn.Counted), tn.Want, next.Version)
	}
	if s.Approved && (next == nil || rotationSigned(set, next)) {
		fmt.Fprintf(w, "approved: execute it with govtool execute %s\n", p.ID)
	} else {
		fmt.Fprintf(w, "not approved yet: %s\n", missingText(s, set, next))
	}
	return nil
}

// rotationSigned reports whether next carries a threshold of set and of
// itself.
func rotationSigned(set, next *quorum.SignerSet) bool {
	d, err := next.Digest()
	if err != nil {
		return false
	}
	return set.Tally(quorum.TypeSignerSet, d, next.Signatures).Met() && next.Tally(quorum.TypeSignerSet, d, next.Signatures).Met()
}

func missingText(s verify.ProposalStatus, set, next *quorum.SignerSet) string {
	var parts []string
	if !s.Approved {
		var ms []string
		for _, m := range s.Missing {
			ms = append(ms, m.Role+" "+shortKey(m.KeyID))
		}
		parts = append(parts, "the proposal is missing "+orNone(ms))
	}
	if next != nil {
		d, _ := next.Digest()
		for _, x := range []*quorum.SignerSet{set, next} {
			t := x.Tally(quorum.TypeSignerSet, d, next.Signatures)
			if !t.Met() {
				var ms []string
				for _, m := range t.Missing {
					ms = append(ms, m.Role+" "+shortKey(m.KeyID))
				}
				parts = append(parts, fmt.Sprintf("signer set version %d needs %d more of version %d (%s)", next.Version, t.Want-len(t.Counted), x.Version, strings.Join(ms, ", ")))
			}
		}
	}
	return strings.Join(parts, "; ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// signed is what signFor added.
type signed struct {
	proposal, set bool     // the proposal, the next signer set
	did           []string // in words
	role          string   // the key's role, for the commit message
}

// signFor adds to p (and to next, the pending signer set of a rotation
// proposal, or nil) the signatures that key kid may make, as role when role
// is not "". It refuses a key in neither set, a role the key does not
// hold, a role that cannot count toward p, and a key that has signed
// everything it can already.
func signFor(signer crypto.Signer, kid, role string, st *verify.State, p *proposal.Proposal, req policy.Requirement, next *quorum.SignerSet) (signed, error) {
	var out signed
	set, _ := st.SignerSet()
	oldM, inOld := set.Member(kid)
	var newM quorum.Member
	inNew := false
	if next != nil {
		newM, inNew = next.Member(kid)
	}
	if !inOld && !inNew {
		where := fmt.Sprintf("signer set version %d in force", set.Version)
		if next != nil {
			where += fmt.Sprintf(" nor in the proposed version %d", next.Version)
		}
		return out, failed(fmt.Errorf("key %s is not in %s (members: %s): it cannot approve", shortKey(kid), where, describeMembers(set)))
	}
	if role != "" && !(inOld && oldM.Role == role) && !(inNew && newM.Role == role) {
		roles := []string{}
		if inOld {
			roles = append(roles, fmt.Sprintf("%s in version %d", oldM.Role, set.Version))
		}
		if inNew {
			roles = append(roles, fmt.Sprintf("%s in version %d", newM.Role, next.Version))
		}
		return out, failed(fmt.Errorf("--role %s does not match key %s, which is %s", role, shortKey(kid), strings.Join(roles, " and ")))
	}
	roleOK := func(r string) bool { return role == "" || r == role }
	if inOld {
		out.role = oldM.Role
	} else {
		out.role = newM.Role + ", joining"
	}

	d, err := p.Digest()
	if err != nil {
		return out, failed(err)
	}
	signedProposal := slices.ContainsFunc(p.Signatures, func(s envelope.Signature) bool { return s.KeyID == kid })
	if inOld && roleOK(oldM.Role) && !signedProposal {
		if !counts(req, oldM.Role) && next == nil {
			return out, failed(fmt.Errorf("a signature by the %s role does not count toward a %s proposal (it needs %s): not signing", oldM.Role, req.Class, needs(st, p)))
		}
		if counts(req, oldM.Role) {
			sig, err := envelope.Sign(signer, oldM.Role, proposal.Type, d)
			if err != nil {
				return out, envErr(err)
			}
			p.Signatures = append(p.Signatures, sig)
			out.proposal = true
			out.did = append(out.did, fmt.Sprintf("proposal %s as %s", p.ID, oldM.Role))
		}
	}
	if next != nil {
		nextD, err := next.Digest()
		if err != nil {
			return out, failed(err)
		}
		var roles []string
		if inOld && quorum.IsQuorumRole(oldM.Role) && roleOK(oldM.Role) {
			roles = append(roles, oldM.Role)
		}
		if inNew && quorum.IsQuorumRole(newM.Role) && roleOK(newM.Role) && !slices.Contains(roles, newM.Role) {
			roles = append(roles, newM.Role)
		}
		for _, r := range roles {
			if slices.ContainsFunc(next.Signatures, func(s envelope.Signature) bool { return s.KeyID == kid && s.Role == r }) {
				continue
			}
			sig, err := envelope.Sign(signer, r, quorum.TypeSignerSet, nextD)
			if err != nil {
				return out, envErr(err)
			}
			next.Signatures = append(next.Signatures, sig)
			out.set = true
			out.did = append(out.did, fmt.Sprintf("signer set version %d as %s", next.Version, r))
		}
	}
	if len(out.did) == 0 {
		if signedProposal || next != nil {
			return out, failed(fmt.Errorf("key %s has already signed %s", shortKey(kid), p.ID))
		}
		return out, failed(fmt.Errorf("key %s has nothing to sign in %s as %s", shortKey(kid), p.ID, role))
	}
	return out, nil
}

func describeMembers(s *quorum.SignerSet) string {
	var out []string
	for _, m := range s.Members {
		out = append(out, m.Role+" "+shortKey(m.KeyID))
	}
	return strings.Join(out, ", ")
}

// approveGenesis signs the pending genesis: signer set 1 and policy 1.
func approveGenesis(ctx context.Context, e *env, rf *repoFlags, kf *keyFlags) error {
	g, err := rf.loadGenesis(ctx, e)
	if err != nil {
		return err
	}
	now := g.l.now.Truncate(time.Second)
	if g.set.Expired(now) {
		return failed(fmt.Errorf("the pending signer set version 1 expired at %s: run govtool init again", g.set.ExpiresAt))
	}
	signer, kid, err := kf.load(ctx, memberIDs(g.set))
	if err != nil {
		return err
	}
	defer signer.Close()
	m, ok := g.set.Member(kid)
	if !ok {
		return failed(fmt.Errorf("key %s is not in the pending signer set version 1 (members: %s)", shortKey(kid), describeMembers(g.set)))
	}
	if kf.role != "" && kf.role != m.Role {
		return failed(fmt.Errorf("--role %s does not match key %s, which is %s in signer set version 1", kf.role, shortKey(kid), m.Role))
	}
	if !quorum.IsQuorumRole(m.Role) {
		return failed(fmt.Errorf("key %s is %s, a role that never counts toward the threshold: the genesis needs quorum members", shortKey(kid), m.Role))
	}
	if !g.pinned {
		fmt.Fprintf(e.stderr, "govtool: warning: root not pinned; you are signing the root %s: compare it with the digest you were given out of band\n", g.setD)
	}
	has := func(sigs []envelope.Signature) bool {
		return slices.ContainsFunc(sigs, func(s envelope.Signature) bool { return s.KeyID == kid })
	}
	files := map[string][]byte{}
	if !has(g.set.Signatures) {
		sig, err := envelope.Sign(signer, m.Role, quorum.TypeSignerSet, g.setD)
		if err != nil {
			return envErr(err)
		}
		g.set.Signatures = append(g.set.Signatures, sig)
		if files[genesisSetPath], err = canon.MarshalFile(g.set); err != nil {
			return failed(err)
		}
	}
	if !has(g.pol.Signatures) {
		sig, err := envelope.Sign(signer, m.Role, policy.Type, g.polD)
		if err != nil {
			return envErr(err)
		}
		g.pol.Signatures = append(g.pol.Signatures, sig)
		if files[genesisPolicyPath], err = g.pol.File(); err != nil {
			return failed(err)
		}
	}
	if len(files) == 0 {
		return failed(fmt.Errorf("key %s has already signed the genesis", shortKey(kid)))
	}
	h, _, err := g.l.commit(ctx, e, files, fmt.Sprintf("approve genesis (%s)\n\nSigned root %s and policy version 1 with key %s.", m.Role, g.setD, kid))
	if err != nil {
		return err
	}
	ts := g.set.Tally(quorum.TypeSignerSet, g.setD, g.set.Signatures)
	tp := g.set.Tally(policy.Type, g.polD, g.pol.Signatures)
	w := e.stdout
	fmt.Fprintf(w, "signed the genesis as %s with key %s (committed %s)\n", m.Role, shortKey(kid), h.Short())
	fmt.Fprintf(w, "root %s\n", g.setD)
	fmt.Fprintf(w, "signer set version 1: %d of %d; policy version 1: %d of %d\n", len(ts.Counted), ts.Want, len(tp.Counted), tp.Want)
	if ts.Met() && tp.Met() {
		fmt.Fprintln(w, "approved: execute it with govtool execute genesis")
	}
	return nil
}
