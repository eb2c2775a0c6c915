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
	again, err := l.TreeHash(5)
	if err != nil || again != root5 {
		t.Fatalf("tree hash of 5 after reopen: %v, %v; want %v", again, err, root5)
	}
	rc, err := l.Append(context.Background(), Record{Event: "verify", Outcome: OutcomeRejected, Reason: "revoked"})
	if err != nil || rc.Index != 5 {
		t.Fatalf("receipt %+v, %v", rc, err)
	}
	// An inclusion proof of record 2 in the tree of 6 checks out.
	root6, err := l.TreeHash(6)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tlog.ProveRecord(6, 2, l.hashReader())
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := l.hashReader().ReadHashes([]int64{tlog.StoredHashIndex(0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	leaf := leaves[0]
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

// The first record is linked to the zero hash and typed; what records may
// hold (metadata only) is the engine's test, TestAuditRecordsHoldMetadataOnly.
func TestFirstRecordFraming(t *testing.T) {
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

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	seen := make(chan int64, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			rc, err := l.Append(context.Background(), Record{Event: "sign", Outcome: OutcomeOK})
			if err != nil {
				errs <- err
				return
			}
			seen <- rc.Index
		}()
	}
	got := map[int64]bool{}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			t.Fatal(err)
		case x := <-seen:
			if got[x] {
				t.Fatalf("index %d handed out twice", x)
			}
			got[x] = true
		}
	}
	root, _ := l.TreeHash(n)
	l.Close()
	l, err = OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Size() != n {
		t.Fatalf("%d records after reopen, want %d", l.Size(), n)
	}
	if again, _ := l.TreeHash(n); again != root {
		t.Fatal("tree differs after reopen")
	}
}

func TestWriteFailurePoisonsTheLog(t *testing.T) {
	l, err := OpenFile(t.TempDir(), "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1)
	l.f.Close() // the disk goes away under the log
	if _, err := l.Append(context.Background(), Record{Event: "sign"}); err == nil {
		t.Fatal("append on a failed file succeeded")
	}
	// Even if the file came back, the log stays failed: what reached the
	// disk is no longer known.
	if _, err := l.Append(context.Background(), Record{Event: "sign"}); err == nil || !strings.Contains(err.Error(), "refuses further records") {
		t.Fatalf("second append after failure: %v", err)
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	l, err := OpenFile(b.TempDir(), "app-1", time.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), Record{Event: "sign", Outcome: OutcomeOK}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
