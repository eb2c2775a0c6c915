package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitInfo is one commit as the verifier sees it. Times carry the zone
// offset recorded in the commit. Author and committer are claims made by
// whoever wrote the commit, not authenticated identities.
type CommitInfo struct {
	Hash           Hash
	Tree           Hash
	Parents        []Hash // Parents[0] is the first parent; none for a root commit
	Author         string
	AuthorEmail    string
	Committer      string
	CommitterEmail string
	AuthorTime     time.Time
	CommitTime     time.Time
	Message        string
}

// Commit reads one commit.
func (r *Repo) Commit(ctx context.Context, h Hash) (CommitInfo, error) {
	r.lock()
	defer r.unlock()
	if err := ctx.Err(); err != nil {
		return CommitInfo{}, err
	}
	c, err := r.commit(h)
	if err != nil {
		return CommitInfo{}, err
	}
	return info(c), nil
}

// FirstParentChain returns the commits after from up to and including to,
// oldest first, following first parents from to. A zero from means "from the
// root": the root commit is included. If from is not on the first-parent
// chain of to, the error is a *NotDescendantError; from == to gives an empty
// chain.
func (r *Repo) FirstParentChain(ctx context.Context, from, to Hash) ([]CommitInfo, error) {
	r.lock()
	defer r.unlock()
	var chain []CommitInfo
	h := to
	for h != from {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := r.commit(h)
		if err != nil {
			return nil, err
		}
		chain = append(chain, info(c))
		if len(c.ParentHashes) == 0 {
			if !from.IsZero() {
				return nil, &NotDescendantError{From: from, To: to}
			}
			break
		}
		h = Hash(c.ParentHashes[0])
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// IsAncestor reports whether a is an ancestor of b through any parent, or
// equal to b. Both must be commits in the repository.
func (r *Repo) IsAncestor(ctx context.Context, a, b Hash) (bool, error) {
	r.lock()
	defer r.unlock()
	return r.isAncestor(ctx, a, b)
}

func (r *Repo) isAncestor(ctx context.Context, a, b Hash) (bool, error) {
	if _, err := r.commit(a); err != nil {
		return false, err
	}
	seen := map[Hash]bool{b: true}
	queue := []Hash{b}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		h := queue[0]
		queue = queue[1:]
		if h == a {
			return true, nil
		}
		c, err := r.commit(h)
		if err != nil {
			return false, err
		}
		for _, p := range c.ParentHashes {
			if !seen[Hash(p)] {
				seen[Hash(p)] = true
				queue = append(queue, Hash(p))
			}
		}
	}
	return false, nil
}

func (r *Repo) commit(h Hash) (*object.Commit, error) {
	if h.IsZero() {
		return nil, errors.New("gitrepo: zero hash where a commit is needed")
	}
	c, err := object.GetCommit(r.repo.Storer, plumbing.Hash(h))
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			if shallow, serr := r.storage.Shallow(); serr == nil && len(shallow) > 0 {
				return nil, fmt.Errorf("gitrepo: commit %s: %w in this %w, which holds only part of the history: fetch all of it (git fetch --unshallow; actions/checkout with fetch-depth: 0)", h, ErrNotFound, ErrShallow)
			}
			return nil, fmt.Errorf("gitrepo: commit %s: %w", h, ErrNotFound)
		}
		return nil, fmt.Errorf("gitrepo: reading commit %s: %w", h, err)
	}
	l := commitLinks{tree: Hash(c.TreeHash)}
	if len(c.ParentHashes) > 0 {
		l.parent = Hash(c.ParentHashes[0])
	}
	r.links.put(h, l, 1)
	return c, nil
}

// commitLinks is what reading trees needs of a commit: its tree and its
// first parent (zero for a root commit).
type commitLinks struct{ tree, parent Hash }

// commitCacheEntries bounds the commits whose links a Repo keeps. Walking a
// history reads each commit twice (FirstParentChain, then Changes of it and
// of its child); the second time comes from here.
const commitCacheEntries = 1 << 16

// commitLinks returns the links of commit h.
func (r *Repo) commitLinks(h Hash) (commitLinks, error) {
	if l, ok := r.links.get(h); ok {
		return l, nil
	}
	if _, err := r.commit(h); err != nil {
		return commitLinks{}, err
	}
	l, _ := r.links.get(h)
	return l, nil
}

func info(c *object.Commit) CommitInfo {
	ci := CommitInfo{
		Hash:           Hash(c.Hash),
		Tree:           Hash(c.TreeHash),
		Author:         c.Author.Name,
		AuthorEmail:    c.Author.Email,
		Committer:      c.Committer.Name,
		CommitterEmail: c.Committer.Email,
		AuthorTime:     c.Author.When,
		CommitTime:     c.Committer.When,
		Message:        c.Message,
	}
	for _, p := range c.ParentHashes {
		ci.Parents = append(ci.Parents, Hash(p))
	}
	return ci
}
