package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// treeCacheBytes bounds the parsed trees a Repo keeps, by the size of their
// objects plus their entry lists. Trees are cached by object hash, so a hit
// is always the tree asked for, and only after it passed parseTree's checks.
// Consecutive commits share most trees: the old side of one commit's diff is
// the new side of the previous one's.
const treeCacheBytes = 32 << 20

// entryCost is the memory of one parsed entry, unsafe.Sizeof(entry{}) (its
// name and hash are in the tree's text, counted with the tree).
const entryCost = 12

// parsedTree is a tree object's text and its entries, as parseTree returns
// them: their names and hashes are in text (see entry).
type parsedTree struct {
	text    string
	entries []entry
	dirs    int // how many entries are directories
}

// name returns the name of entry i.
func (t parsedTree) name(i int) string { return t.entries[i].name(t.text) }

// tree returns parsed tree h; the zero Hash is the empty tree. The returned
// entries are shared: do not modify them.
func (r *Repo) tree(h Hash, path string) (parsedTree, error) {
	return r.treeFrom(h, path, Hash{})
}

// treeFrom is tree, faster when h is a new version of tree prev (see
// parseTreeFrom) and prev is cached.
func (r *Repo) treeFrom(h Hash, path string, prev Hash) (parsedTree, error) {
	if h.IsZero() {
		return parsedTree{}, nil
	}
	if t, ok := r.trees.get(h); ok {
		return t, nil
	}
	text, err := r.object(h, plumbing.TreeObject, path, maxTreeSize)
	if err != nil {
		return parsedTree{}, err
	}
	var t parsedTree
	if old, ok := r.trees.get(prev); ok && !prev.IsZero() {
		t, err = parseTreeFrom(old, text, path)
	} else {
		t, err = parseTree(text, path)
	}
	if err != nil {
		return parsedTree{}, err
	}
	r.trees.put(h, t, int64(len(text))+entryCost*int64(cap(t.entries)))
	return t, nil
}

// object reads object h, which must have type t and at most limit bytes.
// Objects too large are refused before their content is read.
func (r *Repo) object(h Hash, t plumbing.ObjectType, path string, limit int64) (string, error) {
	typ, data, err := r.objects.read(h, limit)
	var tl *tooLargeError
	switch {
	case err == nil:
		if typ != t {
			return "", &TreeEntryError{Path: path, Reason: fmt.Sprintf("names a %s object where a %s is expected", typ, t)}
		}
		return data, nil
	case errors.As(err, &tl):
		if tl.typ != t {
			return "", &TreeEntryError{Path: path, Reason: fmt.Sprintf("names a %s object where a %s is expected", tl.typ, t)}
		}
		return "", &FileTooLargeError{Path: displayPath(path), Size: tl.size, Limit: limit}
	case errors.Is(err, errFallback):
		return r.goGitObject(h, t, path, limit)
	}
	return "", fmt.Errorf("gitrepo: %s: reading %s %s: %w", displayPath(path), t, h, err)
}

// goGitObject is object through go-git, for what objectStore leaves to it.
// Objects over MaxFileSize are opened lazily by the storage, so the size is
// checked before the content is read.
func (r *Repo) goGitObject(h Hash, t plumbing.ObjectType, path string, limit int64) (string, error) {
	obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, plumbing.Hash(h))
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return "", fmt.Errorf("gitrepo: %s (%s %s): %w", displayPath(path), t, h, ErrNotFound)
		}
		return "", fmt.Errorf("gitrepo: %s: reading %s %s: %w", displayPath(path), t, h, err)
	}
	if obj.Type() != t {
		return "", &TreeEntryError{Path: path, Reason: fmt.Sprintf("names a %s object where a %s is expected", obj.Type(), t)}
	}
	size := obj.Size()
	if size > limit {
		return "", &FileTooLargeError{Path: displayPath(path), Size: size, Limit: limit}
	}
	rd, err := obj.Reader()
	if err != nil {
		return "", fmt.Errorf("gitrepo: %s: reading %s %s: %w", displayPath(path), t, h, err)
	}
	defer rd.Close()
	var data strings.Builder
	data.Grow(int(size))
	if n, err := io.Copy(&data, io.LimitReader(rd, size)); err != nil || n != size {
		return "", fmt.Errorf("gitrepo: %s: reading %s %s: %d of %d bytes: %v", displayPath(path), t, h, n, size, err)
	}
	if n, _ := rd.Read(make([]byte, 1)); n != 0 {
		return "", fmt.Errorf("gitrepo: %s: %s %s is longer than its header says", displayPath(path), t, h)
	}
	return data.String(), nil
}

func displayPath(p string) string {
	if p == "" {
		return "(root tree)"
	}
	return p
}

// file reads blob h of an entry of kind k at path, which must be a file.
func (r *Repo) file(k kind, h Hash, path string) ([]byte, error) {
	if k != kindFile {
		return nil, &TreeEntryError{Path: path, Reason: fmt.Sprintf("is a %s; governance paths hold only regular files", k)}
	}
	data, err := r.object(h, plumbing.BlobObject, path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return []byte(data), nil
}

// rootTree returns the tree hash of commit c.
func (r *Repo) rootTree(c Hash) (Hash, error) {
	l, err := r.commitLinks(c)
	return l.tree, err
}

// validPath checks a slash-separated path inside a repository.
func validPath(p string) error {
	if p == "" {
		return errors.New("gitrepo: empty path")
	}
	for _, c := range strings.Split(p, "/") {
		if reason := badName(c); reason != "" {
			return fmt.Errorf("gitrepo: path %q: %s (paths are relative, slash-separated, without . or .. or .git)", p, reason)
		}
	}
	return nil
}

// ReadFile returns the content of the file at path in commit. A missing path
// wraps ErrNotFound; a directory, symbolic link or submodule is a
// *TreeEntryError.
func (r *Repo) ReadFile(ctx context.Context, commit Hash, path string) ([]byte, error) {
	r.lock()
	defer r.unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validPath(path); err != nil {
		return nil, err
	}
	t, err := r.rootTree(commit)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(path, "/")
	dir := ""
	for i, name := range parts {
		tr, err := r.tree(t, dir)
		if err != nil {
			return nil, err
		}
		e, ok := tr.lookup(name)
		if !ok {
			return nil, fmt.Errorf("gitrepo: %s at commit %s: %w", path, commit.Short(), ErrNotFound)
		}
		dir = join(dir, name)
		if i == len(parts)-1 {
			if e.kind == kindDir {
				return nil, &TreeEntryError{Path: path, Reason: "is a directory, not a file"}
			}
			return r.file(e.kind, e.hash(tr.text), path)
		}
		if e.kind != kindDir {
			return nil, fmt.Errorf("gitrepo: %s at commit %s: %s is a %s: %w", path, commit.Short(), dir, e.kind, ErrNotFound)
		}
		t = e.hash(tr.text)
	}
	panic("unreachable")
}

// ListFiles returns every file whose path starts with prefix in commit, with
// its content. prefix is a plain string prefix: "proposals/" lists that
// directory recursively, "" lists everything. A symbolic link or submodule
// under prefix is a *TreeEntryError.
func (r *Repo) ListFiles(ctx context.Context, commit Hash, prefix string) (map[string][]byte, error) {
	r.lock()
	defer r.unlock()
	t, err := r.rootTree(commit)
	if err != nil {
		return nil, err
	}
	m := matcher{prefixes: []string{prefix}}
	out := make(map[string][]byte)
	err = r.walk(ctx, t, "", m, func(path string, k kind, h Hash) error {
		data, err := r.file(k, h, path)
		if err != nil {
			return err
		}
		out[path] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Repo) walk(ctx context.Context, t Hash, dir string, m matcher, fn func(string, kind, Hash) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tr, err := r.tree(t, dir)
	if err != nil {
		return err
	}
	for i, e := range tr.entries {
		p := join(dir, tr.name(i))
		if e.kind == kindDir {
			if m.dir(p) {
				if err := r.walk(ctx, e.hash(tr.text), p, m, fn); err != nil {
					return err
				}
			}
			continue
		}
		if m.file(p) {
			if err := fn(p, e.kind, e.hash(tr.text)); err != nil {
				return err
			}
		}
	}
	return nil
}

// matcher selects paths by plain string prefixes; no prefixes selects all.
type matcher struct{ prefixes []string }

func (m matcher) file(p string) bool {
	if len(m.prefixes) == 0 {
		return true
	}
	for _, pre := range m.prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// dir reports whether directory d can hold a selected path.
func (m matcher) dir(d string) bool {
	if len(m.prefixes) == 0 {
		return true
	}
	for _, pre := range m.prefixes {
		if len(pre) <= len(d) {
			if strings.HasPrefix(d, pre) {
				return true
			}
		} else if strings.HasPrefix(pre, d) && pre[len(d)] == '/' {
			return true
		}
	}
	return false
}

// Change is one file changed by a commit. Before is nil when the file was
// added; After is nil and Deleted is true when it was removed. A change of
// the executable bit alone is not a change.
type Change struct {
	Path    string
	Before  []byte
	After   []byte
	Deleted bool
}

// Changes returns the files that commit c changed against its first parent
// (a root commit: against the empty tree), restricted to paths starting with
// one of prefixes (all paths when prefixes is empty), sorted by path. Only
// c.Hash is used; parents are read from the repository. Subtrees whose hash
// did not change are skipped without being read, so the cost follows the
// size of the change, not of the repository. A symbolic link or submodule
// changed under a prefix is a *TreeEntryError.
func (r *Repo) Changes(ctx context.Context, c CommitInfo, prefixes []string) ([]Change, error) {
	r.lock()
	defer r.unlock()
	l, err := r.commitLinks(c.Hash)
	if err != nil {
		return nil, err
	}
	var before Hash
	if !l.parent.IsZero() {
		if before, err = r.rootTree(l.parent); err != nil {
			return nil, err
		}
	}
	d := differ{r: r, ctx: ctx, m: matcher{prefixes: prefixes}}
	if err := d.diff(before, l.tree, ""); err != nil {
		return nil, err
	}
	slices.SortFunc(d.out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return d.out, nil
}

type differ struct {
	r   *Repo
	ctx context.Context
	m   matcher
	out []Change
}

// diff compares trees a and b (zero: empty) at directory dir.
func (d *differ) diff(a, b Hash, dir string) error {
	if a == b {
		return nil
	}
	if err := d.ctx.Err(); err != nil {
		return err
	}
	ta, err := d.r.treeFrom(a, dir, Hash{})
	if err != nil {
		return err
	}
	tb, err := d.r.treeFrom(b, dir, a)
	if err != nil {
		return err
	}
	ea, eb := unchangedEnds(ta, tb)
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		var c int
		switch {
		case i == len(ea):
			c = 1
		case j == len(eb):
			c = -1
		default:
			c = compareEntries(ta.text, &ea[i], tb.text, &eb[j])
		}
		switch {
		case c < 0:
			err = d.side(ta.text, &ea[i], dir, true)
			i++
		case c > 0:
			err = d.side(tb.text, &eb[j], dir, false)
			j++
		default:
			err = d.both(ta.text, &ea[i], tb.text, &eb[j], dir)
			i++
			j++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// unchangedEnds returns the entries of a and b without those they share at
// their start and at their end, which the diff would find equal one by one.
// This keeps a commit that adds a few files to a directory of thousands
// from comparing all of them.
//
// Why they are equal: both entry lists were parsed forward from offset 0,
// and parsing an entry reads only its own bytes. At the start, the k-th
// entries of a and b begin at the same offset (0, then the end of the
// previous pair), so if one lies wholly in the bytes the two objects share
// at their start, both are the same bytes and the same entry. At the end,
// an entry boundary of a and one of b at the same distance from the end,
// both in the bytes the two share at their end, are followed by the same
// bytes, which parse into the same entries up to the end; entry
// boundaries are not self-synchronising (a hash may hold any bytes), so
// the distances are compared, not assumed.
func unchangedEnds(a, b parsedTree) ([]entry, []entry) {
	ea, eb := a.entries, b.entries
	if len(ea) < minIncremental || len(eb) < minIncremental {
		return ea, eb
	}
	p := commonPrefix(a.text, b.text)
	q := commonSuffix(a.text[p:], b.text[p:])
	// end(es, text, k) is where entry k ends: where k+1 starts.
	end := func(es []entry, text string, k int) int {
		if k+1 == len(es) {
			return len(text)
		}
		return int(es[k+1].off)
	}
	i := 0
	for i < len(ea) && i < len(eb) && end(ea, a.text, i) <= p && end(eb, b.text, i) <= p {
		i++
	}
	ja, jb := len(ea), len(eb)
	for ja > i && jb > i && int(ea[ja-1].off) >= len(a.text)-q && len(a.text)-int(ea[ja-1].off) == len(b.text)-int(eb[jb-1].off) {
		ja--
		jb--
	}
	return ea[i:ja], eb[i:jb]
}

// side handles entry e of tree text in dir, present only before (removed)
// or only after (added).
func (d *differ) side(text string, e *entry, dir string, removed bool) error {
	p := join(dir, e.name(text))
	if e.kind == kindDir {
		if !d.m.dir(p) {
			return nil
		}
		if removed {
			return d.diff(e.hash(text), Hash{}, p)
		}
		return d.diff(Hash{}, e.hash(text), p)
	}
	if !d.m.file(p) {
		return nil
	}
	data, err := d.r.file(e.kind, e.hash(text), p)
	if err != nil {
		return err
	}
	if removed {
		d.out = append(d.out, Change{Path: p, Before: data, Deleted: true})
	} else {
		d.out = append(d.out, Change{Path: p, After: data})
	}
	return nil
}

// both handles entries a of tree ta and b of tree tb in dir, with the same
// name and the same directory-ness.
func (d *differ) both(ta string, a *entry, tb string, b *entry, dir string) error {
	ha, hb := a.hash(ta), b.hash(tb)
	if ha == hb && a.kind == b.kind {
		return nil
	}
	p := join(dir, a.name(ta))
	if a.kind == kindDir {
		if !d.m.dir(p) {
			return nil
		}
		return d.diff(ha, hb, p)
	}
	if !d.m.file(p) {
		return nil
	}
	before, err := d.r.file(a.kind, ha, p)
	if err != nil {
		return err
	}
	after, err := d.r.file(b.kind, hb, p)
	if err != nil {
		return err
	}
	d.out = append(d.out, Change{Path: p, Before: before, After: after})
	return nil
}
