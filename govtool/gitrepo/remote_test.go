package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

func TestRemoteFile(t *testing.T) {
	gittest.SetEnv(t)
	bare, url := gittest.NewBare(t)
	testRemote(t, bare, url)
}

func TestRemoteHTTP(t *testing.T) {
	gittest.SetEnv(t)
	bare, _ := gittest.NewBare(t)
	url := gittest.Serve(t, bare)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("Serve URL = %s, want loopback http", url)
	}
	testRemote(t, bare, url)
}

// testRemote runs one story against an empty bare repository reachable at url.
func testRemote(t *testing.T, bare, url string) {
	ctx := context.Background()
	files := func(kv ...string) map[string][]byte {
		m := make(map[string][]byte)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []byte(kv[i+1])
		}
		return m
	}

	// An empty remote cannot be cloned.
	if _, err := gitrepo.Clone(ctx, url, filepath.Join(t.TempDir(), "x"), ""); err == nil {
		t.Error("cloning an empty remote succeeded")
	}

	// A: init, commit, push the first commit.
	a, err := gitrepo.Init(filepath.Join(t.TempDir(), "a"), "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.AddRemote("origin", url); err != nil {
		t.Fatal(err)
	}
	c1, err := a.CommitFiles(ctx, gitrepo.CommitRequest{Files: files("policy/policy.json", "v1\n"), Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx, "origin", "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/main"); got != c1.String() {
		t.Fatalf("remote main = %s, want %s", got, c1)
	}
	if err := a.Push(ctx, "origin", "refs/heads/main:refs/heads/main"); err != nil {
		t.Errorf("pushing again (up to date): %v", err)
	}

	// B: clone; A moves on; B pulls (fast-forward, worktree follows).
	bDir := filepath.Join(t.TempDir(), "b")
	b, err := gitrepo.Clone(ctx, url, bDir, "main")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Resolve("origin/main"); err != nil || got != c1 {
		t.Fatalf("b origin/main = %s, %v", got, err)
	}
	c2, err := a.CommitFiles(ctx, gitrepo.CommitRequest{Files: files("policy/policy.json", "v2\n", "proposals/p.json", "p\n"), Message: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx, "origin", "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	old, new, err := b.Pull(ctx, "origin", "main")
	if err != nil || old != c1 || new != c2 {
		t.Fatalf("Pull = %s, %s, %v; want %s → %s", old, new, err, c1, c2)
	}
	if data, err := os.ReadFile(filepath.Join(bDir, "proposals", "p.json")); err != nil || string(data) != "p\n" {
		t.Errorf("worktree after pull: %q, %v", data, err)
	}
	if st := gittest.Git(t, bDir, "status", "--porcelain"); st != "" {
		t.Errorf("git status after pull:\n%s", st)
	}
	if old, new, err := b.Pull(ctx, "origin", "main"); err != nil || old != c2 || new != c2 {
		t.Errorf("Pull when up to date = %s, %s, %v", old, new, err)
	}

	// B pushes; A, behind, commits on its own and is refused: non-fast-forward.
	c3, err := b.CommitFiles(ctx, gitrepo.CommitRequest{Files: files("proposals/q.json", "q\n"), Message: "three"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx, "origin", "refs/heads/main"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CommitFiles(ctx, gitrepo.CommitRequest{Files: files("proposals/r.json", "r\n"), Message: "diverge"}); err != nil {
		t.Fatal(err)
	}
	var nff *gitrepo.NonFastForwardError
	if err := a.Push(ctx, "origin", "refs/heads/main"); !errors.As(err, &nff) || nff.Op != "push" || nff.Old != c3 {
		t.Errorf("diverged push = %v, want *NonFastForwardError with Old = %s", err, c3)
	}
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/main"); got != c3.String() {
		t.Errorf("a refused push moved the remote to %s", got)
	}
	// A cannot pull either: its main is not an ancestor of the remote's.
	if _, _, err := a.Pull(ctx, "origin", "main"); !errors.As(err, &nff) || nff.Op != "pull" {
		t.Errorf("diverged pull = %v, want *NonFastForwardError", err)
	}
	// Force and deletion are never sent.
	for _, spec := range []string{"+refs/heads/main:refs/heads/main", ":refs/heads/main", "refs/heads/*:refs/heads/*", "main"} {
		if err := a.Push(ctx, "origin", spec); err == nil || errors.As(err, &nff) {
			t.Errorf("Push(%q) = %v, want a refusal", spec, err)
		}
	}

	// Someone rewrites the remote's history with a force-push.
	w := filepath.Join(t.TempDir(), "rewriter")
	gittest.Git(t, "", "clone", "-q", url, w)
	gittest.Git(t, w, "reset", "-q", "--hard", c1.String())
	forged := gittest.Commit(t, w, files("policy/policy.json", "forged\n"), "rewritten")
	gittest.Git(t, w, "push", "-q", "--force", "origin", "main")

	_, _, err = b.Pull(ctx, "origin", "main")
	if !errors.As(err, &nff) || nff.Old != c3 || nff.New.String() != forged {
		t.Fatalf("pull after a force-push = %v, want *NonFastForwardError %s → %s", err, c3, forged)
	}
	if got, _ := b.Resolve("refs/heads/main"); got != c3 {
		t.Errorf("refused pull moved main to %s", got)
	}
	if data, _ := os.ReadFile(filepath.Join(bDir, "policy", "policy.json")); string(data) != "v2\n" {
		t.Errorf("refused pull changed the worktree: %q", data)
	}
	// The fetched head is visible and the verifier's chain check names the rewrite.
	tracking, err := b.Resolve("origin/main")
	if err != nil || tracking.String() != forged {
		t.Fatalf("origin/main = %s, %v", tracking, err)
	}
	var nd *gitrepo.NotDescendantError
	if _, err := b.FirstParentChain(ctx, c3, tracking); !errors.As(err, &nd) {
		t.Errorf("FirstParentChain over the rewrite = %v, want *NotDescendantError", err)
	}

	// Audit branches: CommitToBranch then Push, then extend.
	ac1, err := b.CommitToBranch(ctx, "audit/b", gitrepo.Hash{}, files("checkpoint", "1\n"), "checkpoint 1", gitrepo.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx, "origin", "refs/heads/audit/b"); err != nil {
		t.Fatal(err)
	}
	ac2, err := b.CommitToBranch(ctx, "audit/b", ac1, files("checkpoint", "2\n"), "checkpoint 2", gitrepo.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx, "origin", "refs/heads/audit/b"); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/audit/b"); got != ac2.String() {
		t.Errorf("remote audit/b = %s, want %s", got, ac2)
	}

	// Fetch with the configured (wildcard) refspecs, then an explicit one.
	if err := a.Fetch(ctx, "origin", nil); err != nil {
		t.Fatalf("Fetch with configured refspecs: %v", err)
	}
	if got, err := a.Resolve("origin/audit/b"); err != nil || got != ac2 {
		t.Errorf("a origin/audit/b = %s, %v", got, err)
	}
	if err := a.Fetch(ctx, "origin", []string{"refs/heads/audit/*:refs/remotes/mirror/audit/*", "refs/heads/main:refs/remotes/mirror/main"}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Resolve("refs/remotes/mirror/audit/b"); err != nil || got != ac2 {
		t.Errorf("mirror/audit/b = %s, %v", got, err)
	}
	if got, err := a.Resolve("mirror/main"); err != nil || got.String() != forged {
		t.Errorf("mirror/main = %s, %v; want the rewritten %s", got, err, forged)
	}
	if out := gittest.Git(t, a.Dir(), "for-each-ref", "refs/gitrepo-fetch/"); out != "" {
		t.Errorf("private fetch refs left behind:\n%s", out)
	}
	for _, spec := range []string{"refs/heads/main", "refs/heads/*:refs/x", "main:refs/heads/m", "refs/heads/main:refs/gitrepo-fetch/x"} {
		if err := a.Fetch(ctx, "origin", []string{spec}); err == nil {
			t.Errorf("Fetch(%q) accepted", spec)
		}
	}
	if err := a.Fetch(ctx, "origin", []string{"refs/heads/main:refs/heads/side"}); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, w, "reset", "-q", "--hard", c1.String())
	gittest.Commit(t, w, files("policy/policy.json", "forged again\n"), "rewritten again")
	gittest.Git(t, w, "push", "-q", "--force", "origin", "main")
	if err := a.Fetch(ctx, "origin", []string{"refs/heads/main:refs/heads/side"}); !errors.As(err, &nff) || nff.Op != "fetch" {
		t.Errorf("non-forced fetch over a rewrite = %v, want *NonFastForwardError", err)
	}
	if err := a.Fetch(ctx, "origin", []string{"+refs/heads/main:refs/heads/main"}); err == nil {
		t.Error("Fetch into the checked-out branch succeeded")
	}
	if err := a.Fetch(ctx, "nosuch", nil); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("Fetch from a missing remote = %v, want ErrNotFound", err)
	}
	if _, _, err := a.Pull(ctx, "origin", "nosuch"); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("Pull of a missing branch = %v, want ErrNotFound", err)
	}
}

func TestPullIntoEmptyRepo(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	_, url := gittest.NewBare(t)
	up := gittest.NewWorking(t, map[string][]byte{"proposals/a.json": []byte("a\n")})
	c := gittest.Git(t, up, "rev-parse", "HEAD")
	gittest.Git(t, up, "push", "-q", url, "main")
	dir := filepath.Join(t.TempDir(), "fresh")
	r, err := gitrepo.Init(dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddRemote("origin", url); err != nil {
		t.Fatal(err)
	}
	old, new, err := r.Pull(ctx, "origin", "main")
	if err != nil || !old.IsZero() || new.String() != c {
		t.Fatalf("Pull into an empty repo = %s, %s, %v", old, new, err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "proposals", "a.json")); err != nil || string(data) != "a\n" {
		t.Errorf("worktree after the first pull: %q, %v", data, err)
	}
	if st := gittest.Git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("git status after the first pull:\n%s", st)
	}
}

func TestPushRejectedByHook(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	bare, url := gittest.NewBare(t)
	hook := filepath.Join(bare, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{url, gittest.Serve(t, bare)} {
		r, err := gitrepo.Init(filepath.Join(t.TempDir(), "a"), "main")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddRemote("origin", u); err != nil {
			t.Fatal(err)
		}
		if _, err := r.CommitFiles(ctx, gitrepo.CommitRequest{Files: map[string][]byte{"x": []byte("x")}, Message: "m"}); err != nil {
			t.Fatal(err)
		}
		var pr *gitrepo.PushRejectedError
		if err := r.Push(ctx, "origin", "refs/heads/main"); !errors.As(err, &pr) {
			t.Errorf("push to %s refused by a hook = %v, want *PushRejectedError", u, err)
		}
	}
}

func TestPullDirtyWorktree(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	_, url := gittest.NewBare(t)
	up := gittest.NewWorking(t, map[string][]byte{"a.json": []byte("1\n")})
	gittest.Git(t, up, "push", "-q", url, "main")
	dir := filepath.Join(t.TempDir(), "clone")
	r, err := gitrepo.Clone(ctx, url, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.Resolve("HEAD")
	gittest.Commit(t, up, map[string][]byte{"a.json": []byte("2\n")}, "two")
	gittest.Git(t, up, "push", "-q", url, "main")
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte("local edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Pull(ctx, "origin", "main"); !errors.Is(err, gitrepo.ErrDirtyWorktree) {
		t.Fatalf("Pull over a local edit = %v, want ErrDirtyWorktree", err)
	}
	if after, _ := r.Resolve("HEAD"); after != before {
		t.Error("a refused pull moved HEAD")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a.json")); string(data) != "local edit\n" {
		t.Errorf("a refused pull changed the file: %q", data)
	}
	// An untracked file does not block a pull.
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "untracked"), []byte("u\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Pull(ctx, "origin", "main"); err != nil {
		t.Fatalf("Pull with an untracked file: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a.json")); string(data) != "2\n" {
		t.Errorf("a.json after pull = %q", data)
	}
}

func TestCloneBare(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	bare, _ := gittest.NewBare(t)
	url := gittest.Serve(t, bare)
	up := gittest.NewWorking(t, map[string][]byte{"proposals/a.json": []byte("a\n")})
	gittest.Git(t, up, "push", "-q", url, "main")
	dir := filepath.Join(t.TempDir(), "mirror.git")
	r, err := gitrepo.CloneBare(ctx, url, dir, "main")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Bare() {
		t.Fatal("CloneBare made a worktree")
	}
	c1, err := r.Resolve("main")
	if err != nil {
		t.Fatal(err)
	}
	c2 := gittest.Commit(t, up, map[string][]byte{"proposals/b.json": []byte("b\n")}, "b")
	gittest.Git(t, up, "push", "-q", url, "main")
	old, new, err := r.Pull(ctx, "origin", "main")
	if err != nil || old != c1 || new.String() != c2 {
		t.Fatalf("Pull in a bare clone = %s, %s, %v", old, new, err)
	}
	files, err := r.ListFiles(ctx, new, "proposals/")
	if err != nil || len(files) != 2 {
		t.Errorf("ListFiles = %v, %v", files, err)
	}
	if _, err := gitrepo.CloneBare(ctx, url, filepath.Join(t.TempDir(), "x.git"), "nosuch"); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("cloning a missing branch = %v, want ErrNotFound", err)
	}
}
