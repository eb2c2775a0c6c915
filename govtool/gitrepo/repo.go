// Package gitrepo is the project's only door to Git: it opens, clones and
// creates repositories, reads history, trees and blobs, writes commits and
// refs, and fetches, pulls and pushes. It is the only importer of go-git;
// every other package sees Hash, CommitInfo, Change and the errors here.
//
// Reading is strict. Trees are parsed by this package and refused when they
// are malformed (unsorted or duplicate entries, names such as "..", ".git"
// or names containing "/", unknown modes); symbolic links and submodules are
// refused wherever a file is read; blobs larger than MaxFileSize are refused
// before they are read. History is followed by first parent only, and a
// commit that is not on the first-parent chain of the new head is reported
// as a *NotDescendantError, which is how a rewritten branch shows.
//
// Writing never rewrites: refs move by compare-and-swap under Git's own lock
// file protocol (refs/…/name.lock), pulls only fast-forward, pushes are never
// forced. Objects written by CommitToBranch and CommitFiles are fsynced before
// the ref that names them moves.
//
// Reading a long history is fast. Trees and blobs are read straight from
// the object directory (loose objects and pack files, deltas resolved by
// this package; go-git for the rest), and a Repo keeps parsed trees, pack
// entries and commits in caches bounded by size and keyed by object hash or
// pack offset, which name content, so a hit is always the object asked for.
// A tree that is a new version of a cached one — the next commit's version
// of a large directory — is parsed only where its bytes differ, with the
// same result and the same checks as a whole parse.
//
// A Repo is safe for concurrent use; its operations are serialised. No file
// stays open between operations.
package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// DefaultBranch is the branch Init creates when none is named.
const DefaultBranch = "main"

// MaxFileSize is the largest blob this package reads. Governance files are
// small; a larger one is refused with *FileTooLargeError before it is read.
const MaxFileSize = 32 << 20

// maxTreeSize bounds the size of one tree object (about a million entries).
const maxTreeSize = 64 << 20

// Repo is an open repository, bare or with a worktree.
type Repo struct {
	mu      sync.Mutex
	repo    *git.Repository
	storage *filesystem.Storage
	dir     string // as given to Open, Init or Clone
	gitDir  string // the directory holding objects/ and refs/
	bare    bool
	objects *objectStore // trees and blobs, read without go-git
	trees   *lru[Hash, parsedTree]
	links   *lru[Hash, commitLinks]
}

// Open opens the repository at dir: a worktree whose .git is a directory, or
// a bare repository. It does not search parent directories.
func Open(dir string) (*Repo, error) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("gitrepo: %s is not a git repository: %w", dir, ErrNotFound)
		}
		return nil, fmt.Errorf("gitrepo: opening %s: %w", dir, err)
	}
	return wrap(r, dir)
}

// Init creates a repository with a worktree at dir whose HEAD names branch
// (DefaultBranch when empty). The branch has no commit until the first
// CommitFiles.
func Init(dir, branch string) (*Repo, error) {
	if branch == "" {
		branch = DefaultBranch
	}
	if err := validBranch(branch); err != nil {
		return nil, err
	}
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return nil, fmt.Errorf("gitrepo: creating a repository in %s: %w", dir, err)
	}
	return wrap(r, dir)
}

// Clone clones url into dir (which must not exist or be empty) and checks out
// branch, or the remote's default branch when branch is empty. Every remote
// branch is fetched as refs/remotes/origin/*; tags are not fetched. An empty
// remote cannot be cloned: Init, commit and Push instead.
//
// url is anything go-git fetches from: file:// (which runs the system git's
// upload-pack), http:// or https://.
func Clone(ctx context.Context, url, dir, branch string) (*Repo, error) {
	return clone(ctx, url, dir, branch, false)
}

// CloneBare is Clone without a worktree: branch becomes refs/heads/<branch>
// and nothing is checked out. A reader that never needs files on disk (the
// appliance) should use it: no content of the remote is ever written as a
// file, so no crafted path or symbolic link in the remote can reach the
// filesystem.
func CloneBare(ctx context.Context, url, dir, branch string) (*Repo, error) {
	return clone(ctx, url, dir, branch, true)
}

func clone(ctx context.Context, url, dir, branch string, bare bool) (*Repo, error) {
	opts := &git.CloneOptions{URL: url, Tags: git.NoTags}
	if branch != "" {
		if err := validBranch(branch); err != nil {
			return nil, err
		}
		opts.ReferenceName = plumbing.NewBranchReferenceName(branch)
	}
	r, err := git.PlainCloneContext(ctx, dir, bare, opts)
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, fmt.Errorf("gitrepo: cloning %s: branch %q: %w", url, branch, ErrNotFound)
		}
		return nil, fmt.Errorf("gitrepo: cloning %s into %s: %w", url, dir, err)
	}
	return wrap(r, dir)
}

// wrap re-opens what go-git opened with the storage option this package
// needs: objects larger than MaxFileSize are read lazily, so that their size
// is checked before their content is read into memory.
func wrap(g *git.Repository, dir string) (*Repo, error) {
	st, ok := g.Storer.(*filesystem.Storage)
	if !ok {
		return nil, fmt.Errorf("gitrepo: %s: unsupported storage %T", dir, g.Storer)
	}
	gitDir, err := filepath.Abs(st.Filesystem().Root())
	if err != nil {
		return nil, fmt.Errorf("gitrepo: %s: %w", dir, err)
	}
	var wtFS billy.Filesystem
	wt, err := g.Worktree()
	bare := errors.Is(err, git.ErrIsBareRepository)
	switch {
	case err == nil:
		wtFS = wt.Filesystem
	case !bare:
		return nil, fmt.Errorf("gitrepo: %s: %w", dir, err)
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("gitrepo: %s: %w", dir, err)
	}
	// go-git now reads commits, refs and what objectStore leaves to it
	// (alternates, unusual deltas): its cache need not be large. It keeps a
	// pack file open for the length of one operation (KeepDescriptors);
	// unlock closes them.
	storage := filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRU(goGitCacheBytes), filesystem.Options{
		LargeObjectThreshold: MaxFileSize,
		KeepDescriptors:      true,
	})
	g, err = git.Open(storage, wtFS)
	if err != nil {
		storage.Close()
		return nil, fmt.Errorf("gitrepo: opening %s: %w", dir, err)
	}
	return &Repo{
		repo: g, storage: storage, dir: dir, gitDir: gitDir, bare: bare,
		objects: newObjectStore(gitDir),
		trees:   newLRU[Hash, parsedTree](treeCacheBytes),
		links:   newLRU[Hash, commitLinks](commitCacheEntries),
	}, nil
}

// goGitCacheBytes sizes go-git's object cache.
const goGitCacheBytes = 16 * cache.MiByte

// lock takes the Repo for one operation; unlock ends it, closing the files
// it opened, so that no file stays open between operations.
func (r *Repo) lock() { r.mu.Lock() }

func (r *Repo) unlock() {
	r.objects.release()
	r.storage.Close() // read-only pack descriptors: nothing to lose on close
	r.mu.Unlock()
}

// Close releases what the repository holds. No file stays open between
// calls, so a Repo that is never closed leaks nothing the garbage collector
// does not reclaim. The Repo must not be used after Close.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objects.release()
	return r.storage.Close()
}

// Dir returns the directory the repository was opened at.
func (r *Repo) Dir() string { return r.dir }

// Bare reports whether the repository has no worktree.
func (r *Repo) Bare() bool { return r.bare }

// Resolve returns the commit that name designates. Accepted forms:
//
//   - "HEAD";
//   - a full 40-digit hash;
//   - a full ref name ("refs/heads/main", "refs/remotes/origin/main");
//   - a short name looked up as refs/<name>, refs/tags/<name>,
//     refs/heads/<name>, refs/remotes/<name> and refs/remotes/<name>/HEAD
//     ("main", "origin/main", "origin", "audit/a1");
//   - an abbreviated hash of at least 4 hex digits that names one commit.
//
// A short name that matches more than one of those (a tag and a branch both
// called "main", or a branch whose name is also a hash prefix) is an
// *AmbiguousRefError, never a silent pick. Annotated tags are peeled. Revision
// syntax (main~1, @{u}) is not accepted. A name that matches nothing wraps
// ErrNotFound, as does HEAD in a repository with no commit yet.
func (r *Repo) Resolve(name string) (Hash, error) {
	r.lock()
	defer r.unlock()
	return r.resolve(name)
}

func (r *Repo) resolve(name string) (Hash, error) {
	switch {
	case name == "":
		return Hash{}, errors.New("gitrepo: empty revision name")
	case name == "HEAD":
		ref, err := r.repo.Reference(plumbing.HEAD, true)
		if err != nil {
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				return Hash{}, fmt.Errorf("gitrepo: HEAD does not name a commit yet (empty branch): %w", ErrNotFound)
			}
			return Hash{}, fmt.Errorf("gitrepo: resolving HEAD: %w", err)
		}
		return r.peel(Hash(ref.Hash()), name)
	case len(name) == 40 && allLowerHex(name):
		h, _ := ParseHash(name)
		return r.peel(h, name)
	case strings.HasPrefix(name, "refs/"):
		h, ok, err := r.lookupRef(name)
		if err != nil {
			return Hash{}, err
		}
		if !ok {
			return Hash{}, fmt.Errorf("gitrepo: ref %s: %w", name, ErrNotFound)
		}
		return r.peel(h, name)
	}

	var names []string
	var hashes []Hash
	for _, full := range []string{"refs/" + name, "refs/tags/" + name, "refs/heads/" + name, "refs/remotes/" + name, "refs/remotes/" + name + "/HEAD"} {
		if plumbing.ReferenceName(full).Validate() != nil {
			continue
		}
		h, ok, err := r.lookupRef(full)
		if err != nil {
			return Hash{}, err
		}
		if ok {
			names = append(names, full)
			hashes = append(hashes, h)
		}
	}
	if len(name) >= 4 && len(name) < 40 && allLowerHex(name) {
		matches, err := r.commitsWithPrefix(name)
		if err != nil {
			return Hash{}, err
		}
		for _, m := range matches {
			names = append(names, "commit "+m.String())
			hashes = append(hashes, m)
		}
	}
	switch len(names) {
	case 0:
		if plumbing.ReferenceName("refs/heads/"+name).Validate() != nil {
			return Hash{}, fmt.Errorf("gitrepo: %q is not a valid ref name or hash (revision syntax is not accepted)", name)
		}
		return Hash{}, fmt.Errorf("gitrepo: no ref or commit named %q: %w", name, ErrNotFound)
	case 1:
		return r.peel(hashes[0], name)
	}
	return Hash{}, &AmbiguousRefError{Name: name, Candidates: names}
}

// lookupRef reads one ref by full name, following symbolic refs.
func (r *Repo) lookupRef(full string) (Hash, bool, error) {
	ref, err := r.repo.Reference(plumbing.ReferenceName(full), true)
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return Hash{}, false, nil
		}
		return Hash{}, false, fmt.Errorf("gitrepo: reading ref %s: %w", full, err)
	}
	return Hash(ref.Hash()), true, nil
}

// peel follows annotated tags to the commit they name.
func (r *Repo) peel(h Hash, name string) (Hash, error) {
	for range 16 {
		obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, plumbing.Hash(h))
		if err != nil {
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				return Hash{}, fmt.Errorf("gitrepo: %s: object %s: %w", name, h, ErrNotFound)
			}
			return Hash{}, fmt.Errorf("gitrepo: %s: reading object %s: %w", name, h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(r.repo.Storer, obj)
			if err != nil {
				return Hash{}, fmt.Errorf("gitrepo: %s: decoding tag %s: %w", name, h, err)
			}
			h = Hash(tag.Target)
		default:
			return Hash{}, fmt.Errorf("gitrepo: %s names a %s, not a commit", name, obj.Type())
		}
	}
	return Hash{}, fmt.Errorf("gitrepo: %s: too many nested tags", name)
}

func (r *Repo) commitsWithPrefix(prefix string) ([]Hash, error) {
	iter, err := r.repo.Storer.IterEncodedObjects(plumbing.CommitObject)
	if err != nil {
		return nil, fmt.Errorf("gitrepo: listing commits: %w", err)
	}
	defer iter.Close()
	var out []Hash
	err = iter.ForEach(func(o plumbing.EncodedObject) error {
		if strings.HasPrefix(o.Hash().String(), prefix) {
			out = append(out, Hash(o.Hash()))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gitrepo: listing commits: %w", err)
	}
	return out, nil
}

func allLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// validBranch checks a short branch name ("main", "audit/a1") against Git's
// ref-name rules.
func validBranch(branch string) error {
	if branch == "" || strings.HasPrefix(branch, "refs/") || strings.HasPrefix(branch, "-") || branch == "HEAD" ||
		plumbing.NewBranchReferenceName(branch).Validate() != nil {
		return fmt.Errorf("gitrepo: %q is not a valid branch name (give the short name, e.g. main or audit/a1)", branch)
	}
	return nil
}

// currentBranch returns the branch HEAD points to in a worktree repository.
func (r *Repo) currentBranch() (string, error) {
	head, err := r.repo.Storer.Reference(plumbing.HEAD)
	if err != nil {
		return "", fmt.Errorf("gitrepo: reading HEAD: %w", err)
	}
	if head.Type() != plumbing.SymbolicReference || !head.Target().IsBranch() {
		return "", errors.New("gitrepo: HEAD is detached; check out a branch first")
	}
	return head.Target().Short(), nil
}
