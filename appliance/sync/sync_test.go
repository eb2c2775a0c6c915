package sync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/verify"
	"github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

func TestInitialSync(t *testing.T) {
	r := newRemote(t)
	c1 := r.genesis()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())

	if st := a.s.Status(); st.Ready || st.NotReady == "" {
		t.Fatalf("ready before any sync: %+v", st)
	}
	if exists(stateFile(a.dir)) {
		t.Fatal("state file before any sync")
	}
	a.mustSync(t)
	a.inForce(t, c1, 2)
	st := a.s.Status()
	if st.LastVerified != 2 || st.Head != c1.String() || st.LastError != "" || st.LastSuccess.IsZero() {
		t.Errorf("status after the first sync: %+v", st)
	}
	if rec := readRecord(t, a.dir); rec.Commit != c1.String() || rec.PolicyVersion != 2 || rec.RootDigest != r.H.Pin() || rec.PolicyDigest != st.PolicyDigest {
		t.Errorf("state file %+v", rec)
	}
	applied := a.log.events(EventPolicyApplied)
	if len(applied) != 1 || applied[0].PolicyVersion != 2 || applied[0].GovernanceCommit != c1.String() || applied[0].Outcome != audit.OutcomeOK {
		t.Errorf("audit: %+v", applied)
	}
	if a.syncs(OutcomeOK) != 1 || a.syncs(OutcomeError) != 0 {
		t.Errorf("kms_sync_total ok=%v error=%v", a.syncs(OutcomeOK), a.syncs(OutcomeError))
	}
	if v := value(a.m.PolicyVersion); v != 2 {
		t.Errorf("kms_policy_version = %v", v)
	}
	// The clone is bare: no governance file is ever written out.
	matches, _ := filepath.Glob(filepath.Join(a.dir, "governance", "clone-*.git", "policy"))
	if len(matches) != 0 {
		t.Errorf("governance files written to disk: %v", matches)
	}
}

func TestIncrementalSyncVerifiesOnlyNewCommits(t *testing.T) {
	r := newRemote(t)
	r.genesis()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())
	a.mustSync(t)

	// An open proposal, then its execution: two new commits.
	h := r.H
	p := h.Approve(h.Proposal("pq", "tenant:acme", h.Change("tenant:acme", "pq_mode=hybrid_or")...), "po", "cust")
	r.Commit(h.Next(verifytest.ProposalChange(t, p)), "propose pq")
	c3 := r.Commit(h.Next(h.Execute(p)...), "execute pq")
	r.Push()
	a.mustSync(t)
	a.inForce(t, c3, 3)
	if n := a.s.Status().LastVerified; n != 2 {
		t.Errorf("verified %d commits, want only the 2 new ones", n)
	}
	if a.eng.last().Policy.TenantPQMode("acme") != "hybrid_or" {
		t.Error("the new policy was not handed over")
	}

	// Nothing new: nothing verified, nothing applied again.
	a.mustSync(t)
	if n := a.s.Status().LastVerified; n != 0 || a.eng.count() != 2 {
		t.Errorf("idle sync verified %d commits, engine called %d times", n, a.eng.count())
	}
	if a.syncs(OutcomeOK) != 3 {
		t.Errorf("kms_sync_total{ok} = %v", a.syncs(OutcomeOK))
	}
}

func TestForcePushRefusedAndStateKept(t *testing.T) {
	r := newRemote(t)
	c1 := r.genesis()
	c2 := r.revoke("cap-1")
	r.Push()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())
	a.mustSync(t)
	a.inForce(t, c2, 3)

	// Roll the branch back to before the revocation, with a new commit on top.
	rewritten := r.forcePush(c1)
	re := a.mustRefuse(t, ReasonNotDescendant)
	if re.Head != rewritten || !errors.As(re, new(*gitrepo.NotDescendantError)) {
		t.Errorf("refusal %+v", re)
	}
	a.inForce(t, c2, 3)
	if !hasRevocation(a.eng.last(), "cap-1") || a.eng.count() != 1 {
		t.Error("the revocation was unloaded")
	}
	st := a.s.Status()
	if st.LastReason != ReasonNotDescendant || !strings.Contains(st.LastError, "force-pushed") || st.Head != rewritten {
		t.Errorf("status %+v", st)
	}
	refused := a.log.events(EventPolicyRefused)
	if len(refused) != 1 || refused[0].Reason != string(ReasonNotDescendant) || refused[0].GovernanceCommit != c2.String() ||
		refused[0].PolicyVersion != 3 || !strings.Contains(refused[0].Detail, "head="+rewritten) {
		t.Fatalf("audit: %+v", refused)
	}
	if rec := readRecord(t, a.dir); rec.Commit != c2.String() {
		t.Errorf("state file moved to %s", rec.Commit)
	}
	if !strings.Contains(a.out.String(), "refused governance head") {
		t.Errorf("not logged:\n%s", a.out)
	}

	// Every pull refuses again: counted each time, audited once.
	a.mustRefuse(t, ReasonNotDescendant)
	if n := len(a.log.events(EventPolicyRefused)); n != 1 {
		t.Errorf("%d refusal records for one refused head", n)
	}
	if a.syncs(OutcomeRefused) != 2 || a.rejects(ReasonNotDescendant) != 1 {
		t.Errorf("kms_sync_total{refused}=%v kms_policy_rejects_total{not_descendant}=%v", a.syncs(OutcomeRefused), a.rejects(ReasonNotDescendant))
	}
}

func TestBadSignatureRefusedAndBatchAtomic(t *testing.T) {
	r := newRemote(t)
	c1 := r.genesis()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())
	a.mustSync(t)

	// A good execution, then a proposal changed after it was approved: the
	// batch holds a valid commit and an invalid one.
	r.revoke("cap-2")
	h := r.H
	p := h.Approve(h.Proposal("pq", "tenant:acme", h.Change("tenant:acme", "pq_mode=hybrid_and")...), "po", "so")
	p.Changeset = h.Change("tenant:acme", "pq_mode=off")
	bad := r.Commit(h.Try(verifytest.ProposalChange(t, p)), "tampered proposal")
	r.Push()

	re := a.mustRefuse(t, ReasonGovernanceInvalid)
	var ve *verify.Error
	if !errors.As(re, &ve) || ve.Reason != verify.ReasonBadSignature || ve.Commit != bad.String() {
		t.Fatalf("refusal %v, want bad_signature at %s", re, bad.Short())
	}
	if !strings.Contains(re.Detail, "verify_reason=bad_signature") || !strings.Contains(re.Detail, "commit="+bad.String()) {
		t.Errorf("detail %q", re.Detail)
	}
	// Nothing of the batch was applied, not even the valid revocation.
	a.inForce(t, c1, 2)
	if a.eng.count() != 1 || hasRevocation(a.eng.last(), "cap-2") {
		t.Error("part of a refused batch was applied")
	}
	refused := a.log.events(EventPolicyRefused)
	if len(refused) != 1 || refused[0].Reason != string(ReasonGovernanceInvalid) || !strings.Contains(refused[0].Detail, "bad_signature") {
		t.Errorf("audit: %+v", refused)
	}
	if a.rejects(ReasonGovernanceInvalid) != 1 {
		t.Errorf("kms_policy_rejects_total{governance_invalid} = %v", a.rejects(ReasonGovernanceInvalid))
	}
	if st := a.s.Status(); !st.Ready || st.LastReason != ReasonGovernanceInvalid {
		t.Errorf("status %+v", st)
	}
}

// The verifier makes versions grow by one along a chain, so a lower version
// can only come from outside it: a record of what this appliance enforced
// (here: version 5) that the history it follows does not reach.
func TestPolicyRollbackRefused(t *testing.T) {
	r := newRemote(t)
	c1 := r.genesis()
	dir := t.TempDir()
	a := newAppliance(t, r.URL, r.H.Pin(), dir)
	a.mustSync(t)
	a.s.Close()

	rec := readRecord(t, dir)
	rec.PolicyVersion = 5
	if err := writeState(filepath.Join(dir, "governance"), *rec, time.Now()); err != nil {
		t.Fatal(err)
	}
	b := newAppliance(t, r.URL, r.H.Pin(), dir)
	re := b.mustRefuse(t, ReasonPolicyRollback)
	if !strings.Contains(re.Detail, "policy_version=2 enforced_version=5") || re.Head != c1.String() {
		t.Errorf("refusal %+v", re)
	}
	if b.eng.count() != 0 {
		t.Error("a lower policy version was applied")
	}
	if st := b.s.Status(); st.Ready || !strings.Contains(st.NotReady, "lower than version 5") {
		t.Errorf("status %+v", st)
	}
	if got := b.log.events(EventPolicyRefused); len(got) != 1 || got[0].Reason != string(ReasonPolicyRollback) {
		t.Errorf("audit %+v", got)
	}
	if b.rejects(ReasonPolicyRollback) != 1 {
		t.Error("kms_policy_rejects_total{policy_rollback} not counted")
	}
}

func TestRestart(t *testing.T) {
	setup := func(t *testing.T) (*remote, gitrepo.Hash, gitrepo.Hash, string) {
		r := newRemote(t)
		c1 := r.genesis()
		c2 := r.revoke("cap-3")
		r.Push()
		dir := t.TempDir()
		a := newAppliance(t, r.URL, r.H.Pin(), dir)
		a.mustSync(t)
		a.inForce(t, c2, 3)
		a.s.Close()
		return r, c1, c2, dir
	}

	t.Run("continues from the recorded commit", func(t *testing.T) {
		r, _, _, dir := setup(t)
		c3 := r.revoke("cap-4")
		r.Push()
		b := newAppliance(t, r.URL, r.H.Pin(), dir)
		b.mustSync(t)
		b.inForce(t, c3, 4)
		// Re-verified from the root to the recorded commit, then only the
		// new commit on top of it; one state handed over.
		if n := b.s.Status().LastVerified; n != 1 || b.eng.count() != 1 {
			t.Errorf("verified %d new commits, engine called %d times", n, b.eng.count())
		}
		if !strings.Contains(b.out.String(), "re-verified the last verified commit from the pinned root") {
			t.Errorf("log:\n%s", b.out)
		}
	})

	t.Run("rewritten head refused, last verified state enforced", func(t *testing.T) {
		r, c1, c2, dir := setup(t)
		r.forcePush(c1)
		b := newAppliance(t, r.URL, r.H.Pin(), dir)
		b.mustRefuse(t, ReasonNotDescendant)
		// The recorded commit is still in the local clone: it is re-verified
		// from the root and enforced.
		b.inForce(t, c2, 3)
		if !hasRevocation(b.eng.last(), "cap-3") {
			t.Error("revocation lost across the restart")
		}
		if got := b.log.events(EventPolicyRefused); len(got) != 1 || got[0].Reason != string(ReasonNotDescendant) {
			t.Errorf("audit %+v", got)
		}
		if got := b.log.events(EventPolicyApplied); len(got) != 1 || got[0].GovernanceCommit != c2.String() {
			t.Errorf("audit %+v", got)
		}
		if st := b.s.Status(); st.LastReason != ReasonNotDescendant {
			t.Errorf("status %+v", st)
		}
		// And it stays that way.
		b.mustRefuse(t, ReasonNotDescendant)
		b.inForce(t, c2, 3)
	})

	t.Run("rewritten head refused, clone lost: not ready", func(t *testing.T) {
		r, c1, _, dir := setup(t)
		r.forcePush(c1)
		clones, _ := filepath.Glob(filepath.Join(dir, "governance", "clone-*.git"))
		if len(clones) != 1 {
			t.Fatalf("clones: %v", clones)
		}
		os.RemoveAll(clones[0])
		b := newAppliance(t, r.URL, r.H.Pin(), dir)
		b.mustRefuse(t, ReasonNotDescendant)
		if st := b.s.Status(); st.Ready || !strings.Contains(st.NotReady, "not_descendant") || b.eng.count() != 0 {
			t.Errorf("status %+v, engine called %d times", st, b.eng.count())
		}
	})
}

func TestEmptyRemoteNotReady(t *testing.T) {
	r := newRemote(t)
	a := newAppliance(t, r.URL, "sha256:"+strings.Repeat("1", 64), t.TempDir())
	err := a.s.SyncOnce(context.Background())
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("SyncOnce on an empty remote = %v, want *NotReadyError", err)
	}
	st := a.s.Status()
	if st.Ready || !strings.Contains(st.NotReady, "empty") || !strings.Contains(st.NotReady, "govtool init") {
		t.Errorf("status %+v", st)
	}
	if a.syncs(OutcomeError) != 1 || len(a.log.events(EventPolicyRefused)) != 0 || a.eng.count() != 0 {
		t.Error("an empty remote is not a refusal")
	}

	// Commits without governance: still not ready, with its own reason.
	r.Commit(verify.Commit{Time: time.Now(), Changes: []verify.Change{{Path: "README.md", After: []byte("hello\n")}}}, "readme")
	r.Push()
	err = a.s.SyncOnce(context.Background())
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "no governance genesis") {
		t.Fatalf("SyncOnce without genesis = %v", err)
	}
	// A branch re-created before its genesis is no rewrite: nothing was
	// verified yet.
	other := gittest.NewWorking(t, map[string][]byte{"README.md": []byte("a new start\n")})
	gittest.Git(t, other, "push", "-q", "--force", r.URL, "main")
	err = a.s.SyncOnce(context.Background())
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "no governance genesis") {
		t.Fatalf("SyncOnce after the branch was re-created = %v", err)
	}

}

func TestEmptyRemoteThenGenesis(t *testing.T) {
	r := newRemote(t)
	pin := func() string { // the pin is known before the genesis is pushed
		h := verifytest.New(t, "production")
		h.Genesis()
		return h.Pin()
	}()
	a := newAppliance(t, r.URL, pin, t.TempDir())
	if err := a.s.SyncOnce(context.Background()); err == nil {
		t.Fatal("empty remote synced")
	}
	c := r.genesis()
	a.mustSync(t)
	a.inForce(t, c, 2)
}

func TestApplyRefusedKeepsState(t *testing.T) {
	r := newRemote(t)
	c1 := r.genesis()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())
	a.mustSync(t)
	r.revoke("cap-5")
	r.Push()
	a.eng.refuse = errors.New("engine: backend slot does not match")
	re := a.mustRefuse(t, ReasonApplyRefused)
	if !strings.Contains(re.Msg, "backend slot") {
		t.Errorf("refusal %v", re)
	}
	a.eng.refuse = nil
	a.inForce(t, c1, 2)
	if rec := readRecord(t, a.dir); rec.Commit != c1.String() {
		t.Error("state file names a state the engine refused")
	}
	// Once the engine accepts, the same head applies.
	a.mustSync(t)
	if !hasRevocation(a.eng.last(), "cap-5") {
		t.Error("not applied after the engine accepted")
	}
}

func TestNewChecks(t *testing.T) {
	r := newRemote(t)
	r.genesis()
	dir := t.TempDir()
	a := newAppliance(t, r.URL, r.H.Pin(), dir)
	a.mustSync(t)
	a.s.Close()

	good := Options{
		Config:     Config{URL: r.URL, Branch: "main", Pin: r.H.Pin(), Dir: filepath.Join(dir, "governance")},
		Audit:      a.log,
		Metrics:    metrics.New(),
		OnVerified: a.eng.OnVerified,
	}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	other := good
	other.Config.Pin = "sha256:" + strings.Repeat("2", 64)
	if _, err := New(other); err == nil || !strings.Contains(err.Error(), "re-anchor") {
		t.Errorf("another root accepted over a recorded state: %v", err)
	}
	for name, edit := range map[string]func(*Options){
		"no url":      func(o *Options) { o.Config.URL = "" },
		"bad pin":     func(o *Options) { o.Config.Pin = "sha256:xyz" },
		"no audit":    func(o *Options) { o.Audit = nil },
		"no callback": func(o *Options) { o.OnVerified = nil },
		"no metrics":  func(o *Options) { o.Metrics = nil },
	} {
		o := good
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A damaged record stops the appliance instead of being ignored.
	os.WriteFile(stateFile(dir), []byte("{}\n"), 0o600)
	if _, err := New(good); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged state file: %v", err)
	}
}

func TestCredentialsNeverShown(t *testing.T) {
	gittest.SetEnv(t)
	const secret = "s3cr3t-t0ken"
	for _, url := range []string{
		"http://user:" + secret + "@127.0.0.1:1/governance.git",
		"http://" + secret + "@127.0.0.1:1/governance.git",
	} {
		a := newAppliance(t, url, "sha256:"+strings.Repeat("1", 64), t.TempDir())
		err := a.s.SyncOnce(context.Background())
		if err == nil {
			t.Fatal("synced from a closed port")
		}
		for what, text := range map[string]string{"error": err.Error(), "status": a.s.Status().LastError, "log": a.out.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows the credential: %s", what, text)
			}
			if !strings.Contains(text, "127.0.0.1:1") {
				t.Errorf("%s does not name the remote: %s", what, text)
			}
		}
		entries, _ := os.ReadDir(filepath.Join(a.dir, "governance"))
		for _, e := range entries {
			if strings.Contains(e.Name(), secret) {
				t.Errorf("file name %s shows the credential", e.Name())
			}
		}
	}
}

// The webhook path: a revocation merged into the remote (served over
// loopback HTTP by git http-backend) and announced by a trigger is in force
// within 5 s. Run pulls only hourly here, so only the trigger can explain it.
func TestTriggeredRevocationOverHTTP(t *testing.T) {
	r := newRemote(t)
	r.genesis()
	httpURL := gittest.Serve(t, r.Bare)
	a := newAppliance(t, httpURL, r.H.Pin(), t.TempDir())
	a.s.cfg.PullInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()
	waitFor(t, 10*time.Second, "first sync", func() bool { return a.s.Status().Ready })

	r.revoke("cap-9")
	r.Push()
	start := time.Now()
	a.s.Trigger()
	waitFor(t, 5*time.Second, "revocation applied", func() bool { return hasRevocation(a.eng.last(), "cap-9") })
	t.Logf("revocation in force %v after the trigger", time.Since(start))

	// TriggerWait returns the result of a sync that began after it.
	r.revoke("cap-10")
	r.Push()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := a.s.TriggerWait(wctx); err != nil {
		t.Fatal(err)
	}
	if !hasRevocation(a.eng.last(), "cap-10") {
		t.Error("TriggerWait returned before the revocation was applied")
	}
}

func TestTriggerCoalesces(t *testing.T) {
	r := newRemote(t)
	r.genesis()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())
	for range 5 {
		a.s.Trigger()
	}
	if n := len(a.s.trigger); n != 1 {
		t.Fatalf("%d triggers queued, want 1", n)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKeyIssuedFromHistory(t *testing.T) {
	r := newRemote(t)
	r.genesis()
	t1 := r.H.Clock
	r.execute("create key", "tenant:acme", "create_key=signing:ed25519", "po", "so")
	r.revoke("cap-6") // a later execution does not move the key's time
	t2 := r.H.Clock
	r.execute("rotate key", "tenant:acme", "rotate_key=signing", "po", "so")
	r.Push()
	want := map[string]time.Time{"acme/signing/v1": t1, "acme/signing/v2": t2}

	dir := t.TempDir()
	a := newAppliance(t, r.URL, r.H.Pin(), dir)
	a.mustSync(t)
	check := func(got map[string]time.Time) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("KeyIssued = %v, want %v", got, want)
		}
		for l, w := range want {
			if !got[l].Equal(w) {
				t.Errorf("KeyIssued[%s] = %v, want %v", l, got[l], w)
			}
		}
	}
	check(a.eng.last().KeyIssued)
	a.s.Close()

	// After a restart the times come from the history again, not from
	// when this appliance first saw the keys.
	b := newAppliance(t, r.URL, r.H.Pin(), dir)
	b.mustSync(t)
	check(b.eng.last().KeyIssued)
}

// A state in force whose record could not be written is recorded by the
// next sync, even when the head has not moved.
func TestRecordRetried(t *testing.T) {
	r := newRemote(t)
	r.genesis()
	a := newAppliance(t, r.URL, r.H.Pin(), t.TempDir())
	a.mustSync(t)
	c2 := r.revoke("cap-11")
	r.Push()
	// A directory where the record goes: the rename over it fails.
	path := stateFile(a.dir)
	os.Remove(path)
	os.MkdirAll(filepath.Join(path, "blocker"), 0o700)
	if err := a.s.SyncOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "writing state") {
		t.Fatalf("a failed record was not reported: %v", err)
	}
	a.inForce(t, c2, 3) // in force all the same
	if st := a.s.Status(); st.LastError == "" {
		t.Errorf("status %+v", st)
	}
	os.RemoveAll(path)
	a.mustSync(t)
	if rec := readRecord(t, a.dir); rec.Commit != c2.String() {
		t.Errorf("record not retried: %s", rec.Commit)
	}
}
