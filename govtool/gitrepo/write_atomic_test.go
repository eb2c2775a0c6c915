package gitrepo_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
)

// onlyFiles fails unless dir holds exactly the names want: no temporary
// file is left behind.
func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(want) {
		t.Fatalf("%s holds %q, want %q", dir, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s holds %q, want %q", dir, got, want)
		}
	}
}

func checkFile(t *testing.T, path, content string, perm fs.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != content {
		t.Errorf("%s holds %q, want %q", path, got, content)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("%s is %v, want a regular file", path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != perm {
		t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), perm)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")

	// A new file gets exactly perm, whatever the umask: 0666 is not
	// narrowed to 0644 by the usual umask 022.
	if err := gitrepo.WriteFileAtomic(p, []byte("one"), 0o666); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "one", 0o666)

	// An existing file is replaced, and takes perm, not its old mode.
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := gitrepo.WriteFileAtomic(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "two", 0o640)

	// Only the permission bits of perm count.
	if err := gitrepo.WriteFileAtomic(p, []byte("three"), fs.ModeSetuid|0o644); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "three", 0o644)
	if fi, _ := os.Stat(p); fi.Mode()&fs.ModeSetuid != 0 {
		t.Error("setuid bit set from perm")
	}
	onlyFiles(t, dir, "f.json")
}

// TestWriteFileAtomicSymlink: a symbolic link at the path is replaced by
// the file; what it pointed to is not written through it.
func TestWriteFileAtomicSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := gitrepo.WriteFileAtomic(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkFile(t, link, "new", 0o644)
	checkFile(t, target, "keep", 0o644)
	onlyFiles(t, dir, "link", "target")
}

// TestWriteFileAtomicFailure: when the write cannot be completed, the path
// is left as it was and no temporary file remains.
func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	// The path is a non-empty directory: the rename over it fails.
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(sub, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := gitrepo.WriteFileAtomic(sub, []byte("x"), 0o644); err == nil {
		t.Fatal("replacing a directory succeeded")
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Fatalf("the directory was not left as it was: %v, %v", fi, err)
	}
	onlyFiles(t, dir, "sub")

	// The directory does not exist: nothing is created.
	if err := gitrepo.WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	onlyFiles(t, dir, "sub")
}
