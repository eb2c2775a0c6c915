package sync

import (
	"context"
	"math/rand/v2"
	"time"
)

// Run syncs at once, then every PullInterval (plus up to 10 % jitter) and
// whenever Trigger is called, until ctx is done; it returns ctx's error.
// Each attempt's outcome is logged, counted and visible in Status; Run
// itself never stops on one.
func (s *Syncer) Run(ctx context.Context) error {
	for {
		s.SyncOnce(ctx) // reported by SyncOnce itself
		t := time.NewTimer(s.cfg.PullInterval + rand.N(s.cfg.PullInterval/10+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-s.trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

// Trigger asks Run for a sync now and returns at once. Triggers coalesce:
// any number made while a sync runs cause exactly one more sync after it.
// It is what POST /v1/sync (a Git host's webhook) calls.
func (s *Syncer) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// TriggerWait is Trigger, then waits until a sync that started after the
// call has finished, and returns that sync's result (see SyncOnce) — or
// ctx's error first. It needs Run to be running.
func (s *Syncer) TriggerWait(ctx context.Context) error {
	s.seqMu.Lock()
	after := s.started
	s.seqMu.Unlock()
	s.Trigger()
	for {
		s.seqMu.Lock()
		if s.finished > after {
			err := s.lastErr
			s.seqMu.Unlock()
			return err
		}
		done := s.done
		s.seqMu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// begin numbers a sync that is starting; syncs run one at a time, so they
// finish in the order they start.
func (s *Syncer) begin() uint64 {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	s.started++
	return s.started
}

func (s *Syncer) end(seq uint64, err error) {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	s.finished, s.lastErr = seq, err
	close(s.done)
	s.done = make(chan struct{})
}
