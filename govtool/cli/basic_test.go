package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFmtKeepsMode: fmt rewrites a file in place through
// gitrepo.WriteFileAtomic and keeps the file's mode; nothing else is left
// in the directory.
func TestFmtKeepsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	if err := os.WriteFile(p, []byte(`{ "a": 1, "type": "x" }`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"fmt", p}, nil, &out, &errb); code != ExitOK {
		t.Fatalf("fmt exited %d: %s", code, errb.String())
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"a\": 1,\n  \"type\": \"x\"\n}\n"; string(got) != want {
		t.Errorf("fmt wrote %q, want %q", got, want)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("fmt changed the mode to %04o, want 0640", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("fmt left %d entries in the directory, want 1", len(ents))
	}
}
