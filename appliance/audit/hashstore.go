package audit

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

// hashCacheSize bounds the stored hashes a log keeps in memory. Appends and
// tree heads read the O(log n) hashes on the tree's right edge, which stay
// cached; inclusion proofs of old records read the file.
const hashCacheSize = 4096

// hashStore keeps the Merkle tree's stored hashes (tlog's layout: hash i at
// byte offset 32·i) in a file beside the log, so that memory does not grow
// with the log. The file is derived data: it is rebuilt from the records at
// every open (the records are read and checked then anyway), so it needs no
// fsync and a damaged copy can never outlive a restart.
type hashStore struct {
	f        *os.File
	n        int64 // hashes stored
	cur, old map[int64]tlog.Hash
	buf      []byte
}

var _ tlog.HashReader = (*hashStore)(nil)

func openHashStore(path string) (*hashStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &hashStore{f: f, cur: make(map[int64]tlog.Hash, hashCacheSize)}, nil
}

// ReadHashes implements tlog.HashReader. Callers hold the log's lock.
func (s *hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= s.n {
			return nil, fmt.Errorf("audit: hash index %d out of range (%d stored)", x, s.n)
		}
		if h, ok := s.get(x); ok {
			out[i] = h
			continue
		}
		if _, err := s.f.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
			return nil, fmt.Errorf("audit: reading stored hash %d: %w", x, err)
		}
		s.put(x, out[i])
	}
	return out, nil
}

// get looks a hash up in the two generations of the cache; a hit in the
// old generation moves to the current one (an approximate LRU).
func (s *hashStore) get(x int64) (tlog.Hash, bool) {
	if h, ok := s.cur[x]; ok {
		return h, true
	}
	if h, ok := s.old[x]; ok {
		s.put(x, h)
		return h, true
	}
	return tlog.Hash{}, false
}

func (s *hashStore) put(x int64, h tlog.Hash) {
	if len(s.cur) >= hashCacheSize {
		s.old, s.cur = s.cur, make(map[int64]tlog.Hash, hashCacheSize)
	}
	s.cur[x] = h
}

// append stores the hashes tlog.StoredHashes returned for the next record.
func (s *hashStore) append(hs []tlog.Hash) error {
	buf := s.buf[:0]
	for _, h := range hs {
		buf = append(buf, h[:]...)
	}
	s.buf = buf
	if _, err := s.f.WriteAt(buf, s.n*tlog.HashSize); err != nil {
		return fmt.Errorf("audit: writing stored hashes: %w", err)
	}
	for i, h := range hs {
		s.put(s.n+int64(i), h)
	}
	s.n += int64(len(hs))
	return nil
}
