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
