package gitrepo

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
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

// entry is one entry of a parsed tree: where it is in its tree's text,
// which holds its name and hash (see name and hash), and what its mode
// says. It holds no pointers and only 12 bytes, so a parsed tree's entries
// cost the garbage collector nothing to scan, and a new version of a tree
// takes the entries it shares with the old one by copying them (see
// parseAgainst). The entries of a tree being written, which has no text
// yet, are namedEntry values.
type entry struct {
	off     uint32 // where the entry starts in its tree's text
	nameLen uint32
	kind    kind
	exec    bool // 100755
}

// nameAt is where e's name starts in its tree's text.
func (e *entry) nameAt() int {
	if e.kind == kindDir {
		return int(e.off) + len("40000 ")
	}
	return int(e.off) + len("100644 ") // every mode Git writes has 6 digits but a directory's
}

// name returns e's name; text is the tree e was parsed from (or a version
// of it holding the same bytes at e.off).
func (e *entry) name(text string) string {
	at := e.nameAt()
	return text[at : at+int(e.nameLen)]
}

// hash returns the hash e names, from text as in name.
func (e *entry) hash(text string) Hash {
	var h Hash
	copy(h[:], text[e.nameAt()+int(e.nameLen)+1:])
	return h
}

// compareNames orders tree entries as Git does: by name bytes, a
// directory's name compared as if it ended in "/".
func compareNames(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	return cmp.Compare(sortByte(a, aDir, n), sortByte(b, bDir, n))
}

func sortByte(name string, dir bool, n int) byte {
	if n < len(name) {
		return name[n]
	}
	if dir {
		return '/'
	}
	return 0
}

// compareEntries is compareNames for entries of trees ta and tb.
func compareEntries(ta string, a *entry, tb string, b *entry) int {
	return compareNames(a.name(ta), a.kind == kindDir, b.name(tb), b.kind == kindDir)
}

// A parsed tree is the object's text and its entries, whose names are
// found in the text. Trees are parsed strictly: each entry is
//
//	<mode> SP <name> NUL <20-byte hash>
//
// with a mode Git writes (100644, 100755, 40000, 120000, 160000), a name
// that badName accepts, entries in Git's order without duplicates, and no
// name that is both a directory and something else. Symbolic links and
// submodules parse; reading one as a file is refused elsewhere.

// parseEntry parses the entry at pos in data, returning it and where the
// next one starts, or why it is malformed (and the name it got to, if any).
func parseEntry(data string, pos int) (e entry, next int, name, reason string) {
	rest := data[pos:]
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 {
		return entry{}, 0, "", "missing mode terminator"
	}
	switch rest[:sp] {
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
		return entry{}, 0, "", fmt.Sprintf("mode %q is not one Git writes", rest[:sp])
	}
	rest = rest[sp+1:]
	nul := strings.IndexByte(rest, 0)
	if nul < 0 || len(rest) < nul+1+len(Hash{}) {
		return entry{}, 0, "", "truncated entry"
	}
	name = rest[:nul]
	if reason := badName(name); reason != "" {
		return entry{}, 0, name, reason
	}
	e.off, e.nameLen = uint32(pos), uint32(nul)
	return e, pos + sp + 1 + nul + 1 + len(Hash{}), name, ""
}

// parseTree decodes a tree object strictly. path names the tree in errors.
// Entry names are found in data (see entry.name). data is at most
// maxTreeSize bytes.
func parseTree(data string, path string) (parsedTree, error) {
	bad := func(format string, args ...any) error {
		return &TreeEntryError{Path: path, Reason: "malformed tree: " + fmt.Sprintf(format, args...)}
	}
	if len(data) > maxTreeSize {
		return parsedTree{}, bad("larger than %d bytes", maxTreeSize)
	}
	t := parsedTree{text: data}
	for pos := 0; pos < len(data); {
		e, next, name, reason := parseEntry(data, pos)
		if reason != "" {
			if name != "" {
				return parsedTree{}, &TreeEntryError{Path: join(path, name), Reason: "malformed tree: " + reason}
			}
			return parsedTree{}, bad("%s", reason)
		}
		if len(t.entries) > 0 && compareEntries(data, &t.entries[len(t.entries)-1], data, &e) >= 0 {
			return parsedTree{}, bad("entries out of order or duplicated at %q", name)
		}
		if e.kind == kindDir {
			t.dirs++
		}
		t.entries = append(t.entries, e)
		pos = next
	}
	// A file and a directory of the same name sort apart ("a" < "a-b" < "a/"),
	// so the order check above does not see them.
	if t.dirs > 0 {
		for i, e := range t.entries {
			if e.kind == kindDir {
				if _, ok := t.find(t.name(i), false); ok {
					return parsedTree{}, bad("%q is both a directory and a file", t.name(i))
				}
			}
		}
	}
	return t, nil
}

// minIncremental is the smallest old tree parseTreeFrom compares against;
// below it a whole parse costs less than the comparison.
const minIncremental = 64

// parseTreeFrom returns exactly what parseTree(data, path) returns. It is
// faster when data is a new version of old (as parseTree returned it) that
// differs from it in a few neighbouring entries, as a large directory does
// from one commit to the next: the entries in the bytes the two share at
// their start and at their end are taken from old, and only the bytes
// between are parsed. When that does not work out (the difference does not
// fall on entry boundaries, or anything in it is malformed) it parses data
// whole, so any error is parseTree's.
//
// Why the shortcut gives parseTree's result: parsing an entry reads only its
// own bytes, so the entries of old that lie wholly in the shared prefix (at
// the same offsets) or the shared suffix (shifted by the change in length)
// parse the same in data; parseTree would reach the middle bytes at the same
// offset, after the same entry, and parse them as parseAgainst does; the
// order checks within the prefix and suffix hold because they held in old,
// and the two seams are checked here; and two of old's entries cannot be a
// directory and a file of one name, because old passed that check, so only
// the middle entries need looking up, and only when the tree holds a
// directory. The count of directories is old's, less those among the old
// entries between the prefix and the suffix, plus the middle's.
func parseTreeFrom(old parsedTree, data, path string) (parsedTree, error) {
	if t, ok := parseAgainst(old, data); ok {
		return t, nil
	}
	return parseTree(data, path)
}

// parseAgainst is parseTreeFrom's shortcut; it returns false when the
// shortcut does not apply.
func parseAgainst(oldTree parsedTree, data string) (parsedTree, bool) {
	oldText, old := oldTree.text, oldTree.entries
	n := len(old)
	if n < minIncremental || len(data) > maxTreeSize {
		return parsedTree{}, false
	}
	p := commonPrefix(oldText, data)
	q := commonSuffix(oldText[p:], data[p:])
	start := func(k int) int {
		if k == n {
			return len(oldText)
		}
		return int(old[k].off)
	}
	// Old entries [0, i) end within the prefix; [j, n) start within the suffix.
	i := sort.Search(n, func(k int) bool { return start(k+1) > p })
	j := sort.Search(n, func(k int) bool { return start(k) >= len(oldText)-q })
	from, shift := start(i), len(data)-len(oldText)
	to := start(j) + shift // where the suffix's entries start in data
	// The prefix's entries, at the same offsets in data, are copied as they
	// are into a new array (old is shared), which slices.Grow does without
	// first clearing the memory they fill.
	out := slices.Grow(old[:i:i], n-i+16)
	dirs := oldTree.dirs
	for _, e := range old[i:j] {
		if e.kind == kindDir {
			dirs--
		}
	}
	for pos := from; pos < to; {
		e, next, _, reason := parseEntry(data, pos)
		if reason != "" || next > to {
			return parsedTree{}, false
		}
		if len(out) > 0 && compareEntries(data, &out[len(out)-1], data, &e) >= 0 {
			return parsedTree{}, false
		}
		if e.kind == kindDir {
			dirs++
		}
		out = append(out, e)
		pos = next
	}
	// The suffix's entries move by the change in length.
	mid := len(out)
	out = append(out, old[j:]...)
	if shift != 0 {
		for k := mid; k < len(out); k++ {
			out[k].off = uint32(int(out[k].off) + shift)
		}
	}
	if mid > 0 && mid < len(out) && compareEntries(data, &out[mid-1], data, &out[mid]) >= 0 {
		return parsedTree{}, false
	}
	t := parsedTree{data, out, dirs}
	if dirs > 0 {
		for k := i; k < mid; k++ {
			if _, ok := t.find(t.name(k), out[k].kind != kindDir); ok {
				return parsedTree{}, false
			}
		}
	}
	return t, true
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	const chunk = 256
	i := 0
	for i+chunk <= n && a[i:i+chunk] == b[i:i+chunk] {
		i += chunk
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix returns the length of the longest common suffix of a and b.
func commonSuffix(a, b string) int {
	n := min(len(a), len(b))
	const chunk = 256
	i := 0
	for i+chunk <= n && a[len(a)-i-chunk:len(a)-i] == b[len(b)-i-chunk:len(b)-i] {
		i += chunk
	}
	for i < n && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
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
	case strings.IndexByte(name, '/') >= 0:
		return "name contains /"
	case strings.IndexByte(name, 0) >= 0:
		return "name contains NUL"
	}
	return ""
}

// find looks name up in t's sorted entries, as a directory or as a
// non-directory, returning its index or where it would be.
func (t parsedTree) find(name string, dir bool) (int, bool) {
	es := t.entries
	i := sort.Search(len(es), func(i int) bool {
		return compareNames(es[i].name(t.text), es[i].kind == kindDir, name, dir) >= 0
	})
	if i < len(es) && (es[i].kind == kindDir) == dir && es[i].name(t.text) == name {
		return i, true
	}
	return i, false
}

// lookup finds name in t whatever its kind.
func (t parsedTree) lookup(name string) (entry, bool) {
	if i, ok := t.find(name, false); ok {
		return t.entries[i], true
	}
	if i, ok := t.find(name, true); ok {
		return t.entries[i], true
	}
	return entry{}, false
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
