package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newStatusCmd) }

func newStatusCmd(e *env) *cobra.Command {
	var fl repoFlags
	var format string
	cmd := &cobra.Command{
		Use:   "status [--format text|markdown|json]",
		Short: "Show every open proposal: who has signed, who is missing, time left",
		Long: `status verifies the repository from its root to HEAD, then lists every open
proposal: its class and the signatures it needs, who has signed (role and
key id prefix), who is missing, the time left before it expires, and what
keeps it from being executed. The markdown format is the pull-request
comment the governance workflow posts.

The root is pinned with --root or $` + RootEnv + `; without one, status trusts
signer-sets/0001.json as found and says so on stderr.

Exit codes: 0 ok, 1 the history does not verify, 2 usage, 3 environment.

Example (the pull-request comment):
  govtool status --format markdown > comment.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "text", "markdown", "json":
			default:
				return usage("--format %q: want text, markdown or json", format)
			}
			l, err := fl.load(cmd.Context(), e)
			if err != nil {
				return err
			}
			view := newGovView(l.v, l.v.State(), l.head.String(), l.pinned, l.now)
			switch format {
			case "json":
				if err := emitJSON(e.stdout, view); err != nil {
					return envErr(err)
				}
			case "markdown":
				var b strings.Builder
				writeStatusMarkdown(&b, view)
				if _, err := io.WriteString(e.stdout, b.String()); err != nil {
					return envErr(err)
				}
			default:
				writeStatusText(e.stdout, view)
			}
			return nil
		},
	}
	fl.register(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, markdown or json")
	return cmd
}

// govView is a verified state as status, verify's summary and json show it.
type govView struct {
	Commit    string         `json:"commit"`
	Root      string         `json:"root"`
	Pinned    bool           `json:"pinned"`
	At        string         `json:"at"` // the time proposals are judged at
	Policy    *policyView    `json:"policy"`
	SignerSet *signerSetView `json:"signer_set"`
	Open      []proposalView `json:"open_proposals"`
}

type policyView struct {
	Version int    `json:"version"`
	Digest  string `json:"digest"`
	Profile string `json:"profile"`
	Frozen  bool   `json:"frozen"`
}

type signerSetView struct {
	Version   int          `json:"version"`
	Digest    string       `json:"digest"`
	Threshold int          `json:"threshold"`
	Members   []signerView `json:"members"`
	ExpiresAt string       `json:"expires_at"`
	Expired   bool         `json:"expired"`
}

type signerView struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
}

type proposalView struct {
	ID       string `json:"id"`
	Scope    string `json:"scope"`
	Class    string `json:"class"`    // "" when the changeset cannot be classified
	Required int    `json:"required"` // signatures the class needs
	// Changes are the changeset in words, against the policy in force.
	Changes  []string     `json:"changes"`
	Signed   []signerView `json:"signed"`
	Missing  []signerView `json:"missing"`
	Rejected []string     `json:"rejected,omitempty"`
	Approved bool         `json:"approved"`
	// Ready means it may be executed now: approved, unexpired, no problem.
	Ready       bool   `json:"ready"`
	ExpiresAt   string `json:"expires_at"`
	Expired     bool   `json:"expired"`
	SecondsLeft int64  `json:"seconds_left"`
	Problem     string `json:"problem,omitempty"`
}

// newGovView builds the view of st (verified by v) at time at.
func newGovView(v *verify.Verifier, st *verify.State, commit string, pinned bool, at time.Time) govView {
	g := govView{Commit: commit, Root: v.Pin(), Pinned: pinned, At: utc3339(at), Open: []proposalView{}}
	if st.Policy != nil {
		g.Policy = &policyView{Version: st.Policy.Version, Digest: st.PolicyDigest, Profile: st.Policy.Profile, Frozen: st.Policy.Frozen(at)}
	}
	if set, d := st.SignerSet(); set != nil {
		sv := &signerSetView{Version: set.Version, Digest: d, Threshold: set.Threshold, ExpiresAt: set.ExpiresAt, Expired: set.Expired(at)}
		for _, m := range set.Members {
			sv.Members = append(sv.Members, signerView{Role: m.Role, KeyID: m.KeyID})
		}
		g.SignerSet = sv
	}
	for _, s := range v.Statuses(at) {
		if s.Status != verify.StatusOpen {
			continue
		}
		ps := st.Proposals[s.ID]
		pv := proposalView{ID: s.ID, Scope: ps.Proposal.Scope, Class: string(s.Class), Required: s.Required,
			Signed: signerViews(s.Signed), Missing: signerViews(s.Missing), Rejected: ignoredEntries(ps, s.Class),
			Approved: s.Approved, Ready: s.Approved && s.Problem == "" && !s.Expired,
			ExpiresAt: s.ExpiresAt, Expired: s.Expired, Problem: s.Problem, Changes: []string{}}
		if exp, err := quorum.ParseTime(s.ExpiresAt); err == nil {
			pv.SecondsLeft = int64(exp.Sub(at) / time.Second)
		}
		if st.Policy != nil {
			pv.Changes = policy.Describe(st.Policy, ps.Proposal.Changeset)
		}
		g.Open = append(g.Open, pv)
	}
	return g
}

// ignoredEntries lists the signature entries of ps that count for nothing.
// A role outside the quorum roles is worth saying for a sensitive change
// only: an operator's signature is what a parameter change needs.
func ignoredEntries(ps *verify.ProposalState, class policy.Class) []string {
	if ps.Tally == nil {
		return nil
	}
	var out []string
	for _, r := range ps.Tally.Rejected {
		if r.Reason == envelope.ReasonNotQuorum && class != policy.Sensitive {
			continue
		}
		out = append(out, r.Error())
	}
	return out
}

func signerViews(ss []verify.Signer) []signerView {
	out := make([]signerView, 0, len(ss))
	for _, s := range ss {
		out = append(out, signerView{Role: s.Role, KeyID: s.KeyID})
	}
	return out
}

// keyIDPrefix is how many hex digits of a key id humans are shown (the
// length proposal.DescribeRotation uses).
const keyIDPrefix = 12

func shortKeyID(id string) string {
	if len(id) > keyIDPrefix {
		return id[:keyIDPrefix] + "…"
	}
	return id
}

func signerList(ss []signerView, code bool) string {
	if len(ss) == 0 {
		return "—"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		if code {
			parts[i] = fmt.Sprintf("%s `%s`", mdText(s.Role), shortKeyID(s.KeyID))
		} else {
			parts[i] = s.Role + " " + shortKeyID(s.KeyID)
		}
	}
	return strings.Join(parts, ", ")
}

// timeLeft says how long until expiry, or how long ago it expired.
func leftText(seconds int64) string {
	if seconds <= 0 {
		return "expired " + spanText(time.Duration(-seconds)*time.Second) + " ago"
	}
	return spanText(time.Duration(seconds)*time.Second) + " left"
}

func spanText(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	default:
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
}

func (p proposalView) state() string {
	switch {
	case p.Ready:
		return "ready to execute"
	case p.Expired:
		return "expired"
	case !p.Approved:
		return "awaiting signatures"
	default:
		return "blocked"
	}
}

func (p proposalView) need() string {
	if p.Class == "" {
		return "unclassifiable (denied)"
	}
	n := "signature"
	if p.Required != 1 {
		n += "s"
	}
	return fmt.Sprintf("%s, needs %d %s", p.Class, p.Required, n)
}

func (g govView) header() string {
	if g.Policy == nil || g.SignerSet == nil {
		return fmt.Sprintf("commit %s: no governance yet (govtool init creates signer-sets/0001.json and policy/policy.json)", commitShort(g.Commit))
	}
	s := fmt.Sprintf("commit %s · policy v%d (%s) · signer set v%d, %d-of-%d quorum, expires %s",
		commitShort(g.Commit), g.Policy.Version, g.Policy.Profile, g.SignerSet.Version, g.SignerSet.Threshold, g.SignerSet.quorumSize(), g.SignerSet.ExpiresAt)
	if g.SignerSet.Expired {
		s += " (EXPIRED)"
	}
	if g.Policy.Frozen {
		s += " · FROZEN"
	}
	return s
}

func (s *signerSetView) quorumSize() int {
	n := 0
	for _, m := range s.Members {
		if quorum.IsQuorumRole(m.Role) {
			n++
		}
	}
	return n
}

// writeStatusText prints the view for a terminal.
func writeStatusText(w io.Writer, g govView) {
	fmt.Fprintln(w, g.header())
	if !g.Pinned {
		fmt.Fprintf(w, "root %s NOT PINNED (taken from the repository)\n", g.Root)
	}
	switch len(g.Open) {
	case 0:
		fmt.Fprintln(w, "no open proposals")
		return
	case 1:
		fmt.Fprintln(w, "1 open proposal")
	default:
		fmt.Fprintf(w, "%d open proposals\n", len(g.Open))
	}
	for _, p := range g.Open {
		fmt.Fprintf(w, "\n%s  %s — %s\n", p.ID, p.need(), p.state())
		fmt.Fprintf(w, "  scope:    %s\n", p.Scope)
		for _, c := range p.Changes {
			fmt.Fprintf(w, "  change:   %s\n", c)
		}
		fmt.Fprintf(w, "  signed:   %s\n", signerList(p.Signed, false))
		fmt.Fprintf(w, "  missing:  %s\n", signerList(p.Missing, false))
		for _, r := range p.Rejected {
			fmt.Fprintf(w, "  ignored:  %s\n", r)
		}
		fmt.Fprintf(w, "  expires:  %s (%s)\n", p.ExpiresAt, leftText(p.SecondsLeft))
		if p.Problem != "" {
			fmt.Fprintf(w, "  problem:  %s\n", p.Problem)
		}
	}
}

// writeStatusMarkdown writes the view as the pull-request comment shows it.
// Every piece of repository content is escaped (mdText): a comment must not
// mention people, link or format what a proposal author wrote.
func writeStatusMarkdown(b *strings.Builder, g govView) {
	b.WriteString("### Governance status\n\n")
	b.WriteString(mdText(g.header()) + "\n\n")
	if g.SignerSet != nil {
		fmt.Fprintf(b, "Signer set v%d: %s\n\n", g.SignerSet.Version, signerList(g.SignerSet.Members, true))
	}
	if !g.Pinned {
		fmt.Fprintf(b, "⚠️ root `%s` **not pinned** (taken from the repository)\n\n", g.Root)
	}
	if len(g.Open) == 0 {
		b.WriteString("No open proposals.\n")
		return
	}
	b.WriteString("| Proposal | Class | Signed | Missing | Expires | State |\n|---|---|---|---|---|---|\n")
	for _, p := range g.Open {
		icon := "⏳"
		switch {
		case p.Ready:
			icon = "✅"
		case p.Expired, p.Class == "":
			icon = "❌"
		case p.Approved:
			icon = "⚠️"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s (%s) | %s %s |\n", p.ID, mdText(p.need()),
			signerList(p.Signed, true), signerList(p.Missing, true), p.ExpiresAt, leftText(p.SecondsLeft), icon, p.state())
	}
	b.WriteString("\n")
	for _, p := range g.Open {
		fmt.Fprintf(b, "**`%s`** (%s)\n", p.ID, mdText(p.Scope))
		for _, c := range p.Changes {
			fmt.Fprintf(b, "- %s\n", mdText(c))
		}
		if p.Problem != "" {
			fmt.Fprintf(b, "- problem: %s\n", mdText(p.Problem))
		}
		for _, r := range p.Rejected {
			fmt.Fprintf(b, "- ignored signature: %s\n", mdText(r))
		}
		b.WriteString("\n")
	}
}

// mdText escapes text for Markdown: no formatting, links, HTML, table
// breaks or @-mentions, on one line.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '<', '>', '(', ')', '#', '+', '!', '|', '~', '&':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '@':
			b.WriteString("@\u2060") // a word joiner: no mention
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func utc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
