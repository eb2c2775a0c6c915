package cli

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newShowCmd) }

// resolveID finds the proposal that arg names in st: a full id, a path
// proposals/<id>.json, or a string that is a prefix of exactly one id or
// of exactly one id's slug (the words between the date and the hex).
// A full id is returned even when st does not hold it, so that callers can
// say why.
func resolveID(st *verify.State, arg string) (string, error) {
	if id, ok := proposal.IDFromPath(arg); ok {
		return id, nil
	}
	if proposal.IDRE.MatchString(arg) {
		return arg, nil
	}
	var match []string
	for id := range st.Proposals {
		if strings.HasPrefix(id, arg) || strings.HasPrefix(slugOf(id), arg) {
			match = append(match, id)
		}
	}
	slices.Sort(match)
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return "", failed(fmt.Errorf("no proposal %q on this branch (ids are YYYYMMDD-slug-hex; govtool status lists them)", arg))
	}
	return "", failed(fmt.Errorf("%q names %d proposals (%s): give the full id", arg, len(match), strings.Join(match, ", ")))
}

// slugOf returns the words of an id: "20260302-acme-pq-mode-4f1c2a" → "acme-pq-mode".
func slugOf(id string) string {
	if len(id) < 17 {
		return ""
	}
	return id[9 : len(id)-7]
}

// showSig is one signature entry as show reports it.
type showSig struct {
	Role   string `json:"role"`
	KeyID  string `json:"key_id"`
	Valid  bool   `json:"valid"`
	Counts bool   `json:"counts"`
	Reason string `json:"reason,omitempty"`
}

// showSigner is a member whose signature is missing.
type showSigner struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
}

// showOut is `govtool show --format json`.
type showOut struct {
	ID            string        `json:"id"`
	Status        string        `json:"status"`
	Uncommitted   bool          `json:"uncommitted,omitempty"`
	Digest        string        `json:"digest"`
	Scope         string        `json:"scope"`
	Author        string        `json:"author"`
	Class         string        `json:"class"`
	Required      int           `json:"required"`
	Needs         string        `json:"needs"`
	Changes       []string      `json:"changes"`
	Rationale     string        `json:"rationale"`
	Risk          string        `json:"risk"`
	Rollback      string        `json:"rollback"`
	Attachments   []string      `json:"attachments"`
	Signatures    []showSig     `json:"signatures"`
	Missing       []showSigner  `json:"missing"`
	Approved      bool          `json:"approved"`
	CreatedAt     string        `json:"created_at"`
	ExpiresAt     string        `json:"expires_at"`
	TimeLeft      string        `json:"time_left"`
	Problem       string        `json:"problem,omitempty"`
	ExecutedIn    string        `json:"executed_in,omitempty"`
	PolicyVersion int           `json:"policy_version,omitempty"`
	Rotation      *showRotation `json:"rotation,omitempty"`
}

type showRotation struct {
	Version    int       `json:"version"`
	Path       string    `json:"path"`
	Change     string    `json:"change"`
	Signatures []showSig `json:"signatures"`
	OldSigned  int       `json:"old_signed"`
	NewSigned  int       `json:"new_signed"`
	OldWant    int       `json:"old_want"`
	NewWant    int       `json:"new_want"`
}

func newShowCmd(e *env) *cobra.Command {
	var (
		rf     repoFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "show ID [--format text|json]",
		Short: "Show a proposal: digest, class, changes in words, signatures present and missing, time left",
		Long: `show prints proposal ID as verified on the current branch: the digest signers
sign, the action class and who must sign, the changeset in words, each
signature (valid or not, with the reason, and whether it counts), the
members whose signature is missing, and the time left before it expires.
A proposal file edited in the working tree is shown as it is there, marked
uncommitted. ID is a full id, proposals/<id>.json, or a unique prefix or
slug; "genesis" shows the pending genesis of a new repository.

Example:
  govtool show 20260302-acme-pq-mode-4f1c2a --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usage("--format %q: want text or json", format)
			}
			if args[0] == genesisName {
				return showGenesis(cmd.Context(), e, &rf, format)
			}
			return runShow(cmd.Context(), e, &rf, args[0], format)
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

// sigReport checks each entry of sigs over (objType, digest) against set.
func sigReport(set *quorum.SignerSet, objType, digest string, sigs []envelope.Signature) ([]showSig, *quorum.Tally) {
	t := set.Tally(objType, digest, sigs)
	out := make([]showSig, 0, len(sigs))
	for i, s := range sigs {
		r := showSig{Role: s.Role, KeyID: s.KeyID}
		// Tally keeps entries in order; find this entry's verdict.
		r.Valid = slices.Contains(t.Valid, s)
		r.Counts = slices.ContainsFunc(t.Counted, func(c envelope.Signature) bool { return c == s }) && firstIndex(sigs, s) == i
		for _, rej := range t.Rejected {
			if rej.Entry == s {
				r.Reason = string(rej.Reason)
				if rej.Detail != "" {
					r.Reason += " (" + rej.Detail + ")"
				}
			}
		}
		out = append(out, r)
	}
	return out, t
}

func firstIndex(sigs []envelope.Signature, s envelope.Signature) int {
	return slices.Index(sigs, s)
}

func runShow(ctx context.Context, e *env, rf *repoFlags, arg, format string) error {
	l, err := rf.load(ctx, e)
	if err != nil {
		return err
	}
	st := l.v.State()
	if st.Policy == nil {
		return failed(fmt.Errorf("the genesis is not executed yet: govtool show genesis"))
	}
	id, err := resolveID(st, arg)
	if err != nil {
		return err
	}
	now := l.now
	ps := st.Proposals[id]
	out := showOut{ID: id}
	var p *proposal.Proposal
	wt, err := readWorktree(l.repo, proposal.FilePath(id))
	if err != nil {
		return err
	}
	switch {
	case wt != nil && (ps == nil || sha256.Sum256(wt) != ps.FileHash):
		if p, err = proposal.Parse(wt); err != nil {
			return failed(fmt.Errorf("%s (working tree) is malformed: %w", proposal.FilePath(id), err))
		}
		out.Uncommitted = true
	case ps != nil:
		p = ps.Proposal
	default:
		return failed(fmt.Errorf("no proposal %s on this branch", id))
	}
	s := l.v.Evaluate(p, now)
	d, _ := p.Digest()
	out.Status, out.Digest, out.Scope, out.Author = string(s.Status), d, p.Scope, p.Author
	// An executed proposal is described against the policy it was
	// executed on, an open one against the policy in force.
	base, set := st.Policy, st.SignerSets[len(st.SignerSets)-1]
	if s.Status == verify.StatusExecuted {
		if base, err = policyBefore(ctx, l, s.ExecutedIn); err != nil {
			return err
		}
		set = st.SignerSets[p.SignerSet.Version-1]
		if _, r, err := proposal.Classify(base, p); err == nil {
			out.Class, out.Required = string(r.Class), r.Required(set)
		}
	} else {
		out.Class, out.Required = string(s.Class), s.Required
	}
	out.Needs = needsAt(base, set, p)
	out.Changes = proposal.DescribeChange(base, p)
	out.Rationale, out.Risk, out.Rollback = p.Rationale, p.Risk, p.Rollback
	out.Attachments = []string{}
	for _, a := range p.Attachments {
		out.Attachments = append(out.Attachments, a.Name+" "+a.Digest)
	}
	out.Approved, out.Problem = s.Approved, s.Problem
	out.Missing = []showSigner{}
	for _, m := range s.Missing {
		out.Missing = append(out.Missing, showSigner{Role: m.Role, KeyID: m.KeyID})
	}
	out.CreatedAt, out.ExpiresAt = p.CreatedAt, p.ExpiresAt
	out.TimeLeft = timeLeft(mustTime(p.ExpiresAt), now)
	out.ExecutedIn, out.PolicyVersion = s.ExecutedIn, s.PolicyVersion
	if r := p.SignerSet; r.Version >= 1 && r.Version <= len(st.SignerSets) {
		out.Signatures, _ = sigReport(st.SignerSets[r.Version-1], proposal.Type, d, p.Signatures)
	} else {
		out.Signatures = []showSig{}
	}
	if ref, ok := rotationTarget(p); ok && s.Status != verify.StatusExecuted {
		set, _ := st.SignerSet()
		if next, path, err := pendingSet(ctx, l.repo, l.head, p, ref); err == nil {
			nd, _ := next.Digest()
			rot := &showRotation{Version: next.Version, Path: path, Change: proposal.DescribeRotation(set, next)}
			sigs, to := sigReport(set, quorum.TypeSignerSet, nd, next.Signatures)
			sigsNew, tn := sigReport(next, quorum.TypeSignerSet, nd, next.Signatures)
			for i := range sigs {
				if sigsNew[i].Valid {
					sigs[i] = sigsNew[i]
				}
			}
			rot.Signatures = sigs
			rot.OldSigned, rot.OldWant, rot.NewSigned, rot.NewWant = len(to.Counted), to.Want, len(tn.Counted), tn.Want
			out.Rotation = rot
		} else if out.Problem == "" {
			out.Problem = err.Error()
		}
	}
	if format == "json" {
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return failed(err)
		}
		fmt.Fprintf(e.stdout, "%s\n", data)
		return nil
	}
	w := e.stdout
	status := out.Status
	if out.Uncommitted {
		status += ", working tree (uncommitted)"
	}
	if s.Status == verify.StatusExecuted {
		status = fmt.Sprintf("executed in %s (policy version %d)", shortKey(s.ExecutedIn), s.PolicyVersion)
	}
	fmt.Fprintf(w, "proposal %s [%s]\n", id, status)
	fmt.Fprintf(w, "  digest:    %s\n", out.Digest)
	fmt.Fprintf(w, "  scope:     %s\n", out.Scope)
	fmt.Fprintf(w, "  author:    %s\n", out.Author)
	fmt.Fprintf(w, "  class:     %s\n", orNone([]string{out.Class}))
	fmt.Fprintf(w, "  needs:     %s\n", out.Needs)
	fmt.Fprintf(w, "  created:   %s\n", out.CreatedAt)
	fmt.Fprintf(w, "  expires:   %s (%s)\n", out.ExpiresAt, out.TimeLeft)
	fmt.Fprintf(w, "  rationale: %s\n", out.Rationale)
	fmt.Fprintf(w, "  risk:      %s\n", out.Risk)
	fmt.Fprintf(w, "  rollback:  %s\n", out.Rollback)
	fmt.Fprintln(w, "  changes:")
	for _, c := range out.Changes {
		fmt.Fprintf(w, "    %s\n", c)
	}
	for _, a := range out.Attachments {
		fmt.Fprintf(w, "  attachment: %s\n", a)
	}
	writeSigs(w, "  signatures:", out.Signatures)
	if s.Status != verify.StatusExecuted {
		fmt.Fprintln(w, "  missing:")
		if len(out.Missing) == 0 {
			fmt.Fprintln(w, "    none")
		}
		for _, m := range out.Missing {
			fmt.Fprintf(w, "    %-17s %s\n", m.Role, m.KeyID)
		}
	}
	if r := out.Rotation; r != nil {
		fmt.Fprintf(w, "  rotation:  %s\n", r.Change)
		fmt.Fprintf(w, "  next set:  %s: %d of %d from the old set, %d of %d from the new\n", r.Path, r.OldSigned, r.OldWant, r.NewSigned, r.NewWant)
		writeSigs(w, "  next set signatures:", r.Signatures)
	}
	switch {
	case s.Status == verify.StatusExecuted:
	case out.Problem == "":
		fmt.Fprintf(w, "approved: govtool execute %s\n", id)
	default:
		fmt.Fprintf(w, "cannot execute yet: %s\n", out.Problem)
	}
	return nil
}

func writeSigs(w interface{ Write([]byte) (int, error) }, title string, sigs []showSig) {
	fmt.Fprintln(w, title)
	if len(sigs) == 0 {
		fmt.Fprintln(w, "    none")
	}
	for _, s := range sigs {
		verdict := "valid"
		if !s.Valid {
			verdict = "INVALID: " + s.Reason
		} else if !s.Counts {
			verdict = "valid, does not count: " + s.Reason
		}
		fmt.Fprintf(w, "    %-17s %s  %s\n", s.Role, s.KeyID, verdict)
	}
}

// showGenesis shows the pending genesis.
func showGenesis(ctx context.Context, e *env, rf *repoFlags, format string) error {
	g, err := rf.loadGenesis(ctx, e)
	if err != nil {
		return err
	}
	setSigs, ts := sigReport(g.set, quorum.TypeSignerSet, g.setD, g.set.Signatures)
	polSigs, tp := sigReport(g.set, "policy", g.polD, g.pol.Signatures)
	if format == "json" {
		data, err := json.MarshalIndent(map[string]any{
			"root": g.setD, "policy_digest": g.polD, "threshold": g.set.Threshold,
			"signer_set_signatures": setSigs, "policy_signatures": polSigs,
			"approved": ts.Met() && tp.Met(), "expires_at": g.set.ExpiresAt,
		}, "", "  ")
		if err != nil {
			return failed(err)
		}
		fmt.Fprintf(e.stdout, "%s\n", data)
		return nil
	}
	w := e.stdout
	fmt.Fprintf(w, "pending genesis (%s profile)\n", g.pol.Profile)
	fmt.Fprintf(w, "  root:      %s\n", g.setD)
	fmt.Fprintf(w, "  policy:    %s\n", g.polD)
	fmt.Fprintf(w, "  needs:     %d of %d quorum members on each\n", g.set.Threshold, quorumCount(g.set))
	fmt.Fprintf(w, "  set expires: %s (%s)\n", g.set.ExpiresAt, timeLeft(mustTime(g.set.ExpiresAt), g.l.now))
	for _, m := range g.set.Members {
		fmt.Fprintf(w, "  member:    %-17s %s\n", m.Role, m.KeyID)
	}
	writeSigs(w, "  signer set signatures:", setSigs)
	writeSigs(w, "  policy signatures:", polSigs)
	if ts.Met() && tp.Met() {
		fmt.Fprintln(w, "approved: govtool execute genesis")
	} else {
		fmt.Fprintf(w, "not approved yet: %d of %d on the set, %d of %d on the policy\n", len(ts.Counted), ts.Want, len(tp.Counted), tp.Want)
	}
	return nil
}

// policyBefore returns the policy in force before commit executed.
func policyBefore(ctx context.Context, l *loaded, executed string) (*policy.Policy, error) {
	h, err := gitrepo.ParseHash(executed)
	if err != nil {
		return nil, failed(err)
	}
	c, err := l.repo.Commit(ctx, h)
	if err != nil {
		return nil, envErr(err)
	}
	if len(c.Parents) == 0 {
		return nil, failed(fmt.Errorf("commit %s executed a proposal but has no parent", h.Short()))
	}
	data, err := l.repo.ReadFile(ctx, c.Parents[0], policy.Path)
	if err != nil {
		return nil, envErr(err)
	}
	pol, err := policy.Parse(data)
	if err != nil {
		return nil, failed(err)
	}
	return pol, nil
}
