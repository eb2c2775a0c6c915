package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/capability"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// RootKeyInfo is the DeriveSeed info from which the capability root key
// is derived: the same backend always gives the same root key, so
// capabilities survive a restart, and no other derivation can collide with
// it (ML-DSA seeds use "ron-kms/v1 mldsa65 <label>").
const RootKeyInfo = "ron-kms/v1 capability-root"

// DeriveRootKey returns the capability root key of the appliance whose
// backend is b (DeriveSeed over RootKeyInfo).
func DeriveRootKey(ctx context.Context, b backend.Backend) ([]byte, error) {
	seed, err := b.DeriveSeed(ctx, []byte(RootKeyInfo))
	if err != nil {
		return nil, fmt.Errorf("engine: deriving the capability root key: %w", err)
	}
	out := slices.Clone(seed[:])
	clear(seed[:])
	return out, nil
}

// Audit event names the engine writes.
const (
	EventSign   = "sign"
	EventVerify = "verify"
	EventWrap   = "wrap"
	EventUnwrap = "unwrap"
	EventMint   = "mint"
	EventRevoke = "revoke"
	EventPolicy = "policy"
	EventFreeze = "freeze"
	EventKey    = "key"
	EventSync   = "sync"
	// EventRequest is an HTTP request refused before it reached an
	// operation (size, route, JSON).
	EventRequest = "request"
)

// Defaults of Options.
const (
	DefaultMaxNonces      = 1 << 16
	DefaultMaxRateBuckets = 1 << 16
	// MintWindow is how long a signed mint request stays acceptable after
	// its issued_at; MintSkew how far in the future issued_at may be.
	MintWindow = 5 * time.Minute
	MintSkew   = time.Minute
	// DefaultMaxAge applies to a key whose policy sets no max_age_days.
	DefaultMaxAge = 90 * 24 * time.Hour
)

// Options configure New. ApplianceID, Backend, BackendSlot, Audit and
// RootKey are required.
type Options struct {
	// ApplianceID is this appliance's id; policy must enrol it.
	ApplianceID string
	// Backend holds the keys; Backend.Name() is the kind enrolment must name.
	Backend backend.Backend
	// BackendSlot is the slot the appliance runs its backend in (config
	// backend.slot); enrolment must name the same.
	BackendSlot string
	// Audit receives every decision before its answer is released.
	Audit audit.Logger
	// Metrics, if set, receives the kms_* metrics.
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RootKey is the capability root key (capability.RootKeySize bytes);
	// DeriveRootKey computes it from the backend.
	RootKey []byte
	// MaxNonces bounds the single-use capability nonces and the mint
	// request nonces remembered (each); beyond it requests fail closed.
	MaxNonces int
	// MaxRateBuckets bounds the rps buckets held.
	MaxRateBuckets int
	// NonceDir, when set, keeps the nonces of single-use capabilities and
	// of mint requests in files there, so they stay used across restarts.
	// Empty keeps them in memory only (tests).
	NonceDir string
}

// Snapshot is a verified governance head, as the sync loop hands it to Apply.
type Snapshot struct {
	// Policy is the verified policy; Apply keeps its own copy.
	Policy *policy.Policy
	// PolicyDigest is Policy's digest as the verifier computed it.
	PolicyDigest string
	// Commit is the governance commit verified (40 or 64 lower-case hex).
	Commit string
	// KeyIssued maps a key version's label ("tenant/name/vN") to when
	// governance created that version (appliance/sync records the
	// executed_at of the first verified policy naming it). Key age
	// (max_age_days) is counted from it. For a version missing here the
	// engine uses the executed_at of the first policy it applied that names
	// the version (the time of that Apply if it has none), which after a
	// restart can be later than the truth: fill KeyIssued.
	KeyIssued map[string]time.Time
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	// Applied is true when the snapshot's policy is now in force.
	Applied bool
	Version int
	// Generated lists the key labels generated inside the backend.
	Generated []string
	// Proofs lists the labels (of the new version) for which a
	// continuity proof was written.
	Proofs []string
	// Revoked lists capability ids newly registered as revoked.
	Revoked []string
	// KeyErrors maps a key label to why it is unusable on this appliance.
	KeyErrors map[string]string
}

// Engine enforces the policy in force. It is safe for concurrent use:
// operations read the state through one atomic pointer that Apply swaps.
type Engine struct {
	id   string
	b    backend.Backend
	slot string
	log  audit.Logger
	m    *metrics.Metrics
	now  func() time.Time

	reg        *capability.Registry
	minter     *capability.Minter
	checker    *capability.Checker
	mintNonces capability.NonceStore

	st atomic.Pointer[state]

	applyMu   sync.Mutex
	firstSeen map[string]time.Time // label → issued time assumed (applyMu)
	proofs    map[string][]byte    // label of the new version → proof (applyMu)
	freeze    string               // until of the last freeze counted (applyMu)

	pubs    sync.Map // label → *keyPub; labels are never reused, so this never goes stale
	decoded decoded  // capability tokens that passed a check, decoded

	fairMu sync.Mutex
	fair   map[string]uint64

	inflight atomic.Int64

	attMu   sync.Mutex
	attLast time.Time // time of the last attestation check
	attOK   bool      // its outcome
}

// state is one applied policy with everything derived from it. It is never
// modified after it is published.
type state struct {
	pol      *policy.Policy
	digest   string
	commit   string
	notReady *Reject // nil when ready
	keys     map[string]*keyState
	minters  map[string]map[string]ed25519.PublicKey // tenant → key id → key
}

// keyState is one policy key as this appliance holds it.
type keyState struct {
	tenant, name string
	alg          backend.Algorithm
	version      int
	revoked      bool
	maxAge       time.Duration
	issued       time.Time
	cur          string   // label of the current version
	err          *Reject  // the current version is unusable here (not generated, wrong algorithm)
	proofs       [][]byte // continuity proofs, oldest first
}

func (k *keyState) label() string { return versionLabel(k.tenant, k.name, k.version) }

func versionLabel(tenant, name string, v int) string {
	return fmt.Sprintf("%s/%s/v%d", tenant, name, v)
}

// keyRecord fills r's key fields from a version label tenant/name/vN: the
// label, and its tenant and version as a sign or wrap record has them.
func keyRecord(r *audit.Record, label string) {
	r.Key = label
	tenant, rest, _ := strings.Cut(label, "/")
	_, ver, ok := strings.Cut(rest, "/v")
	if n, err := strconv.Atoi(ver); ok && err == nil && n > 0 {
		r.Tenant, r.KeyVersion = tenant, n
	}
}

// New returns an engine with no policy: not ready until Apply succeeds.
func New(o Options) (*Engine, error) {
	switch {
	case !policy.ApplianceRE.MatchString(o.ApplianceID):
		return nil, fmt.Errorf("engine: appliance id %q is malformed (%s)", o.ApplianceID, policy.ApplianceRE)
	case o.Backend == nil:
		return nil, errors.New("engine: no backend")
	case o.BackendSlot == "":
		return nil, errors.New("engine: no backend slot; set it to the slot the enrolment names")
	case o.Audit == nil:
		return nil, errors.New("engine: no audit logger; every decision must be audited")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxNonces <= 0 {
		o.MaxNonces = DefaultMaxNonces
	}
	if o.MaxRateBuckets <= 0 {
		o.MaxRateBuckets = DefaultMaxRateBuckets
	}
	var capNonces, mintNonces capability.NonceStore = capability.NewMemNonceStore(o.MaxNonces), capability.NewMemNonceStore(o.MaxNonces)
	if o.NonceDir != "" {
		if err := os.MkdirAll(o.NonceDir, 0o700); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		var err error
		if capNonces, err = capability.OpenFileNonceStore(filepath.Join(o.NonceDir, "capability-nonces"), o.MaxNonces, o.Now()); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		if mintNonces, err = capability.OpenFileNonceStore(filepath.Join(o.NonceDir, "mint-nonces"), o.MaxNonces, o.Now()); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	e := &Engine{
		id: o.ApplianceID, b: o.Backend, slot: o.BackendSlot, log: o.Audit, m: o.Metrics, now: o.Now,
		reg:        capability.NewRegistry(),
		mintNonces: mintNonces,
		firstSeen:  make(map[string]time.Time),
		proofs:     make(map[string][]byte),
		fair:       make(map[string]uint64),
	}
	var err error
	if e.minter, err = capability.NewMinter(o.RootKey, e.reg); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if e.checker, err = capability.NewChecker(o.RootKey, e.reg, capNonces, capability.NewLimiter(o.MaxRateBuckets)); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return e, nil
}

// ApplianceID returns the appliance id.
func (e *Engine) ApplianceID() string { return e.id }

// Ready reports whether the engine serves requests: a verified policy is
// applied and enrols this appliance with its backend kind and slot. When
// not, reason says why in words.
func (e *Engine) Ready() (ok bool, reason string) {
	if r := e.NotReady(); r != nil {
		return false, r.Msg
	}
	return true, ""
}

// NotReady returns why the engine is not ready (ReasonNotReady or
// ReasonNotEnrolled), or nil when it is.
func (e *Engine) NotReady() *Reject {
	st := e.st.Load()
	if st == nil {
		return errNoPolicy
	}
	return st.notReady
}

var errNoPolicy = rejectf(ReasonNotReady, "no verified policy is loaded yet; the appliance serves once it has synced and verified the governance repository")

// Formats the engine checks itself, taken from schemas/defs.json: a Git
// commit id, and a 128-bit id (a request id, a mint request's nonce).
var (
	commitRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/git_commit"))
	id128RE  = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/id128"))
)

// Apply puts a verified snapshot in force, atomically: requests see either
// the old policy or the new one with everything derived from it.
//
// It refuses (with a *Reject, audited, nothing changed) a snapshot whose
// policy does not validate, does not match PolicyDigest or comes without a
// commit (policy_invalid), a lower policy version than the one in force
// (policy_rollback) and the same version with another digest
// (policy_conflict). The same version and digest again is accepted: it
// updates the governance commit and retries what failed before.
//
// Otherwise, before the swap: it checks enrolment (this appliance in
// policy.Appliances with the backend kind and slot it runs; if not, the
// policy is in force but the engine is not ready, and no key is made);
// generates inside the backend every current key version policy names that
// the backend lacks (K-G1; never imported; revoked keys are not made);
// writes continuity proofs for each pair of consecutive versions of a
// signing key that the backend holds; registers revoked capability ids.
// A key that cannot be made is unusable (its requests are refused with the
// reason in ApplyResult.KeyErrors) without holding back the rest of the
// policy, so a revocation or freeze never waits for a backend.
//
// After the swap it writes the audit records: keys generated, proofs,
// revocations, a new freeze, and the policy applied. If one cannot be
// written Apply returns audit_unavailable with Applied still true: the
// newer policy stays in force (refusing it could keep revoked authority
// alive), and no request is served while audit fails anyway.
func (e *Engine) Apply(ctx context.Context, s Snapshot) (*ApplyResult, error) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	now := e.now()
	prev := e.st.Load()
	if rej := checkSnapshot(prev, s); rej != nil {
		rec := audit.Record{Event: EventPolicy, GovernanceCommit: commitOrEmpty(s.Commit)}
		if s.Policy != nil {
			rec.PolicyVersion = s.Policy.Version
		}
		_, rej = e.decide(ctx, &rec, rej)
		return &ApplyResult{}, rej
	}
	pol := s.Policy.Clone()
	res := &ApplyResult{Applied: true, Version: pol.Version, KeyErrors: map[string]string{}}
	st := &state{pol: pol, digest: s.PolicyDigest, commit: s.Commit, keys: map[string]*keyState{}, minters: map[string]map[string]ed25519.PublicKey{}}

	if a, ok := pol.Appliances[e.id]; !ok {
		st.notReady = rejectf(ReasonNotEnrolled, "policy version %d does not enrol appliance %s; enrol it by proposal (enroll_appliance=%s:%s:<audit key>:%s)", pol.Version, e.id, e.id, e.b.Name(), e.slot)
	} else if a.Backend.Kind != e.b.Name() || a.Backend.Slot != e.slot {
		st.notReady = rejectf(ReasonNotEnrolled, "policy version %d enrols appliance %s with backend %s slot %q, but it runs backend %s slot %q; change the configuration or the enrolment by proposal", pol.Version, e.id, a.Backend.Kind, a.Backend.Slot, e.b.Name(), e.slot)
	}

	var executed time.Time
	if pol.Applied != nil {
		executed, _ = quorum.ParseTime(pol.Applied.ExecutedAt)
	}
	if executed.IsZero() {
		executed = now
	}
	for _, tname := range slices.Sorted(maps.Keys(pol.Tenants)) {
		t := pol.Tenants[tname]
		ms := map[string]ed25519.PublicKey{}
		for _, m := range t.Minters {
			if pub, err := envelope.DecodePublicKey(m.PublicKey); err == nil && envelope.KeyID(pub) == m.KeyID {
				ms[m.KeyID] = pub
			}
		}
		st.minters[tname] = ms
		for _, kname := range slices.Sorted(maps.Keys(t.Keys)) {
			k := t.Keys[kname]
			ks := &keyState{tenant: tname, name: kname, alg: backend.Algorithm(k.Alg), version: k.Version, revoked: k.Revoked,
				maxAge: time.Duration(k.MaxAgeDays) * 24 * time.Hour}
			if ks.maxAge <= 0 {
				ks.maxAge = DefaultMaxAge
			}
			label := ks.label()
			ks.cur = label
			if at, ok := s.KeyIssued[label]; ok {
				ks.issued = at
			} else if at, ok := e.firstSeen[label]; ok {
				ks.issued = at
			} else {
				ks.issued = executed
			}
			e.firstSeen[label] = ks.issued
			if st.notReady == nil {
				e.reconcile(ctx, ks, res)
			}
			st.keys[tname+"/"+kname] = ks
		}
	}
	var newlyRevoked []string
	for _, id := range pol.Revocations.Capabilities {
		if !e.reg.Revoked(id) {
			newlyRevoked = append(newlyRevoked, id)
		}
		e.reg.Revoke(id)
	}
	res.Revoked = newlyRevoked

	e.st.Store(st)
	e.updateMetrics(st, now)

	// Audit what happened, then the policy itself.
	base := audit.Record{PolicyVersion: pol.Version, GovernanceCommit: s.Commit, Outcome: audit.OutcomeOK}
	var recs []audit.Record
	for _, l := range res.Generated {
		r := base
		r.Event, r.Detail = EventKey, "generated inside backend "+e.b.Name()
		keyRecord(&r, l)
		recs = append(recs, r)
	}
	for _, l := range res.Proofs {
		r := base
		r.Event, r.Detail = EventKey, "continuity proof written"
		keyRecord(&r, l)
		recs = append(recs, r)
	}
	for _, l := range slices.Sorted(maps.Keys(res.KeyErrors)) {
		r := base
		r.Event, r.Outcome, r.Reason, r.Detail = EventKey, audit.OutcomeError, string(st.keyErr(l)), res.KeyErrors[l]
		keyRecord(&r, l)
		recs = append(recs, r)
	}
	for _, id := range newlyRevoked {
		r := base
		r.Event, r.CapabilityID, r.Detail = EventRevoke, id, "capability revoked by policy"
		recs = append(recs, r)
	}
	if pol.Freeze != nil && pol.Freeze.Until != e.freeze && pol.Frozen(now) {
		e.freeze = pol.Freeze.Until
		if e.m != nil {
			e.m.Freezes.Inc()
		}
		r := base
		r.Event, r.Detail = EventFreeze, "freeze until "+pol.Freeze.Until
		recs = append(recs, r)
	}
	r := base
	r.Event, r.Digest = EventPolicy, s.PolicyDigest
	r.Detail = fmt.Sprintf("policy version %d applied", pol.Version)
	if st.notReady != nil {
		r.Detail += "; not ready: " + st.notReady.Msg
	}
	recs = append(recs, r)
	for _, rec := range recs {
		if _, err := e.log.Append(ctx, rec); err != nil {
			e.auditFailed()
			return res, rejectf(ReasonAuditUnavailable, "policy version %d is in force but its audit record could not be written: %v", pol.Version, err)
		}
		e.auditOK()
	}
	return res, nil
}

func (st *state) keyErr(label string) Reason {
	for _, k := range st.keys {
		if k.label() == label && k.err != nil {
			return k.err.Reason
		}
	}
	return ReasonBackendError
}

func commitOrEmpty(c string) string {
	if commitRE.MatchString(c) {
		return c
	}
	return ""
}

// checkSnapshot refuses what Apply must not put in force.
func checkSnapshot(prev *state, s Snapshot) *Reject {
	if s.Policy == nil {
		return rejectf(ReasonPolicyInvalid, "snapshot has no policy")
	}
	if err := s.Policy.Validate(); err != nil {
		return rejectf(ReasonPolicyInvalid, "snapshot policy does not validate: %v", err)
	}
	d, err := s.Policy.Digest()
	if err != nil || d != s.PolicyDigest {
		return rejectf(ReasonPolicyInvalid, "snapshot policy digest %s does not match the policy (%s)", quote(s.PolicyDigest), d)
	}
	if !commitRE.MatchString(s.Commit) {
		return rejectf(ReasonPolicyInvalid, "snapshot commit %s is not a Git commit id", quote(s.Commit))
	}
	if prev == nil {
		return nil
	}
	switch v, cur := s.Policy.Version, prev.pol.Version; {
	case v < cur:
		return rejectf(ReasonPolicyRollback, "policy version %d (commit %s) is lower than version %d in force; refusing a rollback", v, s.Commit, cur)
	case v == cur && d != prev.digest:
		return rejectf(ReasonPolicyConflict, "policy version %d (commit %s) has digest %s, but version %d in force has %s; refusing a fork", v, s.Commit, d, cur, prev.digest)
	}
	return nil
}

// decide writes rec with the outcome of rej (nil: served) and returns the
// receipt, or the reject to return: rej itself, or audit_unavailable if the
// record could not be written (nothing is released then).
func (e *Engine) decide(ctx context.Context, rec *audit.Record, rej *Reject) (audit.Receipt, *Reject) {
	if rej != nil {
		rec.Outcome, rec.Reason, rec.Detail = audit.OutcomeRejected, string(rej.Reason), rej.Msg
	} else {
		rec.Outcome = audit.OutcomeOK
	}
	// The record must be written even when the request's own context is
	// done: a decision is never left unaudited because a client went away.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	receipt, err := e.log.Append(actx, *rec)
	if err != nil {
		e.auditFailed()
		e.countReject(ReasonAuditUnavailable)
		return audit.Receipt{}, rejectf(ReasonAuditUnavailable, "the audit log could not record this decision, so nothing is released: %v", err)
	}
	e.auditOK()
	if rej != nil {
		e.countReject(rej.Reason)
	}
	return receipt, rej
}

// admit counts a request in progress against policy's inflight cap. The
// caller runs release when done, whether or not it was admitted.
func (e *Engine) admit(rec *audit.Record) (release func(), rej *Reject) {
	n := e.inflight.Add(1)
	release = func() { e.inflight.Add(-1) }
	if st := e.st.Load(); st != nil && n > int64(st.pol.Limits.InflightCap) {
		rec.PolicyVersion, rec.GovernanceCommit = st.pol.Version, st.commit
		r := rejectf(ReasonOverloaded, "%d requests are in progress, policy allows %d (limits.inflight_cap); retry shortly", n-1, st.pol.Limits.InflightCap)
		r.RetryAfter = time.Second
		return release, r
	}
	return release, nil
}

// Refuse audits and counts a refusal decided outside the engine's
// operations (the API's size, route and JSON checks, a webhook without a
// valid signature) and returns what to answer: r, or audit_unavailable.
func (e *Engine) Refuse(ctx context.Context, event, requestID string, r *Reject) *Reject {
	rec := audit.Record{Event: event}
	if st := e.st.Load(); st != nil {
		rec.PolicyVersion, rec.GovernanceCommit = st.pol.Version, st.commit
	}
	if id128RE.MatchString(requestID) {
		rec.RequestID = requestID
	}
	_, rej := e.decide(ctx, &rec, r)
	return rej
}

func (e *Engine) countReject(r Reason) {
	if e.m != nil {
		e.m.PolicyRejects.WithLabelValues(string(r)).Inc()
	}
}

func (e *Engine) auditOK() {
	if e.m != nil {
		e.m.AuditRecords.Inc()
	}
}

func (e *Engine) auditFailed() {
	if e.m != nil {
		e.m.AuditErrors.Inc()
	}
}

// requestID checks a caller's request id, or makes one.
func requestID(id string) (string, *Reject) {
	if id == "" {
		var b [16]byte
		if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
			return "", rejectf(ReasonBackendError, "reading randomness for a request id: %v", err)
		}
		return hex.EncodeToString(b[:]), nil
	}
	if !id128RE.MatchString(id) {
		return "", rejectf(ReasonBadRequest, "request_id %s is not 32 lower-case hex digits", quote(id))
	}
	return id, nil
}

// updateMetrics sets the gauges that follow the policy.
func (e *Engine) updateMetrics(st *state, now time.Time) {
	if e.m == nil {
		return
	}
	e.m.PolicyVersion.Set(float64(st.pol.Version))
	e.m.Frozen.Set(b2f(st.pol.Frozen(now)))
	e.m.PQPhase.Reset()
	e.m.CapabilitiesActive.Reset()
	for name, t := range st.pol.Tenants {
		for _, mode := range policy.PQModes {
			e.m.PQPhase.WithLabelValues(name, mode).Set(b2f(mode == t.PQMode))
		}
		e.m.CapabilitiesActive.WithLabelValues(name).Set(float64(e.reg.Active(name, now)))
	}
	e.keyAgeMetrics(st, now)
}

func (e *Engine) keyAgeMetrics(st *state, now time.Time) {
	if e.m == nil {
		return
	}
	e.m.KeyAgeDays.Reset()
	old := 0
	for _, k := range st.keys {
		e.m.KeyAgeDays.WithLabelValues(k.tenant, k.name).Set(now.Sub(k.issued).Hours() / 24)
		if k.tooOld(now) && !k.revoked {
			old++
		}
	}
	e.m.KeysTooOld.Set(float64(old))
}

func (k *keyState) tooOld(now time.Time) bool { return !now.Before(k.issued.Add(k.maxAge)) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// served counts a served request for the fairness metric: max over mean of
// per-tenant counts since start.
func (e *Engine) served(tenant string) {
	if e.m == nil {
		return
	}
	e.fairMu.Lock()
	e.fair[tenant]++
	var sum, mx uint64
	for _, n := range e.fair {
		sum += n
		mx = max(mx, n)
	}
	n := len(e.fair)
	e.fairMu.Unlock()
	e.m.FairnessSkew.Set(float64(mx) * float64(n) / float64(sum))
}
