package sync

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

// BenchmarkTriggerToApplied measures the webhook path over loopback HTTP
// (git http-backend): a revocation is pushed, Trigger is called, and the
// clock stops when OnVerified holds the new policy. The baseline, measured
// in the same run on the same commits, is a bare fetch of the branch by
// another clone. The goal (≤ 5 s from merge to enforcement) is reported as
// max-ms; ratio is trigger-to-applied over the bare fetch.
func BenchmarkTriggerToApplied(b *testing.B) {
	r := newRemote(b)
	r.genesis()
	url := gittest.Serve(b, r.Bare)
	ctx := context.Background()
	plain, err := gitrepo.CloneBare(ctx, url, filepath.Join(b.TempDir(), "plain"), "main")
	if err != nil {
		b.Fatal(err)
	}
	a := newAppliance(b, url, r.H.Pin(), b.TempDir())
	a.s.cfg.PullInterval = time.Hour
	a.eng.notify = make(chan struct{}, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.s.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-a.eng.notify:
	case <-time.After(30 * time.Second):
		b.Fatal("first sync did not complete")
	}

	var fetch, apply []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.revoke("cap-bench-" + time.Now().Format("150405.000000000"))
		r.Push()
		b.StartTimer()

		t0 := time.Now()
		if err := plain.Fetch(ctx, "origin", []string{"+refs/heads/main:refs/remotes/origin/main"}); err != nil {
			b.Fatal(err)
		}
		fetch = append(fetch, time.Since(t0))

		t0 = time.Now()
		a.s.Trigger()
		select {
		case <-a.eng.notify:
		case <-time.After(30 * time.Second):
			b.Fatalf("revocation %d not applied: %+v", i, a.s.Status())
		}
		apply = append(apply, time.Since(t0))
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	maxOf := func(d []time.Duration) time.Duration {
		m := d[0]
		for _, x := range d {
			m = max(m, x)
		}
		return m
	}
	b.ReportMetric(float64(med(fetch).Microseconds())/1000, "fetch-p50-ms")
	b.ReportMetric(float64(med(apply).Microseconds())/1000, "apply-p50-ms")
	b.ReportMetric(float64(maxOf(apply).Microseconds())/1000, "apply-max-ms")
	b.ReportMetric(float64(med(apply))/float64(med(fetch)), "ratio")
}
