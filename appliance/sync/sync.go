package sync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// Defaults of Config.
const (
	DefaultPullInterval = 30 * time.Second
	DefaultTimeout      = 2 * time.Minute
)

// Audit events written by a Syncer.
const (
	EventPolicyApplied = "policy_applied"
	EventPolicyRefused = "policy_refused"
)

// Outcomes, the outcome label of kms_sync_total: "ok" when the verified
// head is in force (applied now or already), "refused" when a head was
// refused, "error" when the attempt could not decide (network, disk, an
// empty repository).
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	OutcomeError   = "error"
)

// Config says what to follow and where to keep it.
type Config struct {
	// URL of the governance repository: file://, http:// or https://.
	// Credentials in it are never logged.
	URL string
	// Branch to follow ("main").
	Branch string
	// Pin is the digest of signer-sets/0001.json, the root of trust.
	Pin string
	// Dir holds the bare clone and the last verified commit; created 0700.
	Dir string
	// PullInterval is Run's period; DefaultPullInterval when zero.
	PullInterval time.Duration
	// Timeout bounds one SyncOnce; DefaultTimeout when zero.
	Timeout time.Duration
}

// Options configure a Syncer. Config, Audit, Metrics and OnVerified are
// required.
type Options struct {
	Config  Config
	Audit   audit.Logger
	Metrics *metrics.Metrics
	// OnVerified is handed each newly verified state, whole, before it is
	// recorded as in force. It must apply it atomically or not at all: a
	// non-nil error refuses the state (ReasonApplyRefused) and the previous
	// one stays in force. It is never called concurrently. The state's
	// values are shared with the Syncer and must not be modified.
	OnVerified func(ctx context.Context, v *Verified) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives one line per sync decision; slog.Default() when nil.
	Logger *slog.Logger
}

// Verified is a verified governance head, as OnVerified receives it.
type Verified struct {
	*verify.State
	// KeyIssued maps each key version in the policy, labelled
	// "tenant/name/vN" (engine.Snapshot.KeyIssued), to when governance
	// created it: the executed_at of the execution whose policy first
	// named that version (the genesis commit's time for keys in policy
	// version 1). It is rebuilt from the history on every start, so it
	// does not depend on what this appliance saw before.
	KeyIssued map[string]time.Time
}

// Status is what a Syncer last did, for /v1/status and /readyz.
type Status struct {
	// Ready is true once a verified policy has been applied, and stays true:
	// a later refusal keeps the applied one in force.
	Ready bool
	// NotReady says why Ready is false.
	NotReady string
	// Commit, PolicyVersion and PolicyDigest describe the state in force.
	Commit        string
	PolicyVersion int
	PolicyDigest  string
	// AppliedAt is when the state in force was applied.
	AppliedAt time.Time
	// Head is the remote head seen by the last fetch.
	Head string
	// LastAttempt and LastSuccess are the start times of the last sync and
	// of the last one that ended with the verified head in force.
	LastAttempt time.Time
	LastSuccess time.Time
	// LastError is "" when the last attempt succeeded; LastReason is set
	// when it refused a head.
	LastError  string
	LastReason Reason
	// LastVerified is the number of commits the last successful attempt
	// verified (0 when the head had not moved).
	LastVerified int
}

// Syncer pulls, verifies and applies. Its methods are safe for concurrent
// use; syncs are serialised.
type Syncer struct {
	cfg        Config
	audit      audit.Logger
	m          *metrics.Metrics
	onVerified func(context.Context, *Verified) error
	now        func() time.Time
	log        *slog.Logger
	remote     string // URL for messages, credentials redacted

	mu      gosync.Mutex // one sync at a time; guards the fields below
	repo    *gitrepo.Repo
	floor   *record          // last-verified.json
	base    *verify.Verifier // the last verified state; nil until loaded
	issued  issuance         // key versions' creation times as of base
	applied bool             // base's state was accepted by OnVerified
	refused string           // the refusal last audited, "" after a success

	stMu gosync.Mutex
	st   Status

	trigger chan struct{}

	seqMu    gosync.Mutex
	started  uint64 // syncs started
	finished uint64 // sequence number of the last finished sync
	lastErr  error
	done     chan struct{} // closed and replaced when a sync finishes
}

// New checks opts, creates Config.Dir and reads the last verified commit
// recorded there. It does not touch the network: the first SyncOnce clones.
//
// A record made under another root digest than Config.Pin is an error: the
// appliance would otherwise silently follow a new root of trust.
func New(opts Options) (*Syncer, error) {
	c := opts.Config
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.URL == "" {
		bad("governance URL is required")
	}
	if c.Branch == "" {
		bad("governance branch is required")
	}
	if _, err := canon.ParseDigest(c.Pin); err != nil {
		bad("pinned root digest: %v", err)
	}
	if c.Dir == "" {
		bad("directory is required")
	}
	if c.PullInterval < 0 || c.Timeout < 0 {
		bad("pull interval and timeout must not be negative")
	}
	if opts.Audit == nil {
		bad("an audit logger is required (every applied or refused policy is audited)")
	}
	if opts.Metrics == nil {
		bad("metrics are required")
	}
	if opts.OnVerified == nil {
		bad("OnVerified is required")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if c.PullInterval == 0 {
		c.PullInterval = DefaultPullInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	// Clones interrupted by a crash.
	if stale, err := filepath.Glob(filepath.Join(c.Dir, ".clone-*")); err == nil {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	floor, err := readState(c.Dir)
	if err != nil {
		return nil, err
	}
	if floor != nil && floor.RootDigest != c.Pin {
		return nil, fmt.Errorf("sync: %s records commit %s verified under root %s, but the configuration pins %s; "+
			"if the root of trust was changed on purpose, stop the appliance and remove that file to re-anchor it",
			filepath.Join(c.Dir, StateFile), short(floor.Commit), floor.RootDigest, c.Pin)
	}
	s := &Syncer{
		cfg:        c,
		audit:      opts.Audit,
		m:          opts.Metrics,
		onVerified: opts.OnVerified,
		now:        opts.Now,
		log:        opts.Logger,
		remote:     RedactURL(c.URL),
		floor:      floor,
		trigger:    make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "sync")
	s.st.NotReady = "no governance sync has completed yet"
	return s, nil
}

// Close releases the local clone. The Syncer must not be used after.
func (s *Syncer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repo == nil {
		return nil
	}
	err := s.repo.Close()
	s.repo = nil
	return err
}

// Status returns what the Syncer last did.
func (s *Syncer) Status() Status {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	return s.st
}

func (s *Syncer) setStatus(f func(*Status)) {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	f(&s.st)
}

// SyncOnce fetches the branch, verifies the commits after the last verified
// one and applies the result. It returns nil when the verified head is in
// force (newly or already), a *RefusedError when the head was refused, a
// *NotReadyError when there is nothing to verify yet, and another error
// when the attempt could not decide (network, disk). In every non-nil case
// the state in force, if any, is unchanged.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.begin()
	err := s.syncOnce(ctx)
	s.end(seq, err)
	return err
}

func (s *Syncer) syncOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	now := s.now()
	s.setStatus(func(st *Status) { st.LastAttempt = now })
	repo, err := s.open(ctx)
	if err != nil {
		return s.failed(err)
	}
	head, err := s.fetch(ctx, repo)
	if err != nil {
		return s.failed(err)
	}
	s.setStatus(func(st *Status) { st.Head = head.String() })
	if s.base == nil {
		if err := s.load(ctx, repo, head, now); err != nil {
			return err
		}
	}
	return s.advance(ctx, repo, head, now)
}

// cloneDir names the local clone of the configured URL and branch.
func (s *Syncer) cloneDir() string {
	sum := sha256.Sum256([]byte(s.cfg.URL + "\x00" + s.cfg.Branch))
	return filepath.Join(s.cfg.Dir, "clone-"+hex.EncodeToString(sum[:8])+".git")
}

// open returns the local clone, cloning it on first use. A clone is made in
// a temporary directory and renamed into place, so a crash never leaves a
// half clone under the final name.
func (s *Syncer) open(ctx context.Context) (*gitrepo.Repo, error) {
	if s.repo != nil {
		return s.repo, nil
	}
	dir := s.cloneDir()
	if _, err := os.Stat(dir); err == nil {
		r, err := gitrepo.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("sync: opening the local clone %s: %w; it is only a copy of the remote: remove it and sync again", dir, err)
		}
		s.repo = r
		return r, nil
	}
	tmp, err := os.MkdirTemp(s.cfg.Dir, ".clone-")
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	r, err := gitrepo.CloneBare(ctx, s.cfg.URL, tmp, s.cfg.Branch)
	if err != nil {
		os.RemoveAll(tmp)
		err = redactErr(err, s.cfg.URL)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sync: cloning %s: %w", s.remote, err)
		}
		// gitrepo reports an empty repository and a missing branch alike
		// as "nothing to clone": the remote has no governance yet.
		return nil, &NotReadyError{
			Msg: fmt.Sprintf("cannot clone branch %q of %s (%v); if the repository is new or empty, push the governance genesis to it (govtool init)", s.cfg.Branch, s.remote, err),
			Err: err,
		}
	}
	r.Close()
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("sync: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return nil, err
	}
	if r, err = gitrepo.Open(dir); err != nil {
		return nil, fmt.Errorf("sync: opening the new clone: %w", err)
	}
	s.log.Info("cloned governance repository", "remote", s.remote, "branch", s.cfg.Branch)
	s.repo = r
	return r, nil
}

// fetch brings the remote branch into refs/remotes/origin/<branch> — forced:
// the ref only says what the server offers now; what is trusted is decided
// against the last verified commit — and returns its commit.
func (s *Syncer) fetch(ctx context.Context, repo *gitrepo.Repo) (gitrepo.Hash, error) {
	ref := "refs/remotes/origin/" + s.cfg.Branch
	if err := repo.Fetch(ctx, "origin", []string{"+refs/heads/" + s.cfg.Branch + ":" + ref}); err != nil {
		err = redactErr(err, s.cfg.URL)
		if errors.Is(err, gitrepo.ErrNotFound) && ctx.Err() == nil {
			return gitrepo.Hash{}, &NotReadyError{Msg: fmt.Sprintf("branch %q is not on %s (%v)", s.cfg.Branch, s.remote, err), Err: err}
		}
		return gitrepo.Hash{}, fmt.Errorf("sync: fetching %s: %w", s.remote, err)
	}
	head, err := repo.Resolve(ref)
	if err != nil {
		return gitrepo.Hash{}, fmt.Errorf("sync: %w", err)
	}
	return head, nil
}

// load builds the base verifier when this process has none: from the pinned
// root to the recorded commit, after checking that head still contains it.
func (s *Syncer) load(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash, now time.Time) error {
	v := verify.New(s.cfg.Pin, verify.Options{Now: now})
	iss := issuance{m: map[string]time.Time{}}
	if s.floor == nil {
		s.base, s.issued = v, iss
		return nil
	}
	p, err := gitrepo.ParseHash(s.floor.Commit)
	if err != nil { // parseState checked it
		return s.failed(err)
	}
	// The head must contain the recorded commit: checked before anything
	// is verified.
	var descErr error
	if _, err := repo.FirstParentChain(ctx, p, head); err != nil {
		if !errors.As(err, new(*gitrepo.NotDescendantError)) && !errors.Is(err, gitrepo.ErrNotFound) {
			return s.failed(err)
		}
		descErr = err
	}
	steps, err := walk(ctx, repo, v, p, &iss)
	if err != nil {
		var ve *verify.Error
		switch {
		case errors.As(err, &ve):
			return s.refuse(ctx, ReasonGovernanceInvalid, p, verifyDetail(ve, p),
				fmt.Sprintf("the last verified commit %s no longer verifies from the pinned root: %v", short(p.String()), ve), ve, now)
		case errors.Is(err, gitrepo.ErrNotFound) && descErr != nil:
			return s.refuse(ctx, ReasonNotDescendant, head, fmt.Sprintf("head=%s last_verified=%s", head, p),
				fmt.Sprintf("the remote branch does not contain commit %s, the last this appliance verified, and the local clone no longer holds it; "+
					"restore the branch on the server to a history that contains it", short(p.String())), descErr, now)
		default:
			return s.failed(fmt.Errorf("sync: re-verifying up to the last verified commit %s: %w", short(p.String()), err))
		}
	}
	st := v.State()
	if st.Policy == nil || st.Policy.Version < s.floor.PolicyVersion {
		got := 0
		if st.Policy != nil {
			got = st.Policy.Version
		}
		return s.refuse(ctx, ReasonPolicyRollback, p, fmt.Sprintf("commit=%s policy_version=%d enforced_version=%d", p, got, s.floor.PolicyVersion),
			fmt.Sprintf("commit %s verifies to policy version %d, lower than version %d which this appliance enforced", short(p.String()), got, s.floor.PolicyVersion), nil, now)
	}
	if st.Policy.Version == s.floor.PolicyVersion && st.PolicyDigest != s.floor.PolicyDigest {
		return s.refuse(ctx, ReasonGovernanceInvalid, p, fmt.Sprintf("commit=%s policy_digest=%s recorded_digest=%s", p, st.PolicyDigest, s.floor.PolicyDigest),
			fmt.Sprintf("commit %s verifies to policy version %d with digest %s, but this appliance recorded %s for it", short(p.String()), st.Policy.Version, st.PolicyDigest, s.floor.PolicyDigest), nil, now)
	}
	s.base, s.issued = v, iss
	s.log.Info("re-verified the last verified commit from the pinned root", "commit", p.String(), "commits", len(steps), "policy_version", st.Policy.Version)
	if descErr != nil {
		return s.refuse(ctx, ReasonNotDescendant, head, fmt.Sprintf("head=%s last_verified=%s", head, p),
			fmt.Sprintf("the remote branch no longer contains commit %s, the last this appliance verified: it was force-pushed or rolled back; "+
				"restore it on the server to a history that descends from %s", short(p.String()), p), descErr, now)
	}
	return nil
}

// advance verifies base..head on a clone of base and applies it whole.
func (s *Syncer) advance(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash, now time.Time) error {
	if s.base.State().Commit == head.String() {
		if !s.applied {
			return s.apply(ctx, s.base, s.issued, 0, now, false)
		}
		if err := s.persist(s.base.State(), now); err != nil {
			return s.failed(err)
		}
		s.succeeded(0, now)
		return nil
	}
	c := s.base.Clone()
	c.SetNow(now)
	iss := s.issued.clone()
	steps, err := walk(ctx, repo, c, head, &iss)
	if err != nil {
		var nd *gitrepo.NotDescendantError
		var ve *verify.Error
		last := s.base.State().Commit
		switch {
		case errors.As(err, &nd):
			return s.refuse(ctx, ReasonNotDescendant, head, fmt.Sprintf("head=%s last_verified=%s", head, last),
				fmt.Sprintf("the remote branch no longer contains commit %s, the last this appliance verified: it was force-pushed or rolled back; "+
					"restore it on the server to a history that descends from %s", short(last), last), err, now)
		case errors.As(err, &ve):
			return s.refuse(ctx, ReasonGovernanceInvalid, head, verifyDetail(ve, head), ve.Error(), ve, now)
		default:
			return s.failed(fmt.Errorf("sync: verifying %s..%s: %w", short(last), head.Short(), err))
		}
	}
	if c.State().Policy == nil {
		// Commits, but no genesis yet: nothing to enforce. base stays at
		// the root, so that a branch re-created before its genesis is not
		// taken for a rewrite.
		return s.failed(&NotReadyError{Msg: fmt.Sprintf("branch %q of %s has no governance genesis yet (signer-sets/0001.json and policy/policy.json): create it with govtool init and push it", s.cfg.Branch, s.remote)})
	}
	return s.apply(ctx, c, iss, len(steps), now, false)
}

// enforced is the policy version this appliance enforced: in this process
// or, before the first apply, as recorded on disk.
func (s *Syncer) enforced() int {
	v := 0
	if s.floor != nil {
		v = s.floor.PolicyVersion
	}
	if s.applied {
		if p := s.base.State().Policy; p != nil && p.Version > v {
			v = p.Version
		}
	}
	return v
}

// apply hands c's state to OnVerified and, when it is accepted, makes it
// the state in force and records it. fallback is set when c is the last
// verified state applied because a newer head was refused: the attempt's
// outcome is then that refusal, not a success.
func (s *Syncer) apply(ctx context.Context, c *verify.Verifier, iss issuance, nsteps int, now time.Time, fallback bool) error {
	st := c.State()
	head, _ := gitrepo.ParseHash(st.Commit)
	if v := s.enforced(); st.Policy.Version < v {
		return s.refuse(ctx, ReasonPolicyRollback, head, fmt.Sprintf("commit=%s policy_version=%d enforced_version=%d", st.Commit, st.Policy.Version, v),
			fmt.Sprintf("policy version %d at %s is lower than version %d, which this appliance enforced", st.Policy.Version, short(st.Commit), v), nil, now)
	}
	if err := s.onVerified(ctx, &Verified{State: st, KeyIssued: iss.clone().m}); err != nil {
		return s.refuse(ctx, ReasonApplyRefused, head, fmt.Sprintf("commit=%s policy_version=%d", st.Commit, st.Policy.Version),
			fmt.Sprintf("the engine refused policy version %d: %v", st.Policy.Version, err), err, now)
	}
	prev := ""
	if s.applied {
		prev = s.base.State().Commit
	}
	s.base, s.issued, s.applied = c, iss, true

	var errs []error
	if err := s.persist(st, now); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.audit.Append(ctx, audit.Record{
		Event:            EventPolicyApplied,
		Outcome:          audit.OutcomeOK,
		Digest:           st.PolicyDigest,
		PolicyVersion:    st.Policy.Version,
		GovernanceCommit: st.Commit,
		Detail:           fmt.Sprintf("commits_verified=%d previous=%s", nsteps, prev),
	}); err != nil {
		s.m.AuditErrors.Inc()
		s.log.Error("could not audit the policy applied", "commit", st.Commit, "err", err)
		errs = append(errs, fmt.Errorf("sync: policy version %d is in force but its audit record failed: %w", st.Policy.Version, err))
	} else {
		s.m.AuditRecords.Inc()
	}
	s.m.PolicyVersion.Set(float64(st.Policy.Version))
	open, executed := 0, 0
	for _, p := range st.Proposals {
		if p.Status == verify.StatusExecuted {
			executed++
		} else {
			open++
		}
	}
	s.m.Proposals.WithLabelValues(string(verify.StatusExecuted)).Set(float64(executed))
	s.m.Proposals.WithLabelValues(string(verify.StatusOpen)).Set(float64(open))
	s.setStatus(func(x *Status) {
		x.Commit, x.PolicyVersion, x.PolicyDigest, x.AppliedAt = st.Commit, st.Policy.Version, st.PolicyDigest, now
		x.Ready, x.NotReady = true, ""
	})
	s.log.Info("applied verified policy", "commit", st.Commit, "policy_version", st.Policy.Version, "commits_verified", nsteps)
	if fallback {
		return errors.Join(errs...)
	}
	if len(errs) > 0 {
		s.failed(errors.Join(errs...))
		return errors.Join(errs...)
	}
	s.succeeded(nsteps, now)
	return nil
}

// persist records st as the last verified commit unless it already is. A
// failure leaves the state in force and only the restart floor stale; the
// next sync tries again.
func (s *Syncer) persist(st *verify.State, now time.Time) error {
	if s.floor != nil && s.floor.Commit == st.Commit {
		return nil
	}
	r := record{Commit: st.Commit, PolicyVersion: st.Policy.Version, PolicyDigest: st.PolicyDigest, RootDigest: s.cfg.Pin}
	if err := writeState(s.cfg.Dir, r, now); err != nil {
		s.log.Error("could not record the last verified commit; a restart would re-verify from the previous one", "err", err)
		return err
	}
	s.floor = &r
	return nil
}

// succeeded records an attempt that ended with the verified head in force.
func (s *Syncer) succeeded(nsteps int, now time.Time) {
	s.refused = ""
	s.m.SyncTotal.WithLabelValues(OutcomeOK).Inc()
	s.m.LastSync.Set(float64(now.Unix()))
	s.setStatus(func(x *Status) {
		x.Ready, x.NotReady = true, ""
		x.LastSuccess, x.LastError, x.LastReason, x.LastVerified = now, "", "", nsteps
	})
}

// failed records an attempt that could not decide.
func (s *Syncer) failed(err error) error {
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		err = redactErr(err, s.cfg.URL)
	}
	s.m.SyncTotal.WithLabelValues(OutcomeError).Inc()
	s.log.Warn("governance sync failed", "remote", s.remote, "err", err)
	s.setStatus(func(x *Status) {
		x.LastError, x.LastReason = err.Error(), ""
		if !s.applied {
			x.NotReady = err.Error()
		}
	})
	return err
}

// refuse records a refused head, then, if nothing is in force yet but a
// verified state is loaded (a restart), applies that one: a refusal never
// leaves the appliance without the last verified policy.
func (s *Syncer) refuse(ctx context.Context, reason Reason, head gitrepo.Hash, detail, msg string, cause error, now time.Time) error {
	e := &RefusedError{Reason: reason, Head: head.String(), Detail: detail, Msg: msg, Err: cause}
	s.m.SyncTotal.WithLabelValues(OutcomeRefused).Inc()
	inForce, version := "", 0
	if s.applied {
		inForce, version = s.base.State().Commit, s.base.State().Policy.Version
	}
	s.log.Error("refused governance head", "reason", string(reason), "head", head.String(), "detail", detail,
		"commit_in_force", inForce, "policy_version_in_force", version, "msg", msg)
	if key := string(reason) + " " + head.String(); key != s.refused {
		s.m.PolicyRejects.WithLabelValues(string(reason)).Inc()
		if _, err := s.audit.Append(ctx, audit.Record{
			Event:            EventPolicyRefused,
			Outcome:          audit.OutcomeRejected,
			Reason:           string(reason),
			PolicyVersion:    version,
			GovernanceCommit: inForce,
			Detail:           detail,
		}); err != nil {
			s.m.AuditErrors.Inc()
			s.log.Error("could not audit the refused governance head", "head", head.String(), "err", err)
		} else {
			s.m.AuditRecords.Inc()
			s.refused = key
		}
	}
	s.setStatus(func(x *Status) {
		x.LastError, x.LastReason = e.Error(), reason
		if !s.applied {
			x.NotReady = e.Error()
		}
	})
	if !s.applied && s.base != nil && s.base.State().Policy != nil && reason != ReasonApplyRefused {
		if err := s.apply(ctx, s.base, s.issued, 0, now, true); err == nil {
			s.log.Warn("enforcing the last verified policy", "commit", s.base.State().Commit, "policy_version", s.base.State().Policy.Version)
		}
	}
	return e
}

// verifyDetail is the audit detail of a verification failure.
func verifyDetail(ve *verify.Error, head gitrepo.Hash) string {
	d := fmt.Sprintf("verify_reason=%s commit=%s head=%s", ve.Reason, ve.Commit, head)
	if ve.Path != "" {
		d += " path=" + ve.Path
	}
	return d
}

// walk verifies v along the first-parent chain to `to` (history.Verify, the
// one path) and records in iss when each key version first appears.
func walk(ctx context.Context, repo *gitrepo.Repo, v *verify.Verifier, to gitrepo.Hash, iss *issuance) ([]history.Step, error) {
	return history.Verify(ctx, repo, v, to, history.Options{
		Progress: func(done, total int, c gitrepo.CommitInfo) { iss.observe(v.State()) },
	})
}

// issuance maps key version labels to their creation time.
type issuance struct {
	m       map[string]time.Time
	version int // policy version last observed
}

func (i issuance) clone() issuance {
	return issuance{m: maps.Clone(i.m), version: i.version}
}

// observe records the key versions of st's policy not seen before, at the
// time its execution records.
func (i *issuance) observe(st *verify.State) {
	p := st.Policy
	if p == nil || p.Version == i.version {
		return
	}
	i.version = p.Version
	at := st.CommitTime
	if p.Applied != nil {
		if t, err := quorum.ParseTime(p.Applied.ExecutedAt); err == nil {
			at = t
		}
	}
	for tn, t := range p.Tenants {
		if t == nil {
			continue
		}
		for kn, k := range t.Keys {
			label := fmt.Sprintf("%s/%s/v%d", tn, kn, k.Version)
			if _, ok := i.m[label]; !ok {
				i.m[label] = at
			}
		}
	}
}
