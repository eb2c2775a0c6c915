package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newLogCmd) }

// authorNote is said wherever commit authors are shown.
const authorNote = "commit authors are claims made by whoever wrote each commit, not authenticated identities; the signatures are what count"

func newLogCmd(e *env) *cobra.Command {
	var fl repoFlags
	var since, format string
	cmd := &cobra.Command{
		Use:   "log [--since 7d] [--format text|json]",
		Short: "Governance history from Git: proposals, approvals, executions, rotations, freezes, enrollments",
		Long: `log verifies the repository from its root to HEAD and tells its governance
history, oldest first, one group per commit that touched governance files:
the genesis, proposals written, signatures added (by role and key id),
executions with the policy change in words, signer-set rotations, freezes
and unfreezes, appliance enrollments and removals, withdrawals.

Each group names the commit's author as Git records it. That is a claim made
by whoever wrote the commit, not an authenticated identity: the signatures
are what count.

--since keeps the commits of the last 7d, 36h, 90m …, or since a date
(2026-03-01 or RFC 3339). If the history stops verifying, log prints what
verified and fails.

Exit codes: 0 ok, 1 the history does not verify, 2 usage, 3 environment.

Example:
  govtool log --since 7d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLog(cmd.Context(), e, &fl, since, format)
		},
	}
	fl.register(cmd)
	cmd.Flags().StringVar(&since, "since", "", "only commits since this long ago (7d, 36h) or this date (2026-03-01, RFC 3339)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// logEvent is one thing that happened in a commit.
type logEvent struct {
	Commit string `json:"commit"`
	Time   string `json:"time"` // committer time, UTC
	// Author and AuthorEmail are the commit's author as Git records it:
	// unauthenticated (AuthorAuthenticated is always false).
	Author              string `json:"author"`
	AuthorEmail         string `json:"author_email"`
	AuthorAuthenticated bool   `json:"author_authenticated"`
	// Kind is one of genesis, proposed, signed, signature_removed, edited,
	// withdrawn, executed, rotated, frozen, unfrozen, enrolled, unenrolled,
	// dispute.
	Kind             string      `json:"kind"`
	Proposal         string      `json:"proposal,omitempty"`
	Signer           *signerView `json:"signer,omitempty"`
	PolicyVersion    int         `json:"policy_version,omitempty"`
	SignerSetVersion int         `json:"signer_set_version,omitempty"`
	Text             string      `json:"text"`
}

func runLog(ctx context.Context, e *env, fl *repoFlags, since, format string) error {
	if format != "text" && format != "json" {
		return usage("--format %q: want text or json", format)
	}
	now, err := fl.clock()
	if err != nil {
		return err
	}
	var cutoff time.Time
	if since != "" {
		if cutoff, err = parseSince(since, now); err != nil {
			return usage("--since: %v", err)
		}
	}
	a, err := openAudit(ctx, e, fl, "HEAD")
	if err != nil {
		return err
	}
	v := verify.New(a.root, verify.Options{Now: now})
	steps, verr := history.Verify(ctx, a.repo, v, a.head, history.Options{})
	if verr != nil && verifyFailure(verr) == nil {
		return auditErr(a.head, verr) // an environment error: nothing to print
	}
	events, err := logEvents(ctx, a.repo, v.State(), steps)
	if err != nil {
		return err
	}
	var kept []logEvent
	for _, ev := range events {
		if t, _ := time.Parse(time.RFC3339, ev.Time); cutoff.IsZero() || !t.Before(cutoff) {
			kept = append(kept, ev)
		}
	}
	if format == "json" {
		if kept == nil {
			kept = []logEvent{}
		}
		if err := emitJSON(e.stdout, kept); err != nil {
			return envErr(err)
		}
	} else {
		writeLogText(e.stdout, kept, a.pinned)
	}
	if verr != nil {
		return auditErr(a.head, verr)
	}
	return nil
}

// parseSince turns 7d, 36h, 90m, 2026-03-01 or an RFC 3339 time into the
// earliest commit time kept.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.Add(-time.Duration(d) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (7d, 36h, 90m) or a date (2026-03-01, RFC 3339)", s)
}

// logEvents derives the events of each verified step. final is the state
// after the last step: executed proposals never change, so their final
// record is the one executed; the policy is replayed from version 1 to
// describe each execution against the policy it was applied to.
func logEvents(ctx context.Context, repo *gitrepo.Repo, final *verify.State, steps []history.Step) ([]logEvent, error) {
	var events []logEvent
	signed := map[string][]verify.Signer{} // proposal id → keys that had signed
	var pol *policy.Policy
	for _, st := range steps {
		r := st.Report
		if !r.Governance {
			continue
		}
		c := st.Commit
		base := logEvent{Commit: c.Hash.String(), Time: utc3339(c.CommitTime), Author: c.Author, AuthorEmail: c.AuthorEmail,
			PolicyVersion: r.PolicyVersion, SignerSetVersion: r.SignerSetVersion}
		add := func(kind, prop string, signer *signerView, text string) {
			ev := base
			ev.Kind, ev.Proposal, ev.Signer, ev.Text = kind, prop, signer, text
			events = append(events, ev)
		}
		if r.Genesis {
			p, err := genesisPolicyOf(ctx, repo, c.Hash.String())
			if err != nil {
				return nil, err
			}
			pol = p
			add("genesis", "", nil, fmt.Sprintf("%s; policy v1 (%s profile)", describeSet(final.SignerSets[0]), p.Profile))
		}
		for _, ps := range r.Proposals {
			if ps.Status == "" {
				add("withdrawn", ps.ID, nil, ps.ID)
				delete(signed, ps.ID)
				continue
			}
			before, seen := signed[ps.ID]
			if !seen {
				text := fmt.Sprintf("%s (%s)", ps.ID, need(ps))
				// The proposal as this commit wrote it (it may change later).
				data, err := repo.ReadFile(ctx, c.Hash, proposal.FilePath(ps.ID))
				if err != nil {
					return nil, envErr(fmt.Errorf("log: reading %s at %s: %w", proposal.FilePath(ps.ID), c.Hash.Short(), err))
				}
				if p, err := proposal.Parse(data); err == nil && pol != nil {
					text += ": " + strings.Join(policy.Describe(pol, p.Changeset), "; ")
				}
				add("proposed", ps.ID, nil, text)
			}
			for _, s := range newSigners(before, ps.Signed) {
				add("signed", ps.ID, &s, fmt.Sprintf("%s by %s %s", ps.ID, s.Role, shortKeyID(s.KeyID)))
			}
			for _, s := range newSigners(ps.Signed, before) {
				add("signature_removed", ps.ID, &s, fmt.Sprintf("%s: %s %s", ps.ID, s.Role, shortKeyID(s.KeyID)))
			}
			if seen && len(newSigners(before, ps.Signed)) == 0 && len(newSigners(ps.Signed, before)) == 0 {
				add("edited", ps.ID, nil, ps.ID)
			}
			signed[ps.ID] = ps.Signed
		}
		if r.Executed != "" {
			rec := final.Proposals[r.Executed]
			if rec == nil || pol == nil {
				return nil, failed(fmt.Errorf("log: executed proposal %s missing from the verified state (a bug: report it)", r.Executed))
			}
			p := rec.Proposal
			add("executed", p.ID, nil, fmt.Sprintf("%s → policy v%d: %s", p.ID, rec.PolicyVersion, strings.Join(policy.Describe(pol, p.Changeset), "; ")))
			for _, o := range p.Changeset {
				segs, _ := policy.SplitPointer(o.Path)
				switch {
				case o.Path == "/freeze" && o.Op == policy.OpSet:
					add("frozen", p.ID, nil, describeOne(pol, o))
				case o.Path == "/freeze" && o.Op == policy.OpUnset:
					add("unfrozen", p.ID, nil, fmt.Sprintf("freeze lifted (policy v%d)", rec.PolicyVersion))
				case len(segs) == 2 && segs[0] == "appliances" && o.Op == policy.OpSet:
					add("enrolled", p.ID, nil, describeOne(pol, o))
				case len(segs) == 2 && segs[0] == "appliances" && o.Op == policy.OpUnset:
					add("unenrolled", p.ID, nil, describeOne(pol, o))
				}
			}
			if r.Rotated > 1 {
				add("rotated", p.ID, nil, proposal.DescribeRotation(final.SignerSets[r.Rotated-2], final.SignerSets[r.Rotated-1]))
			}
			next, err := proposal.Execute(pol, p, rec.ExecutedAt)
			if err != nil {
				return nil, failed(fmt.Errorf("log: replaying %s: %w (a bug: report it)", p.ID, err))
			}
			pol = next
		}
	}
	return events, nil
}

func describeOne(pol *policy.Policy, o policy.Op) string {
	return policy.Describe(pol, []policy.Op{o})[0]
}

func writeLogText(w io.Writer, events []logEvent, pinned bool) {
	fmt.Fprintf(w, "# %s\n", authorNote)
	if !pinned {
		fmt.Fprintln(w, "# root NOT PINNED: verified from signer-sets/0001.json as found in the repository")
	}
	if len(events) == 0 {
		fmt.Fprintln(w, "no governance events")
		return
	}
	last := ""
	for _, ev := range events {
		if ev.Commit != last {
			last = ev.Commit
			fmt.Fprintf(w, "\n%s %s  commit author (unauthenticated): %s <%s>\n", ev.Time, commitShort(ev.Commit), ev.Author, ev.AuthorEmail)
		}
		fmt.Fprintf(w, "  %-17s %s\n", ev.Kind, ev.Text)
	}
}
