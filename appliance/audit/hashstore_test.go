package audit

import (
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

type sliceReader []tlog.Hash

func (h sliceReader) ReadHashes(ix []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ix))
	for i, x := range ix {
		out[i] = h[x]
	}
	return out, nil
}

// The file-backed store with its bounded cache gives the same tree heads and
// proofs as keeping every hash in memory, well past the cache size.
func TestHashStoreMatchesInMemoryTree(t *testing.T) {
	s, err := openHashStore(filepath.Join(t.TempDir(), "h"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.f.Close()
	var mem sliceReader
	const n = 5 * hashCacheSize
	for i := int64(0); i < n; i++ {
		data := []byte(fmt.Sprintf("record %d", i))
		want, err := tlog.StoredHashes(i, data, mem)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tlog.StoredHashes(i, data, s)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("record %d: stored hashes differ", i)
		}
		mem = append(mem, want...)
		if err := s.append(got); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.cur)+len(s.old) > 2*hashCacheSize {
		t.Fatalf("cache holds %d hashes, bound %d", len(s.cur)+len(s.old), 2*hashCacheSize)
	}
	for _, size := range []int64{1, 7, hashCacheSize + 3, n} {
		a, _ := tlog.TreeHash(size, mem)
		b, err := tlog.TreeHash(size, s)
		if err != nil || a != b {
			t.Fatalf("tree hash of %d: %v", size, err)
		}
	}
	// An inclusion proof of an early record (its hashes long evicted).
	root, _ := tlog.TreeHash(n, s)
	p, err := tlog.ProveRecord(n, 3, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(p, n, root, 3, tlog.RecordHash([]byte("record 3"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadHashes([]int64{int64(len(mem))}); err == nil {
		t.Fatal("read past the end")
	}
}
