package engine

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/capability"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// MintRequestType is the type of a mint request and the <type> of the
// message its minter signs: "ron-kms/v1 mint_request <hex digest>", the
// digest being that of the request without its signatures.
const MintRequestType = "mint_request"

// RoleMinter is the role of a mint request's one signature.
const RoleMinter = "minter"

// MaxMintRequest bounds the size of a mint request.
const MaxMintRequest = 16 << 10

// MintRequest is the body of POST /v1/capabilities: what a tenant asks to be
// minted, signed by one of the tenant's minter keys in policy.
//
//	{"type":"mint_request","tenant":"acme","scope":["sign"],"alg":["ed25519"],
//	 "key":"acme/pay*","ttl_seconds":600,"rps":10,"single_use":false,
//	 "issued_at":"2026-03-01T12:00:00Z","nonce":"<32 hex>",
//	 "signatures":[{"role":"minter","key_id":"<hex>","sig":"<base64>"}]}
//
// alg, key and rps are optional (absent, not empty or zero); everything
// else is required. It is accepted for MintWindow after issued_at, and each
// nonce once per minter key.
type MintRequest struct {
	Type       string   `json:"type"`
	Tenant     string   `json:"tenant"`
	Scope      []string `json:"scope"`
	Alg        []string `json:"alg,omitempty"`
	Key        string   `json:"key,omitempty"`
	TTLSeconds int      `json:"ttl_seconds"`
	RPS        int      `json:"rps,omitempty"`
	SingleUse  bool     `json:"single_use"`
	IssuedAt   string   `json:"issued_at"`
	Nonce      string   `json:"nonce"`
	// Signatures holds exactly one entry, by a minter key of the tenant.
	Signatures []envelope.Signature `json:"signatures"`
}

// ParseMintRequest decodes a mint request strictly (canon.Unmarshal: I-JSON,
// no unknown or duplicate fields, no null, what is signed is what is acted
// on) and checks its shape. The error is a *Reject with bad_request.
func ParseMintRequest(data []byte) (*MintRequest, error) {
	if len(data) > MaxMintRequest {
		return nil, rejectf(ReasonBadRequest, "mint request is %d bytes, at most %d", len(data), MaxMintRequest)
	}
	var r MintRequest
	if err := canon.Unmarshal(data, &r); err != nil {
		return nil, rejectf(ReasonBadRequest, "mint request: %v", err)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *MintRequest) check() *Reject {
	switch {
	case r.Type != MintRequestType:
		return rejectf(ReasonBadRequest, "mint request type is %s, want %q", quote(r.Type), MintRequestType)
	case len(r.Scope) == 0:
		return rejectf(ReasonBadRequest, "mint request has no scope")
	case r.TTLSeconds < 1:
		return rejectf(ReasonBadRequest, "mint request ttl_seconds must be 1 or more")
	case r.RPS < 0:
		return rejectf(ReasonBadRequest, "mint request rps must be positive")
	case !id128RE.MatchString(r.Nonce):
		return rejectf(ReasonBadRequest, "mint request nonce must be 32 lower-case hex digits")
	case len(r.Signatures) != 1:
		return rejectf(ReasonBadRequest, "mint request has %d signatures, want exactly one by a minter key", len(r.Signatures))
	case r.Signatures[0].Role != RoleMinter:
		return rejectf(ReasonBadRequest, "mint request signature has role %s, want %q", quote(r.Signatures[0].Role), RoleMinter)
	}
	if _, err := quorum.ParseTime(r.IssuedAt); err != nil {
		return rejectf(ReasonBadRequest, "mint request issued_at: %v", err)
	}
	if err := r.Signatures[0].Validate(); err != nil {
		return rejectf(ReasonBadRequest, "mint request signature: %v", err)
	}
	return nil
}

// Digest is the request's digest (its signatures left out).
func (r *MintRequest) Digest() (string, error) { return canon.DigestOf(r) }

// SignMintRequest signs r with an Ed25519 minter key, replacing its
// signatures: what a tenant's tooling does before POST /v1/capabilities.
func SignMintRequest(r *MintRequest, minter crypto.Signer) error {
	r.Signatures = nil
	d, err := r.Digest()
	if err != nil {
		return fmt.Errorf("engine: mint request: %w", err)
	}
	s, err := envelope.Sign(minter, RoleMinter, MintRequestType, d)
	if err != nil {
		return err
	}
	r.Signatures = []envelope.Signature{s}
	return nil
}

// MintResult is a minted capability. Token is a bearer secret: it is
// returned to the caller once and never logged or audited.
type MintResult struct {
	Token   string        `json:"token"`
	ID      string        `json:"id"`
	Tenant  string        `json:"tenant"`
	Expires string        `json:"expires"`
	Caveats []string      `json:"caveats"`
	Receipt audit.Receipt `json:"receipt"`
}

// Mint mints a capability for a signed mint request, within the tenant's
// policy ceilings (max active, rate per minute, max TTL; K-G3).
//
// Checks, in order: ready; the request's shape (bad_request); the tenant
// and the minter key in policy (minter_unknown); the signature
// (minter_bad_signature); issued_at within MintWindow, and at most MintSkew
// ahead (mint_request_stale); the nonce unused (mint_request_replayed;
// recorded only once the signature verified); then capability.Minter.Mint
// (malformed, ttl_exceeded, mint_rate, mint_ceiling). If the audit record
// cannot be written the capability is revoked before audit_unavailable is
// returned, so it never counts toward the ceiling unseen.
func (e *Engine) Mint(ctx context.Context, req *MintRequest) (*MintResult, error) {
	rec := audit.Record{Event: EventMint}
	release, rej := e.admit(&rec)
	defer release()
	var res *MintResult
	if rej == nil {
		res, rej = e.mint(ctx, req, &rec)
	}
	receipt, rej := e.decide(ctx, &rec, rej)
	if rej != nil {
		if res != nil {
			e.reg.Revoke(res.ID)
		}
		return nil, rej
	}
	res.Receipt = receipt
	if e.m != nil {
		e.m.CapabilitiesMinted.WithLabelValues(res.Tenant).Inc()
		e.m.CapabilitiesActive.WithLabelValues(res.Tenant).Set(float64(e.reg.Active(res.Tenant, e.now())))
	}
	return res, nil
}

func (e *Engine) mint(_ context.Context, req *MintRequest, rec *audit.Record) (*MintResult, *Reject) {
	now := e.now()
	st, rej := e.start("", rec)
	if rej != nil {
		return nil, rej
	}
	if req == nil {
		return nil, rejectf(ReasonBadRequest, "no mint request")
	}
	if rej := req.check(); rej != nil {
		return nil, rej
	}
	digest, err := req.Digest()
	if err != nil {
		return nil, rejectf(ReasonBadRequest, "mint request: %v", err)
	}
	rec.Digest = digest
	t, ok := st.pol.Tenants[req.Tenant]
	if !ok {
		return nil, rejectf(ReasonMinterUnknown, "tenant %s is not in policy version %d, so no key may mint for it", quote(req.Tenant), st.pol.Version)
	}
	rec.Tenant = req.Tenant
	sig := req.Signatures[0]
	pub, ok := st.minters[req.Tenant][sig.KeyID]
	if !ok {
		return nil, rejectf(ReasonMinterUnknown, "key %.16s is not a minter of tenant %s in policy version %d; add it by proposal (add_minter)", sig.KeyID, req.Tenant, st.pol.Version)
	}
	rec.Detail = "minter " + sig.KeyID
	if err := envelope.Verify(pub, MintRequestType, digest, sig); err != nil {
		return nil, rejectf(ReasonMinterBadSignature, "the mint request signature by minter %.16s does not verify (the request changed after it was signed, or another key signed it); sign it again with that minter's key", sig.KeyID)
	}
	issued, _ := quorum.ParseTime(req.IssuedAt)
	if now.Sub(issued) > MintWindow || issued.Sub(now) > MintSkew {
		return nil, rejectf(ReasonMintStale, "mint request issued at %s is outside the %v window around now (%s); sign a fresh one", req.IssuedAt, MintWindow, quorum.FormatTime(now))
	}
	switch err := e.mintNonces.Use(sig.KeyID, req.Nonce, issued.Add(MintWindow+MintSkew), now); {
	case errors.Is(err, capability.ErrNonceReused):
		return nil, rejectf(ReasonMintReplayed, "mint request nonce %s by minter %.16s was used before; sign a new mint request with a fresh nonce", req.Nonce, sig.KeyID)
	case err != nil:
		return nil, AsReject(&capability.Error{Reason: capability.ReasonUnavailable, Msg: "recording the mint request nonce: " + err.Error()}, ReasonBackendError)
	}
	c, err := e.minter.Mint(capability.MintRequest{
		Tenant: req.Tenant, Ops: req.Scope, Algs: req.Alg, Key: req.Key,
		TTL: time.Duration(req.TTLSeconds) * time.Second, RPS: req.RPS, SingleUse: req.SingleUse,
	}, capability.Limits{MaxActive: t.Mint.MaxActive, MintPerMinute: t.Mint.RatePerMinute, MaxTTL: time.Duration(t.Mint.MaxTTLSeconds) * time.Second}, now)
	if err != nil {
		return nil, AsReject(err, ReasonBackendError)
	}
	rec.CapabilityID = c.ID
	rec.Detail += "; " + strings.Join(c.Caveats, "; ")
	return &MintResult{Token: c.Token(), ID: c.ID, Tenant: c.Tenant, Expires: quorum.FormatTime(c.Expires), Caveats: c.Caveats}, nil
}

// Status is the appliance's public state: GET /v1/status.
type Status struct {
	ApplianceID string `json:"appliance_id"`
	Ready       bool   `json:"ready"`
	// NotReady is the reason (not_ready, not_enrolled) and Message the
	// words, when not ready.
	NotReady         Reason            `json:"not_ready,omitempty"`
	Message          string            `json:"message,omitempty"`
	Backend          string            `json:"backend"`
	Slot             string            `json:"slot"`
	GovernanceCommit string            `json:"governance_commit"`
	PolicyVersion    int               `json:"policy_version"`
	PolicyDigest     string            `json:"policy_digest"`
	Freeze           FreezeStatus      `json:"freeze"`
	Attestation      AttestationStatus `json:"attestation"`
	PQ               PQStatus          `json:"pq"`
	KeysOverMaxAge   int               `json:"keys_over_max_age"`
}

// FreezeStatus is the emergency freeze in policy.
type FreezeStatus struct {
	Active bool   `json:"active"`
	Until  string `json:"until,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// AttestationStatus says whether policy requires attestation and whether
// the backend attests now.
type AttestationStatus struct {
	Required bool   `json:"required"`
	OK       bool   `json:"ok"`
	Detail   string `json:"detail,omitempty"`
}

// PQStatus is the PQ default and each tenant's mode in force.
type PQStatus struct {
	Default string            `json:"default"`
	Tenants map[string]string `json:"tenants"`
}

// Status returns the appliance's state. It runs the backend's attestation
// check (if it has one) and refreshes the freeze and key-age metrics.
func (e *Engine) Status(ctx context.Context) Status {
	now := e.now()
	s := Status{ApplianceID: e.id, Backend: e.b.Name(), Slot: e.slot, PQ: PQStatus{Tenants: map[string]string{}}}
	if r := e.NotReady(); r != nil {
		s.NotReady, s.Message = r.Reason, r.Msg
	} else {
		s.Ready = true
	}
	err := e.attest(ctx)
	s.Attestation.OK = err == nil
	if err != nil {
		s.Attestation.Detail = err.Error()
	}
	st := e.st.Load()
	if st == nil {
		return s
	}
	pol := st.pol
	s.GovernanceCommit, s.PolicyVersion, s.PolicyDigest = st.commit, pol.Version, st.digest
	s.Attestation.Required = pol.Attestation.Required
	if pol.Freeze != nil {
		s.Freeze = FreezeStatus{Active: pol.Frozen(now), Until: pol.Freeze.Until, Reason: pol.Freeze.Reason}
	}
	s.PQ.Default = pol.PQ.DefaultMode
	for name, t := range pol.Tenants {
		s.PQ.Tenants[name] = t.PQMode
	}
	for _, k := range st.keys {
		if k.tooOld(now) && !k.revoked {
			s.KeysOverMaxAge++
		}
	}
	if e.m != nil {
		e.m.Frozen.Set(b2f(s.Freeze.Active))
		e.keyAgeMetrics(st, now)
	}
	return s
}
