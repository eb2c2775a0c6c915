package gitrepo

import (
	"bytes"
	"strings"
	"testing"
)

func encodeTree(es []entry) []byte {
	var buf bytes.Buffer
	for _, e := range es {
		buf.WriteString(e.gitMode() + " " + e.name + "\x00")
		buf.Write(e.hash[:])
	}
	return buf.Bytes()
}

func TestCompareEntriesGitOrder(t *testing.T) {
	// The order git ls-tree prints: a directory sorts as if named "a/".
	sorted := []entry{
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
			got := compareEntries(&sorted[i], &sorted[j])
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
	f.Add(encodeTree([]entry{{name: "a.json", kind: kindFile, hash: h}, {name: "d", kind: kindDir, hash: h}}))
	f.Add(encodeTree([]entry{{name: "x", kind: kindSymlink, hash: h}, {name: "y", kind: kindSubmodule, hash: h}, {name: "z", kind: kindFile, exec: true, hash: h}}))
	f.Add([]byte("100644 ..\x00" + string(h[:])))
	f.Add([]byte("040000 d\x00" + string(h[:])))
	f.Add([]byte("100644 a"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := parseTree(string(data), "fuzz")
		if err != nil {
			return
		}
		if got := encodeTree(es); !bytes.Equal(got, data) {
			t.Fatalf("accepted tree does not round-trip:\n in %q\nout %q", data, got)
		}
		seen := make(map[string]bool)
		for i, e := range es {
			if badName(e.name) != "" || seen[e.name] {
				t.Fatalf("accepted bad or duplicate name %q", e.name)
			}
			seen[e.name] = true
			if i > 0 && compareEntries(&es[i-1], &es[i]) >= 0 {
				t.Fatalf("accepted unsorted entries %q, %q", es[i-1].name, es[i].name)
			}
			if _, ok := lookup(es, e.name); !ok {
				t.Fatalf("lookup(%q) failed in an accepted tree", e.name)
			}
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
