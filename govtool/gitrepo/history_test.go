package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

var governance = []string{"signer-sets/", "proposals/", "policy/", "appliances/", "disputes/"}

func mustHash(t testing.TB, s string) gitrepo.Hash {
	t.Helper()
	h, err := gitrepo.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func open(t testing.TB, dir string) *gitrepo.Repo {
	t.Helper()
	r, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mergeRepo builds, with the git binary:
//
//	A ── B ── M ── C      main (M merges feature with --no-ff)
//	 \       /
//	  F1 ── F2            feature
func mergeRepo(t *testing.T) (dir string, h map[string]gitrepo.Hash) {
	dir = gittest.NewWorking(t, nil)
	h = make(map[string]gitrepo.Hash)
	h["A"] = mustHash(t, gittest.Commit(t, dir, map[string][]byte{
		"README.md":             []byte("readme\n"),
		"signer-sets/0001.json": []byte(`{"version":1}` + "\n"),
		"policy/policy.json":    []byte(`{"version":1}` + "\n"),
	}, "A: genesis"))
	gittest.Git(t, dir, "checkout", "-q", "-b", "feature")
	h["F1"] = mustHash(t, gittest.Commit(t, dir, map[string][]byte{"proposals/p1.json": []byte("p1\n")}, "F1"))
	h["F2"] = mustHash(t, gittest.Commit(t, dir, map[string][]byte{"proposals/deep/nested/p2.json": []byte("p2\n")}, "F2"))
	gittest.Git(t, dir, "checkout", "-q", "main")
	h["B"] = mustHash(t, gittest.Commit(t, dir, map[string][]byte{
		"policy/policy.json": []byte(`{"version":2}` + "\n"),
		"README.md":          []byte("readme 2\n"),
	}, "B: policy v2"))
	gittest.Git(t, dir, "merge", "-q", "--no-ff", "-m", "M: merge feature", "feature")
	h["M"] = mustHash(t, gittest.Git(t, dir, "rev-parse", "HEAD"))
	h["C"] = mustHash(t, gittest.Commit(t, dir, map[string][]byte{
		"proposals/p1.json":     nil,
		"disputes/d1.json":      []byte{},
		"signer-sets/0001.json": []byte(`{"version":1,"x":1}` + "\n"),
	}, "C: delete p1, add empty dispute"))
	return dir, h
}

func hashes(cs []gitrepo.CommitInfo) []gitrepo.Hash {
	var out []gitrepo.Hash
	for _, c := range cs {
		out = append(out, c.Hash)
	}
	return out
}

func TestFirstParentChain(t *testing.T) {
	ctx := context.Background()
	dir, h := mergeRepo(t)
	r := open(t, dir)

	chain, err := r.FirstParentChain(ctx, gitrepo.Hash{}, h["C"])
	if err != nil {
		t.Fatal(err)
	}
	if want := []gitrepo.Hash{h["A"], h["B"], h["M"], h["C"]}; !slices.Equal(hashes(chain), want) {
		t.Fatalf("chain from root = %v, want %v", hashes(chain), want)
	}
	m := chain[2]
	if !slices.Equal(m.Parents, []gitrepo.Hash{h["B"], h["F2"]}) {
		t.Errorf("merge parents = %v, want [B F2]", m.Parents)
	}
	if m.Author != gittest.Name || m.AuthorEmail != gittest.Email || m.Committer != gittest.Name || m.CommitterEmail != gittest.Email {
		t.Errorf("identity = %q <%q> / %q <%q>", m.Author, m.AuthorEmail, m.Committer, m.CommitterEmail)
	}
	if m.Message != "M: merge feature\n" || m.AuthorTime.IsZero() || m.CommitTime.IsZero() || m.Tree.IsZero() {
		t.Errorf("merge commit info = %+v", m)
	}
	if len(chain[0].Parents) != 0 {
		t.Errorf("root commit has parents %v", chain[0].Parents)
	}

	chain, err = r.FirstParentChain(ctx, h["A"], h["C"])
	if err != nil {
		t.Fatal(err)
	}
	if want := []gitrepo.Hash{h["B"], h["M"], h["C"]}; !slices.Equal(hashes(chain), want) {
		t.Fatalf("chain from A = %v, want %v", hashes(chain), want)
	}
	chain, err = r.FirstParentChain(ctx, h["C"], h["C"])
	if err != nil || len(chain) != 0 {
		t.Fatalf("chain from C to C = %v, %v; want empty", chain, err)
	}

	// F1 is an ancestor of C, but only through a second parent.
	for _, from := range []string{"F1", "F2"} {
		_, err = r.FirstParentChain(ctx, h[from], h["C"])
		var nd *gitrepo.NotDescendantError
		if !errors.As(err, &nd) || nd.From != h[from] || nd.To != h["C"] {
			t.Errorf("chain from %s = %v, want *NotDescendantError", from, err)
		}
	}
	// A descendant is never on its ancestor's chain.
	if _, err = r.FirstParentChain(ctx, h["C"], h["B"]); !errors.As(err, new(*gitrepo.NotDescendantError)) {
		t.Errorf("chain from C to B = %v, want *NotDescendantError", err)
	}
	if _, err = r.FirstParentChain(ctx, gitrepo.Hash{}, mustHash(t, strings.Repeat("ab", 20))); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("chain to a missing commit = %v, want ErrNotFound", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err = r.FirstParentChain(cctx, gitrepo.Hash{}, h["C"]); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled chain = %v", err)
	}
}

// TestFirstParentChainShallow walks a shallow clone made by git: the walk
// stops where the clone was cut off, with an error that says so and how to
// get the rest; a commit missing from a full clone is not called shallow.
func TestFirstParentChainShallow(t *testing.T) {
	ctx := context.Background()
	dir, h := mergeRepo(t)
	if _, err := open(t, dir).FirstParentChain(ctx, gitrepo.Hash{}, mustHash(t, strings.Repeat("ab", 20))); errors.Is(err, gitrepo.ErrShallow) {
		t.Errorf("missing commit in a full clone = %v, want no ErrShallow", err)
	}
	clone := filepath.Join(t.TempDir(), "shallow")
	gittest.Git(t, dir, "clone", "-q", "--depth", "2", "file://"+dir, clone)
	r := open(t, clone)
	chain, err := r.FirstParentChain(ctx, h["M"], h["C"])
	if err != nil || !slices.Equal(hashes(chain), []gitrepo.Hash{h["C"]}) {
		t.Fatalf("chain within the clone's depth = %v, %v", hashes(chain), err)
	}
	_, err = r.FirstParentChain(ctx, gitrepo.Hash{}, h["C"])
	if !errors.Is(err, gitrepo.ErrShallow) || !errors.Is(err, gitrepo.ErrNotFound) {
		t.Fatalf("chain past the clone's depth = %v, want ErrShallow and ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "fetch-depth: 0") || !strings.Contains(err.Error(), "git fetch --unshallow") {
		t.Errorf("error %q does not say how to fetch the whole history", err)
	}
}

func TestIsAncestor(t *testing.T) {
	ctx := context.Background()
	dir, h := mergeRepo(t)
	r := open(t, dir)
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"A", "C", true}, {"F1", "C", true}, {"F2", "M", true}, {"B", "M", true},
		{"C", "C", true}, {"C", "A", false}, {"B", "F2", false}, {"F1", "B", false},
	} {
		got, err := r.IsAncestor(ctx, h[tc.a], h[tc.b])
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("IsAncestor(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if _, err := r.IsAncestor(ctx, mustHash(t, strings.Repeat("cd", 20)), h["C"]); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("IsAncestor of a missing commit = %v, want ErrNotFound", err)
	}
}

type change struct {
	path          string
	before, after string
	beforeNil     bool
	afterNil      bool
	deleted       bool
}

func simplify(cs []gitrepo.Change) []change {
	var out []change
	for _, c := range cs {
		out = append(out, change{c.Path, string(c.Before), string(c.After), c.Before == nil, c.After == nil, c.Deleted})
	}
	return out
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	dir, h := mergeRepo(t)
	r := open(t, dir)
	chain, err := r.FirstParentChain(ctx, gitrepo.Hash{}, h["C"])
	if err != nil {
		t.Fatal(err)
	}
	want := [][]change{
		// A, the root commit, against the empty tree; README.md is outside the prefixes.
		{
			{path: "policy/policy.json", after: "{\"version\":1}\n", beforeNil: true},
			{path: "signer-sets/0001.json", after: "{\"version\":1}\n", beforeNil: true},
		},
		// B
		{{path: "policy/policy.json", before: "{\"version\":1}\n", after: "{\"version\":2}\n"}},
		// M against its first parent B: the whole feature branch.
		{
			{path: "proposals/deep/nested/p2.json", after: "p2\n", beforeNil: true},
			{path: "proposals/p1.json", after: "p1\n", beforeNil: true},
		},
		// C: a delete, an empty file added, a modification.
		{
			{path: "disputes/d1.json", after: "", beforeNil: true},
			{path: "proposals/p1.json", before: "p1\n", afterNil: true, deleted: true},
			{path: "signer-sets/0001.json", before: "{\"version\":1}\n", after: "{\"version\":1,\"x\":1}\n"},
		},
	}
	for i, c := range chain {
		got, err := r.Changes(ctx, c, governance)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(simplify(got), want[i]) {
			t.Errorf("Changes(%s) =\n%+v\nwant\n%+v", c.Message, simplify(got), want[i])
		}
	}

	all, err := r.Changes(ctx, chain[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Path != "README.md" || all[1].Path != "policy/policy.json" {
		t.Errorf("Changes(B, all) = %+v", simplify(all))
	}
	nested, err := r.Changes(ctx, chain[2], []string{"proposals/deep/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nested) != 1 || nested[0].Path != "proposals/deep/nested/p2.json" {
		t.Errorf("Changes(M, proposals/deep/) = %+v", simplify(nested))
	}
	// Only c.Hash counts: made-up parents are ignored.
	fake := chain[3]
	fake.Parents = []gitrepo.Hash{h["A"]}
	got, err := r.Changes(ctx, fake, governance)
	if err != nil || !slices.Equal(simplify(got), want[3]) {
		t.Errorf("Changes with forged parents = %+v, %v", simplify(got), err)
	}
}

func TestChangesTypeChange(t *testing.T) {
	ctx := context.Background()
	dir := gittest.NewWorking(t, map[string][]byte{"proposals/x": []byte("file\n")})
	c1 := mustHash(t, gittest.Git(t, dir, "rev-parse", "HEAD"))
	gittest.Git(t, dir, "rm", "-q", "proposals/x")
	c2 := mustHash(t, gittest.Commit(t, dir, map[string][]byte{"proposals/x/y.json": []byte("now a dir\n")}, "file becomes directory"))
	r := open(t, dir)
	ci, err := r.Commit(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Changes(ctx, ci, governance)
	if err != nil {
		t.Fatal(err)
	}
	want := []change{
		{path: "proposals/x", before: "file\n", afterNil: true, deleted: true},
		{path: "proposals/x/y.json", after: "now a dir\n", beforeNil: true},
	}
	if !slices.Equal(simplify(got), want) {
		t.Errorf("Changes = %+v, want %+v", simplify(got), want)
	}
	if ci.Parents[0] != c1 {
		t.Errorf("parent = %s, want %s", ci.Parents[0], c1)
	}
}

func TestSymlinksAndSubmodulesRefused(t *testing.T) {
	ctx := context.Background()
	dir := gittest.NewWorking(t, map[string][]byte{"proposals/a.json": []byte("a\n")})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "proposals", "evil.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("README", filepath.Join(dir, "outside-link")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "links")
	head := mustHash(t, gittest.Git(t, dir, "rev-parse", "HEAD"))
	r := open(t, dir)
	ci, err := r.Commit(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	var te *gitrepo.TreeEntryError
	if _, err := r.Changes(ctx, ci, governance); !errors.As(err, &te) || te.Path != "proposals/evil.json" {
		t.Errorf("Changes over a symlink = %v, want *TreeEntryError for proposals/evil.json", err)
	}
	if _, err := r.ReadFile(ctx, head, "proposals/evil.json"); !errors.As(err, &te) {
		t.Errorf("ReadFile of a symlink = %v, want *TreeEntryError", err)
	}
	if _, err := r.ListFiles(ctx, head, "proposals/"); !errors.As(err, &te) {
		t.Errorf("ListFiles over a symlink = %v, want *TreeEntryError", err)
	}
	// Outside the prefixes a link is not read, so it is not an error.
	if got, err := r.Changes(ctx, ci, []string{"policy/"}); err != nil || len(got) != 0 {
		t.Errorf("Changes(policy/) = %v, %v", got, err)
	}

	// A file replaced by a symbolic link with the same bytes keeps its blob
	// hash; the change of kind must still be seen.
	gittest.Commit(t, dir, map[string][]byte{"proposals/same.json": []byte("a.json")}, "file")
	if err := os.Remove(filepath.Join(dir, "proposals", "same.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.json", filepath.Join(dir, "proposals", "same.json")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "add", "-A")
	gittest.Git(t, dir, "commit", "-q", "-m", "same bytes, now a link")
	same, err := r.Commit(ctx, mustHash(t, gittest.Git(t, dir, "rev-parse", "HEAD")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Changes(ctx, same, governance); !errors.As(err, &te) || te.Path != "proposals/same.json" {
		t.Errorf("Changes over file→link with equal bytes = %v, want *TreeEntryError", err)
	}

	// A submodule (gitlink) entry, made with plumbing.
	blob := gittest.GitStdin(t, dir, []byte("x\n"), "hash-object", "-w", "--stdin")
	sub := gittest.GitStdin(t, dir, []byte("160000 commit "+head.String()+"\tmod\n100644 blob "+blob+"\tok.json\n"), "mktree")
	root := gittest.GitStdin(t, dir, []byte("040000 tree "+sub+"\tproposals\n"), "mktree")
	c := mustHash(t, gittest.Git(t, dir, "commit-tree", root, "-m", "submodule"))
	if _, err := r.ReadFile(ctx, c, "proposals/mod"); !errors.As(err, &te) {
		t.Errorf("ReadFile of a submodule = %v, want *TreeEntryError", err)
	}
	if data, err := r.ReadFile(ctx, c, "proposals/ok.json"); err != nil || string(data) != "x\n" {
		t.Errorf("ReadFile beside a submodule = %q, %v", data, err)
	}
}

// rawTree writes a tree object with exactly the given bytes, which git
// hash-object --literally accepts without checking.
func rawTree(t *testing.T, dir string, entries ...[]byte) string {
	return gittest.GitStdin(t, dir, bytes.Join(entries, nil), "hash-object", "-t", "tree", "--literally", "-w", "--stdin")
}

func rawEntry(mode, name, hexHash string) []byte {
	h := mustHashNoT(hexHash)
	return append([]byte(mode+" "+name+"\x00"), h[:]...)
}

func mustHashNoT(s string) gitrepo.Hash {
	h, err := gitrepo.ParseHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

func TestMalformedTreesRefused(t *testing.T) {
	ctx := context.Background()
	dir := gittest.NewWorking(t, nil)
	blob := gittest.GitStdin(t, dir, []byte("content\n"), "hash-object", "-w", "--stdin")
	good := rawTree(t, dir, rawEntry("100644", "a.json", blob))
	r := open(t, dir)
	for name, tree := range map[string]string{
		"unsorted":          rawTree(t, dir, rawEntry("100644", "b.json", blob), rawEntry("100644", "a.json", blob)),
		"duplicate":         rawTree(t, dir, rawEntry("100644", "a.json", blob), rawEntry("100644", "a.json", blob)),
		"file and dir":      rawTree(t, dir, rawEntry("100644", "a", blob), rawEntry("40000", "a", good)),
		"dotdot":            rawTree(t, dir, rawEntry("100644", "..", blob)),
		"dotgit":            rawTree(t, dir, rawEntry("40000", ".GIT", good)),
		"slash":             rawTree(t, dir, rawEntry("100644", "x/y", blob)),
		"zero-padded mode":  rawTree(t, dir, rawEntry("040000", "d", good)),
		"group-writable":    rawTree(t, dir, rawEntry("100664", "a.json", blob)),
		"tree named a blob": rawTree(t, dir, rawEntry("40000", "d", blob)),
		"truncated":         rawTree(t, dir, rawEntry("100644", "a.json", blob)[:20]),
	} {
		root := rawTree(t, dir, rawEntry("40000", "proposals", tree))
		c := mustHash(t, gittest.Git(t, dir, "commit-tree", root, "-m", name))
		ci, err := r.Commit(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var te *gitrepo.TreeEntryError
		if _, err := r.Changes(ctx, ci, governance); !errors.As(err, &te) {
			t.Errorf("%s: Changes = %v, want *TreeEntryError", name, err)
		}
		if _, err := r.ListFiles(ctx, c, ""); !errors.As(err, &te) {
			t.Errorf("%s: ListFiles = %v, want *TreeEntryError", name, err)
		}
	}
}

func TestReadFileAndListFiles(t *testing.T) {
	ctx := context.Background()
	dir, h := mergeRepo(t)
	r := open(t, dir)
	c := h["C"]
	data, err := r.ReadFile(ctx, c, "proposals/deep/nested/p2.json")
	if err != nil || string(data) != "p2\n" {
		t.Fatalf("ReadFile = %q, %v", data, err)
	}
	if data, err := r.ReadFile(ctx, c, "disputes/d1.json"); err != nil || data == nil || len(data) != 0 {
		t.Errorf("ReadFile of an empty file = %#v, %v; want empty non-nil", data, err)
	}
	for _, p := range []string{"proposals/p1.json", "nope", "README.md/x", "proposals/deep/nested/p2.json/x"} {
		if _, err := r.ReadFile(ctx, c, p); !errors.Is(err, gitrepo.ErrNotFound) {
			t.Errorf("ReadFile(%q) = %v, want ErrNotFound", p, err)
		}
	}
	if _, err := r.ReadFile(ctx, c, "proposals/deep"); !errors.As(err, new(*gitrepo.TreeEntryError)) {
		t.Errorf("ReadFile of a directory = %v, want *TreeEntryError", err)
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a//b", "proposals/./p1.json", "proposals/", ".git/config"} {
		if _, err := r.ReadFile(ctx, c, p); err == nil || errors.Is(err, gitrepo.ErrNotFound) {
			t.Errorf("ReadFile(%q) = %v, want a path error", p, err)
		}
	}
	// The file as it was at an older commit.
	if data, err := r.ReadFile(ctx, h["A"], "policy/policy.json"); err != nil || string(data) != "{\"version\":1}\n" {
		t.Errorf("ReadFile at A = %q, %v", data, err)
	}

	files, err := r.ListFiles(ctx, c, "proposals/")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || string(files["proposals/deep/nested/p2.json"]) != "p2\n" {
		t.Errorf("ListFiles(proposals/) = %v", files)
	}
	all, err := r.ListFiles(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range all {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"README.md", "disputes/d1.json", "policy/policy.json", "proposals/deep/nested/p2.json", "signer-sets/0001.json"}
	if !slices.Equal(names, want) {
		t.Errorf("ListFiles(\"\") = %v, want %v", names, want)
	}
	if files, err := r.ListFiles(ctx, c, "nothing/"); err != nil || len(files) != 0 {
		t.Errorf("ListFiles(nothing/) = %v, %v", files, err)
	}
}
