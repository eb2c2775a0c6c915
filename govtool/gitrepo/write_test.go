package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

func TestResolve(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	dir, h := mergeRepo(t)
	gittest.Git(t, dir, "tag", "-a", "-m", "release", "v1", h["B"].String())
	gittest.Git(t, dir, "tag", "light", h["A"].String())
	gittest.Git(t, dir, "branch", "audit/a1", h["F1"].String())
	gittest.Git(t, dir, "tag", "feature", h["A"].String()) // shadows the branch of the same name
	r := open(t, dir)

	for name, want := range map[string]gitrepo.Hash{
		"HEAD":               h["C"],
		"main":               h["C"],
		"refs/heads/main":    h["C"],
		"audit/a1":           h["F1"],
		"v1":                 h["B"], // annotated tag, peeled
		"refs/tags/v1":       h["B"],
		"light":              h["A"],
		h["M"].String():      h["M"],
		h["M"].String()[:12]: h["M"],
		"refs/heads/feature": h["F2"],
		"refs/tags/feature":  h["A"],
	} {
		got, err := r.Resolve(name)
		if err != nil {
			t.Errorf("Resolve(%q): %v", name, err)
		} else if got != want {
			t.Errorf("Resolve(%q) = %s, want %s", name, got, want)
		}
	}
	var amb *gitrepo.AmbiguousRefError
	if _, err := r.Resolve("feature"); !errors.As(err, &amb) || len(amb.Candidates) != 2 {
		t.Errorf("Resolve(feature) = %v, want *AmbiguousRefError naming the tag and the branch", err)
	}
	for _, name := range []string{"nope", "refs/heads/nope", strings.Repeat("0", 40), "abcdef0"} {
		if _, err := r.Resolve(name); !errors.Is(err, gitrepo.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", name, err)
		}
	}
	for _, name := range []string{"", "main~1", "main^", "@{u}", "../../config", "HEAD:README.md"} {
		if _, err := r.Resolve(name); err == nil || errors.Is(err, gitrepo.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want an invalid-name error", name, err)
		}
	}
	blob := gittest.GitStdin(t, dir, []byte("x"), "hash-object", "-w", "--stdin")
	if _, err := r.Resolve(blob); err == nil || errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("Resolve(a blob) = %v, want not-a-commit error", err)
	}

	// origin/main in a clone.
	bare, url := gittest.NewBare(t)
	gittest.Git(t, dir, "push", "-q", url, "main")
	clone, err := gitrepo.Clone(ctx, url, filepath.Join(t.TempDir(), "clone"), "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"origin/main", "refs/remotes/origin/main", "main", "HEAD"} {
		if got, err := clone.Resolve(name); err != nil || got != h["C"] {
			t.Errorf("clone.Resolve(%q) = %s, %v", name, got, err)
		}
	}
	_ = bare

	empty, err := gitrepo.Init(filepath.Join(t.TempDir(), "empty"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Resolve("HEAD"); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("Resolve(HEAD) in an empty repo = %v, want ErrNotFound", err)
	}
}

func TestParseHash(t *testing.T) {
	h, err := gitrepo.ParseHash("0123456789abcdef0123456789abcdef01234567")
	if err != nil || h.String() != "0123456789abcdef0123456789abcdef01234567" || h.IsZero() {
		t.Fatalf("ParseHash = %s, %v", h, err)
	}
	for _, s := range []string{"", "0123", "0123456789ABCDEF0123456789abcdef01234567", "0123456789abcdef0123456789abcdef0123456g", "0123456789abcdef0123456789abcdef012345678"} {
		if _, err := gitrepo.ParseHash(s); err == nil {
			t.Errorf("ParseHash(%q) succeeded", s)
		}
	}
	var u gitrepo.Hash
	if err := u.UnmarshalText([]byte(h.String())); err != nil || u != h {
		t.Errorf("UnmarshalText = %s, %v", u, err)
	}
}

func TestCommitFiles(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := gitrepo.Init(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Fatalf("HEAD = %s, want refs/heads/main", got)
	}
	c1, err := r.CommitFiles(ctx, gitrepo.CommitRequest{
		Files: map[string][]byte{
			"proposals/p1.json":     []byte("p1\n"),
			"signer-sets/0001.json": []byte("s1\n"),
			"a/b/c/deep.txt":        []byte("deep\n"),
		},
		Message: "first",
	})
	if err != nil {
		t.Fatal(err)
	}
	// git itself sees a clean worktree and index that match the commit.
	if st := gittest.Git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("git status after first commit:\n%s", st)
	}
	if got := gittest.Git(t, dir, "log", "-1", "--format=%H %an <%ae> %cn <%ce> %s"); got != c1.String()+" "+gittest.Name+" <"+gittest.Email+"> "+gittest.Name+" <"+gittest.Email+"> first" {
		t.Errorf("git log = %q", got)
	}
	gittest.Git(t, dir, "fsck", "--strict", "--no-progress")

	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("", 3600))
	c2, err := r.CommitFiles(ctx, gitrepo.CommitRequest{
		Branch: "main",
		Files: map[string][]byte{
			"proposals/p1.json":     nil,
			"a/b/c/deep.txt":        nil,
			"proposals/p2.json":     []byte("p2\n"),
			"signer-sets/0001.json": []byte("s1 changed\n"),
		},
		Message:   "second\n\nbody",
		Author:    gitrepo.Signature{Name: "Alice", Email: "alice@example.test", When: when},
		Committer: gitrepo.Signature{Name: "Bot", Email: "bot@example.test", When: when},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := gittest.Git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("git status after second commit:\n%s", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("emptied directory a/ left behind: %v", err)
	}
	if got := gittest.Git(t, dir, "show", "-s", "--format=%P|%an|%cn|%ad|%B", "--date=iso-strict", c2.String()); got != c1.String()+"|Alice|Bot|2026-03-01T12:00:00+01:00|second\n\nbody" {
		t.Errorf("second commit = %q", got)
	}
	if got := gittest.Git(t, dir, "ls-tree", "-r", "--name-only", c2.String()); got != "proposals/p2.json\nsigner-sets/0001.json" {
		t.Errorf("tree = %q", got)
	}
	gittest.Git(t, dir, "fsck", "--strict", "--no-progress")

	ci, err := r.Commit(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if !ci.AuthorTime.Equal(when) || ci.Author != "Alice" || ci.Committer != "Bot" {
		t.Errorf("CommitInfo = %+v", ci)
	}

	// Refusals.
	for name, req := range map[string]gitrepo.CommitRequest{
		"wrong branch":       {Branch: "other", Files: map[string][]byte{"x": []byte("x")}, Message: "m"},
		"no files":           {Message: "m"},
		"same content":       {Files: map[string][]byte{"proposals/p2.json": []byte("p2\n")}, Message: "m"},
		"delete missing":     {Files: map[string][]byte{"proposals/zz.json": nil}, Message: "m"},
		"empty message":      {Files: map[string][]byte{"x": []byte("x")}, Message: " \n"},
		"dotdot path":        {Files: map[string][]byte{"../x": []byte("x")}, Message: "m"},
		"dotgit path":        {Files: map[string][]byte{".git/config": []byte("x")}, Message: "m"},
		"absolute path":      {Files: map[string][]byte{"/tmp/x": []byte("x")}, Message: "m"},
		"file over dir":      {Files: map[string][]byte{"proposals": []byte("x")}, Message: "m"},
		"dir over file":      {Files: map[string][]byte{"proposals/p2.json/x": []byte("x")}, Message: "m"},
		"file and dir":       {Files: map[string][]byte{"n": []byte("x"), "n/m": []byte("y")}, Message: "m"},
		"newline in name":    {Files: map[string][]byte{"x": []byte("x")}, Message: "m", Author: gitrepo.Signature{Name: "A\ncommitter evil", Email: "a@b"}},
		"angle in email":     {Files: map[string][]byte{"x": []byte("x")}, Message: "m", Author: gitrepo.Signature{Name: "A", Email: "a@b> evil"}},
		"name without email": {Files: map[string][]byte{"x": []byte("x")}, Message: "m", Author: gitrepo.Signature{Name: "A"}},
	} {
		if _, err := r.CommitFiles(ctx, req); err == nil {
			t.Errorf("%s: CommitFiles succeeded", name)
		}
	}
	if head := gittest.Git(t, dir, "rev-parse", "HEAD"); head != c2.String() {
		t.Errorf("a refused commit moved HEAD to %s", head)
	}
	if _, err := r.CommitFiles(ctx, gitrepo.CommitRequest{Files: map[string][]byte{"proposals/p2.json": []byte("p2\n")}, Message: "m"}); !errors.Is(err, gitrepo.ErrNoChanges) {
		t.Errorf("unchanged commit = %v, want ErrNoChanges", err)
	}

	// Writing through a symbolic link in the worktree is refused.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CommitFiles(ctx, gitrepo.CommitRequest{Files: map[string][]byte{"linked/x.json": []byte("x")}, Message: "m"}); err == nil {
		t.Error("CommitFiles wrote through a symbolic link")
	}
	if _, err := os.Stat(filepath.Join(outside, "x.json")); !os.IsNotExist(err) {
		t.Error("a file was written outside the worktree")
	}
}

func TestCommitFilesNeedsIdentity(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	t.Setenv("HOME", t.TempDir()) // no .gitconfig
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	r, err := gitrepo.Init(filepath.Join(t.TempDir(), "repo"), "main")
	if err != nil {
		t.Fatal(err)
	}
	req := gitrepo.CommitRequest{Files: map[string][]byte{"x": []byte("x")}, Message: "m"}
	if _, err := r.CommitFiles(ctx, req); !errors.Is(err, gitrepo.ErrNoIdentity) {
		t.Fatalf("CommitFiles without identity = %v, want ErrNoIdentity", err)
	}
	gittest.Git(t, r.Dir(), "config", "user.name", "Local User")
	gittest.Git(t, r.Dir(), "config", "user.email", "local@example.test")
	c, err := r.CommitFiles(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, r.Dir(), "show", "-s", "--format=%an <%ae>", c.String()); got != "Local User <local@example.test>" {
		t.Errorf("author from repo config = %q", got)
	}
}

func TestCommitToBranch(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, map[string][]byte{"policy/policy.json": []byte("{}\n")})
	main := gittest.Git(t, dir, "rev-parse", "HEAD")
	r := open(t, dir)
	sig := gitrepo.Signature{Name: "appliance a1", Email: "a1@appliance.test"}

	c1, err := r.CommitToBranch(ctx, "audit/a1", gitrepo.Hash{}, map[string][]byte{"checkpoints/0001": []byte("cp1\n")}, "checkpoint 1", sig)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.CommitToBranch(ctx, "audit/a1", c1, map[string][]byte{"checkpoints/0002": []byte("cp2\n"), "latest": []byte("2\n")}, "checkpoint 2", gitrepo.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "refs/heads/audit/a1"); got != c2.String() {
		t.Fatalf("audit/a1 = %s, want %s", got, c2)
	}
	if got := gittest.Git(t, dir, "ls-tree", "-r", "--name-only", "audit/a1"); got != "checkpoints/0001\ncheckpoints/0002\nlatest" {
		t.Errorf("audit tree = %q", got)
	}
	if got := gittest.Git(t, dir, "log", "--format=%an|%s", "audit/a1"); got != gittest.Name+"|checkpoint 2\nappliance a1|checkpoint 1" {
		t.Errorf("audit log = %q", got)
	}
	// The worktree, index and main were not touched.
	if st := gittest.Git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("git status:\n%s", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints")); !os.IsNotExist(err) {
		t.Errorf("CommitToBranch wrote into the worktree: %v", err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != main {
		t.Errorf("HEAD moved")
	}
	gittest.Git(t, dir, "fsck", "--strict", "--no-progress")

	// Compare-and-swap: a stale parent, or creating a branch that exists.
	var rc *gitrepo.RefChangedError
	if _, err := r.CommitToBranch(ctx, "audit/a1", c1, map[string][]byte{"x": []byte("x")}, "stale", sig); !errors.As(err, &rc) || rc.Want != c1 || rc.Got != c2 {
		t.Errorf("stale parent = %v, want *RefChangedError{Want: c1, Got: c2}", err)
	}
	if _, err := r.CommitToBranch(ctx, "audit/a1", gitrepo.Hash{}, map[string][]byte{"x": []byte("x")}, "recreate", sig); !errors.As(err, &rc) || !rc.Want.IsZero() {
		t.Errorf("re-creating = %v, want *RefChangedError", err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "audit/a1"); got != c2.String() {
		t.Errorf("a refused CAS moved audit/a1 to %s", got)
	}
	// The ref moved under us by git itself between our read and our write.
	gittest.Git(t, dir, "update-ref", "refs/heads/audit/a1", c1.String())
	if _, err := r.CommitToBranch(ctx, "audit/a1", c2, map[string][]byte{"x": []byte("x")}, "lost race", sig); !errors.As(err, &rc) {
		t.Errorf("after git update-ref = %v, want *RefChangedError", err)
	}
	// A lock held by git (or left by a crash) is respected.
	lock := filepath.Join(dir, ".git", "refs", "heads", "audit", "a1.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CommitToBranch(ctx, "audit/a1", c1, map[string][]byte{"x": []byte("x")}, "locked", sig); !errors.Is(err, gitrepo.ErrRefLocked) {
		t.Errorf("with a lock file = %v, want ErrRefLocked", err)
	}
	os.Remove(lock)
	if _, err := r.CommitToBranch(ctx, "audit/a1", c1, map[string][]byte{"x": []byte("x")}, "unlocked", sig); err != nil {
		t.Errorf("after the lock is gone: %v", err)
	}

	// The checked-out branch and bad names are refused.
	head := mustHash(t, main)
	if _, err := r.CommitToBranch(ctx, "main", head, map[string][]byte{"x": []byte("x")}, "m", sig); err == nil {
		t.Error("CommitToBranch on the checked-out branch succeeded")
	}
	for _, b := range []string{"", "refs/heads/x", "a..b", "x.lock", "-x", "a b", "HEAD"} {
		if _, err := r.CommitToBranch(ctx, b, gitrepo.Hash{}, map[string][]byte{"x": []byte("x")}, "m", sig); err == nil {
			t.Errorf("branch %q accepted", b)
		}
	}
	// A root commit may start from nothing but a deletion is then impossible.
	if _, err := r.CommitToBranch(ctx, "audit/a2", gitrepo.Hash{}, map[string][]byte{"x": nil}, "m", sig); !errors.Is(err, gitrepo.ErrNotFound) {
		t.Errorf("deleting in a root commit = %v, want ErrNotFound", err)
	}
}

func TestCommitToBranchBare(t *testing.T) {
	ctx := context.Background()
	gittest.SetEnv(t)
	bare, _ := gittest.NewBare(t)
	r := open(t, bare)
	if !r.Bare() {
		t.Fatal("bare repository not reported bare")
	}
	c, err := r.CommitToBranch(ctx, "main", gitrepo.Hash{}, map[string][]byte{"a": []byte("a\n")}, "first", gitrepo.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "HEAD"); got != c.String() {
		t.Errorf("HEAD of bare = %s, want %s", got, c)
	}
	if _, err := r.CommitFiles(ctx, gitrepo.CommitRequest{Files: map[string][]byte{"b": []byte("b")}, Message: "m"}); !errors.Is(err, gitrepo.ErrBare) {
		t.Errorf("CommitFiles in a bare repo = %v, want ErrBare", err)
	}
}

func TestIdentityFromConfig(t *testing.T) {
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, nil)
	r, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "config", "user.name", "Ada Signer")
	gittest.Git(t, dir, "config", "user.email", "ada@example.org")
	id, err := r.Identity()
	if err != nil || id.Name != "Ada Signer" || id.Email != "ada@example.org" {
		t.Fatalf("identity %+v, %v", id, err)
	}
}
