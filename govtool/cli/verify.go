package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newVerifyCmd) }

// progressEvery is how often (in commits) verify reports progress. A
// variable for tests.
var progressEvery = 500

// signerSetWarnBefore is how long before its expiry a signer set is flagged.
const signerSetWarnBefore = 14 * 24 * time.Hour

type verifyFlags struct {
	repoFlags
	base               string
	format             string
	rootFromRepoUnsafe bool
	progress           bool
}

func newVerifyCmd(e *env) *cobra.Command {
	var fl verifyFlags
	cmd := &cobra.Command{
		Use:   "verify [--base REF] [--format text|github|json] [--root DIGEST]",
		Short: "Verify the governance history from the pinned root to HEAD (the CI check)",
		Long: `verify checks every commit on HEAD's first-parent history, oldest first,
from the pinned root of trust (the digest of signer-sets/0001.json, from
--root or $` + RootEnv + `) to HEAD: file form, schemas, digests, signatures,
thresholds by distinct key and member, action classes and parameter bounds,
expiry, the signer-set chain, policy replay, and that nothing changes
policy/, signer-sets/ or appliances/ without an executed proposal.

With --base, the commits after REF are new: they are also checked against
the clock (a proposal added, signed or executed by them must not be expired
now), as CI checks a pull request (REF = its base) or a push (REF = main
before the push). REF must be on HEAD's first-parent history — HEAD must be
a fast-forward of it — or verification fails with not_fast_forward: that is
how a force-push that rewrites verified history shows.

verify refuses to run without a pinned root. --root-from-repo-unsafe trusts
signer-sets/0001.json as found in the repository, which proves nothing
about who wrote it; it exists for first looks at a repository, never for CI.

Formats: text (default); github — ::error annotations naming the file and
the reason, and a job summary appended to $GITHUB_STEP_SUMMARY when set;
json — one object with "ok", "reason", "error" and the verified state.
Progress goes to stderr every ` + fmt.Sprint(progressEvery) + ` commits when stderr is a terminal or with
--progress.

Exit codes:
  0  the history verifies
  1  verification failed (the reason is one of: ` + reasonList() + `)
  2  usage error (bad flag, no pinned root)
  3  environment error (no repository, a missing commit, a shallow clone)

Example (what the governance workflow runs on a pull request):
  GOVTOOL_ROOT_DIGEST=sha256:… govtool verify --base "$BASE" --format github`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), e, &fl)
		},
	}
	fl.register(cmd)
	cmd.Flags().StringVar(&fl.base, "base", "", "the last verified commit (a pull request's base, main before a push); commits after it are checked against the clock")
	cmd.Flags().StringVar(&fl.format, "format", "text", "output format: text, github or json")
	cmd.Flags().BoolVar(&fl.rootFromRepoUnsafe, "root-from-repo-unsafe", false, "UNSAFE: trust signer-sets/0001.json as found in the repository instead of a pinned root")
	cmd.Flags().BoolVar(&fl.progress, "progress", false, "report progress on stderr even when it is not a terminal")
	return cmd
}

func reasonList() string {
	s := make([]string, len(verify.Reasons))
	for i, r := range verify.Reasons {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// verifyOutcome is what one run of verify established.
type verifyOutcome struct {
	repo       *gitrepo.Repo
	v          *verify.Verifier
	head, base gitrepo.Hash
	pinned     bool
	now        time.Time
	commits    int // commits verified
	newCommits int // of which checked as new
	warnings   []string
	// err is the verification failure, nil when the history verifies. The
	// verifier then holds the state of the last good commit.
	err *verify.Error
}

func runVerify(ctx context.Context, e *env, fl *verifyFlags) error {
	switch fl.format {
	case "text", "github", "json":
	default:
		return usage("--format %q: want text, github or json", fl.format)
	}
	o, err := verifyRepo(ctx, e, fl)
	if err != nil {
		return err
	}
	switch fl.format {
	case "json":
		if err := o.emitJSON(e.stdout); err != nil {
			return envErr(err)
		}
	case "github":
		o.writeGitHub(e.stdout)
		if path := e.getenv("GITHUB_STEP_SUMMARY"); path != "" {
			if err := appendToFile(path, o.summaryMarkdown()); err != nil {
				fmt.Fprintf(e.stderr, "govtool: warning: writing the job summary to $GITHUB_STEP_SUMMARY: %v\n", err)
			}
		}
	default:
		o.writeText(e.stdout, e.stderr)
	}
	if o.err != nil {
		return failed(o.err)
	}
	return nil
}

// verifyRepo runs the verification. Usage and environment problems are
// returned as errors; a verification failure is o.err.
func verifyRepo(ctx context.Context, e *env, fl *verifyFlags) (*verifyOutcome, error) {
	now, err := fl.clock()
	if err != nil {
		return nil, err
	}
	a, err := openRepo(e, &fl.repoFlags, "HEAD")
	if err != nil {
		return nil, err
	}
	repo, head, root := a.repo, a.head, a.root
	o := &verifyOutcome{repo: repo, head: head, pinned: a.pinned, now: now}
	if fl.base != "" {
		o.base, err = resolveRev(repo, fl.base)
		if errors.Is(err, gitrepo.ErrNotFound) {
			return nil, envErr(fmt.Errorf("--base %s is not in the repository: fetch the whole history (actions/checkout with fetch-depth: 0); if it was on main, main was rewritten: %w", fl.base, err))
		}
		if err != nil {
			return nil, envErr(fmt.Errorf("resolving --base %s: %w", fl.base, err))
		}
	}
	switch {
	case a.pinned && fl.rootFromRepoUnsafe:
		return nil, usage("--root-from-repo-unsafe with a pinned root: drop one of them")
	case a.pinned:
	case fl.rootFromRepoUnsafe:
		if root, err = rootFromRepo(ctx, repo, head); err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stderr, "govtool: WARNING: --root-from-repo-unsafe: trusting signer-sets/0001.json as found (%s). This proves nothing about who wrote it: pin the root with --root or $%s.\n", root, RootEnv)
		o.warnings = append(o.warnings, "root not pinned (--root-from-repo-unsafe): the result proves nothing about who wrote signer-sets/0001.json")
	default:
		return nil, usage("no pinned root: pass --root sha256:… or set %s to the digest of signer-sets/0001.json that govtool init printed (--root-from-repo-unsafe trusts the repository's own copy, for a first look only)", RootEnv)
	}
	o.v = verify.New(root, verify.Options{Now: now})

	progress := func(phase string) func(int, int, gitrepo.CommitInfo) {
		if !fl.progress && !isTTY(e.stderr) {
			return nil
		}
		return func(done, total int, c gitrepo.CommitInfo) {
			if done%progressEvery == 0 || (done == total && total >= progressEvery) {
				fmt.Fprintf(e.stderr, "govtool: %s: verified %d/%d commits (%s)\n", phase, done, total, c.Hash.Short())
			}
		}
	}
	var last []history.Step
	if !o.base.IsZero() {
		// History up to the base, then the new commits from it: the second
		// call starts where the first stopped, so HEAD must descend from the
		// base along first parents, as an appliance that verified the base
		// requires of its next head.
		steps, err := history.Verify(ctx, repo, o.v, o.base, history.Options{Progress: progress("history")})
		o.commits += len(steps)
		last = steps
		if err != nil {
			return o, o.fail(ctx, err, o.base)
		}
		steps, err = history.Verify(ctx, repo, o.v, head, history.Options{AllNew: true, Progress: progress("new")})
		o.commits += len(steps)
		o.newCommits = len(steps)
		if len(steps) > 0 {
			last = steps
		}
		if err != nil {
			return o, o.fail(ctx, err, head)
		}
	} else {
		steps, err := history.Verify(ctx, repo, o.v, head, history.Options{Progress: progress("history")})
		o.commits = len(steps)
		last = steps
		if err != nil {
			return o, o.fail(ctx, err, head)
		}
	}
	if len(last) > 0 {
		o.warnings = append(o.warnings, last[len(last)-1].Report.Warnings...)
	}
	st := o.v.State()
	if set, _ := st.SignerSet(); set != nil {
		exp, _ := time.Parse(time.RFC3339, set.ExpiresAt)
		switch {
		case set.Expired(now):
			o.warnings = append(o.warnings, fmt.Sprintf("signer set version %d expired at %s: it approves nothing new; recover with a new root (re-pin)", set.Version, set.ExpiresAt))
		case exp.Sub(now) < signerSetWarnBefore:
			o.warnings = append(o.warnings, fmt.Sprintf("signer set version %d expires at %s: rotate it before then", set.Version, set.ExpiresAt))
		}
	}
	return o, nil
}

// fail records err from history.Verify (verifying towards `to`) as the
// verification failure, or returns it as an environment error
// (verifyFailure sorts them). It adds what the gitrepo errors do not say:
// the commit the failure was met in, and why HEAD is not a fast-forward.
func (o *verifyOutcome) fail(ctx context.Context, err error, to gitrepo.Hash) error {
	ve := verifyFailure(err)
	if ve == nil {
		return envErr(fmt.Errorf("verifying %s: %w", to.Short(), err))
	}
	var nd *gitrepo.NotDescendantError
	switch {
	case errors.As(err, &nd):
		if ok, aerr := o.repo.IsAncestor(ctx, nd.From, nd.To); aerr == nil && ok {
			ve.Msg += ": it reaches it only through a merge's second parent; rebase onto it so that it stays on the first-parent history"
		} else {
			ve.Msg += ": the history was rewritten (force-push or rollback) or does not build on it"
		}
	case ve.Commit == "":
		ve.Commit = o.nextCommit(ctx, to)
	}
	o.err = ve
	return nil
}

// nextCommit names the commit after the last verified one on the way to `to`.
func (o *verifyOutcome) nextCommit(ctx context.Context, to gitrepo.Hash) string {
	var from gitrepo.Hash
	if c := o.v.State().Commit; c != "" {
		from, _ = gitrepo.ParseHash(c)
	}
	chain, err := o.repo.FirstParentChain(ctx, from, to)
	if err != nil || len(chain) == 0 {
		return ""
	}
	return chain[0].Hash.String()
}

// view is the verified state (as of the last good commit) for output.
func (o *verifyOutcome) view() govView {
	return newGovView(o.v, o.v.State(), o.v.State().Commit, o.pinned, o.now)
}

func (o *verifyOutcome) writeText(stdout, stderr io.Writer) {
	if o.err != nil {
		last := "none"
		if c := o.v.State().Commit; c != "" {
			last = commitShort(c)
		}
		fmt.Fprintf(stderr, "govtool: verification failed (%d commits verified; last good commit: %s)\n", o.commits, last)
		return
	}
	pin := "pinned"
	if !o.pinned {
		pin = "NOT PINNED"
	}
	fmt.Fprintf(stdout, "ok: verified %d commits from root %s (%s) to %s\n", o.commits, o.v.Pin(), pin, o.head.Short())
	if !o.base.IsZero() {
		fmt.Fprintf(stdout, "new since base %s: %d commits, checked against %s\n", o.base.Short(), o.newCommits, utc3339(o.now))
	}
	writeStatusText(stdout, o.view())
	for _, w := range o.warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
}

// verifyJSON is the json format's object.
type verifyJSON struct {
	OK bool `json:"ok"`
	// Reason is the verification failure's reason (verify.Reasons), "" when ok.
	Reason     string     `json:"reason"`
	Error      *errorJSON `json:"error,omitempty"`
	Base       string     `json:"base,omitempty"`
	Commits    int        `json:"commits"`
	NewCommits int        `json:"new_commits"`
	Warnings   []string   `json:"warnings"`
	// State is the verified state: HEAD's when ok, the last good commit's
	// otherwise.
	State govView `json:"state"`
}

type errorJSON struct {
	Reason  string `json:"reason"`
	Path    string `json:"path,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Message string `json:"message"`
}

func (o *verifyOutcome) emitJSON(w io.Writer) error {
	out := verifyJSON{OK: o.err == nil, Commits: o.commits, NewCommits: o.newCommits, Warnings: o.warnings, State: o.view()}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	if !o.base.IsZero() {
		out.Base = o.base.String()
	}
	if o.err != nil {
		out.Reason = string(o.err.Reason)
		out.Error = &errorJSON{Reason: string(o.err.Reason), Path: o.err.Path, Commit: o.err.Commit, Message: verifyErrText(o.err)}
	}
	return emitJSON(w, out)
}

// verifyErrText is a verification error's message without the reason and
// place, which are reported separately.
func verifyErrText(ve *verify.Error) string {
	if ve.Err != nil {
		return ve.Msg + ": " + ve.Err.Error()
	}
	return ve.Msg
}

func emitJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeGitHub prints GitHub Actions workflow commands: an ::error
// annotation for a failure, ::warning for each warning, ::notice on success.
func (o *verifyOutcome) writeGitHub(w io.Writer) {
	for _, x := range o.warnings {
		fmt.Fprintf(w, "::warning title=govtool::%s\n", ghData(x))
	}
	if o.err != nil {
		props := []string{}
		if o.err.Path != "" {
			props = append(props, "file="+ghProp(o.err.Path))
		}
		props = append(props, "title="+ghProp(string(o.err.Reason)))
		msg := verifyErrText(o.err)
		if o.err.Commit != "" {
			msg = fmt.Sprintf("commit %s: %s", commitShort(o.err.Commit), msg)
		}
		fmt.Fprintf(w, "::error %s::%s\n", strings.Join(props, ","), ghData(msg))
		return
	}
	msg := fmt.Sprintf("verified %d commits from the pinned root to %s", o.commits, o.head.Short())
	if !o.base.IsZero() {
		msg += fmt.Sprintf(" (%d new since %s)", o.newCommits, o.base.Short())
	}
	fmt.Fprintf(w, "::notice title=governance verified::%s\n", ghData(msg))
}

// ghData escapes the message of a workflow command: a newline in repository
// content must never start a command of its own.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProp escapes a property value of a workflow command.
func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// summaryMarkdown is the job summary: the outcome, the state and the open
// proposals.
func (o *verifyOutcome) summaryMarkdown() []byte {
	var b strings.Builder
	view := o.view()
	if o.err == nil {
		fmt.Fprintf(&b, "## ✅ govtool verify: verified\n\n")
	} else {
		fmt.Fprintf(&b, "## ❌ govtool verify: `%s`\n\n", o.err.Reason)
		where := ""
		if o.err.Path != "" {
			where = fmt.Sprintf("**%s** ", mdText(o.err.Path))
		}
		if o.err.Commit != "" {
			where += fmt.Sprintf("in commit `%s`", commitShort(o.err.Commit))
		}
		fmt.Fprintf(&b, "%s: %s\n\n", where, mdText(verifyErrText(o.err)))
		fmt.Fprintf(&b, "The state below is that of the last commit that verified.\n\n")
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Head | `%s` |\n", o.head.Short())
	if !o.base.IsZero() {
		fmt.Fprintf(&b, "| Base | `%s` (%d new commits, checked against %s) |\n", o.base.Short(), o.newCommits, utc3339(o.now))
	}
	fmt.Fprintf(&b, "| Commits verified | %d |\n", o.commits)
	for _, w := range o.warnings {
		fmt.Fprintf(&b, "| ⚠️ Warning | %s |\n", mdText(w))
	}
	b.WriteString("\n")
	writeStatusMarkdown(&b, view)
	return []byte(b.String())
}

func appendToFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func commitShort(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
