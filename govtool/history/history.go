// Package history feeds a Git repository's first-parent history to the one
// verifier (govtool/verify). It is the glue that `govtool verify`, CI and
// the appliance's sync loop share, so that all three verify the same way.
package history

import (
	"context"
	"fmt"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// Prefixes are the governance paths whose changes the verifier reads.
var Prefixes = []string{
	verify.SignerSetDir,
	verify.ProposalDir,
	verify.PolicyPath,
	verify.ApplianceDir,
	verify.DisputeDir,
}

// Options tune Verify.
type Options struct {
	// AllNew checks every commit with ApplyNew, against the verifier's
	// clock, as CI checks the commits of a pull request or a push (verify
	// the base first, then the rest with AllNew). Otherwise every commit is
	// history (Apply), as an appliance that pulls after a merge checks it.
	AllNew bool
	// Progress, if set, is called after each commit.
	Progress func(done, total int, c gitrepo.CommitInfo)
}

// Step is the outcome of one verified commit.
type Step struct {
	Commit gitrepo.CommitInfo
	Report *verify.Report
}

// Verify advances v from the commit it last verified (v.State().Commit, or
// the root for a fresh verifier) along the first-parent chain to `to`. It
// stops at the first commit that fails and returns its *verify.Error; v then
// holds the state of the last good commit. A `to` that does not descend from
// the last verified commit — a force-push or a rollback — returns a
// *gitrepo.NotDescendantError and leaves v unchanged.
func Verify(ctx context.Context, repo *gitrepo.Repo, v *verify.Verifier, to gitrepo.Hash, opts Options) ([]Step, error) {
	var from gitrepo.Hash
	if c := v.State().Commit; c != "" {
		h, err := gitrepo.ParseHash(c)
		if err != nil {
			return nil, fmt.Errorf("history: verified state names commit %q: %w", c, err)
		}
		from = h
	}
	chain, err := repo.FirstParentChain(ctx, from, to)
	if err != nil {
		return nil, err
	}
	isNew := opts.AllNew
	steps := make([]Step, 0, len(chain))
	for i, c := range chain {
		if err := ctx.Err(); err != nil {
			return steps, err
		}
		changes, err := repo.Changes(ctx, c, Prefixes)
		if err != nil {
			return steps, err
		}
		vc := verify.Commit{
			Hash:    c.Hash.String(),
			Parents: make([]string, len(c.Parents)),
			Time:    c.CommitTime,
			Author:  c.Author,
			Changes: make([]verify.Change, len(changes)),
		}
		for j, p := range c.Parents {
			vc.Parents[j] = p.String()
		}
		for j, ch := range changes {
			vc.Changes[j] = verify.Change{Path: ch.Path, Before: ch.Before, After: ch.After, Deleted: ch.Deleted}
		}
		var rep *verify.Report
		if isNew {
			rep, err = v.ApplyNew(vc)
		} else {
			rep, err = v.Apply(vc)
		}
		if err != nil {
			return steps, err
		}
		steps = append(steps, Step{Commit: c, Report: rep})
		if opts.Progress != nil {
			opts.Progress(i+1, len(chain), c)
		}
	}
	return steps, nil
}
