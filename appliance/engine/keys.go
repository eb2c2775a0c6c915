package engine

import (
	"context"
	"crypto"
	"errors"
	"sync/atomic"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/continuity"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// MLDSAInfo is the DeriveSeed info of the ML-DSA-65 key of a key version:
// "ron-kms/v1 mldsa65 <tenant>/<name>/v<N>".
func MLDSAInfo(label string) []byte { return []byte("ron-kms/v1 mldsa65 " + label) }

// keyPub is the public material of one key version on this appliance,
// with what the sign path would otherwise recompute on every request.
type keyPub struct {
	alg        backend.Algorithm
	trad       crypto.PublicKey // nil for AES keys
	tradBytes  []byte
	tradID     string // keyID(tradBytes)
	mldsa      *mldsa65.PublicKey
	mldsaBytes []byte // mldsa.Bytes()
	mldsaID    string
	compAlg    pq.Alg
	composite  []byte // pq.PublicKey(compAlg, mldsa, trad)
	compID     string

	// signer is the backend's crypto.Signer for the key version, kept
	// after the first successful Backend.Signer (nil until then, and again
	// after a signing error, so a backend that lost a session is asked for a
	// fresh one). It is a handle: the key stays inside the backend.
	signer atomic.Pointer[signerRef]
}

type signerRef struct{ crypto.Signer }

// signerFor returns kp's backend signer, asking the backend on first use.
// The error is a *Reject.
func (e *Engine) signerFor(ctx context.Context, kp *keyPub, label string) (*signerRef, *Reject) {
	if s := kp.signer.Load(); s != nil {
		return s, nil
	}
	s, err := e.b.Signer(ctx, label)
	if err != nil {
		return nil, backendReject(e.b, label, err)
	}
	ref := &signerRef{s}
	kp.signer.CompareAndSwap(nil, ref)
	return ref, nil
}

// dropSigner forgets ref after it failed to sign.
func (kp *keyPub) dropSigner(ref *signerRef) { kp.signer.CompareAndSwap(ref, nil) }

// compositeAlg is the composite algorithm of a traditional key algorithm.
func compositeAlg(a backend.Algorithm) (pq.Alg, bool) {
	switch a {
	case backend.Ed25519:
		return pq.MLDSA65Ed25519, true
	case backend.ECDSAP256:
		return pq.MLDSA65ECDSAP256, true
	}
	return "", false
}

// pub returns the public material of label, loading it from the backend
// on first use. The error is a *Reject: key_not_found when the backend
// lacks the label, backend_error for a custodian fault.
func (e *Engine) pub(ctx context.Context, label string, want backend.Algorithm) (*keyPub, *Reject) {
	if v, ok := e.pubs.Load(label); ok {
		kp := v.(*keyPub)
		if kp.alg != want {
			return nil, rejectf(ReasonAlgMismatch, "backend holds %s as a %s key, policy names %s", label, kp.alg, want)
		}
		return kp, nil
	}
	kp := &keyPub{alg: want}
	if want == backend.AES256GCM {
		_, _, err := e.b.PublicKey(ctx, label)
		switch {
		case errors.Is(err, backend.ErrWrongAlgorithm):
		case errors.Is(err, backend.ErrNotFound):
			return nil, rejectf(ReasonKeyNotFound, "key %s is not in this appliance's backend", label)
		case err == nil:
			return nil, rejectf(ReasonAlgMismatch, "backend holds %s as a signing key, policy names %s", label, want)
		default:
			return nil, rejectf(ReasonBackendError, "backend %s: %v", e.b.Name(), err)
		}
		e.pubs.Store(label, kp)
		return kp, nil
	}
	pub, alg, err := e.b.PublicKey(ctx, label)
	switch {
	case errors.Is(err, backend.ErrNotFound):
		return nil, rejectf(ReasonKeyNotFound, "key %s is not in this appliance's backend", label)
	case errors.Is(err, backend.ErrWrongAlgorithm):
		return nil, rejectf(ReasonAlgMismatch, "backend holds %s as a non-signing key, policy names %s", label, want)
	case err != nil:
		return nil, rejectf(ReasonBackendError, "backend %s: %v", e.b.Name(), err)
	case alg != want:
		return nil, rejectf(ReasonAlgMismatch, "backend holds %s as a %s key, policy names %s", label, alg, want)
	}
	tb, err := tradBytes(pub)
	if err != nil {
		return nil, rejectf(ReasonBackendError, "backend %s returned a bad public key for %s: %v", e.b.Name(), label, err)
	}
	ml, rej := e.mldsaPublic(ctx, label)
	if rej != nil {
		return nil, rej
	}
	ca, _ := compositeAlg(alg)
	comp, err := pq.PublicKey(ca, ml, pub)
	if err != nil {
		return nil, rejectf(ReasonBackendError, "composite public key of %s: %v", label, err)
	}
	kp.trad, kp.tradBytes, kp.mldsa, kp.compAlg, kp.composite = pub, tb, ml, ca, comp
	kp.mldsaBytes = ml.Bytes()
	kp.tradID, kp.mldsaID, kp.compID = keyID(tb), keyID(kp.mldsaBytes), keyID(comp)
	e.pubs.Store(label, kp)
	return kp, nil
}

// mldsaPublic derives label's ML-DSA-65 public key for the cache in
// e.pubs, where it lives as long as the engine: a copy that keeps no private
// key reachable (mldsaPublicForCache).
func (e *Engine) mldsaPublic(ctx context.Context, label string) (*mldsa65.PublicKey, *Reject) {
	pub, priv, rej := e.mldsaKey(ctx, label)
	if rej != nil {
		return nil, rej
	}
	cached, err := mldsaPublicForCache(pub, priv)
	if err != nil {
		return nil, rejectf(ReasonBackendError, "ML-DSA public key of %s: %v", label, err)
	}
	return cached, nil
}

// mldsaPublicForCache returns a copy of pub, unpacked from its bytes, that
// shares no memory with priv, and wipes priv. circl's NewKeyFromSeed returns
// a public key whose expanded matrix is the private key's own, so caching
// pub itself would keep the whole private key (s1, s2, the signing seed)
// reachable for as long as the cache lives. Wiping priv, which the caller
// must not use again, also makes any sharing left fail closed: every
// signature checked under a broken copy is refused, none is released.
func mldsaPublicForCache(pub *mldsa65.PublicKey, priv *mldsa65.PrivateKey) (*mldsa65.PublicKey, error) {
	var cached mldsa65.PublicKey
	if err := cached.UnmarshalBinary(pub.Bytes()); err != nil {
		return nil, err
	}
	*priv = mldsa65.PrivateKey{}
	return &cached, nil
}

// mldsaKey derives the ML-DSA-65 key pair of label from the backend seed.
func (e *Engine) mldsaKey(ctx context.Context, label string) (*mldsa65.PublicKey, *mldsa65.PrivateKey, *Reject) {
	seed, err := e.b.DeriveSeed(ctx, MLDSAInfo(label))
	if err != nil {
		return nil, nil, rejectf(ReasonBackendError, "backend %s: deriving the ML-DSA seed of %s: %v", e.b.Name(), label, err)
	}
	pub, priv := pq.KeyFromSeed(seed)
	clear(seed[:])
	return pub, priv, nil
}

// mldsaSigningKey derives label's ML-DSA-65 private key for one signature
// and pairs it with kp.mldsa, the public key published for the version, under
// which pq checks each signature before it is released: a seed that comes
// back different from the one the key was loaded with fails closed too.
func (e *Engine) mldsaSigningKey(ctx context.Context, kp *keyPub, label string) (*pq.MLDSAKey, *Reject) {
	_, priv, rej := e.mldsaKey(ctx, label)
	if rej != nil {
		return nil, rej
	}
	return &pq.MLDSAKey{Public: kp.mldsa, Private: priv}, nil
}

// reconcile makes sure the backend holds ks's current version (generating
// it if policy names it and the backend lacks it) and that continuity
// proofs exist for the versions the backend holds. Problems are recorded in
// ks.err and res.KeyErrors.
func (e *Engine) reconcile(ctx context.Context, ks *keyState, res *ApplyResult) {
	label := ks.label()
	fail := func(r *Reject) {
		ks.err = r
		res.KeyErrors[label] = r.Msg
	}
	if err := backend.CheckLabel(label); err != nil {
		fail(rejectf(ReasonKeyNotFound, "%v", err))
		return
	}
	_, rej := e.pub(ctx, label, ks.alg)
	if rej != nil && rej.Reason == ReasonKeyNotFound && !ks.revoked {
		_, err := e.b.GenerateKey(ctx, label, ks.alg)
		switch {
		case err == nil:
			res.Generated = append(res.Generated, label)
		case errors.Is(err, backend.ErrExists):
			// Made concurrently by another process sharing the backend; use it.
		case errors.Is(err, backend.ErrUnsupported):
			fail(rejectf(ReasonAlgMismatch, "backend %s cannot make %s keys, so %s is unusable on this appliance", e.b.Name(), ks.alg, label))
			return
		default:
			fail(rejectf(ReasonBackendError, "generating %s in backend %s: %v", label, e.b.Name(), err))
			return
		}
		_, rej = e.pub(ctx, label, ks.alg)
	}
	if rej != nil {
		if ks.revoked && rej.Reason == ReasonKeyNotFound {
			return // a revoked key is never made; key_revoked answers for it
		}
		fail(rej)
		return
	}
	if _, ok := compositeAlg(ks.alg); !ok {
		return
	}
	for v := 2; v <= ks.version; v++ {
		newL, oldL := versionLabel(ks.tenant, ks.name, v), versionLabel(ks.tenant, ks.name, v-1)
		if p, ok := e.proofs[newL]; ok {
			ks.proofs = append(ks.proofs, p)
			continue
		}
		if _, r := e.pub(ctx, oldL, ks.alg); r != nil {
			continue // this appliance never held the old version
		}
		if _, r := e.pub(ctx, newL, ks.alg); r != nil {
			continue
		}
		p, r := e.continuity(ctx, ks, v)
		if r != nil {
			fail(r)
			return
		}
		e.proofs[newL] = p
		ks.proofs = append(ks.proofs, p)
		res.Proofs = append(res.Proofs, newL)
	}
}

// continuity writes the proof linking versions v-1 and v of ks.
func (e *Engine) continuity(ctx context.Context, ks *keyState, v int) ([]byte, *Reject) {
	oldL, newL := versionLabel(ks.tenant, ks.name, v-1), versionLabel(ks.tenant, ks.name, v)
	oldP, rej := e.pub(ctx, oldL, ks.alg)
	if rej != nil {
		return nil, rej
	}
	newP, rej := e.pub(ctx, newL, ks.alg)
	if rej != nil {
		return nil, rej
	}
	c := &continuity.Proof{
		Type: continuity.Type, Appliance: e.id, Tenant: ks.tenant, Key: ks.name, Alg: string(ks.alg),
		Old:       continuity.Key{Version: v - 1, PublicKey: b64(oldP.tradBytes), KeyID: oldP.tradID, MLDSAPublicKey: b64(oldP.mldsaBytes)},
		New:       continuity.Key{Version: v, PublicKey: b64(newP.tradBytes), KeyID: newP.tradID, MLDSAPublicKey: b64(newP.mldsaBytes)},
		CreatedAt: quorum.FormatTime(e.now()),
	}
	msg, err := c.Message()
	if err != nil {
		return nil, rejectf(ReasonBackendError, "continuity proof of %s: %v", newL, err)
	}
	for _, side := range []struct {
		label, role string
		p           *keyPub
	}{{oldL, continuity.RoleOld, oldP}, {newL, continuity.RoleNew, newP}} {
		s, err := e.b.Signer(ctx, side.label)
		if err != nil {
			return nil, rejectf(ReasonBackendError, "continuity proof of %s: signer %s: %v", newL, side.label, err)
		}
		sig, err := pq.SignForMode(pq.ModeOff, oldP.compAlg, nil, s, msg, nil)
		if err != nil {
			return nil, rejectf(ReasonBackendError, "continuity proof of %s: signing with %s: %v", newL, side.label, err)
		}
		c.Signatures = append(c.Signatures, continuity.Signature{Role: side.role, KeyID: side.p.tradID, Sig: b64(sig)})
	}
	for _, side := range []struct {
		label, role string
		p           *keyPub
	}{{oldL, continuity.RoleOldMLDSA, oldP}, {newL, continuity.RoleNewMLDSA, newP}} {
		ml, rej := e.mldsaSigningKey(ctx, side.p, side.label)
		if rej != nil {
			return nil, rej
		}
		sig, err := pq.SignForMode(pq.ModePQOnly, oldP.compAlg, ml, nil, msg, nil)
		if err != nil {
			return nil, rejectf(ReasonBackendError, "continuity proof of %s: ML-DSA signing with %s: %v", newL, side.label, err)
		}
		c.Signatures = append(c.Signatures, continuity.Signature{Role: side.role, KeyID: side.p.mldsaID, Sig: b64(sig)})
	}
	out, err := canon.Marshal(c)
	if err != nil {
		return nil, rejectf(ReasonBackendError, "continuity proof of %s: %v", newL, err)
	}
	if _, err := continuity.Verify(out); err != nil {
		return nil, rejectf(ReasonBackendError, "continuity proof of %s does not verify: %v", newL, err)
	}
	return out, nil
}

// KeyInfo is what GET /v1/keys/{tenant}/{name} returns: everything public
// about a tenant key on this appliance.
type KeyInfo struct {
	Tenant     string `json:"tenant"`
	Name       string `json:"name"`
	Alg        string `json:"alg"`
	Version    int    `json:"version"` // current
	Revoked    bool   `json:"revoked"`
	MaxAgeDays int    `json:"max_age_days"`
	IssuedAt   string `json:"issued_at"`
	TooOld     bool   `json:"too_old"`
	// PQMode is the tenant's mode in force: which form Sign makes and
	// Verify accepts.
	PQMode   string       `json:"pq_mode"`
	Versions []KeyVersion `json:"versions"`
	// Continuity holds the proofs (canonical JSON, see continuity.Verify)
	// linking consecutive versions this appliance holds, oldest first.
	Continuity []RawJSON `json:"continuity"`
}

// KeyVersion is one version of a key this appliance holds. Byte fields are
// standard base64 in JSON. AES keys have no public fields.
type KeyVersion struct {
	Version int    `json:"version"`
	Label   string `json:"key"`
	// PublicKey is the traditional key: raw Ed25519, or uncompressed SEC 1
	// P-256; KeyID its hex SHA-256.
	PublicKey []byte `json:"public_key,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	// MLDSAPublicKey is the ML-DSA-65 key derived for this version (the key
	// of pq_only signatures); MLDSAKeyID its hex SHA-256.
	MLDSAPublicKey []byte `json:"mldsa_public_key,omitempty"`
	MLDSAKeyID     string `json:"mldsa_key_id,omitempty"`
	// CompositeAlg and CompositePublicKey are the key of hybrid
	// signatures (pq.PublicKey); CompositeKeyID its hex SHA-256.
	CompositeAlg       string `json:"composite_alg,omitempty"`
	CompositePublicKey []byte `json:"composite_public_key,omitempty"`
	CompositeKeyID     string `json:"composite_key_id,omitempty"`
}

// RawJSON is JSON bytes that marshal as themselves.
type RawJSON []byte

// UnmarshalJSON keeps a copy of the bytes, so clients can decode a KeyInfo
// and hand each proof to continuity.Verify.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// MarshalJSON returns r.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// PublicKey returns the public information of tenant's key name. It is not
// an operation on the key and needs no capability; it is not audited.
// Errors: not_ready, not_enrolled, key_not_found, backend_error.
func (e *Engine) PublicKey(ctx context.Context, tenant, name string) (*KeyInfo, error) {
	st, rej := e.begin()
	if rej != nil {
		return nil, rej
	}
	ks, rej := st.lookup(tenant, name)
	if rej != nil {
		return nil, rej
	}
	now := e.now()
	info := &KeyInfo{Tenant: ks.tenant, Name: ks.name, Alg: string(ks.alg), Version: ks.version, Revoked: ks.revoked,
		MaxAgeDays: int(ks.maxAge / (24 * time.Hour)), IssuedAt: quorum.FormatTime(ks.issued), TooOld: ks.tooOld(now),
		PQMode: st.pol.TenantPQMode(ks.tenant), Versions: []KeyVersion{}, Continuity: []RawJSON{}}
	for v := 1; v <= ks.version; v++ {
		label := versionLabel(ks.tenant, ks.name, v)
		kp, rej := e.pub(ctx, label, ks.alg)
		if rej != nil {
			if rej.Reason == ReasonKeyNotFound {
				continue
			}
			return nil, rej
		}
		kv := KeyVersion{Version: v, Label: label}
		if kp.trad != nil {
			kv.PublicKey, kv.KeyID = kp.tradBytes, kp.tradID
			kv.MLDSAPublicKey, kv.MLDSAKeyID = kp.mldsaBytes, kp.mldsaID
			kv.CompositeAlg, kv.CompositePublicKey, kv.CompositeKeyID = string(kp.compAlg), kp.composite, kp.compID
		}
		info.Versions = append(info.Versions, kv)
	}
	for _, p := range ks.proofs {
		info.Continuity = append(info.Continuity, RawJSON(p))
	}
	return info, nil
}

// lookup finds a policy key, refusing unknown tenants and keys.
func (st *state) lookup(tenant, name string) (*keyState, *Reject) {
	if _, ok := st.pol.Tenants[tenant]; !ok {
		return nil, rejectf(ReasonKeyNotFound, "tenant %s is not in policy version %d", quote(tenant), st.pol.Version)
	}
	ks, ok := st.keys[tenant+"/"+name]
	if !ok {
		return nil, rejectf(ReasonKeyNotFound, "tenant %s has no key %s in policy version %d", quote(tenant), quote(name), st.pol.Version)
	}
	return ks, nil
}

// begin returns the state an operation runs against, or why none may run.
func (e *Engine) begin() (*state, *Reject) {
	st := e.st.Load()
	if st == nil {
		return nil, errNoPolicy
	}
	if st.notReady != nil {
		return nil, st.notReady
	}
	return st, nil
}
