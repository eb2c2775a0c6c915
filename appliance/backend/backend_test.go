package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSecretFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode    os.FileMode
		wantErr string // "" means accepted
	}{
		{0o600, ""},
		{0o400, ""},
		{0o700, ""},
		{0o640, "chmod 600"},
		{0o620, "chmod 600"},
		{0o604, "chmod 600"},
		{0o602, "chmod 600"},
		{0o666, "chmod 600"},
	} {
		p := filepath.Join(dir, tc.mode.String())
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckSecretFile(p, fi)
		if tc.wantErr == "" && err != nil {
			t.Errorf("mode %04o: %v", tc.mode, err)
		}
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("mode %04o: %v, want an error containing %q", tc.mode, err, tc.wantErr)
		}
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSecretFile(sub, fi); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}
