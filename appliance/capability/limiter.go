package capability

import (
	"sync"
	"time"
)

// Limiter enforces the rps caveat: a token bucket per capability id holding
// at most rps tokens (one second's worth) and refilled at rps tokens per
// second. It is implemented as GCRA: one "theoretical arrival time" per id.
//
// Memory is bounded: a bucket that has refilled completely is the same as no
// bucket and is dropped; a bucket refills within one second of its last
// use, so at most the ids used in the last second are held. If the limiter
// already holds max buckets that are all still refilling, a new id is
// refused for a second (fail closed). Safe for concurrent use.
type Limiter struct {
	mu  sync.Mutex
	max int
	tat map[string]time.Time
}

// NewLimiter returns a Limiter holding at most max buckets (max < 1 means 1).
func NewLimiter(n int) *Limiter {
	return &Limiter{max: max(n, 1), tat: make(map[string]time.Time)}
}

// Allow takes one token from id's bucket of size rps at time now. It returns
// true if there was one; otherwise false and how long until there will be.
// rps < 1 is refused (it is not a limit this package ever sets).
func (l *Limiter) Allow(id string, rps int, now time.Time) (ok bool, retryAfter time.Duration) {
	if rps < 1 {
		return false, time.Second
	}
	interval := (time.Second + time.Duration(rps) - 1) / time.Duration(rps) // round up: never more than rps per second
	burst := interval * time.Duration(rps)

	l.mu.Lock()
	defer l.mu.Unlock()
	tat, held := l.tat[id]
	if !held && len(l.tat) >= l.max {
		l.prune(now)
		if len(l.tat) >= l.max {
			return false, time.Second
		}
	}
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if over := next.Sub(now) - burst; over > 0 {
		return false, over
	}
	l.tat[id] = next
	return true, 0
}

// prune drops the buckets that have refilled completely by now.
func (l *Limiter) prune(now time.Time) {
	for id, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, id)
		}
	}
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}
