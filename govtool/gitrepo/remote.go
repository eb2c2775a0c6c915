package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// AddRemote records a remote named name at url (fetch refspec
// +refs/heads/*:refs/remotes/<name>/*), as after Init before a first Push.
func (r *Repo) AddRemote(name, url string) error {
	r.lock()
	defer r.unlock()
	if _, err := r.repo.CreateRemote(&config.RemoteConfig{Name: name, URLs: []string{url}}); err != nil {
		return fmt.Errorf("gitrepo: adding remote %q: %w", name, err)
	}
	return nil
}

// Fetch fetches refspecs ("[+]src:dst", wildcards allowed; the remote's
// configured ones when empty) from the named remote. Being up to date is
// success. Tags are not fetched. A ref that a non-forced refspec would move
// backwards or sideways is left alone and reported as a *NonFastForwardError
// (the other refs are still updated); a refspec that would write the
// checked-out branch is refused.
//
// Refs are fetched into a private namespace first and then moved into place
// with the same compare-and-swap as CommitToBranch.
func (r *Repo) Fetch(ctx context.Context, remote string, refspecs []string) error {
	r.lock()
	defer r.unlock()
	if len(refspecs) == 0 {
		rem, err := r.repo.Remote(remote)
		if err != nil {
			if errors.Is(err, git.ErrRemoteNotFound) {
				return fmt.Errorf("gitrepo: fetch: remote %q: %w", remote, ErrNotFound)
			}
			return fmt.Errorf("gitrepo: fetch: remote %q: %w", remote, err)
		}
		for _, rs := range rem.Config().Fetch {
			refspecs = append(refspecs, rs.String())
		}
	}
	specs := make([]fetchSpec, 0, len(refspecs))
	for _, s := range refspecs {
		fs, err := parseFetchSpec(s)
		if err != nil {
			return err
		}
		specs = append(specs, fs)
	}
	if !r.bare {
		if branch, err := r.currentBranch(); err == nil {
			head := plumbing.NewBranchReferenceName(branch)
			for _, fs := range specs {
				if _, ok := fs.dstFor(head.String()); ok {
					return fmt.Errorf("gitrepo: refspec %q would overwrite the checked-out branch %s; use Pull", fs.raw, head)
				}
			}
		}
	}
	return r.fetch(ctx, remote, specs)
}

// fetchSpec is a parsed "[+]src:dst" refspec; src and dst hold at most one
// "*" each, and both or neither.
type fetchSpec struct {
	raw      string
	force    bool
	src, dst string
}

func parseFetchSpec(s string) (fetchSpec, error) {
	body, force := strings.CutPrefix(s, "+")
	src, dst, ok := strings.Cut(body, ":")
	bad := func(why string) (fetchSpec, error) {
		return fetchSpec{}, fmt.Errorf("gitrepo: fetch refspec %q: %s", s, why)
	}
	switch {
	case !ok || src == "" || dst == "":
		return bad("give src:dst with full ref names")
	case strings.Count(src, "*") != strings.Count(dst, "*") || strings.Count(src, "*") > 1:
		return bad("src and dst must both hold one * or neither")
	case !strings.HasPrefix(src, "refs/") || !strings.HasPrefix(dst, "refs/") || strings.HasPrefix(dst, tmpFetchNamespace):
		return bad("give full ref names (refs/…)")
	}
	for _, n := range []string{src, dst} {
		if plumbing.ReferenceName(strings.Replace(n, "*", "x", 1)).Validate() != nil {
			return bad("invalid ref name " + n)
		}
	}
	return fetchSpec{raw: s, force: force, src: src, dst: dst}, nil
}

// dstFor returns the local ref that the remote ref src maps to.
func (f fetchSpec) dstFor(local string) (string, bool) {
	if pre, suf, ok := strings.Cut(f.dst, "*"); ok {
		if len(local) > len(pre)+len(suf) && strings.HasPrefix(local, pre) && strings.HasSuffix(local, suf) {
			return local, true
		}
		return "", false
	}
	return local, local == f.dst
}

// mapTo maps a name matched under pattern from onto pattern to.
func mapTo(name, from, to string) string {
	pre, suf, ok := strings.Cut(from, "*")
	if !ok {
		return to
	}
	mid := strings.TrimSuffix(strings.TrimPrefix(name, pre), suf)
	return strings.Replace(to, "*", mid, 1)
}

const tmpFetchNamespace = "refs/gitrepo-fetch/"

func (r *Repo) fetch(ctx context.Context, remote string, specs []fetchSpec) error {
	tmp := make([]config.RefSpec, len(specs))
	for i, fs := range specs {
		tmp[i] = config.RefSpec(fmt.Sprintf("+%s:%s%d/%s", fs.src, tmpFetchNamespace, i, strings.TrimPrefix(fs.src, "refs/")))
	}
	r.dropTmpRefs() // left by a crash: never mistake them for fetched refs
	defer r.dropTmpRefs()
	err := r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remote, RefSpecs: tmp, Tags: git.NoTags})
	r.objects.invalidate() // the fetch may have added a pack
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.ErrRemoteNotFound):
		return fmt.Errorf("gitrepo: fetch: remote %q: %w", remote, ErrNotFound)
	case strings.Contains(err.Error(), "couldn't find remote ref"):
		return fmt.Errorf("gitrepo: fetching from %s: %v: %w", remote, err, ErrNotFound)
	default:
		return fmt.Errorf("gitrepo: fetching from %s: %w", remote, err)
	}
	refs, err := r.repo.References()
	if err != nil {
		return fmt.Errorf("gitrepo: listing refs: %w", err)
	}
	type move struct {
		spec fetchSpec
		dst  string
		new  Hash
	}
	var moves []move
	err = refs.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		rest, ok := strings.CutPrefix(name, tmpFetchNamespace)
		if !ok || ref.Type() != plumbing.HashReference {
			return nil
		}
		idx, remName, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		for i, fs := range specs {
			if fmt.Sprint(i) == idx {
				moves = append(moves, move{spec: fs, dst: mapTo("refs/"+remName, fs.src, fs.dst), new: Hash(ref.Hash())})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gitrepo: listing refs: %w", err)
	}
	var refused error
	for _, m := range moves {
		name := plumbing.ReferenceName(m.dst)
		if name.Validate() != nil {
			return fmt.Errorf("gitrepo: fetch %s: remote ref maps to invalid name %q", m.spec.raw, m.dst)
		}
		old, _, err := r.lookupRef(m.dst)
		if err != nil {
			return err
		}
		if old == m.new {
			continue
		}
		if !old.IsZero() && !m.spec.force {
			ff, err := r.isAncestor(ctx, old, m.new)
			if err != nil {
				return err
			}
			if !ff {
				if refused == nil {
					refused = &NonFastForwardError{Op: "fetch", Remote: remote, Ref: m.dst, Old: old, New: m.new}
				}
				continue
			}
		}
		if err := r.updateRef(name, old, m.new); err != nil {
			return err
		}
	}
	return refused
}

// dropTmpRefs removes the private fetch namespace.
func (r *Repo) dropTmpRefs() {
	refs, err := r.repo.References()
	if err != nil {
		return
	}
	var names []plumbing.ReferenceName
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if strings.HasPrefix(ref.Name().String(), tmpFetchNamespace) {
			names = append(names, ref.Name())
		}
		return nil
	})
	for _, n := range names {
		_ = r.repo.Storer.RemoveReference(n)
	}
	_ = os.RemoveAll(filepath.Join(r.gitDir, filepath.FromSlash(strings.TrimSuffix(tmpFetchNamespace, "/"))))
}

// Pull fetches branch from remote into refs/remotes/<remote>/<branch> and
// fast-forwards the local branch to it, returning the local branch's old and
// new commits (equal when already up to date; old is zero when the local
// branch did not exist and was created). It never merges and never resets:
// when the local branch is not an ancestor of the fetched one — the remote
// history was rewritten — the error is a *NonFastForwardError and the local
// branch is left as it was (the remote-tracking ref shows what was fetched).
//
// If the branch is checked out, the worktree and index are moved with it;
// uncommitted changes to tracked files are an ErrDirtyWorktree error and
// nothing moves.
func (r *Repo) Pull(ctx context.Context, remote, branch string) (old, new Hash, err error) {
	r.lock()
	defer r.unlock()
	if err := validBranch(branch); err != nil {
		return Hash{}, Hash{}, err
	}
	tracking := plumbing.NewRemoteReferenceName(remote, branch)
	if err := tracking.Validate(); err != nil || strings.Contains(remote, "/") {
		return Hash{}, Hash{}, fmt.Errorf("gitrepo: %q is not a valid remote name", remote)
	}
	spec := fetchSpec{force: true, src: plumbing.NewBranchReferenceName(branch).String(), dst: tracking.String()}
	spec.raw = "+" + spec.src + ":" + spec.dst
	if err := r.fetch(ctx, remote, []fetchSpec{spec}); err != nil {
		return Hash{}, Hash{}, err
	}
	new, ok, err := r.lookupRef(tracking.String())
	if err != nil {
		return Hash{}, Hash{}, err
	}
	if !ok {
		return Hash{}, Hash{}, fmt.Errorf("gitrepo: pull: branch %q on %s: %w", branch, remote, ErrNotFound)
	}
	local := plumbing.NewBranchReferenceName(branch)
	old, _, err = r.lookupRef(local.String())
	if err != nil {
		return Hash{}, Hash{}, err
	}
	if old == new {
		return old, new, nil
	}
	if !old.IsZero() {
		ff, err := r.isAncestor(ctx, old, new)
		if err != nil {
			return Hash{}, Hash{}, err
		}
		if !ff {
			return Hash{}, Hash{}, &NonFastForwardError{Op: "pull", Remote: remote, Ref: local.String(), Old: old, New: new}
		}
	}
	checkedOut := false
	if !r.bare {
		if cur, err := r.currentBranch(); err == nil && cur == branch {
			checkedOut = true
		}
	}
	if !checkedOut {
		if err := r.updateRef(local, old, new); err != nil {
			return Hash{}, Hash{}, err
		}
		return old, new, nil
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return Hash{}, Hash{}, fmt.Errorf("gitrepo: %w", err)
	}
	st, err := wt.Status()
	if err != nil {
		return Hash{}, Hash{}, fmt.Errorf("gitrepo: reading worktree status: %w", err)
	}
	for path, s := range st {
		if (s.Staging != git.Unmodified && s.Staging != git.Untracked) || (s.Worktree != git.Unmodified && s.Worktree != git.Untracked) {
			return Hash{}, Hash{}, fmt.Errorf("gitrepo: pull %s %s: %w (%s); commit or discard them first", remote, branch, ErrDirtyWorktree, path)
		}
	}
	if err := r.updateRef(local, old, new); err != nil {
		return Hash{}, Hash{}, err
	}
	if err := wt.Reset(&git.ResetOptions{Mode: git.MergeReset, Commit: plumbing.Hash(new)}); err != nil {
		return Hash{}, Hash{}, fmt.Errorf("gitrepo: %s moved to %s but updating the worktree failed: %w; run git reset --keep %s", local, new.Short(), err, new)
	}
	return old, new, nil
}

// Push pushes one ref to remote. refspec is "refs/heads/x:refs/heads/y", or
// "refs/heads/x" for the same name on both sides. Force ("+…"), deletion
// (":dst") and wildcards are refused: this package never rewrites a remote.
// Being up to date is success. When the remote ref holds a commit that the
// pushed one does not descend from — someone else pushed first — the error is
// a *NonFastForwardError (fetch, rebuild, push again); any other refusal by
// the server is a *PushRejectedError.
func (r *Repo) Push(ctx context.Context, remote, refspec string) error {
	r.lock()
	defer r.unlock()
	body, force := strings.CutPrefix(refspec, "+")
	src, dstStr, hasColon := strings.Cut(body, ":")
	if !hasColon {
		dstStr = src
	}
	dst := plumbing.ReferenceName(dstStr)
	switch {
	case force:
		return fmt.Errorf("gitrepo: refspec %q: force push refused; this package never rewrites a remote", refspec)
	case src == "":
		return fmt.Errorf("gitrepo: refspec %q: deleting a remote ref is refused", refspec)
	case strings.Contains(body, "*"):
		return fmt.Errorf("gitrepo: refspec %q: push one ref at a time, without wildcards", refspec)
	case !strings.HasPrefix(src, "refs/") || !strings.HasPrefix(dstStr, "refs/") ||
		plumbing.ReferenceName(src).Validate() != nil || dst.Validate() != nil:
		return fmt.Errorf("gitrepo: refspec %q: give full ref names (refs/heads/…)", refspec)
	}
	rs := config.RefSpec(src + ":" + dstStr)
	if err := rs.Validate(); err != nil {
		return fmt.Errorf("gitrepo: refspec %q: %w", refspec, err)
	}
	local, ok, err := r.lookupRef(src)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("gitrepo: push: %s: %w", src, ErrNotFound)
	}
	rem, err := r.repo.Remote(remote)
	if err != nil {
		if errors.Is(err, git.ErrRemoteNotFound) {
			return fmt.Errorf("gitrepo: push: remote %q: %w", remote, ErrNotFound)
		}
		return fmt.Errorf("gitrepo: push: remote %q: %w", remote, err)
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return fmt.Errorf("gitrepo: listing refs of %s: %w", remote, err)
	}
	for _, ref := range refs {
		if ref.Name() != dst || ref.Type() != plumbing.HashReference {
			continue
		}
		theirs := Hash(ref.Hash())
		if theirs == local {
			return nil
		}
		ff := false
		if _, err := r.commit(theirs); err == nil {
			if ff, err = r.isAncestor(ctx, theirs, local); err != nil {
				return err
			}
		}
		if !ff {
			return &NonFastForwardError{Op: "push", Remote: remote, Ref: dst.String(), Old: theirs, New: local}
		}
	}
	err = r.repo.PushContext(ctx, &git.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{rs}})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, git.ErrNonFastForwardUpdate), strings.Contains(err.Error(), "non-fast-forward"),
		strings.Contains(err.Error(), "fetch first"), strings.Contains(err.Error(), "stale info"):
		return &NonFastForwardError{Op: "push", Remote: remote, Ref: dst.String(), New: local}
	case strings.HasPrefix(err.Error(), "command error on "):
		reason := err.Error()
		if i := strings.Index(reason, ": "); i >= 0 {
			reason = reason[i+2:]
		}
		return &PushRejectedError{Remote: remote, Ref: dst.String(), Reason: reason}
	}
	return fmt.Errorf("gitrepo: pushing %s to %s: %w", refspec, remote, err)
}
