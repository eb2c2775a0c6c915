package gitrepo

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is wrapped by every error that reports a missing ref, commit,
// object or file. Test with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrShallow is wrapped, beside ErrNotFound, when a commit is missing from a
// shallow clone: the history was cut off at the clone's depth, and walking
// it needs the whole of it.
var ErrShallow = errors.New("shallow clone")

// ErrRefLocked is wrapped when a ref's lock file exists: another process is
// updating the ref, or one crashed while doing so.
var ErrRefLocked = errors.New("ref is locked")

// ErrDirtyWorktree is wrapped when an operation that would rewrite the
// worktree (fast-forwarding the checked-out branch) finds uncommitted changes.
var ErrDirtyWorktree = errors.New("worktree has uncommitted changes")

// ErrNoIdentity is wrapped when a commit has no author and Git configuration
// names none (user.name and user.email).
var ErrNoIdentity = errors.New("no author identity")

// ErrNoChanges is wrapped when a commit would record the same tree as its
// parent. Nothing was written.
var ErrNoChanges = errors.New("nothing to commit")

// ErrBare is wrapped when an operation needs a worktree and the repository is
// bare.
var ErrBare = errors.New("repository is bare")

// NotDescendantError says that From is not on the first-parent chain of To:
// the history that led to To does not contain From. When From is a commit
// that was verified before, this means the branch was rewritten (force-push,
// rollback) or From was merged in from the side rather than extended.
type NotDescendantError struct {
	From, To Hash
}

func (e *NotDescendantError) Error() string {
	return fmt.Sprintf("gitrepo: commit %s is not on the first-parent history of %s: the branch was rewritten (force-push or rollback) or merged the wrong way round; refuse it and investigate",
		e.From.Short(), e.To.Short())
}

// NonFastForwardError says that a ref update was refused because the new
// value does not descend from the old one. Nothing was changed locally. Old
// or New is zero when it is not known (a rejection reported by the server).
type NonFastForwardError struct {
	Op     string // "pull", "push" or "fetch"
	Remote string
	Ref    string
	Old    Hash
	New    Hash
}

func (e *NonFastForwardError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gitrepo: %s %s %s: not a fast-forward", e.Op, e.Remote, e.Ref)
	if !e.Old.IsZero() || !e.New.IsZero() {
		fmt.Fprintf(&b, " (%s does not descend from %s)", short(e.New), short(e.Old))
	}
	switch e.Op {
	case "push":
		b.WriteString("; fetch, rebuild on top of the remote branch and push again")
	default:
		b.WriteString("; the remote history was rewritten (force-push or rollback): refuse it and investigate")
	}
	return b.String()
}

// PushRejectedError says that the server refused a ref update for a reason
// other than a non-fast-forward (a hook, a protected branch).
type PushRejectedError struct {
	Remote string
	Ref    string
	Reason string
}

func (e *PushRejectedError) Error() string {
	return fmt.Sprintf("gitrepo: push %s %s: rejected by the server: %s", e.Remote, e.Ref, e.Reason)
}

// RefChangedError says that a compare-and-swap ref update found the ref at a
// different value than expected (zero: the ref did not exist). Nothing was
// changed; read the ref again and rebuild on top of it.
type RefChangedError struct {
	Ref       string
	Want, Got Hash
}

func (e *RefChangedError) Error() string {
	return fmt.Sprintf("gitrepo: %s changed concurrently: expected %s, found %s; read it again and rebuild on top of it",
		e.Ref, short(e.Want), short(e.Got))
}

// AmbiguousRefError says that a name given to Resolve matches more than one
// ref or object. Use a full ref name (refs/heads/…) or a full hash.
type AmbiguousRefError struct {
	Name       string
	Candidates []string
}

func (e *AmbiguousRefError) Error() string {
	return fmt.Sprintf("gitrepo: %q is ambiguous: it names %s; use a full ref name or a full hash",
		e.Name, strings.Join(e.Candidates, ", "))
}

// TreeEntryError says that a tree holds an entry this package refuses to
// read: a malformed tree (bad name, bad mode, unsorted or duplicate
// entries) anywhere it walks, or, where a file is expected, a symbolic link
// or submodule. Governance paths hold only regular files.
type TreeEntryError struct {
	Path   string
	Reason string
}

func (e *TreeEntryError) Error() string {
	p := e.Path
	if p == "" {
		p = "(root)"
	}
	return fmt.Sprintf("gitrepo: tree entry %q: %s", p, e.Reason)
}

// FileTooLargeError says that a blob exceeds MaxFileSize. It was not read.
type FileTooLargeError struct {
	Path  string
	Size  int64
	Limit int64
}

func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("gitrepo: %s is %d bytes, over the %d-byte limit for governance files", e.Path, e.Size, e.Limit)
}

func short(h Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.Short()
}
