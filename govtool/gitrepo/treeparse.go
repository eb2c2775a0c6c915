package gitrepo

import (
	"fmt"
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

type entry struct {
	name string
	kind kind
	exec bool // 100755
	hash Hash
	off  uint32 // where the entry starts in its tree object, when parsed from one
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

// A parsed tree is the object's text and its entries, whose names are
// substrings of the text. Trees are parsed strictly: each entry is
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
	e.name = rest[:nul]
	if reason := badName(e.name); reason != "" {
		return entry{}, 0, e.name, reason
	}
	copy(e.hash[:], rest[nul+1:])
	e.off = uint32(pos)
	return e, pos + sp + 1 + nul + 1 + len(Hash{}), e.name, ""
}

// parseTree decodes a tree object strictly. path names the tree in errors.
// Entry names are substrings of data. data is at most maxTreeSize bytes.
func parseTree(data string, path string) ([]entry, error) {
	bad := func(format string, args ...any) error {
		return &TreeEntryError{Path: path, Reason: "malformed tree: " + fmt.Sprintf(format, args...)}
	}
	if len(data) > maxTreeSize {
		return nil, bad("larger than %d bytes", maxTreeSize)
	}
	var out []entry
	for pos := 0; pos < len(data); {
		e, next, name, reason := parseEntry(data, pos)
		if reason != "" {
			if name != "" {
				return nil, &TreeEntryError{Path: join(path, name), Reason: "malformed tree: " + reason}
			}
			return nil, bad("%s", reason)
		}
		if len(out) > 0 && compareEntries(&out[len(out)-1], &e) >= 0 {
			return nil, bad("entries out of order or duplicated at %q", e.name)
		}
		out = append(out, e)
		pos = next
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

// minIncremental is the smallest old tree parseTreeFrom compares against;
// below it a whole parse costs less than the comparison.
const minIncremental = 64

// parseTreeFrom returns exactly what parseTree(data, path) returns. It is
// faster when data is a new version of old — entries (old's, as parseTree
// returned them) parsed from oldText — that differs from it in a few
// neighbouring entries, as a large directory does from one commit to the
// next: the entries in the bytes the two share at their start and at their
// end are taken from old, and only the bytes between are parsed. When that
// does not work out (the difference does not fall on entry boundaries, or
// anything in it is malformed) it parses data whole, so any error is
// parseTree's.
//
// Why the shortcut gives parseTree's result: parsing an entry reads only its
// own bytes, so the entries of old that lie wholly in the shared prefix (at
// the same offsets) or the shared suffix (shifted by the change in length)
// parse the same in data; parseTree would reach the middle bytes at the same
// offset, after the same entry, and parse them as parseMiddle does; the
// order checks within the prefix and suffix hold because they held in old,
// and the two seams are checked here; and two of old's entries cannot be a
// directory and a file of one name, because old passed that check, so only
// the middle entries need looking up.
func parseTreeFrom(oldText string, old []entry, data, path string) ([]entry, error) {
	if es, ok := parseAgainst(oldText, old, data); ok {
		return es, nil
	}
	return parseTree(data, path)
}

func parseAgainst(oldText string, old []entry, data string) ([]entry, bool) {
	n := len(old)
	if n < minIncremental || len(data) > maxTreeSize {
		return nil, false
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
	out := make([]entry, 0, n+16)
	dirs := false // whether any entry is a directory
	for _, e := range old[:i] {
		rename(&e, data, 0)
		dirs = dirs || e.kind == kindDir
		out = append(out, e)
	}
	for pos := from; pos < to; {
		e, next, _, reason := parseEntry(data, pos)
		if reason != "" || next > to {
			return nil, false
		}
		if len(out) > 0 && compareEntries(&out[len(out)-1], &e) >= 0 {
			return nil, false
		}
		dirs = dirs || e.kind == kindDir
		out = append(out, e)
		pos = next
	}
	mid := len(out)
	for _, e := range old[j:] {
		rename(&e, data, shift)
		dirs = dirs || e.kind == kindDir
		out = append(out, e)
	}
	if mid > 0 && mid < len(out) && compareEntries(&out[mid-1], &out[mid]) >= 0 {
		return nil, false
	}
	if dirs {
		for k := i; k < mid; k++ {
			if _, ok := find(out, out[k].name, out[k].kind != kindDir); ok {
				return nil, false
			}
		}
	}
	return out, true
}

// rename moves e, an entry of another version of data, by shift bytes and
// points its name into data, where the same bytes are.
func rename(e *entry, data string, shift int) {
	e.off = uint32(int(e.off) + shift)
	at := int(e.off) + len("100644 ") // every mode Git writes has 6 digits but a directory's
	if e.kind == kindDir {
		at = int(e.off) + len("40000 ")
	}
	e.name = data[at : at+len(e.name)]
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
