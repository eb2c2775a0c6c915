package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Signature names who wrote or committed a commit, and when. A zero When
// means now.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// CommitRequest is a commit of whole files on the checked-out branch.
type CommitRequest struct {
	// Branch, when set, must be the checked-out branch; the commit is
	// refused otherwise. Empty means whatever branch is checked out.
	Branch string
	// Files maps slash-separated paths to their new content; a nil value
	// deletes the file. Files are written as regular (100644) files.
	Files map[string][]byte
	// Message is the commit message; a final newline is added if missing.
	Message string
	// Author defaults to the repository's Git configuration (author.* or
	// user.name and user.email, local then global); Committer defaults to
	// Author.
	Author, Committer Signature
}

// CommitFiles commits req.Files on top of the checked-out branch: it writes
// the files into the worktree, records exactly those paths in the index, and
// moves the branch by compare-and-swap. Other staged changes stay staged and
// are not committed. Writing through a symbolic link in the worktree is
// refused. The first commit of an empty branch is allowed.
//
// Errors: ErrBare, ErrNoIdentity, ErrNoChanges (the tree would not change),
// ErrNotFound (deleting a path that does not exist), *RefChangedError (the
// branch moved meanwhile; the worktree and index already hold the files).
func (r *Repo) CommitFiles(ctx context.Context, req CommitRequest) (Hash, error) {
	r.lock()
	defer r.unlock()
	if err := ctx.Err(); err != nil {
		return Hash{}, err
	}
	if r.bare {
		return Hash{}, fmt.Errorf("gitrepo: CommitFiles in %s: %w; use CommitToBranch", r.dir, ErrBare)
	}
	branch, err := r.currentBranch()
	if err != nil {
		return Hash{}, err
	}
	if req.Branch != "" && req.Branch != branch {
		return Hash{}, fmt.Errorf("gitrepo: branch %q is not checked out (HEAD is on %q); check it out first or use CommitToBranch", req.Branch, branch)
	}
	author, committer, err := r.identities(req.Author, req.Committer)
	if err != nil {
		return Hash{}, err
	}
	refName := plumbing.NewBranchReferenceName(branch)
	parent, _, err := r.lookupRef(refName.String())
	if err != nil {
		return Hash{}, err
	}
	h, blobs, err := r.commitObjects(ctx, parent, req.Files, req.Message, author, committer)
	if err != nil {
		return Hash{}, err
	}
	if err := r.writeWorktree(req.Files, blobs); err != nil {
		return Hash{}, err
	}
	if err := r.updateRef(refName, parent, h); err != nil {
		return Hash{}, err
	}
	return h, nil
}

// CommitToBranch commits files on top of parent and moves branch from parent
// to the new commit by compare-and-swap, without touching any worktree or
// index: the tree is built from parent's tree with files applied (a nil value
// deletes). A zero parent creates the branch with a root commit holding only
// files, and requires that the branch not exist. The branch must not be the
// one checked out in a worktree.
//
// sig is used as author and committer; when its name and email are empty they
// come from Git configuration as in CommitFiles.
//
// Errors: *RefChangedError when the branch is not at parent (nothing moved;
// the objects written are unreferenced and harmless), ErrRefLocked,
// ErrNoChanges, ErrNoIdentity, ErrNotFound (deleting a missing path).
func (r *Repo) CommitToBranch(ctx context.Context, branch string, parent Hash, files map[string][]byte, msg string, sig Signature) (Hash, error) {
	r.lock()
	defer r.unlock()
	if err := ctx.Err(); err != nil {
		return Hash{}, err
	}
	if err := validBranch(branch); err != nil {
		return Hash{}, err
	}
	refName := plumbing.NewBranchReferenceName(branch)
	if !r.bare {
		if head, err := r.repo.Storer.Reference(plumbing.HEAD); err == nil && head.Type() == plumbing.SymbolicReference && head.Target() == refName {
			return Hash{}, fmt.Errorf("gitrepo: branch %q is checked out in %s; use CommitFiles for it", branch, r.dir)
		}
	}
	cur, _, err := r.lookupRef(refName.String())
	if err != nil {
		return Hash{}, err
	}
	if cur != parent {
		return Hash{}, &RefChangedError{Ref: refName.String(), Want: parent, Got: cur}
	}
	author, committer, err := r.identities(sig, Signature{})
	if err != nil {
		return Hash{}, err
	}
	h, _, err := r.commitObjects(ctx, parent, files, msg, author, committer)
	if err != nil {
		return Hash{}, err
	}
	if err := r.updateRef(refName, parent, h); err != nil {
		return Hash{}, err
	}
	return h, nil
}

// commitObjects writes the blobs, trees and commit for files applied on top
// of parent (zero: no parent), fsyncs them, and returns the commit and the
// blob written for each non-deleted path.
func (r *Repo) commitObjects(ctx context.Context, parent Hash, files map[string][]byte, msg string, author, committer object.Signature) (Hash, map[string]Hash, error) {
	if len(files) == 0 {
		return Hash{}, nil, fmt.Errorf("gitrepo: commit has no files: %w", ErrNoChanges)
	}
	if err := validMessage(msg); err != nil {
		return Hash{}, nil, err
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	root, err := buildPending(files)
	if err != nil {
		return Hash{}, nil, err
	}
	var base Hash
	if !parent.IsZero() {
		if base, err = r.rootTree(parent); err != nil {
			return Hash{}, nil, err
		}
	}
	b := &builder{r: r, ctx: ctx, blobs: make(map[string]Hash)}
	tree, _, err := b.apply(base, "", root)
	if err != nil {
		return Hash{}, nil, err
	}
	if tree == base {
		return Hash{}, nil, fmt.Errorf("gitrepo: the files are already as given: %w", ErrNoChanges)
	}
	c := &object.Commit{
		Author:    author,
		Committer: committer,
		Message:   msg,
		TreeHash:  plumbing.Hash(tree),
	}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{plumbing.Hash(parent)}
	}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return Hash{}, nil, fmt.Errorf("gitrepo: encoding commit: %w", err)
	}
	ch, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return Hash{}, nil, fmt.Errorf("gitrepo: writing commit: %w", err)
	}
	b.written = append(b.written, Hash(ch))
	if err := r.syncObjects(b.written); err != nil {
		return Hash{}, nil, err
	}
	return Hash(ch), b.blobs, nil
}

// pending is a directory's worth of requested changes.
type pending struct {
	files map[string][]byte // nil value: delete
	dirs  map[string]*pending
}

func buildPending(files map[string][]byte) (*pending, error) {
	root := &pending{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := validPath(p); err != nil {
			return nil, err
		}
		parts := strings.Split(p, "/")
		n := root
		for i, name := range parts {
			if i == len(parts)-1 {
				if _, ok := n.dirs[name]; ok {
					return nil, fmt.Errorf("gitrepo: %s is given both as a file and as a directory", join(strings.Join(parts[:i], "/"), name))
				}
				if n.files == nil {
					n.files = make(map[string][]byte)
				}
				n.files[name] = files[p]
				break
			}
			if _, ok := n.files[name]; ok {
				return nil, fmt.Errorf("gitrepo: %s is given both as a file and as a directory", strings.Join(parts[:i+1], "/"))
			}
			if n.dirs == nil {
				n.dirs = make(map[string]*pending)
			}
			if n.dirs[name] == nil {
				n.dirs[name] = &pending{}
			}
			n = n.dirs[name]
		}
	}
	return root, nil
}

type builder struct {
	r       *Repo
	ctx     context.Context
	blobs   map[string]Hash
	written []Hash
}

// apply returns the hash of tree base (zero: empty) at dir with p applied,
// and whether the result is empty (an empty subtree is dropped).
func (b *builder) apply(base Hash, dir string, p *pending) (Hash, bool, error) {
	if err := b.ctx.Err(); err != nil {
		return Hash{}, false, err
	}
	t, err := b.r.tree(base, dir)
	if err != nil {
		return Hash{}, false, err
	}
	old := t.named()
	es := slices.Clone(old)
	remove := func(name string, dir bool) {
		if i, ok := findNamed(es, name, dir); ok {
			es = slices.Delete(es, i, i+1)
		}
	}
	put := func(e namedEntry) {
		i, ok := findNamed(es, e.name, e.kind == kindDir)
		if ok {
			es[i] = e
		} else {
			es = slices.Insert(es, i, e)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.files)) {
		data := p.files[name]
		path := join(dir, name)
		if _, isDir := findNamed(es, name, true); isDir {
			return Hash{}, false, fmt.Errorf("gitrepo: %s is a directory in the parent commit; delete its files first", path)
		}
		cur, exists := lookupNamed(es, name)
		if exists && cur.kind != kindFile {
			return Hash{}, false, &TreeEntryError{Path: path, Reason: fmt.Sprintf("is a %s; this package writes only regular files", cur.kind)}
		}
		if data == nil {
			if !exists {
				return Hash{}, false, fmt.Errorf("gitrepo: cannot delete %s: %w in the parent commit", path, ErrNotFound)
			}
			remove(name, false)
			continue
		}
		if len(data) > MaxFileSize {
			return Hash{}, false, &FileTooLargeError{Path: path, Size: int64(len(data)), Limit: MaxFileSize}
		}
		h, err := b.write(plumbing.BlobObject, data)
		if err != nil {
			return Hash{}, false, err
		}
		b.blobs[path] = h
		put(namedEntry{name: name, kind: kindFile, hash: h})
	}
	for _, name := range slices.Sorted(maps.Keys(p.dirs)) {
		path := join(dir, name)
		var sub Hash
		if i, ok := findNamed(es, name, true); ok {
			sub = es[i].hash
		} else if cur, ok := lookupNamed(es, name); ok {
			return Hash{}, false, fmt.Errorf("gitrepo: %s is a %s in the parent commit, not a directory", path, cur.kind)
		}
		h, empty, err := b.apply(sub, path, p.dirs[name])
		if err != nil {
			return Hash{}, false, err
		}
		if empty {
			remove(name, true)
		} else {
			put(namedEntry{name: name, kind: kindDir, hash: h})
		}
	}
	if len(es) == 0 && dir != "" {
		return Hash{}, true, nil
	}
	var buf bytes.Buffer
	for _, e := range es {
		buf.WriteString(e.gitMode())
		buf.WriteByte(' ')
		buf.WriteString(e.name)
		buf.WriteByte(0)
		buf.Write(e.hash[:])
	}
	if base != (Hash{}) && slices.Equal(es, old) {
		return base, false, nil
	}
	h, err := b.write(plumbing.TreeObject, buf.Bytes())
	if err != nil {
		return Hash{}, false, err
	}
	return h, false, nil
}

// namedEntry is an entry of a tree being written, which has no text yet to
// hold its name (a parsed tree's entries find theirs in its text).
type namedEntry struct {
	name string
	kind kind
	exec bool
	hash Hash
}

// named returns t's entries with their names.
func (t parsedTree) named() []namedEntry {
	out := make([]namedEntry, len(t.entries))
	for i, e := range t.entries {
		out[i] = namedEntry{name: e.name(t.text), kind: e.kind, exec: e.exec, hash: e.hash(t.text)}
	}
	return out
}

// gitMode is the mode written into a tree object for e.
func (e namedEntry) gitMode() string {
	switch e.kind {
	case kindDir:
		return "40000"
	case kindSymlink:
		return "120000"
	case kindSubmodule:
		return "160000"
	}
	if e.exec {
		return "100755"
	}
	return "100644"
}

// findNamed is parsedTree.find for the entries of a tree being written.
func findNamed(es []namedEntry, name string, dir bool) (int, bool) {
	return slices.BinarySearchFunc(es, name, func(e namedEntry, name string) int {
		return compareNames(e.name, e.kind == kindDir, name, dir)
	})
}

// lookupNamed is parsedTree.lookup for the entries of a tree being written.
func lookupNamed(es []namedEntry, name string) (namedEntry, bool) {
	if i, ok := findNamed(es, name, false); ok {
		return es[i], true
	}
	if i, ok := findNamed(es, name, true); ok {
		return es[i], true
	}
	return namedEntry{}, false
}

func (b *builder) write(t plumbing.ObjectType, data []byte) (Hash, error) {
	obj := b.r.repo.Storer.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return Hash{}, err
	}
	if _, err := w.Write(data); err != nil {
		return Hash{}, err
	}
	if err := w.Close(); err != nil {
		return Hash{}, err
	}
	h, err := b.r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return Hash{}, fmt.Errorf("gitrepo: writing %s: %w", t, err)
	}
	b.written = append(b.written, Hash(h))
	return Hash(h), nil
}

// syncObjects fsyncs loose objects just written, and their directories, so
// that a ref never names an object lost in a crash.
func (r *Repo) syncObjects(hs []Hash) error {
	dirs := make(map[string]bool)
	for _, h := range hs {
		s := h.String()
		dir := filepath.Join(r.gitDir, "objects", s[:2])
		if err := syncPath(filepath.Join(dir, s[2:])); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // already packed
			}
			return fmt.Errorf("gitrepo: syncing object %s: %w", s, err)
		}
		dirs[dir] = true
	}
	for dir := range dirs {
		if err := syncPath(dir); err != nil {
			return fmt.Errorf("gitrepo: syncing %s: %w", dir, err)
		}
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// updateRef moves ref from old (zero: must not exist) to new, holding Git's
// lock file refs/…/name.lock so that git itself and other users of this
// package are excluded, and renaming the fsynced lock over the ref.
func (r *Repo) updateRef(name plumbing.ReferenceName, old, new Hash) (err error) {
	if err := name.Validate(); err != nil || !strings.HasPrefix(name.String(), "refs/") {
		return fmt.Errorf("gitrepo: invalid ref name %q", name)
	}
	refPath := filepath.Join(r.gitDir, filepath.FromSlash(name.String()))
	lockPath := refPath + ".lock"
	if err := os.MkdirAll(filepath.Dir(refPath), 0o755); err != nil {
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("gitrepo: updating %s: %w: %s exists; if no git process is running, a crash left it: remove it", name, ErrRefLocked, lockPath)
		}
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(lockPath)
		}
	}()
	ref, rerr := r.repo.Storer.Reference(name)
	var cur Hash
	switch {
	case rerr == nil && ref.Type() != plumbing.HashReference:
		return fmt.Errorf("gitrepo: %s is a symbolic ref; refusing to overwrite it", name)
	case rerr == nil:
		cur = Hash(ref.Hash())
	case !errors.Is(rerr, plumbing.ErrReferenceNotFound):
		return fmt.Errorf("gitrepo: reading %s: %w", name, rerr)
	}
	if cur != old {
		return &RefChangedError{Ref: name.String(), Want: old, Got: cur}
	}
	if _, err := f.WriteString(new.String() + "\n"); err != nil {
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	if err := os.Rename(lockPath, refPath); err != nil {
		os.Remove(lockPath)
		done = true
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	done = true
	if err := syncPath(filepath.Dir(refPath)); err != nil {
		return fmt.Errorf("gitrepo: updating %s: %w", name, err)
	}
	return nil
}

// writeWorktree writes files (nil: delete) into the worktree and records
// their blobs in the index.
func (r *Repo) writeWorktree(files map[string][]byte, blobs map[string]Hash) error {
	wt, err := r.repo.Worktree()
	if err != nil {
		return fmt.Errorf("gitrepo: %w", err)
	}
	root := wt.Filesystem.Root()
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return fmt.Errorf("gitrepo: reading the index: %w", err)
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		full, err := safeWorktreePath(root, p)
		if err != nil {
			return err
		}
		idx.Entries = slices.DeleteFunc(idx.Entries, func(e *index.Entry) bool { return e.Name == p })
		data := files[p]
		if data == nil {
			if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("gitrepo: removing %s: %w", p, err)
			}
			removeEmptyParents(root, filepath.Dir(full))
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("gitrepo: writing %s: %w", p, err)
		}
		if err := WriteFileAtomic(full, data, 0o644); err != nil {
			return fmt.Errorf("gitrepo: writing %s: %w", p, err)
		}
		st, err := os.Lstat(full)
		if err != nil {
			return fmt.Errorf("gitrepo: writing %s: %w", p, err)
		}
		e := idx.Add(p)
		e.Hash = plumbing.Hash(blobs[p])
		e.Mode = filemode.Regular
		e.Size = uint32(len(data))
		e.ModifiedAt = st.ModTime()
		e.CreatedAt = st.ModTime()
	}
	if err := r.repo.Storer.SetIndex(idx); err != nil {
		return fmt.Errorf("gitrepo: writing the index: %w", err)
	}
	return nil
}

// safeWorktreePath joins p to root, refusing to pass through a symbolic link
// or to replace one.
func safeWorktreePath(root, p string) (string, error) {
	cur := root
	for _, c := range strings.Split(p, "/") {
		cur = filepath.Join(cur, c)
		st, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("gitrepo: %s: %w", p, err)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("gitrepo: %s: the worktree has a symbolic link at %s; refusing to write through it", p, cur)
		}
	}
	return filepath.Join(root, filepath.FromSlash(p)), nil
}

// WriteFileAtomic replaces the file at path with data, so that a reader,
// or the file system after a crash, finds the old content or the new and
// never a mix: it writes a temporary file in the same directory, syncs it,
// renames it over path and syncs the directory, which makes the rename
// itself durable. The file gets exactly the permission bits of perm (the
// umask does not apply): to keep an existing file's mode, pass it. A
// symbolic link at path is replaced, not followed. On an error before the
// rename, path is left as it was and the temporary file is removed; an
// error syncing the directory comes after path already holds data.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".govtool-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm.Perm()); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil // directories cannot be synced there; NTFS journals the rename
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err = d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return d.Close()
}

func removeEmptyParents(root, dir string) {
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// identities resolves author and committer: explicit values first, then Git
// configuration; the committer defaults to the author.
func (r *Repo) identities(author, committer Signature) (object.Signature, object.Signature, error) {
	now := time.Now()
	if author.Name == "" && author.Email == "" {
		cfg, err := r.repo.ConfigScoped(config.GlobalScope)
		if err != nil {
			return object.Signature{}, object.Signature{}, fmt.Errorf("gitrepo: reading git configuration: %w", err)
		}
		author.Name, author.Email = cfg.Author.Name, cfg.Author.Email
		if author.Name == "" || author.Email == "" {
			author.Name, author.Email = cfg.User.Name, cfg.User.Email
		}
		if author.Name == "" || author.Email == "" {
			return object.Signature{}, object.Signature{}, fmt.Errorf("gitrepo: %w: set user.name and user.email (git config --global user.name …) or give an author", ErrNoIdentity)
		}
	}
	if committer.Name == "" && committer.Email == "" {
		committer = Signature{Name: author.Name, Email: author.Email, When: author.When}
	}
	out := make([]object.Signature, 2)
	for i, s := range []Signature{author, committer} {
		if err := validIdentity(s); err != nil {
			return object.Signature{}, object.Signature{}, err
		}
		when := s.When
		if when.IsZero() {
			when = now
		}
		out[i] = object.Signature{Name: s.Name, Email: s.Email, When: when.Truncate(time.Second)}
	}
	return out[0], out[1], nil
}

func validIdentity(s Signature) error {
	for _, f := range []struct{ what, v string }{{"name", s.Name}, {"email", s.Email}} {
		switch {
		case strings.TrimSpace(f.v) == "":
			return fmt.Errorf("gitrepo: %w: empty %s", ErrNoIdentity, f.what)
		case !utf8.ValidString(f.v), strings.ContainsAny(f.v, "<>\n\r\x00"):
			return fmt.Errorf("gitrepo: identity %s %q may not hold <, >, newlines, NUL or invalid UTF-8", f.what, f.v)
		}
	}
	if s.When.Unix() < 0 && !s.When.IsZero() {
		return fmt.Errorf("gitrepo: commit time %s is before 1970", s.When)
	}
	return nil
}

func validMessage(msg string) error {
	switch {
	case strings.TrimSpace(msg) == "":
		return errors.New("gitrepo: empty commit message")
	case strings.IndexByte(msg, 0) >= 0:
		return errors.New("gitrepo: commit message contains NUL")
	case !utf8.ValidString(msg):
		return errors.New("gitrepo: commit message is not valid UTF-8")
	}
	return nil
}

// Identity returns who commits in this repository by default: the Git
// configuration's author.* or user.name and user.email (repository, then
// global), as CommitFiles uses when no author is given. It returns
// ErrNoIdentity when none is configured.
func (r *Repo) Identity() (Signature, error) {
	r.lock()
	defer r.unlock()
	a, _, err := r.identities(Signature{}, Signature{})
	if err != nil {
		return Signature{}, err
	}
	return Signature{Name: a.Name, Email: a.Email}, nil
}
