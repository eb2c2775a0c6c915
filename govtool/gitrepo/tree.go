package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// kind is what a tree entry holds.
type kind uint8

const (
	kindFile      kind = iota + 1 // regular file, 100644 or 100755
	kindDir                       // 40000
	kindSymlink                   // 120000
	kindSubmodule                 // 160000 (gitlink)
)

func (k kind) String() string {
	switch k {
	case kindFile:
		return "file"
	case kindDir:
		return "directory"
	case kindSymlink:
		return "symbolic link"
	case kindSubmodule:
		return "submodule"
	}
	return "unknown"
}

type entry struct {
	name string
	kind kind
	exec bool // 100755
	hash Hash
}

// gitMode is the mode written into a tree object for e.
func (e entry) gitMode() string {
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

// compareEntries orders entries as Git does: by name bytes, a directory's
// name compared as if it ended in "/".
func compareEntries(a, b *entry) int {
	n := min(len(a.name), len(b.name))
	if c := strings.Compare(a.name[:n], b.name[:n]); c != 0 {
		return c
	}
	ca, cb := sortByte(a, n), sortByte(b, n)
	switch {
	case ca < cb:
		return -1
	case ca > cb:
		return 1
	}
	return 0
}

func sortByte(e *entry, n int) byte {
	if n < len(e.name) {
		return e.name[n]
	}
	if e.kind == kindDir {
		return '/'
	}
	return 0
}

// parseTree decodes a tree object strictly. path names the tree in errors.
func parseTree(raw []byte, path string) ([]entry, error) {
	// One conversion: every name is a substring of it, not its own copy.
	data := string(raw)
	bad := func(format string, args ...any) error {
		return &TreeEntryError{Path: path, Reason: "malformed tree: " + fmt.Sprintf(format, args...)}
	}
	var out []entry
	for len(data) > 0 {
		sp := strings.IndexByte(data, ' ')
		if sp < 0 {
			return nil, bad("missing mode terminator")
		}
		var e entry
		switch data[:sp] {
		case "100644":
			e.kind = kindFile
		case "100755":
			e.kind, e.exec = kindFile, true
		case "40000":
			e.kind = kindDir
		case "120000":
			e.kind = kindSymlink
		case "160000":
			e.kind = kindSubmodule
		default:
			return nil, bad("mode %q is not one Git writes", data[:sp])
		}
		data = data[sp+1:]
		nul := strings.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+len(Hash{}) {
			return nil, bad("truncated entry")
		}
		e.name = data[:nul]
		copy(e.hash[:], data[nul+1:])
		data = data[nul+1+len(Hash{}):]
		if reason := badName(e.name); reason != "" {
			return nil, &TreeEntryError{Path: join(path, e.name), Reason: "malformed tree: " + reason}
		}
		if len(out) > 0 && compareEntries(&out[len(out)-1], &e) >= 0 {
			return nil, bad("entries out of order or duplicated at %q", e.name)
		}
		out = append(out, e)
	}
	// A file and a directory of the same name sort apart ("a" < "a-b" < "a/"),
	// so the order check above does not see them.
	for i := range out {
		if out[i].kind == kindDir {
			if _, ok := find(out, out[i].name, false); ok {
				return nil, bad("%q is both a directory and a file", out[i].name)
			}
		}
	}
	return out, nil
}

// badName says why name cannot be a tree entry, or returns "".
func badName(name string) string {
	switch {
	case name == "":
		return "empty name"
	case name == "." || name == "..":
		return "name " + name
	case strings.EqualFold(name, ".git"):
		return "name .git"
	case strings.ContainsRune(name, '/'):
		return "name contains /"
	case strings.IndexByte(name, 0) >= 0:
		return "name contains NUL"
	}
	return ""
}

// find looks name up in sorted entries, as a directory or as a non-directory.
func find(entries []entry, name string, dir bool) (int, bool) {
	key := entry{name: name, kind: kindFile}
	if dir {
		key.kind = kindDir
	}
	i := sort.Search(len(entries), func(i int) bool { return compareEntries(&entries[i], &key) >= 0 })
	if i < len(entries) && entries[i].name == name && (entries[i].kind == kindDir) == dir {
		return i, true
	}
	return i, false
}

// lookup finds name in entries whatever its kind.
func lookup(entries []entry, name string) (entry, bool) {
	if i, ok := find(entries, name, false); ok {
		return entries[i], true
	}
	if i, ok := find(entries, name, true); ok {
		return entries[i], true
	}
	return entry{}, false
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// treeCache keeps parsed trees by hash. Trees are immutable, so a hit is
// always right; the cache is dropped whole when it holds too many entries.
type treeCache struct {
	m       map[Hash][]entry
	entries int
}

const treeCacheEntries = 1 << 18

// tree returns the parsed entries of tree h; the zero Hash is the empty tree.
// The returned slice is shared: do not modify it.
func (r *Repo) tree(h Hash, path string) ([]entry, error) {
	if h.IsZero() {
		return nil, nil
	}
	if es, ok := r.trees.m[h]; ok {
		return es, nil
	}
	data, err := r.object(h, plumbing.TreeObject, path, maxTreeSize)
	if err != nil {
		return nil, err
	}
	es, err := parseTree(data, path)
	if err != nil {
		return nil, err
	}
	if r.trees.m == nil || r.trees.entries+len(es) > treeCacheEntries {
		r.trees = treeCache{m: make(map[Hash][]entry)}
	}
	r.trees.m[h] = es
	r.trees.entries += len(es) + 1
	return es, nil
}

// object reads object h, which must have type t and at most limit bytes.
// Objects over MaxFileSize are opened lazily by the storage, so the size is
// checked before the content is read.
func (r *Repo) object(h Hash, t plumbing.ObjectType, path string, limit int64) ([]byte, error) {
	obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, plumbing.Hash(h))
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("gitrepo: %s (%s %s): %w", displayPath(path), t, h, ErrNotFound)
		}
		return nil, fmt.Errorf("gitrepo: %s: reading %s %s: %w", displayPath(path), t, h, err)
	}
	if obj.Type() != t {
		return nil, &TreeEntryError{Path: path, Reason: fmt.Sprintf("names a %s object where a %s is expected", obj.Type(), t)}
	}
	size := obj.Size()
	if size > limit {
		return nil, &FileTooLargeError{Path: displayPath(path), Size: size, Limit: limit}
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("gitrepo: %s: reading %s %s: %w", displayPath(path), t, h, err)
	}
	defer rd.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(rd, data); err != nil {
		return nil, fmt.Errorf("gitrepo: %s: reading %s %s: %w", displayPath(path), t, h, err)
	}
	if n, _ := rd.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("gitrepo: %s: %s %s is longer than its header says", displayPath(path), t, h)
	}
	return data, nil
}

func displayPath(p string) string {
	if p == "" {
		return "(root tree)"
	}
	return p
}

// file reads the blob of a file entry at path.
func (r *Repo) file(e entry, path string) ([]byte, error) {
	if e.kind != kindFile {
		return nil, &TreeEntryError{Path: path, Reason: fmt.Sprintf("is a %s; governance paths hold only regular files", e.kind)}
	}
	return r.object(e.hash, plumbing.BlobObject, path, MaxFileSize)
}

// rootTree returns the tree hash of commit c.
func (r *Repo) rootTree(c Hash) (Hash, error) {
	co, err := r.commit(c)
	if err != nil {
		return Hash{}, err
	}
	return Hash(co.TreeHash), nil
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
	r.mu.Lock()
	defer r.mu.Unlock()
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
		es, err := r.tree(t, dir)
		if err != nil {
			return nil, err
		}
		e, ok := lookup(es, name)
		if !ok {
			return nil, fmt.Errorf("gitrepo: %s at commit %s: %w", path, commit.Short(), ErrNotFound)
		}
		dir = join(dir, name)
		if i == len(parts)-1 {
			if e.kind == kindDir {
				return nil, &TreeEntryError{Path: path, Reason: "is a directory, not a file"}
			}
			return r.file(e, path)
		}
		if e.kind != kindDir {
			return nil, fmt.Errorf("gitrepo: %s at commit %s: %s is a %s: %w", path, commit.Short(), dir, e.kind, ErrNotFound)
		}
		t = e.hash
	}
	panic("unreachable")
}

// ListFiles returns every file whose path starts with prefix in commit, with
// its content. prefix is a plain string prefix: "proposals/" lists that
// directory recursively, "" lists everything. A symbolic link or submodule
// under prefix is a *TreeEntryError.
func (r *Repo) ListFiles(ctx context.Context, commit Hash, prefix string) (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.rootTree(commit)
	if err != nil {
		return nil, err
	}
	m := matcher{prefixes: []string{prefix}}
	out := make(map[string][]byte)
	err = r.walk(ctx, t, "", m, func(path string, e entry) error {
		data, err := r.file(e, path)
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

func (r *Repo) walk(ctx context.Context, t Hash, dir string, m matcher, fn func(string, entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	es, err := r.tree(t, dir)
	if err != nil {
		return err
	}
	for _, e := range es {
		p := join(dir, e.name)
		if e.kind == kindDir {
			if m.dir(p) {
				if err := r.walk(ctx, e.hash, p, m, fn); err != nil {
					return err
				}
			}
			continue
		}
		if m.file(p) {
			if err := fn(p, e); err != nil {
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
	r.mu.Lock()
	defer r.mu.Unlock()
	co, err := r.commit(c.Hash)
	if err != nil {
		return nil, err
	}
	var before Hash
	if len(co.ParentHashes) > 0 {
		if before, err = r.rootTree(Hash(co.ParentHashes[0])); err != nil {
			return nil, err
		}
	}
	d := differ{r: r, ctx: ctx, m: matcher{prefixes: prefixes}}
	if err := d.diff(before, Hash(co.TreeHash), ""); err != nil {
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
	ea, err := d.r.tree(a, dir)
	if err != nil {
		return err
	}
	eb, err := d.r.tree(b, dir)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		var c int
		switch {
		case i == len(ea):
			c = 1
		case j == len(eb):
			c = -1
		default:
			c = compareEntries(&ea[i], &eb[j])
		}
		switch {
		case c < 0:
			err = d.side(ea[i], dir, true)
			i++
		case c > 0:
			err = d.side(eb[j], dir, false)
			j++
		default:
			err = d.both(ea[i], eb[j], dir)
			i++
			j++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// side handles an entry present only before (removed) or only after (added).
func (d *differ) side(e entry, dir string, removed bool) error {
	p := join(dir, e.name)
	if e.kind == kindDir {
		if !d.m.dir(p) {
			return nil
		}
		if removed {
			return d.diff(e.hash, Hash{}, p)
		}
		return d.diff(Hash{}, e.hash, p)
	}
	if !d.m.file(p) {
		return nil
	}
	data, err := d.r.file(e, p)
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

// both handles entries with the same name and the same directory-ness.
func (d *differ) both(a, b entry, dir string) error {
	if a.hash == b.hash && a.kind == b.kind {
		return nil
	}
	p := join(dir, a.name)
	if a.kind == kindDir {
		if !d.m.dir(p) {
			return nil
		}
		return d.diff(a.hash, b.hash, p)
	}
	if !d.m.file(p) {
		return nil
	}
	before, err := d.r.file(a, p)
	if err != nil {
		return err
	}
	after, err := d.r.file(b, p)
	if err != nil {
		return err
	}
	d.out = append(d.out, Change{Path: p, Before: before, After: after})
	return nil
}
