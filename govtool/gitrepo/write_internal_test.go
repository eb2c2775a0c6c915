package gitrepo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

// TestUpdateRefCompareAndSwap exercises the ref update itself, below the
// early checks of CommitToBranch, as if another writer won the race.
func TestUpdateRefCompareAndSwap(t *testing.T) {
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, map[string][]byte{"a": []byte("a\n")})
	c1, _ := ParseHash(gittest.Git(t, dir, "rev-parse", "HEAD"))
	c2, _ := ParseHash(gittest.Commit(t, dir, map[string][]byte{"b": []byte("b\n")}, "two"))
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	name := plumbing.ReferenceName("refs/heads/audit/x")

	if err := r.updateRef(name, Hash{}, c1); err != nil {
		t.Fatal(err)
	}
	var rc *RefChangedError
	if err := r.updateRef(name, Hash{}, c2); !errors.As(err, &rc) || rc.Got != c1 {
		t.Errorf("create over an existing ref = %v, want *RefChangedError", err)
	}
	if err := r.updateRef(name, c2, c1); !errors.As(err, &rc) || rc.Want != c2 || rc.Got != c1 {
		t.Errorf("stale old value = %v, want *RefChangedError", err)
	}
	if got := gittest.Git(t, dir, "rev-parse", name.String()); got != c1.String() {
		t.Errorf("ref = %s after refused updates, want %s", got, c1)
	}
	// A ref that only lives in packed-refs is read there.
	gittest.Git(t, dir, "pack-refs", "--all")
	if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "audit", "x")); !os.IsNotExist(err) {
		t.Fatalf("pack-refs left a loose ref: %v", err)
	}
	if err := r.updateRef(name, Hash{}, c2); !errors.As(err, &rc) {
		t.Errorf("create over a packed ref = %v, want *RefChangedError", err)
	}
	if err := r.updateRef(name, c1, c2); err != nil {
		t.Fatalf("update of a packed ref: %v", err)
	}
	if got := gittest.Git(t, dir, "rev-parse", name.String()); got != c2.String() {
		t.Errorf("ref = %s, want %s", got, c2)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "audit", "x.lock")); !os.IsNotExist(err) {
		t.Errorf("lock file left behind: %v", err)
	}
	// Symbolic refs are never overwritten, and names are checked.
	if err := r.updateRef(plumbing.HEAD, c2, c1); err == nil {
		t.Error("updateRef wrote HEAD")
	}
	gittest.Git(t, dir, "symbolic-ref", "refs/heads/sym", "refs/heads/main")
	if err := r.updateRef("refs/heads/sym", c2, c1); err == nil {
		t.Error("updateRef overwrote a symbolic ref")
	}
	for _, bad := range []plumbing.ReferenceName{"refs/heads/../../config", "refs/heads/x.lock", "refs/heads/a..b"} {
		if err := r.updateRef(bad, Hash{}, c1); err == nil {
			t.Errorf("updateRef(%q) succeeded", bad)
		}
	}
}

func TestObjectSizeLimit(t *testing.T) {
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, map[string][]byte{"big.json": make([]byte, 100)})
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := ParseHash(gittest.Git(t, dir, "rev-parse", "HEAD:big.json"))
	var tl *FileTooLargeError
	if _, err := r.object(blob, plumbing.BlobObject, "big.json", 99); !errors.As(err, &tl) || tl.Size != 100 || tl.Limit != 99 {
		t.Errorf("object over the limit = %v, want *FileTooLargeError", err)
	}
	if data, err := r.object(blob, plumbing.BlobObject, "big.json", 100); err != nil || len(data) != 100 {
		t.Errorf("object at the limit = %d bytes, %v", len(data), err)
	}
	if _, err := r.object(blob, plumbing.TreeObject, "big.json", 100); !errors.As(err, new(*TreeEntryError)) {
		t.Errorf("blob read as a tree = %v, want *TreeEntryError", err)
	}
	big := make([]byte, MaxFileSize+1)
	if _, err := r.CommitToBranch(t.Context(), "x", Hash{}, map[string][]byte{"big": big}, "m", Signature{}); !errors.As(err, &tl) {
		t.Errorf("committing a file over MaxFileSize = %v, want *FileTooLargeError", err)
	}
}
