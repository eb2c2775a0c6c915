package sync

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

// remote is a governance repository being written by signers: a working
// repository that pushes to a real bare repository (verifytest.Remote), with
// the governance steps these tests take.
type remote struct{ *verifytest.Remote }

func newRemote(t testing.TB) *remote {
	t.Helper()
	return &remote{verifytest.NewRemote(t, policy.ProfileProduction)}
}

// genesis pushes the genesis commit and the creation of tenant acme:
// policy version 2.
func (r *remote) genesis() gitrepo.Hash {
	r.T.Helper()
	h := r.H
	r.Commit(h.Next(h.Genesis()...), "genesis")
	p := h.Approve(h.Proposal("acme", "tenant:acme", h.Change("tenant:acme", "create_tenant")...), "po", "so")
	c := r.Commit(h.Next(h.Execute(p)...), "create tenant acme")
	r.Push()
	return c
}

// execute commits the execution of one approved change.
func (r *remote) execute(title, scope, change string, signers ...string) gitrepo.Hash {
	r.T.Helper()
	h := r.H
	p := h.Approve(h.Proposal(title, scope, h.Change(scope, change)...), signers...)
	return r.Commit(h.Next(h.Execute(p)...), title)
}

// revoke commits the revocation of a capability (one policy-owner
// signature suffices).
func (r *remote) revoke(id string) gitrepo.Hash {
	return r.execute("revoke "+id, "global", "revoke_capability="+id, "po")
}

// forcePush rewrites the remote branch from another clone: it resets to
// base and pushes a different commit over the head with git push --force.
func (r *remote) forcePush(base gitrepo.Hash) string {
	r.T.Helper()
	dir := filepath.Join(r.T.TempDir(), "rewriter")
	gittest.Git(r.T, "", "clone", "-q", r.URL, dir)
	gittest.Git(r.T, dir, "reset", "-q", "--hard", base.String())
	c := gittest.Commit(r.T, dir, map[string][]byte{"README.md": []byte("rewritten\n")}, "rewrite history")
	gittest.Git(r.T, dir, "push", "-q", "--force", "origin", "HEAD:main")
	return c
}

// engine stands in for appliance/engine: it records what it was handed and
// can be told to refuse.
type engine struct {
	mu     gosync.Mutex
	states []*Verified
	refuse error
	notify chan struct{} // if set, signalled after each accepted state
}

func (e *engine) OnVerified(ctx context.Context, st *Verified) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuse != nil {
		return e.refuse
	}
	e.states = append(e.states, st)
	if e.notify != nil {
		select {
		case e.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

func (e *engine) last() *Verified {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.states) == 0 {
		return nil
	}
	return e.states[len(e.states)-1]
}

func (e *engine) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.states)
}

// auditLog is the real FileLog, with a copy of each record appended kept for
// the test to read.
type auditLog struct {
	*audit.FileLog
	mu      gosync.Mutex
	records []audit.Record
}

func (a *auditLog) Append(ctx context.Context, r audit.Record) (audit.Receipt, error) {
	rc, err := a.FileLog.Append(ctx, r)
	if err == nil {
		a.mu.Lock()
		a.records = append(a.records, r)
		a.mu.Unlock()
	}
	return rc, err
}

func (a *auditLog) events(event string) []audit.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Record
	for _, r := range a.records {
		if r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

// appliance is one Syncer with its engine, audit log, metrics and log.
type appliance struct {
	s   *Syncer
	eng *engine
	log *auditLog
	m   *metrics.Metrics
	out *bytes.Buffer // slog output
	dir string
}

func newAppliance(t testing.TB, url, pin, dir string) *appliance {
	t.Helper()
	fl, err := audit.OpenFile(filepath.Join(dir, "audit"), "app-1", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	a := &appliance{eng: &engine{}, log: &auditLog{FileLog: fl}, m: metrics.New(), out: &bytes.Buffer{}, dir: dir}
	s, err := New(Options{
		Config:     Config{URL: url, Branch: "main", Pin: pin, Dir: filepath.Join(dir, "governance")},
		Audit:      a.log,
		Metrics:    a.m,
		OnVerified: a.eng.OnVerified,
		Logger:     slog.New(slog.NewTextHandler(&lockedWriter{w: a.out}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a.s = s
	return a
}

type lockedWriter struct {
	mu gosync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (a *appliance) syncs(outcome string) float64 {
	return value(a.m.SyncTotal.WithLabelValues(outcome))
}

func (a *appliance) rejects(reason Reason) float64 {
	return value(a.m.PolicyRejects.WithLabelValues(string(reason)))
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// mustSync runs SyncOnce and fails on any error.
func (a *appliance) mustSync(t testing.TB) {
	t.Helper()
	if err := a.s.SyncOnce(context.Background()); err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
}

// mustRefuse runs SyncOnce and requires a refusal for reason.
func (a *appliance) mustRefuse(t testing.TB, reason Reason) *RefusedError {
	t.Helper()
	err := a.s.SyncOnce(context.Background())
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != reason {
		t.Fatalf("SyncOnce = %v, want a refusal for %s", err, reason)
	}
	return re
}

// inForce requires that the engine's last state and Status name commit at
// policy version v.
func (a *appliance) inForce(t testing.TB, commit gitrepo.Hash, v int) {
	t.Helper()
	st := a.s.Status()
	last := a.eng.last()
	if last == nil || last.Commit != commit.String() || last.Policy.Version != v {
		t.Fatalf("engine holds %+v, want commit %s policy v%d", last, commit.Short(), v)
	}
	if !st.Ready || st.Commit != commit.String() || st.PolicyVersion != v {
		t.Fatalf("status %+v, want ready at %s v%d", st, commit.Short(), v)
	}
}

func stateFile(dir string) string { return filepath.Join(dir, "governance", StateFile) }

func readRecord(t testing.TB, dir string) *record {
	t.Helper()
	r, err := readState(filepath.Join(dir, "governance"))
	if err != nil || r == nil {
		t.Fatalf("state file: %v %v", r, err)
	}
	return r
}

func hasRevocation(st *Verified, id string) bool {
	return st != nil && slices.Contains(st.Policy.Revocations.Capabilities, id)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
