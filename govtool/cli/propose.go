package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// draftID names the proposal being written while its changes are read.
const draftID = "20000101-draft-000000"

func init() { extraCommands = append(extraCommands, newProposeCmd) }

// notStated fills risk and rollback when the author gives none: the
// proposal schema requires both, and reviewers should see that they are
// missing rather than a made-up text.
const notStated = "not stated by the author"

// maxAttachment bounds an attached file.
const maxAttachment = 8 << 20

// attachmentsDir is where attached files are committed beside a proposal.
const attachmentsDir = "attachments/"

type proposeArgs struct {
	scope     string
	changes   []string
	rationale string
	expires   string
	risk      string
	rollback  string
	attach    []string
	slug      string
	author    string
}

func newProposeCmd(e *env) *cobra.Command {
	var (
		rf repoFlags
		a  proposeArgs
	)
	cmd := &cobra.Command{
		Use:   "propose --scope global|tenant:NAME --change KEY=VALUE ... --rationale TEXT [--expires 24h]",
		Short: "Write a proposal, commit it, and say what it changes and who must sign",
		Long: `propose writes proposals/<id>.json against the verified policy and signer set
in force and commits it on the current branch. It prints the id, the digest
signers sign, the action class, the changes in words and the signatures the
proposal needs. Open a pull request with it; signers add their signatures
with govtool approve.

Changes (repeat --change; tenant changes need --scope tenant:NAME):
` + strings.Join(proposal.Changes, "\n") + `

A signer-set rotation is written by govtool signer-set rotate, which also
writes the next signer set for the signers to sign.

Attachments (--attach FILE) are pinned in the proposal by their SHA-256; a
file outside the repository is committed as attachments/<id>/<name>.

Refuses: an unknown or malformed change (with the list of known ones), a
change outside the scope, a changeset that cannot be classified (denied,
K-G8) or does not apply to the policy in force, a repository that does not
verify.

Example:
  govtool propose --scope tenant:acme --change pq_mode=hybrid_and \
      --rationale 'ACME leaves phase 1' --risk 'clients without ML-DSA fail' \
      --rollback 'pq_mode=hybrid_or'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPropose(cmd.Context(), e, &rf, a)
		},
	}
	rf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&a.scope, "scope", proposal.ScopeGlobal, "global or tenant:NAME")
	f.StringArrayVar(&a.changes, "change", nil, "a change KEY=VALUE (repeat for several)")
	f.StringVar(&a.rationale, "rationale", "", "why (required)")
	f.StringVar(&a.expires, "expires", "24h", "how long the proposal may wait for execution (at most 30d)")
	f.StringVar(&a.risk, "risk", "", "what could go wrong")
	f.StringVar(&a.rollback, "rollback", "", "how to undo it")
	f.StringArrayVar(&a.attach, "attach", nil, "a supporting file, pinned by digest (repeatable)")
	f.StringVar(&a.slug, "id-slug", "", "the words of the id (default: from the scope and changes)")
	f.StringVar(&a.author, "author", "", authorFlagHelp)
	return cmd
}

func runPropose(ctx context.Context, e *env, rf *repoFlags, a proposeArgs) error {
	if len(a.changes) == 0 {
		return usage("no change: give --change KEY=VALUE; known changes:\n%s", strings.Join(proposal.Changes, "\n"))
	}
	if strings.TrimSpace(a.rationale) == "" {
		return usage("--rationale is required: say why, for the signers and the audit trail")
	}
	life, err := parseLifetime(a.expires)
	if err != nil {
		return usage("--expires %v", err)
	}
	if life > proposal.MaxLifetime {
		return usage("--expires %s: at most %s", a.expires, proposal.MaxLifetime)
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
		return failed(fmt.Errorf("the genesis is not executed yet: govtool approve genesis, then govtool execute genesis"))
	}
	now := l.now.Truncate(time.Second)
	var ops []policy.Op
	// Each change is read against the policy as the changes before it leave
	// it, so one proposal can create a tenant and then its key.
	cur := st.Policy
	for i, c := range a.changes {
		k, v, _ := strings.Cut(c, "=")
		if strings.TrimSpace(k) == "signer_set" {
			return usage("--change %s: a signer-set rotation is written by govtool signer-set rotate (it also writes the set to sign)", c)
		}
		if strings.TrimSpace(k) == "add_minter" {
			// A minter key is given as init's --signer keys are: an OpenSSH
			// .pub file, an ssh-ed25519 line, or raw base64.
			pub, err := parsePublicKey(v)
			if err != nil {
				return usage("--change %s: %v", c, err)
			}
			c = "add_minter=" + envelope.EncodePublicKey(pub)
		}
		if i > 0 {
			next, err := policy.Apply(st.Policy, ops, policy.Applied{Proposal: draftID, Digest: quorum.GenesisPrevious, ExecutedAt: quorum.FormatTime(now)})
			if err != nil {
				return usage("--change %s: the changes before it do not apply: %v", c, err)
			}
			cur = next
		}
		o, err := proposal.ParseChange(cur, a.scope, c, now)
		if err != nil {
			if strings.Contains(err.Error(), proposal.Changes[0]) {
				return usage("%v", err)
			}
			return usage("%v\nknown changes:\n%s", err, strings.Join(proposal.Changes, "\n"))
		}
		ops = append(ops, o...)
	}
	slug := a.slug
	if slug == "" {
		slug = defaultSlug(a.scope, a.changes)
	}
	id, err := proposal.NewID(now, slug, rand.Reader)
	if err != nil {
		return envErr(err)
	}
	files := map[string][]byte{}
	atts, err := attachments(l, id, a.attach, files)
	if err != nil {
		return err
	}
	risk, rollback := a.risk, a.rollback
	if strings.TrimSpace(risk) == "" {
		risk = notStated
	}
	if strings.TrimSpace(rollback) == "" {
		rollback = notStated
	}
	set, setD := st.SignerSet()
	p, err := proposal.New(proposal.Template{ID: id, Author: author, Scope: a.scope, Rationale: a.rationale,
		Risk: risk, Rollback: rollback, Created: now, Lifetime: life, Attachments: atts}, ops, st.Policy, set, setD)
	if err != nil {
		return failed(fmt.Errorf("refused: %w", err))
	}
	data, err := p.File()
	if err != nil {
		return failed(err)
	}
	files[proposal.FilePath(id)] = data
	h, _, err := l.commit(ctx, e, files, fmt.Sprintf("propose %s\n\n%s", id, strings.Join(proposal.DescribeChange(st.Policy, p), "\n")))
	if err != nil {
		return err
	}
	d, _ := p.Digest()
	s := l.v.Evaluate(p, now)
	w := e.stdout
	fmt.Fprintf(w, "proposal %s (committed %s)\n", id, h.Short())
	fmt.Fprintf(w, "  file:    %s\n", proposal.FilePath(id))
	fmt.Fprintf(w, "  digest:  %s\n", d)
	fmt.Fprintf(w, "  class:   %s\n", s.Class)
	fmt.Fprintf(w, "  changes:\n")
	for _, c := range proposal.DescribeChange(st.Policy, p) {
		fmt.Fprintf(w, "    %s\n", c)
	}
	fmt.Fprintf(w, "  needs:   %s\n", needs(st, p))
	fmt.Fprintf(w, "  expires: %s (%s)\n", p.ExpiresAt, timeLeft(mustTime(p.ExpiresAt), now))
	fmt.Fprintf(w, "each signer runs: govtool approve %s --key KEYFILE\n", id)
	return nil
}

// needs says in words who must sign p under the verified state st.
func needs(st *verify.State, p *proposal.Proposal) string {
	set, _ := st.SignerSet()
	return needsAt(st.Policy, set, p)
}

// needsAt says in words who must sign p against policy pol and signer set set.
func needsAt(pol *policy.Policy, set *quorum.SignerSet, p *proposal.Proposal) string {
	r, err := policy.Classify(pol, p.Changeset)
	if err != nil {
		return "nothing can approve it: " + err.Error()
	}
	var quorumRoles []string
	for _, m := range set.Members {
		if quorum.IsQuorumRole(m.Role) && !slices.Contains(quorumRoles, m.Role) {
			quorumRoles = append(quorumRoles, m.Role)
		}
	}
	th := fmt.Sprintf("%d of the %d quorum members (%s) of signer set version %d", set.Threshold, quorumCount(set), strings.Join(quorumRoles, ", "), set.Version)
	switch r.Class {
	case policy.Sensitive:
		s := th
		if len(r.OutOfBounds) > 0 {
			s += fmt.Sprintf(" — %s move beyond ±%d%% of the baseline", strings.Join(r.OutOfBounds, ", "), policy.BoundPercent)
		}
		return s
	default:
		return fmt.Sprintf("one signature by role %s, or %s", strings.Join(r.Roles, " or "), th)
	}
}

func mustTime(s string) time.Time {
	t, _ := quorum.ParseTime(s)
	return t
}

// defaultSlug names a proposal after its scope and the keys of its changes.
func defaultSlug(scope string, changes []string) string {
	parts := []string{}
	if t, ok := strings.CutPrefix(scope, "tenant:"); ok {
		parts = append(parts, t)
	}
	for _, c := range changes {
		k, _, _ := strings.Cut(c, "=")
		if !slices.Contains(parts, k) {
			parts = append(parts, k)
		}
	}
	return strings.Join(parts, "-")
}

// attachments pins each --attach file by digest. A file inside the working
// tree is named by its repository path (and committed when it is not yet);
// one outside is copied to attachments/<id>/<base name>.
func attachments(l *loaded, id string, paths []string, files map[string][]byte) ([]proposal.Attachment, error) {
	out := []proposal.Attachment{}
	root, err := filepath.Abs(l.repo.Dir())
	if err != nil {
		return nil, envErr(err)
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, envErr(err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxAttachment+1))
		f.Close()
		if err != nil {
			return nil, envErr(err)
		}
		if len(data) > maxAttachment {
			return nil, usage("--attach %s: larger than %d bytes; attach a digest-pinned link instead", p, maxAttachment)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, envErr(err)
		}
		name := ""
		if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
			name = filepath.ToSlash(rel)
			if verify.IsGovernancePath(name) || strings.HasPrefix(name, pendingDir) || strings.HasPrefix(name, ".git/") {
				return nil, usage("--attach %s: a governance or pending file cannot be an attachment", p)
			}
		} else {
			name = path.Join(attachmentsDir, id, filepath.Base(abs))
		}
		if slices.ContainsFunc(out, func(a proposal.Attachment) bool { return a.Name == name }) {
			return nil, usage("--attach %s: given twice", p)
		}
		files[name] = data
		out = append(out, proposal.Attachment{Name: name, Digest: proposal.AttachmentDigest(data)})
	}
	return out, nil
}
