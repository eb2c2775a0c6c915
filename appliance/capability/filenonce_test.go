package capability

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileNonceStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nonces")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := OpenFileNonceStore(path, 100, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Use("cap1", "n1", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if err := s.Use("cap2", "n2", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := s.Use("cap1", "n1", now.Add(time.Hour), now); !errors.Is(err, ErrNonceReused) {
		t.Fatalf("reuse in one run: %v", err)
	}
	s.Close()

	// After a restart (two minutes on): cap1's nonce is still used, cap2's
	// expired and was dropped from the file.
	later := now.Add(2 * time.Minute)
	s, err = OpenFileNonceStore(path, 100, later)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Use("cap1", "n1", now.Add(time.Hour), later); !errors.Is(err, ErrNonceReused) {
		t.Fatalf("reuse after restart: %v", err)
	}
	s.Close()
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "cap2") || !strings.Contains(string(data), "cap1") {
		t.Fatalf("file after compaction: %q", data)
	}

	// A torn last line (no fsync, no answer) is dropped; damage in the
	// middle refuses to open rather than forget nonces.
	os.WriteFile(path, append(data, []byte("17")...), 0o600)
	if s, err = OpenFileNonceStore(path, 100, later); err != nil {
		t.Fatalf("torn tail: %v", err)
	}
	s.Close()
	os.WriteFile(path, []byte("garbage line\n"+string(data)), 0o600)
	if _, err := OpenFileNonceStore(path, 100, later); err == nil {
		t.Fatal("damaged nonce file opened")
	}
}

func TestFileNonceStoreFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nonces")
	now := time.Now()
	s, err := OpenFileNonceStore(path, 100, now)
	if err != nil {
		t.Fatal(err)
	}
	s.f.Close() // the disk goes away
	if err := s.Use("cap", "n", now.Add(time.Hour), now); err == nil {
		t.Fatal("nonce accepted without being recorded")
	}
}
