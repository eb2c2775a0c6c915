package gitrepo

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

func encodeTree(es []namedEntry) []byte {
	var buf bytes.Buffer
	for _, e := range es {
		buf.WriteString(e.gitMode() + " " + e.name + "\x00")
		buf.Write(e.hash[:])
	}
	return buf.Bytes()
}

// TestEntryPointerFree keeps entry free of pointers, which lets parseAgainst
// reuse an old tree's entries by copying them and keeps the cached trees'
// entries out of the garbage collector's scanning, and checks the size the
// tree cache charges for one.
func TestEntryPointerFree(t *testing.T) {
	var hasPointers func(reflect.Type) bool
	hasPointers = func(t reflect.Type) bool {
		switch t.Kind() {
		case reflect.Struct:
			for i := range t.NumField() {
				if hasPointers(t.Field(i).Type) {
					return true
				}
			}
			return false
		case reflect.Array:
			return t.Len() > 0 && hasPointers(t.Elem())
		case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice,
			reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
			return true
		}
		return false
	}
	if hasPointers(reflect.TypeFor[entry]()) {
		t.Error("entry holds a pointer")
	}
	if got := unsafe.Sizeof(entry{}); got != entryCost {
		t.Errorf("an entry is %d bytes; entryCost says %d", got, entryCost)
	}
}

func TestCompareEntriesGitOrder(t *testing.T) {
	// The order git ls-tree prints: a directory sorts as if named "a/".
	sorted := []namedEntry{
		{name: "a", kind: kindFile},
		{name: "a-b", kind: kindFile},
		{name: "a", kind: kindDir},
		{name: "a0", kind: kindFile},
		{name: "b.json", kind: kindFile},
		{name: "b", kind: kindDir}, // "b/" sorts after "b.json"
	}
	// "a" as a file and as a directory may not both appear, so parseTree
	// rejects this list; compare pairs only.
	for i := range sorted {
		for j := range sorted {
			a, b := sorted[i], sorted[j]
			got := compareNames(a.name, a.kind == kindDir, b.name, b.kind == kindDir)
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("compare(%s %s, %s %s) = %d, want %d", sorted[i].kind, sorted[i].name, sorted[j].kind, sorted[j].name, got, want)
			}
		}
	}
	if _, err := parseTree(string(encodeTree(sorted)), "x"); err == nil || !strings.Contains(err.Error(), "both a directory and a file") {
		t.Errorf("parseTree with a file and a directory named a = %v", err)
	}
}

// FuzzParseTree checks that parseTree never panics and that whatever it
// accepts is exactly the canonical encoding of what it returned: sorted, no
// duplicates, valid names, so re-encoding gives back the same bytes.
func FuzzParseTree(f *testing.F) {
	var h Hash
	for i := range h {
		h[i] = byte(i)
	}
	f.Add(encodeTree([]namedEntry{{name: "a.json", kind: kindFile, hash: h}, {name: "d", kind: kindDir, hash: h}}))
	f.Add(encodeTree([]namedEntry{{name: "x", kind: kindSymlink, hash: h}, {name: "y", kind: kindSubmodule, hash: h}, {name: "z", kind: kindFile, exec: true, hash: h}}))
	f.Add([]byte("100644 ..\x00" + string(h[:])))
	f.Add([]byte("040000 d\x00" + string(h[:])))
	f.Add([]byte("100644 a"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := parseTree(string(data), "fuzz")
		if err != nil {
			return
		}
		es := tr.entries
		if got := encodeTree(tr.named()); !bytes.Equal(got, data) {
			t.Fatalf("accepted tree does not round-trip:\n in %q\nout %q", data, got)
		}
		seen := make(map[string]bool)
		for i := range es {
			name := tr.name(i)
			if badName(name) != "" || seen[name] {
				t.Fatalf("accepted bad or duplicate name %q", name)
			}
			seen[name] = true
			if i > 0 && compareEntries(tr.text, &es[i-1], tr.text, &es[i]) >= 0 {
				t.Fatalf("accepted unsorted entries %q, %q", tr.name(i-1), name)
			}
			if e, ok := tr.lookup(name); !ok || e != es[i] {
				t.Fatalf("lookup(%q) failed in an accepted tree", name)
			}
		}
		if dirs := countDirs(es); tr.dirs != dirs {
			t.Fatalf("parseTree counted %d directories, not %d", tr.dirs, dirs)
		}
	})
}

func TestMatcher(t *testing.T) {
	m := matcher{prefixes: []string{"proposals/", "policy/policy.json", "sig"}}
	for _, tc := range []struct {
		path      string
		file, dir bool
	}{
		{"proposals", false, true},
		{"proposals/a.json", true, true},
		{"proposals/sub", true, true},
		{"proposalsx", false, false},
		{"policy", false, true},
		{"policy/policy.json", true, true}, // as a directory it would hold policy/policy.json/x
		{"policy/other.json", false, false},
		{"signer-sets", true, true},
		{"si", false, false},
		{"x", false, false},
	} {
		if got := m.file(tc.path); got != tc.file {
			t.Errorf("file(%q) = %v, want %v", tc.path, got, tc.file)
		}
		if got := m.dir(tc.path); got != tc.dir {
			t.Errorf("dir(%q) = %v, want %v", tc.path, got, tc.dir)
		}
	}
	all := matcher{}
	if !all.file("anything") || !all.dir("any") {
		t.Error("an empty matcher must select everything")
	}
}

// fuzzOldTree builds a valid tree of 64 to 127 entries: files p000.json…
// and, where dirs has a bit set, a directory in place of a file.
func fuzzOldTree(n, dirs uint8) parsedTree {
	var es []namedEntry
	for i := range 64 + int(n%64) {
		e := namedEntry{name: fmt.Sprintf("p%03d.json", 2*i), kind: kindFile}
		if dirs&(1<<(i%8)) != 0 && i%3 == 0 {
			e = namedEntry{name: fmt.Sprintf("d%03d", 2*i), kind: kindDir}
		}
		e.hash[0], e.hash[19] = byte(i), byte(i>>8)
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b namedEntry) int { return compareNames(a.name, a.kind == kindDir, b.name, b.kind == kindDir) })
	t, err := parseTree(string(encodeTree(es)), "old")
	if err != nil {
		panic(err)
	}
	return t
}

func countDirs(es []entry) int {
	n := 0
	for _, e := range es {
		if e.kind == kindDir {
			n++
		}
	}
	return n
}

// sameTree reports whether a and b are the same parse of the same text.
func sameTree(a, b parsedTree) bool {
	return a.text == b.text && slices.Equal(a.entries, b.entries) && a.dirs == b.dirs
}

// FuzzParseTreeFrom checks that parseTreeFrom, given a valid old tree and
// any new bytes spliced into it, returns exactly what parseTree returns:
// the same entries (modes, offsets and names' lengths, so the same names
// and hashes) and count of directories,
// or the same error.
func FuzzParseTreeFrom(f *testing.F) {
	ot := fuzzOldTree(10, 0)
	text, es := ot.text, ot.entries
	at := func(i int) uint32 { return es[i].off }
	var h Hash
	h[5] = 0xee
	enc := func(e ...namedEntry) []byte { return encodeTree(e) }
	// Insert a valid entry, replace a hash, delete an entry, and the
	// malformations parseTree refuses.
	f.Add(uint8(10), uint8(0), at(30), uint32(0), enc(namedEntry{name: "p059.json", kind: kindFile, hash: h}))
	f.Add(uint8(10), uint8(0), at(30)+uint32(len("100644 p060.json\x00")), uint32(20), h[:])
	f.Add(uint8(10), uint8(0), at(30), at(31)-at(30), []byte{})
	f.Add(uint8(10), uint8(0), at(30), uint32(0), enc(namedEntry{name: "p061.json", kind: kindFile, hash: h}, namedEntry{name: "p060.json", kind: kindFile, hash: h}))
	f.Add(uint8(10), uint8(0), at(30), uint32(0), enc(namedEntry{name: "p060.json", kind: kindFile, hash: h}))
	f.Add(uint8(10), uint8(0), at(30), uint32(0), enc(namedEntry{name: "..", kind: kindFile, hash: h}))
	f.Add(uint8(10), uint8(0), at(31), uint32(0), enc(namedEntry{name: "p060.json", kind: kindDir, hash: h}))
	f.Add(uint8(10), uint8(0), at(30), uint32(0), []byte("100664 p059.json\x00"+string(h[:])))
	f.Add(uint8(10), uint8(0), at(30), uint32(0), []byte("100644 p059.json\x00"))
	f.Add(uint8(10), uint8(0xff), uint32(len(text)), uint32(0), enc(namedEntry{name: "z", kind: kindFile, hash: h}))
	f.Add(uint8(10), uint8(0), uint32(0), uint32(0), enc(namedEntry{name: "a", kind: kindSymlink, hash: h}))
	f.Fuzz(func(t *testing.T, n, dirs uint8, a, cut uint32, ins []byte) {
		ot := fuzzOldTree(n, dirs)
		old := ot.text
		from := int(a) % (len(old) + 1)
		to := from + int(cut)%(len(old)-from+1)
		data := old[:from] + string(ins) + old[to:]
		got, gerr := parseTreeFrom(ot, data, "fuzz")
		want, werr := parseTree(data, "fuzz")
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("parseTreeFrom error %v, parseTree error %v", gerr, werr)
		}
		if !sameTree(got, want) {
			t.Fatalf("parseTreeFrom and parseTree differ:\n%v\n%v", got, want)
		}
	})
}

// TestParseAgainstShortcut checks that well-formed new versions take the
// shortcut (so FuzzParseTreeFrom compares the shortcut, not parseTree with
// itself) and malformed ones do not.
func TestParseAgainstShortcut(t *testing.T) {
	ot := fuzzOldTree(40, 0xff)
	old, es := ot.text, ot.entries
	var h Hash
	h[3] = 9
	enc := func(e ...namedEntry) string { return string(encodeTree(e)) }
	off := func(i int) int { return int(es[i].off) }
	k := 30 // a file, p<2n>.json, with p<2n-1>.json free before it
	for es[k].kind != kindFile {
		k++
	}
	d := 0 // a directory
	for es[d].kind != kindDir {
		d++
	}
	orig := slices.Clone(es)
	ek := ot.named()[k]
	var n int
	fmt.Sscanf(ek.name, "p%d.json", &n)
	before := fmt.Sprintf("p%03d.json", n-1)
	hashAt := off(k) + len(ek.gitMode()) + 1 + len(ek.name) + 1
	for name, tc := range map[string]struct {
		data string
		ok   bool
	}{
		"insert":          {old[:off(k)] + enc(namedEntry{name: before, kind: kindFile, hash: h}) + old[off(k):], true},
		"replace hash":    {old[:hashAt] + string(h[:]) + old[hashAt+20:], true},
		"delete":          {old[:off(k)] + old[off(k+1):], true},
		"delete dir":      {old[:off(d)] + old[off(d+1):], true},
		"prepend":         {enc(namedEntry{name: "a", kind: kindFile, hash: h}) + old, true},
		"append":          {old + enc(namedEntry{name: "z", kind: kindFile, hash: h}), true},
		"same":            {old, true},
		"duplicate":       {old[:off(k)] + old[off(k):off(k+1)] + old[off(k):], false},
		"unsorted":        {old[:off(k)] + old[off(k+1):off(k+2)] + old[off(k):off(k+1)] + old[off(k+2):], false},
		"dotdot":          {old[:off(0)] + enc(namedEntry{name: "..", kind: kindFile, hash: h}) + old[off(0):], false},
		"dir beside file": {old[:off(k+1)] + enc(namedEntry{name: ek.name, kind: kindDir, hash: h}) + old[off(k+1):], false},
		"truncated":       {old[:len(old)-1], false},
	} {
		got, ok := parseAgainst(ot, tc.data)
		want, err := parseTree(tc.data, "x")
		if ok != tc.ok || (ok && (err != nil || !sameTree(got, want))) {
			t.Errorf("%s: shortcut %v (want %v), parseTree error %v, equal %v", name, ok, tc.ok, err, sameTree(got, want))
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: parseTree accepted it", name)
		}
		if !slices.Equal(es, orig) {
			t.Fatalf("%s: parseAgainst modified the old entries, which the tree cache shares", name)
		}
	}
}

// mergeDiff is the diff's walk over two sorted entry lists, naively: the
// names of the entries added, removed or changed.
func mergeDiff(ta parsedTree, tb parsedTree) []string {
	a, b := ta.entries, tb.entries
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		c := 0
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = compareEntries(ta.text, &a[i], tb.text, &b[j])
		}
		switch {
		case c < 0:
			out = append(out, "-"+a[i].name(ta.text))
			i++
		case c > 0:
			out = append(out, "+"+b[j].name(tb.text))
			j++
		default:
			if a[i].hash(ta.text) != b[j].hash(tb.text) || a[i].kind != b[j].kind || a[i].exec != b[j].exec {
				out = append(out, "~"+a[i].name(ta.text))
			}
			i++
			j++
		}
	}
	return out
}

// FuzzUnchangedEnds checks that skipping the entries two trees share at
// their ends never hides a difference: the walk over what unchangedEnds
// leaves finds exactly what the walk over both whole trees finds.
func FuzzUnchangedEnds(f *testing.F) {
	ot := fuzzOldTree(10, 0)
	text, es := ot.text, ot.entries
	var h Hash
	h[5] = 0xee
	f.Add(uint8(10), uint8(0), es[30].off, uint32(0), encodeTree([]namedEntry{{name: "p059.json", kind: kindFile, hash: h}}))
	f.Add(uint8(10), uint8(0), es[30].off, es[31].off-es[30].off, []byte{})
	f.Add(uint8(10), uint8(0), uint32(len(text)), uint32(0), encodeTree([]namedEntry{{name: "z", kind: kindFile, hash: h}}))
	f.Add(uint8(10), uint8(0xff), uint32(0), uint32(0), encodeTree([]namedEntry{{name: "a", kind: kindFile, hash: h}}))
	f.Fuzz(func(t *testing.T, n, dirs uint8, a, cut uint32, ins []byte) {
		ta := fuzzOldTree(n, dirs)
		old := ta.text
		from := int(a) % (len(old) + 1)
		to := from + int(cut)%(len(old)-from+1)
		data := old[:from] + string(ins) + old[to:]
		tb, err := parseTree(data, "fuzz")
		if err != nil {
			return
		}
		ea, eb := unchangedEnds(ta, tb)
		if got, want := mergeDiff(parsedTree{text: old, entries: ea}, parsedTree{text: data, entries: eb}), mergeDiff(ta, tb); !slices.Equal(got, want) {
			t.Fatalf("diff after skipping the shared ends: %q, whole: %q", got, want)
		}
		eb, ea = unchangedEnds(tb, ta)
		if got, want := mergeDiff(parsedTree{text: data, entries: eb}, parsedTree{text: old, entries: ea}), mergeDiff(tb, ta); !slices.Equal(got, want) {
			t.Fatalf("reversed: diff after skipping the shared ends: %q, whole: %q", got, want)
		}
	})
}

// TestUnchangedEndsMisaligned is the case that makes unchangedEnds compare
// distances from the end: b's last entry lies wholly in the bytes a and b
// share at their end, and so does a's, but they start at different places,
// because a's hash before it ends in bytes that read as a mode. b's last
// entry, "100644 r" (a name with a space), is not a's "r". (a's "q" is a
// directory so that the bytes a and b share at their start end with the
// 64 entries before it.)
func TestUnchangedEndsMisaligned(t *testing.T) {
	var prefix []namedEntry
	for i := range 64 {
		prefix = append(prefix, namedEntry{name: fmt.Sprintf("0%03d", i), kind: kindFile, hash: Hash{byte(i)}})
	}
	var h1, h2 Hash
	copy(h1[13:], "100644 ")
	h2[0] = 2
	a := string(encodeTree(append(slices.Clone(prefix), namedEntry{name: "q", kind: kindDir, hash: h1}, namedEntry{name: "r", kind: kindFile, hash: h2})))
	b := string(encodeTree(append(slices.Clone(prefix), namedEntry{name: "100644 r", kind: kindFile, hash: h2})))
	if !strings.HasSuffix(a, b[len(b)-36:]) {
		t.Fatal("test setup: b's last entry is not in the bytes a and b share at their end")
	}
	ta, err := parseTree(a, "a")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := parseTree(b, "b")
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := unchangedEnds(ta, tb)
	got, want := mergeDiff(parsedTree{text: a, entries: sa}, parsedTree{text: b, entries: sb}), []string{"+100644 r", "-q", "-r"}
	if !slices.Equal(got, want) {
		t.Fatalf("diff %q, want %q", got, want)
	}
	if len(sa) != 2 || len(sb) != 1 {
		t.Errorf("the shared start was not skipped: %d and %d entries left", len(sa), len(sb))
	}
}
