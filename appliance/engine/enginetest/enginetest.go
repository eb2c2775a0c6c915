// Package enginetest sets up an engine on real parts for tests: a
// sealed-file backend and an audit FileLog in temporary directories, and
// governance policies built with govtool's own constructors
// (policy.Genesis, proposal.ParseChange, policy.Apply). Its keys are
// derived from fixed names and are public: it is for tests only.
package enginetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/backend/sealedfile"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// ApplianceID is the id of the appliance Env runs.
const ApplianceID = "app-1"

// Slot is the backend slot Env runs and Standard enrols.
const Slot = "default"

// Start is the clock's initial time.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Key returns the Ed25519 test key named name (seed: SHA-256 of
// "enginetest " + name).
func Key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("enginetest " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is an engine on real parts.
type Env struct {
	T        testing.TB
	Ctx      context.Context
	Clock    *Clock
	Backend  backend.Backend
	Sealed   *sealedfile.Backend
	Audit    *audit.FileLog
	AuditDir string
	Metrics  *metrics.Metrics
	Engine   *engine.Engine
	// Policy is the latest policy built (applied or not).
	Policy  *policy.Policy
	commits int
	// Commit is the commit id of the last Sync.
	Commit string
}

// Options adjust New.
type Options struct {
	// Wrap, if set, wraps the sealed-file backend (to add an ability such
	// as attestation).
	Wrap func(backend.Backend) backend.Backend
	// Engine adjusts the engine options.
	Engine func(*engine.Options)
	// AuditDir, if set, is where the audit log lives instead of a
	// temporary directory (a benchmark may put it on another file system).
	AuditDir string
}

// New opens a sealed-file backend and an audit log in t.TempDir() and
// returns an engine with no policy applied.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := &Clock{t: Start}
	sb, err := sealedfile.Open(ctx, sealedfile.Config{Dir: filepath.Join(dir, "keys"), PassphraseFile: pass, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	var b backend.Backend = sb
	if o.Wrap != nil {
		b = o.Wrap(sb)
	}
	auditDir := filepath.Join(dir, "audit")
	if o.AuditDir != "" {
		auditDir = o.AuditDir
	}
	log, err := audit.OpenFile(auditDir, ApplianceID, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	root, err := engine.DeriveRootKey(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	eo := engine.Options{ApplianceID: ApplianceID, Backend: b, BackendSlot: Slot, Audit: log, Metrics: m, Now: clock.Now, RootKey: root}
	if o.Engine != nil {
		o.Engine(&eo)
	}
	e, err := engine.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	cfg := policy.DefaultConfig(policy.ProfileProduction)
	cfg.SignerSetDigest = "sha256:" + hex.EncodeToString(make([]byte, 32))
	pol, err := policy.Genesis(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{T: t, Ctx: ctx, Clock: clock, Backend: b, Sealed: sb, Audit: log, AuditDir: auditDir, Metrics: m, Engine: e, Policy: pol}
}

// Restart returns a new engine over v's backend and audit log, with its
// options adjusted by mod and no policy applied, as a restarted appliance
// starts. It has no metrics; v.Engine is left as it is.
func (v *Env) Restart(mod func(*engine.Options)) *engine.Engine {
	v.T.Helper()
	root, err := engine.DeriveRootKey(v.Ctx, v.Backend)
	if err != nil {
		v.T.Fatal(err)
	}
	o := engine.Options{ApplianceID: ApplianceID, Backend: v.Backend, BackendSlot: Slot, Audit: v.Audit, Now: v.Clock.Now, RootKey: root}
	if mod != nil {
		mod(&o)
	}
	e, err := engine.New(o)
	if err != nil {
		v.T.Fatal(err)
	}
	return e
}

// Change builds the next policy version from one high-level change per
// spec (proposal.ParseChange syntax), each its own executed proposal, at
// the clock's time. It does not apply it.
func (v *Env) Change(scope string, specs ...string) *policy.Policy {
	v.T.Helper()
	for _, spec := range specs {
		now := v.Clock.Now()
		ops, err := proposal.ParseChange(v.Policy, scope, spec, now)
		if err != nil {
			v.T.Fatalf("change %q: %v", spec, err)
		}
		d := sha256.Sum256([]byte(fmt.Sprintf("proposal %d %s", v.Policy.Version+1, spec)))
		next, err := policy.Apply(v.Policy, ops, policy.Applied{
			Proposal:   fmt.Sprintf("20260101-test-change-%06x", v.Policy.Version+1),
			Digest:     "sha256:" + hex.EncodeToString(d[:]),
			ExecutedAt: quorum.FormatTime(now),
		})
		if err != nil {
			v.T.Fatalf("applying change %q: %v", spec, err)
		}
		v.Policy = next
	}
	return v.Policy
}

// Snapshot returns the snapshot of p at a new commit id.
func (v *Env) Snapshot(p *policy.Policy) engine.Snapshot {
	v.T.Helper()
	d, err := p.Digest()
	if err != nil {
		v.T.Fatal(err)
	}
	v.commits++
	c := sha1.Sum([]byte(fmt.Sprint("commit ", v.commits)))
	return engine.Snapshot{Policy: p, PolicyDigest: d, Commit: hex.EncodeToString(c[:])}
}

// Sync applies the latest policy.
func (v *Env) Sync() (*engine.ApplyResult, error) {
	s := v.Snapshot(v.Policy)
	v.Commit = s.Commit
	return v.Engine.Apply(v.Ctx, s)
}

// Govern makes the changes and applies them, failing the test on error.
func (v *Env) Govern(scope string, specs ...string) *engine.ApplyResult {
	v.T.Helper()
	v.Change(scope, specs...)
	res, err := v.Sync()
	if err != nil {
		v.T.Fatalf("Apply: %v", err)
	}
	return res
}

// Standard enrols the appliance and creates tenant "acme" in pqMode with
// keys "pay" (ed25519), "ec" (ecdsa-p256) and "data" (aes-256-gcm), minter
// Key("minter-acme"), and tenant "beta" with key "pay" (ed25519) and minter
// Key("minter-beta"); then applies the policy.
func (v *Env) Standard(pqMode string) *engine.ApplyResult {
	v.T.Helper()
	auditPub := envelope.EncodePublicKey(Key("audit").Public().(ed25519.PublicKey))
	v.Change(proposal.ScopeGlobal, fmt.Sprintf("enroll_appliance=%s:%s:%s:%s", ApplianceID, v.Backend.Name(), auditPub, Slot))
	for _, t := range []string{"acme", "beta"} {
		scope := "tenant:" + t
		v.Change(scope, "create_tenant", "pq_mode="+pqMode, "create_key=pay:ed25519",
			"add_minter="+envelope.EncodePublicKey(Key("minter-"+t).Public().(ed25519.PublicKey)))
		if t == "acme" {
			v.Change(scope, "create_key=ec:ecdsa-p256", "create_key=data:aes-256-gcm")
		}
	}
	res, err := v.Sync()
	if err != nil {
		v.T.Fatalf("Apply: %v", err)
	}
	return res
}

// MintRequest returns a mint request for tenant with scope, issued now,
// adjusted by mod, signed by the minter key named signer.
func (v *Env) MintRequest(tenant, signer string, scope []string, mod func(*engine.MintRequest)) *engine.MintRequest {
	v.T.Helper()
	var nonce [16]byte
	rand.Read(nonce[:])
	r := &engine.MintRequest{Type: engine.MintRequestType, Tenant: tenant, Scope: scope, TTLSeconds: 600,
		IssuedAt: quorum.FormatTime(v.Clock.Now()), Nonce: hex.EncodeToString(nonce[:])}
	if mod != nil {
		mod(r)
	}
	if err := engine.SignMintRequest(r, Key(signer)); err != nil {
		v.T.Fatal(err)
	}
	return r
}

// Token mints a capability for tenant with scope (adjusted by mod) and
// returns its token.
func (v *Env) Token(tenant string, scope []string, mod func(*engine.MintRequest)) string {
	v.T.Helper()
	res, err := v.Engine.Mint(v.Ctx, v.MintRequest(tenant, "minter-"+tenant, scope, mod))
	if err != nil {
		v.T.Fatalf("Mint: %v", err)
	}
	return res.Token
}

// Records reads every audit record written so far.
func (v *Env) Records() []audit.Record {
	v.T.Helper()
	return ReadRecords(v.T, v.AuditDir)
}

// ReadRecords reads the records of the audit log in dir (audit.FileLog's
// framing: 4-byte big-endian length, 4-byte CRC-32C, canonical JSON).
func ReadRecords(t testing.TB, dir string) []audit.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for len(data) > 0 {
		if len(data) < 8 {
			t.Fatalf("audit log: torn frame header")
		}
		n := binary.BigEndian.Uint32(data[:4])
		if uint32(len(data)-8) < n {
			t.Fatalf("audit log: torn frame body")
		}
		body := data[8 : 8+n]
		if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != binary.BigEndian.Uint32(data[4:8]) {
			t.Fatalf("audit log: bad CRC")
		}
		var r audit.Record
		if err := canon.Unmarshal(body, &r); err != nil {
			t.Fatalf("audit log record %d: %v", len(out), err)
		}
		out = append(out, r)
		data = data[8+n:]
	}
	return out
}

// MetricValue reads a collector of a single counter or gauge.
func MetricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var d dto.Metric
	if err := (<-ch).Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// MessageRepresentative is M' of draft-ietf-lamps-pq-composite-sigs for
// the composite algorithm whose label is label, written here independently
// of package pq so that tests can check its signatures on their own.
func MessageRepresentative(label string, msg, ctx []byte) []byte {
	ph := sha512.Sum512(msg)
	m := append([]byte("CompositeAlgorithmSignatures2025"), label...)
	m = append(m, byte(len(ctx)))
	m = append(m, ctx...)
	return append(m, ph[:]...)
}
