package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// RootEnv names the environment variable that pins the root signer set.
const RootEnv = "GOVTOOL_ROOT_DIGEST"

// repoFlags are the flags every command that reads a governance repo takes.
type repoFlags struct {
	dir  string
	root string
	now  string // RFC 3339; for tests and re-verification of old states
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.dir, "repo", "C", ".", "governance repository (a Git working tree)")
	cmd.Flags().StringVar(&f.root, "root", "", "pinned digest of signer-sets/0001.json (default $"+RootEnv+")")
	cmd.Flags().StringVar(&f.now, "now", "", "verify as of this RFC 3339 time instead of the clock")
	_ = cmd.Flags().MarkHidden("now")
}

// clock returns the time commands judge expiry by.
func (f *repoFlags) clock() (time.Time, error) {
	if f.now == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, f.now)
	if err != nil {
		return time.Time{}, usage("--now %q: want RFC 3339", f.now)
	}
	return t.UTC(), nil
}

// loaded is a governance repository verified from its root to a commit.
type loaded struct {
	repo   *gitrepo.Repo
	v      *verify.Verifier
	head   gitrepo.Hash
	pinned bool // false: the root was taken from the repository itself
	now    time.Time
}

// load opens the repository and verifies it from the root to HEAD. With no
// pinned root it trusts signer-sets/0001.json as found in the root commit
// and says so on stderr (openAudit); `govtool verify` refuses that.
func (f *repoFlags) load(ctx context.Context, e *env) (*loaded, error) {
	now, err := f.clock()
	if err != nil {
		return nil, err
	}
	a, err := openAudit(ctx, e, f, "HEAD")
	if err != nil {
		return nil, err
	}
	v := verify.New(a.root, verify.Options{Now: now})
	if _, err := history.Verify(ctx, a.repo, v, a.head, history.Options{}); err != nil {
		return nil, auditErr(a.head, err)
	}
	return &loaded{repo: a.repo, v: v, head: a.head, pinned: a.pinned, now: now}, nil
}

// audit is a repository opened for reading at a commit, with the root it
// is verified from: pinned (--root or $GOVTOOL_ROOT_DIGEST), or — for the auditor's
// commands, never for verify — taken from the repository with a warning.
type audit struct {
	repo   *gitrepo.Repo
	head   gitrepo.Hash
	root   string // "" from openRepo when no root is pinned
	pinned bool
}

// openRepo opens the governance repository, resolves rev and reads the
// pinned root: the steps every command that reads the repository shares.
// Without a pinned root a.root is "": what then is the caller's choice
// (openAudit trusts the repository's own copy, verify refuses).
func openRepo(e *env, fl *repoFlags, rev string) (*audit, error) {
	repo, err := gitrepo.Open(fl.dir)
	if err != nil {
		return nil, envErr(fmt.Errorf("opening governance repository %s: %w", fl.dir, err))
	}
	head, err := resolveRev(repo, rev)
	if err != nil {
		return nil, envErr(fmt.Errorf("resolving %s: %w", rev, err))
	}
	a := &audit{repo: repo, head: head, root: fl.root}
	if a.root == "" {
		a.root = e.getenv(RootEnv)
	}
	if a.root != "" {
		if _, err := canon.ParseDigest(a.root); err != nil {
			return nil, usage("pinned root %q (--root or $%s): %v", a.root, RootEnv, err)
		}
		a.pinned = true
	}
	return a, nil
}

// openAudit is openRepo for the auditor's commands: without a pinned root it
// trusts signer-sets/0001.json as found in the repository and says so on
// stderr.
func openAudit(ctx context.Context, e *env, fl *repoFlags, rev string) (*audit, error) {
	a, err := openRepo(e, fl, rev)
	if err != nil || a.pinned {
		return a, err
	}
	if a.root, err = rootFromRepo(ctx, a.repo, a.head); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "govtool: warning: root not pinned; trusting signer-sets/0001.json as found (%s). Pin it with --root or $%s.\n", a.root, RootEnv)
	return a, nil
}

// verifyFailure returns the verification failure (exit 1) that err, an
// error of history.Verify, reports, or nil when err is an environment error
// (exit 3). It is the one list of the errors that count as verification
// failures: the verifier's own, and the gitrepo errors that put the fault
// in the history rather than in the machine, which it states as a
// *verify.Error. A TreeEntryError or FileTooLargeError does not know the
// commit it was met in: Commit is then "" (verify's fail fills it in).
func verifyFailure(err error) *verify.Error {
	var (
		ve *verify.Error
		nd *gitrepo.NotDescendantError
		te *gitrepo.TreeEntryError
		fe *gitrepo.FileTooLargeError
	)
	switch {
	case errors.As(err, &ve):
		return ve
	case errors.As(err, &nd):
		return &verify.Error{Reason: verify.ReasonNotFastForward, Commit: nd.To.String(),
			Msg: fmt.Sprintf("HEAD %s is not a fast-forward of the verified commit %s", nd.To.Short(), nd.From.Short())}
	case errors.As(err, &te):
		return &verify.Error{Reason: verify.ReasonMalformed, Path: te.Path, Msg: "governance paths hold only regular files in well-formed trees", Err: err}
	case errors.As(err, &fe):
		return &verify.Error{Reason: verify.ReasonMalformed, Path: fe.Path, Msg: "a governance file too large to read", Err: err}
	}
	return nil
}

// auditErr sorts an error of history.Verify towards `to` into a
// verification failure (exit 1) or an environment error (exit 3), by
// verifyFailure.
func auditErr(to gitrepo.Hash, err error) error {
	if verifyFailure(err) != nil {
		return failed(fmt.Errorf("the history to %s does not verify: %w", to.Short(), err))
	}
	return envErr(fmt.Errorf("verifying %s: %w", to.Short(), err))
}

// rootFromRepo finds the digest of signer-sets/0001.json in the first commit
// on HEAD's first-parent chain that has it.
func rootFromRepo(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash) (string, error) {
	chain, err := repo.FirstParentChain(ctx, gitrepo.Hash{}, head)
	if err != nil {
		return "", envErr(err)
	}
	for _, c := range chain {
		data, err := repo.ReadFile(ctx, c.Hash, verify.SignerSetPath(1))
		if errors.Is(err, gitrepo.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", envErr(err)
		}
		d, err := canon.DigestBytes(data)
		if err != nil {
			return "", failed(fmt.Errorf("%s: %w", verify.SignerSetPath(1), err))
		}
		return d, nil
	}
	return "", failed(fmt.Errorf("no %s in the history of %s: is this a governance repository? (govtool init creates one)", verify.SignerSetPath(1), head.Short()))
}

// resolveRev resolves a revision: anything gitrepo.Resolve takes, followed
// by any number of "~N", "~" or "^" steps along first parents (main~2,
// HEAD^). Other revision syntax is refused by gitrepo.Resolve.
func resolveRev(repo *gitrepo.Repo, rev string) (gitrepo.Hash, error) {
	base, steps := rev, 0
	for {
		i := strings.LastIndexAny(base, "~^")
		if i <= 0 {
			break
		}
		n := 1
		if base[i] == '~' && i+1 < len(base) {
			v, err := strconv.Atoi(base[i+1:])
			if err != nil || v < 0 || v > 1<<20 {
				break // not a ~N suffix: let Resolve judge the name
			}
			n = v
		} else if i+1 != len(base) {
			break
		}
		steps += n
		base = base[:i]
	}
	h, err := repo.Resolve(base)
	if err != nil {
		return h, err
	}
	for ; steps > 0; steps-- {
		c, err := repo.Commit(context.Background(), h)
		if err != nil {
			return h, err
		}
		if len(c.Parents) == 0 {
			return h, fmt.Errorf("%s: walks past the root commit %s", rev, h.Short())
		}
		h = c.Parents[0]
	}
	return h, nil
}
