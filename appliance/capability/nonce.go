package capability

import (
	"container/heap"
	"errors"
	"sync"
	"time"
)

// ErrNonceReused is returned by NonceStore.Use when a nonce cannot be shown
// to be unused.
var ErrNonceReused = errors.New("capability: nonce already used")

// NonceStore remembers the nonces of single-use capabilities.
//
// Use records that capability id has used nonce, and must remember it at
// least until exp. It returns nil only if the pair was never recorded
// before; ErrNonceReused if it was, or if the store can no longer tell (for
// example exp has already passed by the store's clock). Any other error means
// the store could not record the use (full, or failing); the caller denies
// the request. Implementations are safe for concurrent use.
type NonceStore interface {
	Use(id, nonce string, exp, now time.Time) error
}

// ErrNonceStoreFull is returned by MemNonceStore.Use when it holds its
// maximum number of unexpired nonces.
var ErrNonceStoreFull = errors.New("capability: nonce store full")

// MemNonceStore is an in-memory NonceStore holding at most a fixed number of
// nonces. A nonce is forgotten once its capability's exp has passed, so
// memory is bounded by the number of single-use capabilities alive at once;
// beyond that Use fails closed with ErrNonceStoreFull.
//
// The store keeps the latest time it has been given and treats it as the
// present, so a clock that steps backwards cannot revive a forgotten nonce:
// a capability whose exp is not after that time is reported as reused.
type MemNonceStore struct {
	mu     sync.Mutex
	max    int
	latest time.Time
	seen   map[string]struct{}
	byExp  nonceHeap
}

var _ NonceStore = (*MemNonceStore)(nil)

// NewMemNonceStore returns a store that holds at most n nonces (n < 1
// means 1).
func NewMemNonceStore(n int) *MemNonceStore {
	return &MemNonceStore{max: max(n, 1), seen: make(map[string]struct{})}
}

// Use implements NonceStore.
func (s *MemNonceStore) Use(id, nonce string, exp, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.After(s.latest) {
		s.latest = now
	}
	for len(s.byExp) > 0 && !s.byExp[0].exp.After(s.latest) {
		delete(s.seen, heap.Pop(&s.byExp).(nonceEntry).key)
	}
	if !exp.After(s.latest) {
		return ErrNonceReused
	}
	k := id + " " + nonce
	if _, ok := s.seen[k]; ok {
		return ErrNonceReused
	}
	if len(s.seen) >= s.max {
		return ErrNonceStoreFull
	}
	s.seen[k] = struct{}{}
	heap.Push(&s.byExp, nonceEntry{key: k, exp: exp})
	return nil
}

// Len returns the number of nonces the store remembers.
func (s *MemNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

type nonceEntry struct {
	key string
	exp time.Time
}

type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
