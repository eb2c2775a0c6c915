package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newSignerSetCmd) }

type rotateArgs struct {
	add       []string
	remove    []string
	threshold int
	expires   string
	lifetime  string
	rationale string
	risk      string
	rollback  string
	author    string
	keys      []string
	passFile  string
	execute   bool
}

func newSignerSetCmd(e *env) *cobra.Command {
	parent := &cobra.Command{
		Use:   "signer-set",
		Short: "Signer-set commands (rotate)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usage("signer-set needs a subcommand: rotate")
		},
	}
	var (
		rf repoFlags
		a  rotateArgs
	)
	rotate := &cobra.Command{
		Use:   "rotate [--add ROLE=PUBKEY ...] [--remove KEY_ID ...] [--threshold N] [--expires 92d]",
		Short: "Propose the next signer set: write it for signing and the proposal that puts it in force",
		Long: `rotate writes signer set version N+1 — the set in force with --add members
added and --remove members removed, a new threshold and expiry — to
pending/<id>/signer-sets/NNNN.json, and the proposal <id> that sets
/signer_set to it, and commits both. With no --add or --remove it renews the
set as it is (a new rotated_at and expires_at).

The new set is valid only signed by a threshold of the set in force AND a
threshold of itself. Every signer runs govtool approve <id>: a member of the
set in force signs the proposal and the new set, a joining member signs the
new set. govtool execute <id> then moves the set to signer-sets/NNNN.json
in the commit that executes the proposal.

--add takes ROLE=PUBKEY (a .pub file, an ssh-ed25519 line or base64);
--remove takes a key id or a public key in any of those forms.

With --key (repeatable) the given signers sign the proposal and the new set
as they would with govtool approve. With --execute as well, the rotation is
proposed, approved and executed in one commit, which the keys given must
approve on their own (a threshold of the old set and of the new one): how a
micronode whose weekly rotation is overdue — which the verifier lets no other
governance commit pass — rotates its secondary signer with the owner's key.

Refuses: a key added twice or already a member, a removed key that is not a
member, a set that breaks the rules (threshold outside 1..quorum members,
production below 2, no quorum member left, more than 64 members), --execute
without enough signatures.

Example (the weekly micronode rotation of the secondary signer):
  govtool signer-set rotate --add security-officer=bob-2026w10.pub --remove bob-2026w09.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRotate(cmd.Context(), e, &rf, a)
		},
	}
	rf.register(rotate)
	f := rotate.Flags()
	f.StringArrayVar(&a.add, "add", nil, "a new member ROLE=PUBKEY (repeatable)")
	f.StringArrayVar(&a.remove, "remove", nil, "a member to remove: key id or public key (repeatable)")
	f.IntVar(&a.threshold, "threshold", 0, "the new threshold (default: unchanged)")
	f.StringVar(&a.lifetime, "expires", "", "lifetime of the new set (default: 92d production, 30d micronode)")
	f.StringVar(&a.expires, "proposal-expires", "24h", "how long the proposal may wait for execution")
	f.StringVar(&a.rationale, "rationale", "", "why (default: the rotation in words)")
	f.StringVar(&a.risk, "risk", "", "what could go wrong")
	f.StringVar(&a.rollback, "rollback", "", "how to undo it")
	f.StringVar(&a.author, "author", "", authorFlagHelp)
	f.StringArrayVar(&a.keys, "key", nil, "also sign the proposal and the new set with this key (file, ssh-agent or pkcs11: URI; repeatable)")
	f.StringVar(&a.passFile, "passphrase-file", "", "passphrase of the --key files (mode 0600)")
	f.BoolVar(&a.execute, "execute", false, "with --key: propose, approve and execute in one commit (the keys must meet every threshold)")
	parent.AddCommand(rotate)
	return parent
}

func runRotate(ctx context.Context, e *env, rf *repoFlags, a rotateArgs) error {
	life, err := parseLifetime(a.expires)
	if err != nil {
		return usage("--proposal-expires %v", err)
	}
	l, err := rf.load(ctx, e)
	if err != nil {
		return err
	}
	author, err := e.authorName(a.author, l.repo)
	if err != nil {
		return err
	}
	st := l.v.State()
	if st.Policy == nil {
		return failed(fmt.Errorf("the genesis is not executed yet: govtool execute genesis"))
	}
	now := l.now.Truncate(time.Second)
	cur, curD := st.SignerSet()
	setLife := profileSetLifetime[st.Policy.Profile]
	if a.lifetime != "" {
		if setLife, err = parseLifetime(a.lifetime); err != nil {
			return usage("--expires %v", err)
		}
	}
	next := &quorum.SignerSet{Type: quorum.TypeSignerSet, Version: cur.Version + 1, Threshold: cur.Threshold,
		RotatedAt: quorum.FormatTime(now), ExpiresAt: quorum.FormatTime(now.Add(setLife)), Previous: curD,
		Members: []quorum.Member{}, Signatures: []envelope.Signature{}}
	if a.threshold != 0 {
		next.Threshold = a.threshold
	}
	removed := map[string]bool{}
	for _, r := range a.remove {
		id, err := parseKeyRef(r)
		if err != nil {
			return usage("--remove %v", err)
		}
		if _, ok := cur.Member(id); !ok {
			return usage("--remove %s: key %s is not a member of signer set version %d (members: %s)", abbreviate(r), shortKey(id), cur.Version, describeMembers(cur))
		}
		removed[id] = true
	}
	for _, m := range cur.Members {
		if !removed[m.KeyID] {
			next.Members = append(next.Members, m)
		}
	}
	for _, s := range a.add {
		m, err := parseSignerArg(s)
		if err != nil {
			return usage("--add %v", err)
		}
		if slices.ContainsFunc(next.Members, func(x quorum.Member) bool { return x.KeyID == m.KeyID }) {
			return usage("--add: key %s is already a member; a key is listed once", shortKey(m.KeyID))
		}
		next.Members = append(next.Members, m)
	}
	if st.Policy.Profile == policy.ProfileProduction && next.Threshold < 2 {
		return usage("--threshold %d: a production signer set needs 2 or more", next.Threshold)
	}
	if err := next.Validate(); err != nil {
		return usage("signer set version %d: %v", next.Version, err)
	}
	data, err := canon.MarshalFile(next)
	if err != nil {
		return failed(err)
	}
	// Validate passed, so Parse refuses only what the schema bounds (at
	// most 64 members): --add asks for a set the verifier would refuse.
	if next, err = quorum.Parse(data); err != nil {
		return usage("%v", err)
	}
	nextD, err := next.Digest()
	if err != nil {
		return failed(err)
	}
	for _, r := range profileRoles[st.Policy.Profile] {
		if !slices.ContainsFunc(next.Members, func(m quorum.Member) bool { return m.Role == r }) {
			fmt.Fprintf(e.stderr, "govtool: warning: signer set version %d has no %s, which the %s profile expects\n", next.Version, r, st.Policy.Profile)
		}
	}
	ops, err := proposal.ParseChange(st.Policy, proposal.ScopeGlobal, fmt.Sprintf("signer_set=%d:%s", next.Version, nextD), now)
	if err != nil {
		return failed(err)
	}
	words := proposal.DescribeRotation(cur, next)
	rationale := a.rationale
	if strings.TrimSpace(rationale) == "" {
		rationale = words
	}
	risk, rollback := a.risk, a.rollback
	if strings.TrimSpace(risk) == "" {
		risk = notStated
	}
	if strings.TrimSpace(rollback) == "" {
		rollback = notStated
	}
	id, err := proposal.NewID(now, fmt.Sprintf("signer-set-v%d", next.Version), rand.Reader)
	if err != nil {
		return envErr(err)
	}
	p, err := proposal.New(proposal.Template{ID: id, Author: author, Scope: proposal.ScopeGlobal, Rationale: rationale,
		Risk: risk, Rollback: rollback, Created: now, Lifetime: life}, ops, st.Policy, cur, curD)
	if err != nil {
		return failed(fmt.Errorf("refused: %w", err))
	}
	pdata, err := p.File()
	if err != nil {
		return failed(err)
	}
	if a.execute && len(a.keys) == 0 {
		return usage("--execute needs the signers' keys: --key KEY for each")
	}
	var did []string
	if len(a.keys) > 0 {
		_, req, err := proposal.Classify(st.Policy, p)
		if err != nil {
			return failed(err)
		}
		for _, k := range a.keys {
			kf := keyFlags{key: k, passphraseFile: a.passFile}
			signer, kid, err := kf.load(ctx, memberIDs(cur, next))
			if err != nil {
				return err
			}
			sg, err := signFor(signer, kid, "", st, p, req, next)
			signer.Close()
			if err != nil {
				return err
			}
			did = append(did, fmt.Sprintf("key %s: %s", shortKey(kid), strings.Join(sg.did, " and ")))
		}
		if pdata, err = p.File(); err != nil {
			return failed(err)
		}
		if data, err = canon.MarshalFile(next); err != nil {
			return failed(err)
		}
	}
	nextPath := rotationPath(id, next.Version)
	files := map[string][]byte{proposal.FilePath(id): pdata, nextPath: data}
	msg := fmt.Sprintf("propose %s: %s", id, words)
	if len(did) > 0 {
		msg += "\n\nSigned by " + strings.Join(did, "; ") + "."
	}
	if a.execute {
		if s := l.v.Evaluate(p, now); !s.Approved || !rotationSigned(cur, next) {
			return failed(fmt.Errorf("the keys given do not approve the rotation on their own: %s", missingText(s, cur, next)))
		}
		if files, err = proposal.ExecutionFiles(st.Policy, p, now); err != nil {
			return failed(err)
		}
		files[proposal.FilePath(id)] = pdata
		files[verify.SignerSetPath(next.Version)] = data
		nextPath = verify.SignerSetPath(next.Version)
		msg = fmt.Sprintf("rotate %s: %s (proposed, approved and executed in one commit)\n\nSigned by %s.", id, words, strings.Join(did, "; "))
	}
	h, rep, err := l.commit(ctx, e, files, msg)
	if err != nil {
		return err
	}
	if a.execute {
		fmt.Fprintf(e.stdout, "executed %s: policy version %d, %s (committed %s)\n", id, rep.PolicyVersion, words, h.Short())
		return nil
	}
	d, _ := p.Digest()
	w := e.stdout
	fmt.Fprintf(w, "proposal %s (committed %s)\n", id, h.Short())
	fmt.Fprintf(w, "  %s\n", words)
	for _, x := range did {
		fmt.Fprintf(w, "  signed by %s\n", x)
	}
	fmt.Fprintf(w, "  digest:    %s\n", d)
	fmt.Fprintf(w, "  next set:  %s (%s)\n", nextPath, nextD)
	fmt.Fprintf(w, "  needs:     the proposal: %s;\n", needs(st, p))
	fmt.Fprintf(w, "             the next set: %d of version %d and %d of version %d\n", cur.Threshold, cur.Version, next.Threshold, next.Version)
	fmt.Fprintf(w, "  expires:   %s (%s)\n", p.ExpiresAt, timeLeft(mustTime(p.ExpiresAt), now))
	fmt.Fprintf(w, "each signer, old and new, runs: govtool approve %s --key KEYFILE\n", id)
	return nil
}
