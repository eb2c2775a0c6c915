package engine

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/capability"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// HashSHA256 is the one pre-hash Sign and Verify accept with a Digest.
const HashSHA256 = "sha256"

// SignRequest asks for a signature by the current version of a key.
//
// Exactly one of Message and Digest is set. A Digest is accepted only where
// the signature algorithm itself takes one: ECDSA P-256 in PQ mode off, with
// Hash "sha256" and 32 bytes (the signature is the same as over the
// message). Ed25519 (pure, RFC 8032), composite and ML-DSA signatures cover
// the whole message, so they need Message.
type SignRequest struct {
	Tenant string
	// Key is the key's name within the tenant.
	Key string
	// Version, if not 0, must be the current version (key_superseded
	// otherwise): only the current version makes new signatures.
	Version int
	Message []byte
	Digest  []byte
	Hash    string
	// Context is the application context a composite or ML-DSA signature
	// binds (at most 255 bytes); mode off cannot bind one.
	Context []byte
	// Alg, if set, is the signature algorithm the caller expects (as
	// SignResult.Alg); another one in force is refused with pq_mode, so a
	// client never receives a form it did not ask for.
	Alg string
	// RequestID is 32 lower-case hex digits, or empty to have one made.
	RequestID string
}

// SignResult is a signature and what a verifier needs to know about it.
type SignResult struct {
	Signature []byte `json:"signature"`
	// Alg is "ed25519" or "ecdsa-p256" (mode off), the composite identifier
	// "id-MLDSA65-Ed25519-SHA512" or "id-MLDSA65-ECDSA-P256-SHA512"
	// (hybrid_or, hybrid_and), or "id-ML-DSA-65" (pq_only).
	Alg  string `json:"alg"`
	Mode string `json:"mode"`
	// Key is the label of the key version: "tenant/name/vN".
	Key     string `json:"key"`
	Version int    `json:"version"`
	// PublicKey verifies Signature: the traditional key in mode off, the
	// composite key in the hybrid modes, the ML-DSA-65 key in pq_only.
	// KeyID is its hex SHA-256.
	PublicKey []byte        `json:"public_key"`
	KeyID     string        `json:"key_id"`
	RequestID string        `json:"request_id"`
	Receipt   audit.Receipt `json:"receipt"`
}

// form is the signature form of a key in a PQ mode.
type form struct {
	mode    pq.Mode
	capAlg  string // the capability alg caveat value
	sigAlg  string // SignResult.Alg
	compAlg pq.Alg // the composite algorithm of the key
}

func formOf(mode string, alg backend.Algorithm) (form, *Reject) {
	m, err := pq.ParseMode(mode)
	if err != nil {
		return form{}, rejectf(ReasonPQMode, "%v", err)
	}
	ca, ok := compositeAlg(alg)
	if !ok {
		return form{}, rejectf(ReasonAlgMismatch, "%s keys do not sign", alg)
	}
	f := form{mode: m, compAlg: ca}
	switch m {
	case pq.ModeOff:
		f.capAlg, f.sigAlg = string(alg), string(alg)
	case pq.ModeHybridOr, pq.ModeHybridAnd:
		f.capAlg, f.sigAlg = "mldsa65-"+string(alg), string(ca)
	case pq.ModePQOnly:
		f.capAlg, f.sigAlg = "mldsa65", string(pq.MLDSA65)
	}
	return f, nil
}

// target is a resolved key version.
type target struct {
	st    *state
	ks    *keyState
	v     int
	label string
}

// resolve finds the key version a request names and refuses what policy
// forbids for op regardless of the caller: unknown tenant, key or version,
// a superseded version for sign and wrap, a revoked key, a key unusable on
// this appliance, an algorithm that cannot do op.
func (e *Engine) resolve(st *state, tenant, name string, version int, op string, rec *audit.Record) (*target, *Reject) {
	ks, rej := st.lookup(tenant, name)
	if rej != nil {
		return nil, rej
	}
	rec.Tenant = ks.tenant
	v := version
	if v == 0 {
		v = ks.version
	}
	if v < 1 || v > ks.version {
		// No such version: the record names the key without one, rather
		// than a label that exists nowhere (and that the audit record's
		// schema would refuse, as "v-1" or a ten-digit version).
		rec.Key = ks.tenant + "/" + ks.name
		return nil, rejectf(ReasonKeyNotFound, "key %s/%s has no version %d (current is %d)", ks.tenant, ks.name, v, ks.version)
	}
	label := ks.cur
	if v != ks.version {
		label = versionLabel(ks.tenant, ks.name, v)
	}
	rec.Key, rec.KeyVersion = label, v
	creates := op == capability.OpSign || op == capability.OpWrap
	switch {
	case v < ks.version && creates:
		return nil, rejectf(ReasonKeySuperseded, "key %s/%s was rotated to version %d; %s with the current version", ks.tenant, ks.name, ks.version, op)
	case ks.revoked:
		return nil, rejectf(ReasonKeyRevoked, "key %s/%s is revoked by policy version %d", ks.tenant, ks.name, st.pol.Version)
	case v == ks.version && ks.err != nil:
		return nil, ks.err
	}
	signs := op == capability.OpSign || op == capability.OpVerify
	if signs == (ks.alg == backend.AES256GCM) {
		return nil, rejectf(ReasonAlgMismatch, "key %s/%s is an %s key and cannot %s", ks.tenant, ks.name, ks.alg, op)
	}
	return &target{st: st, ks: ks, v: v, label: label}, nil
}

// authorize checks the capability for the request and records its id.
func (e *Engine) authorize(token string, t *target, op, alg string, now time.Time, rec *audit.Record) *Reject {
	if token == "" {
		return rejectf(Reason(capability.ReasonMalformed), "no capability was presented; mint one (POST /v1/capabilities) and send it as \"Authorization: Bearer <token>\"")
	}
	v, err := e.check(token, capability.Request{Tenant: t.ks.tenant, Op: op, Alg: alg, Key: t.label}, now)
	if err != nil {
		return AsReject(err, Reason(capability.ReasonUnavailable))
	}
	rec.CapabilityID = v.ID
	return nil
}

// signable refuses sign while a freeze or a failing attestation is in
// force, and with a key past its maximum age.
func (e *Engine) signable(ctx context.Context, t *target, now time.Time) *Reject {
	pol := t.st.pol
	if pol.Frozen(now) {
		r := rejectf(ReasonFrozen, "an emergency freeze blocks sign until %s (%s)", pol.Freeze.Until, quote(pol.Freeze.Reason))
		if until, err := quorum.ParseTime(pol.Freeze.Until); err == nil && until.After(now) {
			r.RetryAfter = until.Sub(now)
		}
		return r
	}
	if pol.Attestation.Required {
		if err := e.attest(ctx); err != nil {
			return rejectf(ReasonAttestationFailed, "policy requires attestation and %v; sign is refused, verify continues", err)
		}
	}
	return e.fresh(t, now)
}

// fresh refuses a key version past its maximum age.
func (e *Engine) fresh(t *target, now time.Time) *Reject {
	if t.ks.tooOld(now) {
		e.keyAgeMetrics(t.st, now)
		return rejectf(ReasonKeyTooOld, "key %s/%s version %d was issued %s and is past its maximum age of %d days; rotate it by proposal (rotate_key=%s)",
			t.ks.tenant, t.ks.name, t.v, t.ks.issued.UTC().Format(time.RFC3339), int(t.ks.maxAge/(24*time.Hour)), t.ks.name)
	}
	return nil
}

// attest runs the backend's attestation check and keeps the attestation
// metrics: ready now, and seconds ready, counted between two checks that
// both passed.
func (e *Engine) attest(ctx context.Context) error {
	a, ok := e.b.(backend.Attester)
	var err error
	if !ok {
		err = fmt.Errorf("backend %s cannot attest", e.b.Name())
	} else if err = a.Attest(ctx); err != nil {
		err = fmt.Errorf("backend %s attestation fails: %v", e.b.Name(), err)
	}
	if e.m != nil {
		now := e.now()
		e.attMu.Lock()
		if e.attOK && now.After(e.attLast) {
			e.m.AttestationReadyS.Add(now.Sub(e.attLast).Seconds())
		}
		e.attLast, e.attOK = now, err == nil
		e.attMu.Unlock()
		e.m.AttestationReady.Set(b2f(err == nil))
	}
	return err
}

// message checks the Message/Digest pair of a sign or verify request and
// returns the audit digest of what is signed.
func message(f form, alg backend.Algorithm, msg, digest []byte, hash string, sctx []byte) (string, *Reject) {
	if len(sctx) > pq.MaxContextSize {
		return "", rejectf(ReasonBadRequest, "context is %d bytes, at most %d", len(sctx), pq.MaxContextSize)
	}
	if f.mode == pq.ModeOff && len(sctx) > 0 {
		return "", rejectf(ReasonBadRequest, "PQ mode off signs with %s alone, which cannot bind a context; send no context", alg)
	}
	switch {
	case msg != nil && digest != nil:
		return "", rejectf(ReasonBadRequest, "send a message or a digest, not both")
	case digest != nil:
		if f.mode != pq.ModeOff || alg != backend.ECDSAP256 {
			return "", rejectf(ReasonBadRequest, "a pre-hashed digest is accepted only for ecdsa-p256 keys in PQ mode off; %s in mode %s signs the whole message, so send message", alg, f.mode)
		}
		if hash != HashSHA256 || len(digest) != sha256.Size {
			return "", rejectf(ReasonBadRequest, "digest must be a 32-byte sha256 with hash %q", HashSHA256)
		}
		return "sha256:" + hex.EncodeToString(digest), nil
	case msg != nil:
		if hash != "" {
			return "", rejectf(ReasonBadRequest, "hash goes with digest, not with message")
		}
		h := sha256.Sum256(msg)
		return "sha256:" + hex.EncodeToString(h[:]), nil
	}
	return "", rejectf(ReasonBadRequest, "send a message or a digest")
}

// prepare is what sign and verify share, in one place: the request checked
// against the policy in force (ready, request id, tenant, key, version for
// op), the signature form the tenant's PQ mode makes or accepts, the
// algorithm the caller expects (pq_mode if another is in force; verb says
// "signs" or "accepts" in the message), and the message or digest, whose
// digest goes into the audit record.
func (e *Engine) prepare(req SignRequest, op, verb string, rec *audit.Record) (*target, form, *Reject) {
	st, rej := e.start(req.RequestID, rec)
	if rej != nil {
		return nil, form{}, rej
	}
	t, rej := e.resolve(st, req.Tenant, req.Key, req.Version, op, rec)
	if rej != nil {
		return nil, form{}, rej
	}
	f, rej := formOf(st.pol.TenantPQMode(t.ks.tenant), t.ks.alg)
	if rej != nil {
		return nil, form{}, rej
	}
	rec.Alg = f.capAlg
	if req.Alg != "" && req.Alg != f.sigAlg {
		return nil, form{}, rejectf(ReasonPQMode, "tenant %s is in PQ mode %s, which %s %s, not %s", t.ks.tenant, f.mode, verb, f.sigAlg, quote(req.Alg))
	}
	if rec.Digest, rej = message(f, t.ks.alg, req.Message, req.Digest, req.Hash, req.Context); rej != nil {
		return nil, form{}, rej
	}
	return t, f, nil
}

// start is what every audited operation begins with: the request id
// checked (or made), the policy in force, and both written into rec.
func (e *Engine) start(id string, rec *audit.Record) (*state, *Reject) {
	rid, rej := requestID(id)
	if rej != nil {
		return nil, rej
	}
	rec.RequestID = rid
	st, rej := e.begin()
	if st != nil {
		rec.PolicyVersion, rec.GovernanceCommit = st.pol.Version, st.commit
	} else if cur := e.st.Load(); cur != nil {
		rec.PolicyVersion, rec.GovernanceCommit = cur.pol.Version, cur.commit
	}
	return st, rej
}

// Sign signs with the current version of a tenant key, in the form the
// tenant's PQ mode in force requires: mode off, the traditional signature
// (pq.SignForMode); hybrid_or and hybrid_and, the composite signature of
// the key's composite algorithm (the same standard signature in both);
// pq_only, ML-DSA-65 alone. The ML-DSA key is derived from
// backend.DeriveSeed(MLDSAInfo(label)). Every signature is verified before
// it is released — the traditional one under the backend signer's public
// key, the ML-DSA-65 one under the key's published ML-DSA-65 public key,
// both halves of a composite — and one that does not verify is refused as
// backend_error.
//
// Checks, in order: ready; request id; tenant, key and version in policy
// (key_not_found, key_superseded); key_revoked; alg_mismatch; the Alg the
// caller expects (pq_mode); message or digest (bad_request); freeze
// (frozen, with RetryAfter); attestation when policy requires it
// (attestation_failed); maximum age (key_too_old); then the capability
// (every capability reason), which consumes an rps token and a single-use
// nonce only now, when nothing else stands in the way. The decision is
// audited before anything is returned; if the record cannot be written the
// signature is dropped and audit_unavailable returned.
//
// The error is always a *Reject.
func (e *Engine) Sign(ctx context.Context, token string, req SignRequest) (*SignResult, error) {
	rec := audit.Record{Event: EventSign}
	release, rej := e.admit(&rec)
	defer release()
	var res *SignResult
	if rej == nil {
		res, rej = e.sign(ctx, token, req, &rec)
	}
	receipt, rej := e.decide(ctx, &rec, rej)
	if rej != nil {
		return nil, rej
	}
	res.Receipt = receipt
	e.served(rec.Tenant)
	return res, nil
}

func (e *Engine) sign(ctx context.Context, token string, req SignRequest, rec *audit.Record) (*SignResult, *Reject) {
	now := e.now()
	t, f, rej := e.prepare(req, capability.OpSign, "signs", rec)
	if rej != nil {
		return nil, rej
	}
	if rej := e.signable(ctx, t, now); rej != nil {
		return nil, rej
	}
	if rej := e.authorize(token, t, capability.OpSign, f.capAlg, now, rec); rej != nil {
		return nil, rej
	}
	if err := ctx.Err(); err != nil {
		return nil, rejectf(ReasonTimeout, "the request ran out of time before signing: %v", err)
	}
	kp, rej := e.pub(ctx, t.label, t.ks.alg)
	if rej != nil {
		return nil, rej
	}
	signer, rej := e.signerFor(ctx, kp, t.label)
	if rej != nil {
		return nil, rej
	}
	res := &SignResult{Alg: f.sigAlg, Mode: string(f.mode), Key: t.label, Version: t.v, RequestID: rec.RequestID}
	var err error
	switch f.mode {
	case pq.ModeOff:
		res.PublicKey, res.KeyID = kp.tradBytes, kp.tradID
		if req.Digest != nil {
			res.Signature, err = signDigest(signer, req.Digest)
		} else {
			res.Signature, err = pq.SignForMode(f.mode, f.compAlg, nil, signer, req.Message, nil)
		}
	case pq.ModePQOnly:
		res.PublicKey, res.KeyID = kp.mldsaBytes, kp.mldsaID
		ml, rej := e.mldsaSigningKey(ctx, kp, t.label)
		if rej != nil {
			return nil, rej
		}
		res.Signature, err = pq.SignForMode(f.mode, f.compAlg, ml, nil, req.Message, req.Context)
	default:
		res.PublicKey, res.KeyID = kp.composite, kp.compID
		ml, rej := e.mldsaSigningKey(ctx, kp, t.label)
		if rej != nil {
			return nil, rej
		}
		res.Signature, err = pq.SignForMode(f.mode, f.compAlg, ml, signer, req.Message, req.Context)
	}
	switch {
	case errors.Is(err, pq.ErrPrefixedMessage):
		return nil, rejectf(ReasonBadRequest, "in PQ mode %s a message may not begin with the composite signature prefix", f.mode)
	case err != nil:
		kp.dropSigner(signer)
		return nil, rejectf(ReasonBackendError, "signing with %s: %v", t.label, err)
	}
	return res, nil
}

// signDigest makes an ECDSA P-256 signature over a SHA-256 digest and
// checks it before it is released.
func signDigest(s crypto.Signer, digest []byte) ([]byte, error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("signer key is %T, want ECDSA P-256", s.Public())
	}
	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return nil, pq.ErrSignerFault
	}
	return sig, nil
}

func backendReject(b backend.Backend, label string, err error) *Reject {
	if errors.Is(err, backend.ErrNotFound) {
		return rejectf(ReasonKeyNotFound, "key %s is not in this appliance's backend", label)
	}
	return rejectf(ReasonBackendError, "backend %s, key %s: %v", b.Name(), label, err)
}

// VerifyRequest asks whether Signature is a valid signature by a key
// version. Message, Digest, Hash and Context are as in SignRequest.
type VerifyRequest struct {
	Tenant    string
	Key       string
	Version   int // 0: the current version; older versions verify too
	Message   []byte
	Digest    []byte
	Hash      string
	Context   []byte
	Signature []byte
	Alg       string // as in SignRequest
	RequestID string
}

// VerifyResult is the verdict. A signature that does not verify is a
// result (Valid false, with Detail), not a refusal.
type VerifyResult struct {
	Valid   bool   `json:"valid"`
	Alg     string `json:"alg"`
	Mode    string `json:"mode"`
	Key     string `json:"key"`
	Version int    `json:"version"`
	// MLDSA and Traditional say which components verified (pq.Result).
	MLDSA       bool `json:"mldsa"`
	Traditional bool `json:"traditional"`
	// NonStandard is set under hybrid_or: judged by the non-standard
	// either-component rule of phase 1.
	NonStandard bool          `json:"non_standard"`
	Detail      string        `json:"detail,omitempty"`
	RequestID   string        `json:"request_id"`
	Receipt     audit.Receipt `json:"receipt"`
}

// Verify checks a signature as the tenant's PQ mode in force accepts it
// (pq.VerifyForMode): mode off, the traditional signature; hybrid_and, a
// composite signature with both components valid; hybrid_or, either
// component (non-standard); pq_only, ML-DSA-65. Freeze, attestation and
// key age do not stop verify (K-G6); a revoked key does.
func (e *Engine) Verify(ctx context.Context, token string, req VerifyRequest) (*VerifyResult, error) {
	rec := audit.Record{Event: EventVerify}
	release, rej := e.admit(&rec)
	defer release()
	var res *VerifyResult
	if rej == nil {
		res, rej = e.verify(ctx, token, req, &rec)
	}
	if rej == nil {
		rec.Detail = "valid"
		if !res.Valid {
			rec.Detail = "invalid: " + res.Detail
		}
	}
	receipt, rej := e.decide(ctx, &rec, rej)
	if rej != nil {
		return nil, rej
	}
	res.Receipt = receipt
	e.served(rec.Tenant)
	return res, nil
}

func (e *Engine) verify(ctx context.Context, token string, req VerifyRequest, rec *audit.Record) (*VerifyResult, *Reject) {
	now := e.now()
	t, f, rej := e.prepare(SignRequest{Tenant: req.Tenant, Key: req.Key, Version: req.Version, Message: req.Message,
		Digest: req.Digest, Hash: req.Hash, Context: req.Context, Alg: req.Alg, RequestID: req.RequestID},
		capability.OpVerify, "accepts", rec)
	if rej != nil {
		return nil, rej
	}
	if len(req.Signature) == 0 {
		return nil, rejectf(ReasonBadRequest, "no signature")
	}
	if rej := e.authorize(token, t, capability.OpVerify, f.capAlg, now, rec); rej != nil {
		return nil, rej
	}
	kp, rej := e.pub(ctx, t.label, t.ks.alg)
	if rej != nil {
		return nil, rej
	}
	res := &VerifyResult{Alg: f.sigAlg, Mode: string(f.mode), Key: t.label, Version: t.v, RequestID: rec.RequestID}
	if req.Digest != nil {
		res.Valid = ecdsa.VerifyASN1(kp.trad.(*ecdsa.PublicKey), req.Digest, req.Signature)
		res.Traditional = res.Valid
		if !res.Valid {
			res.Detail = "ecdsa-p256 signature does not verify"
		}
		return res, nil
	}
	r, err := pq.VerifyForMode(f.mode, f.compAlg, kp.composite, req.Message, req.Context, req.Signature)
	switch {
	case err == nil:
		res.Valid, res.MLDSA, res.Traditional, res.NonStandard = true, r.MLDSA, r.Traditional, r.NonStandard
	case errors.Is(err, pq.ErrInvalidSignature):
		res.Detail = err.Error()
		var ce *pq.ComponentError
		if errors.As(err, &ce) {
			res.MLDSA = f.mode != pq.ModeOff && !ce.Has(pq.ComponentMLDSA)
			res.Traditional = f.mode != pq.ModePQOnly && !ce.Has(pq.ComponentTraditional)
		}
	default:
		return nil, rejectf(ReasonBadRequest, "%v", err)
	}
	return res, nil
}

// WrapRequest asks to encrypt Plaintext under the current version of an
// aes-256-gcm key. The associated data bound is
// "ron-kms/v1 wrap <tenant>/<name>/v<N>" || 0x00 || AAD, so a ciphertext
// unwraps only under the same tenant, key, version and AAD.
type WrapRequest struct {
	Tenant, Key string
	Version     int // 0 or the current version
	Plaintext   []byte
	AAD         []byte
	RequestID   string
}

// WrapResult is a wrapped secret: nonce, ciphertext and tag.
type WrapResult struct {
	Ciphertext []byte        `json:"ciphertext"`
	Key        string        `json:"key"`
	Version    int           `json:"version"`
	RequestID  string        `json:"request_id"`
	Receipt    audit.Receipt `json:"receipt"`
}

// UnwrapRequest asks to decrypt what Wrap returned, with the same key
// version and AAD.
type UnwrapRequest struct {
	Tenant, Key string
	Version     int // 0: the current version; older versions unwrap too
	Ciphertext  []byte
	AAD         []byte
	RequestID   string
}

// UnwrapResult is the plaintext.
type UnwrapResult struct {
	Plaintext []byte        `json:"plaintext"`
	Key       string        `json:"key"`
	Version   int           `json:"version"`
	RequestID string        `json:"request_id"`
	Receipt   audit.Receipt `json:"receipt"`
}

func wrapAAD(label string, aad []byte) []byte {
	out := append([]byte("ron-kms/v1 wrap "+label), 0)
	return append(out, aad...)
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Wrap encrypts under the current version of an AES key. A key past its
// maximum age refuses (key_too_old), as for sign. The audit record carries
// the digest of the ciphertext, never of the plaintext.
func (e *Engine) Wrap(ctx context.Context, token string, req WrapRequest) (*WrapResult, error) {
	rec := audit.Record{Event: EventWrap, Alg: string(backend.AES256GCM)}
	release, rej := e.admit(&rec)
	defer release()
	var res *WrapResult
	if rej == nil {
		res, rej = e.wrap(ctx, token, req, &rec)
	}
	receipt, rej := e.decide(ctx, &rec, rej)
	if rej != nil {
		return nil, rej
	}
	res.Receipt = receipt
	e.served(rec.Tenant)
	return res, nil
}

func (e *Engine) wrap(ctx context.Context, token string, req WrapRequest, rec *audit.Record) (*WrapResult, *Reject) {
	now := e.now()
	st, rej := e.start(req.RequestID, rec)
	if rej != nil {
		return nil, rej
	}
	t, rej := e.resolve(st, req.Tenant, req.Key, req.Version, capability.OpWrap, rec)
	if rej != nil {
		return nil, rej
	}
	if req.Plaintext == nil {
		return nil, rejectf(ReasonBadRequest, "no plaintext")
	}
	if rej := e.fresh(t, now); rej != nil {
		return nil, rej
	}
	if rej := e.authorize(token, t, capability.OpWrap, string(backend.AES256GCM), now, rec); rej != nil {
		return nil, rej
	}
	ct, err := e.b.Wrap(ctx, t.label, req.Plaintext, wrapAAD(t.label, req.AAD))
	if err != nil {
		return nil, backendReject(e.b, t.label, err)
	}
	rec.Digest = digestOf(ct)
	return &WrapResult{Ciphertext: ct, Key: t.label, Version: t.v, RequestID: rec.RequestID}, nil
}

// Unwrap decrypts a Wrap result. A ciphertext or AAD that does not
// authenticate is refused with unwrap_failed.
func (e *Engine) Unwrap(ctx context.Context, token string, req UnwrapRequest) (*UnwrapResult, error) {
	rec := audit.Record{Event: EventUnwrap, Alg: string(backend.AES256GCM)}
	release, rej := e.admit(&rec)
	defer release()
	var res *UnwrapResult
	if rej == nil {
		res, rej = e.unwrap(ctx, token, req, &rec)
	}
	receipt, rej := e.decide(ctx, &rec, rej)
	if rej != nil {
		if res != nil {
			clear(res.Plaintext)
		}
		return nil, rej
	}
	res.Receipt = receipt
	e.served(rec.Tenant)
	return res, nil
}

func (e *Engine) unwrap(ctx context.Context, token string, req UnwrapRequest, rec *audit.Record) (*UnwrapResult, *Reject) {
	now := e.now()
	st, rej := e.start(req.RequestID, rec)
	if rej != nil {
		return nil, rej
	}
	t, rej := e.resolve(st, req.Tenant, req.Key, req.Version, capability.OpUnwrap, rec)
	if rej != nil {
		return nil, rej
	}
	if len(req.Ciphertext) == 0 {
		return nil, rejectf(ReasonBadRequest, "no ciphertext")
	}
	rec.Digest = digestOf(req.Ciphertext)
	if rej := e.authorize(token, t, capability.OpUnwrap, string(backend.AES256GCM), now, rec); rej != nil {
		return nil, rej
	}
	pt, err := e.b.Unwrap(ctx, t.label, req.Ciphertext, wrapAAD(t.label, req.AAD))
	switch {
	case errors.Is(err, backend.ErrUnwrap):
		return nil, rejectf(ReasonUnwrapFailed, "the ciphertext or its aad does not authenticate under %s", t.label)
	case err != nil:
		return nil, backendReject(e.b, t.label, err)
	}
	return &UnwrapResult{Plaintext: pt, Key: t.label, Version: t.v, RequestID: rec.RequestID}, nil
}
