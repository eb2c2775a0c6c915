package gitrepo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

// gitChanges is what git diff-tree says commit c changed against its first
// parent, as Changes reports it. Every file ends in one newline (which
// gittest trims from git's output).
func gitChanges(t *testing.T, dir, c string) []change {
	t.Helper()
	parent := c + "^"
	if _, err := gittest.GitErr(dir, "rev-parse", "--verify", "-q", parent); err != nil {
		parent = gittest.GitStdin(t, dir, []byte{}, "mktree")
	}
	var out []change
	for _, line := range strings.Split(gittest.Git(t, dir, "diff-tree", "-r", "--no-renames", "--name-status", parent, c), "\n") {
		status, path, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		ch := change{path: path, beforeNil: status == "A", afterNil: status == "D", deleted: status == "D"}
		if status != "A" {
			ch.before = gittest.Git(t, dir, "cat-file", "blob", parent+":"+path) + "\n"
		}
		if status != "D" {
			ch.after = gittest.Git(t, dir, "cat-file", "blob", c+":"+path) + "\n"
		}
		out = append(out, ch)
	}
	slices.SortFunc(out, func(a, b change) int { return strings.Compare(a.path, b.path) })
	return out
}

// TestTreeCacheKeyedByHash walks commits whose proposals/ trees differ in
// one entry — one changed, one reverted, one added, one removed — and
// reads the differing file at each, in an order that has every tree cached
// while its neighbours are read: each answer must be the one for its own
// commit, as git gives it, whether the objects are loose or packed.
func TestTreeCacheKeyedByHash(t *testing.T) {
	ctx := context.Background()
	dir := gittest.NewWorking(t, nil)
	files := map[string][]byte{}
	for i := range 100 {
		files[fmt.Sprintf("proposals/p%03d.json", i)] = fmt.Appendf(nil, "{\"n\":%d}\n", i)
	}
	commits := []string{gittest.Commit(t, dir, files, "100 proposals")}
	for _, step := range []map[string][]byte{
		{"proposals/p050.json": []byte("{\"n\":50,\"approved\":true}\n")},
		{"proposals/p050.json": []byte("{\"n\":50}\n")}, // back to the first tree
		{"proposals/p050x.json": []byte("{\"n\":\"50x\"}\n")},
		{"proposals/p050x.json": nil},
		{"proposals/p049.json": []byte("{\"n\":49,\"approved\":true}\n"), "proposals/p051.json": nil},
	} {
		commits = append(commits, gittest.Commit(t, dir, step, "step"))
	}
	if a, c := gittest.Git(t, dir, "rev-parse", commits[0]+":proposals"), gittest.Git(t, dir, "rev-parse", commits[2]+":proposals"); a != c {
		t.Fatalf("the revert does not give back the first tree: %s, %s", a, c)
	}
	for _, packed := range []bool{false, true} {
		if packed {
			gittest.Git(t, dir, "gc", "-q")
		}
		r := open(t, dir)
		for pass := range 2 { // the second pass reads everything from the caches
			for i, c := range commits {
				ci, err := r.Commit(ctx, mustHash(t, c))
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Changes(ctx, ci, governance)
				if err != nil {
					t.Fatal(err)
				}
				if want := gitChanges(t, dir, c); !slices.Equal(simplify(got), want) {
					t.Errorf("packed %v, pass %d: Changes(commit %d) = %v, want %v", packed, pass, i, simplify(got), want)
				}
			}
			for _, i := range []int{1, 0, 2, 1, 3, 4, 3, 5, 0, 5} {
				c := mustHash(t, commits[i])
				for _, p := range []string{"proposals/p049.json", "proposals/p050.json", "proposals/p050x.json", "proposals/p051.json"} {
					got, err := r.ReadFile(ctx, c, p)
					want, gerr := gittest.GitErr(dir, "cat-file", "blob", commits[i]+":"+p)
					switch {
					case gerr != nil && !errors.Is(err, gitrepo.ErrNotFound):
						t.Errorf("packed %v: ReadFile(commit %d, %s) = %q, %v; git has no such file", packed, i, p, got, err)
					case gerr == nil && (err != nil || strings.TrimRight(string(got), "\n") != want):
						t.Errorf("packed %v: ReadFile(commit %d, %s) = %q, %v; want %q", packed, i, p, got, err, want)
					}
				}
				all, err := r.ListFiles(ctx, c, "proposals/")
				if err != nil {
					t.Fatal(err)
				}
				names := strings.Fields(gittest.Git(t, dir, "ls-tree", "-r", "--name-only", commits[i], "proposals/"))
				if len(all) != len(names) {
					t.Errorf("packed %v: ListFiles(commit %d) has %d files, git %d", packed, i, len(all), len(names))
				}
			}
		}
	}
}

// TestChangesRefusesMalformedNewTree builds a commit whose large proposals/
// tree is a malformed version of its parent's — the case where only the
// bytes that differ are parsed — and checks each malformation is refused
// after the parent's tree was read and cached, and that a well-formed
// version gives the change git sees.
func TestChangesRefusesMalformedNewTree(t *testing.T) {
	ctx := context.Background()
	dir := gittest.NewWorking(t, nil)
	blob := gittest.GitStdin(t, dir, []byte("content\n"), "hash-object", "-w", "--stdin")
	other := gittest.GitStdin(t, dir, []byte("other\n"), "hash-object", "-w", "--stdin")
	sub := rawTree(t, dir, rawEntry("100644", "a.json", blob))
	entries := func(from, to int) [][]byte {
		var es [][]byte
		for i := from; i < to; i++ {
			es = append(es, rawEntry("100644", fmt.Sprintf("p%03d.json", i), blob))
		}
		return es
	}
	commitOf := func(proposals string, parent string, msg string) gitrepo.CommitInfo {
		root := rawTree(t, dir, rawEntry("40000", "proposals", proposals))
		args := []string{"commit-tree", root, "-m", msg}
		if parent != "" {
			args = append(args, "-p", parent)
		}
		c := gittest.Git(t, dir, args...)
		ci, err := open(t, dir).Commit(ctx, mustHash(t, c))
		if err != nil {
			t.Fatal(err)
		}
		return ci
	}
	base := commitOf(rawTree(t, dir, entries(0, 200)...), "", "base")
	with := func(middle ...[]byte) string {
		return rawTree(t, dir, slices.Concat(entries(0, 100), middle, entries(100, 200))...)
	}
	for name, tree := range map[string]string{
		"duplicate":     with(rawEntry("100644", "p099.json", blob)),
		"unsorted":      with(rawEntry("100644", "p100x.json", blob), rawEntry("100644", "p099x.json", blob)),
		"before seam":   with(rawEntry("100644", "p099.jsom", blob)),
		"after seam":    with(rawEntry("100644", "p100.jsoo", blob)),
		"file and dir":  with(rawEntry("40000", "p099.json", sub)),
		"dotdot":        with(rawEntry("100644", "..", blob)),
		"dotgit":        with(rawEntry("40000", ".Git", sub)),
		"slash":         with(rawEntry("100644", "p099x/y", blob)),
		"mode":          with(rawEntry("100664", "p099x.json", blob)),
		"truncated":     rawTree(t, dir, append(entries(0, 200), rawEntry("100644", "p199x.json", blob)[:30])...),
		"symlink":       with(rawEntry("120000", "p099x.json", blob)),
		"tree as blob":  with(rawEntry("100644", "p099x.json", sub)),
		"changed entry": rawTree(t, dir, slices.Concat(entries(0, 100), [][]byte{rawEntry("100644", "p100.json", sub)}, entries(101, 200))...),
	} {
		r := open(t, dir)
		if _, err := r.Changes(ctx, base, governance); err != nil {
			t.Fatal(err)
		}
		c := commitOf(tree, base.Hash.String(), name)
		if _, err := r.Changes(ctx, c, governance); !errors.As(err, new(*gitrepo.TreeEntryError)) {
			t.Errorf("%s: Changes = %v, want *gitrepo.TreeEntryError", name, err)
		}
	}
	r := open(t, dir)
	if _, err := r.Changes(ctx, base, governance); err != nil {
		t.Fatal(err)
	}
	good := commitOf(rawTree(t, dir, slices.Concat(entries(0, 100), [][]byte{rawEntry("100644", "p099x.json", other)}, entries(100, 150), [][]byte{rawEntry("100644", "p150.json", other)}, entries(151, 200))...), base.Hash.String(), "good")
	got, err := r.Changes(ctx, good, governance)
	want := []change{{path: "proposals/p099x.json", after: "other\n", beforeNil: true}, {path: "proposals/p150.json", before: "content\n", after: "other\n"}}
	if err != nil || !slices.Equal(simplify(got), want) {
		t.Errorf("Changes of a well-formed new version = %v, %v; want %v", simplify(got), err, want)
	}
	if !bytes.Equal(got[0].After, []byte("other\n")) {
		t.Errorf("After = %q", got[0].After)
	}
}
