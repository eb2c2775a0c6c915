package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

func fixedClock() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }

func appendN(t *testing.T, l *FileLog, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Record{Event: "sign", Outcome: OutcomeOK, Tenant: "ACME"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendReopenAndTree(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 5)
	root5, err := l.TreeHash(5)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Size() != 5 {
		t.Fatalf("size %d after reopen, want 5", l.Size())
	}
	again, _ := l.TreeHash(5)
	if again != root5 {
		t.Fatal("tree hash changed across reopen")
	}
	rc, err := l.Append(context.Background(), Record{Event: "verify", Outcome: OutcomeRejected, Reason: "revoked"})
	if err != nil || rc.Index != 5 {
		t.Fatalf("receipt %+v, %v", rc, err)
	}
	// An inclusion proof of record 2 in the tree of 6 checks out.
	root6, _ := l.TreeHash(6)
	p, err := tlog.ProveRecord(6, 2, l.hashReader())
	if err != nil {
		t.Fatal(err)
	}
	leaf := l.hashes[tlog.StoredHashIndex(0, 2)]
	if err := tlog.CheckRecord(p, 6, root6, 2, leaf); err != nil {
		t.Fatal(err)
	}
}

func TestTornTailTruncatedCorruptionRefused(t *testing.T) {
	dir := t.TempDir()
	l, _ := OpenFile(dir, "app-1", fixedClock)
	appendN(t, l, 3)
	l.Close()
	path := filepath.Join(dir, "audit.log")
	full, _ := os.ReadFile(path)

	// Cut the last frame in half: reopening keeps 2 records.
	os.WriteFile(path, full[:len(full)-10], 0o600)
	l, err := OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 2 {
		t.Fatalf("size %d after torn tail, want 2", l.Size())
	}
	l.Close()

	// Flip a byte inside the first record: that is corruption, not a torn tail.
	bad := append([]byte(nil), full...)
	bad[20] ^= 1
	os.WriteFile(path, bad, 0o600)
	if _, err := OpenFile(dir, "app-1", fixedClock); err == nil || !strings.Contains(err.Error(), "record 0") {
		t.Fatalf("corrupt log opened: %v", err)
	}
}

func TestRecordsCarryNoPayload(t *testing.T) {
	dir := t.TempDir()
	l, _ := OpenFile(dir, "app-1", fixedClock)
	defer l.Close()
	if _, err := l.Append(context.Background(), Record{Event: "sign", Digest: "sha256:ab"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	if !strings.Contains(string(data), `"prev":"0000`) || !strings.Contains(string(data), `"type":"audit_record"`) {
		t.Fatalf("record not framed as expected: %q", data)
	}
}
