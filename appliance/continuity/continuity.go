// Package continuity is the key continuity proof format and its offline
// checker. An appliance writes a proof when a proposal rotates a signing key
// (version N-1 → N) and it holds both versions: the old key vouches for the
// new one and the new one for the old, with the traditional key and the
// ML-DSA-65 key derived for each version (schemas/key_continuity.schema.json).
//
// The format is the appliance's, so the package lives under appliance/, beside
// the engine that writes proofs rather than inside it: appliance/engine
// produces proofs and checks each one here before publishing it, and
// govtool's verify-continuity command checks them here too, without linking
// the signing engine. Like govtool's pure packages it has no effects: Verify
// takes a proof's bytes and returns the proof or why it does not verify. It
// imports only govtool's pure core (canon, envelope, policy, quorum) and
// appliance/backend's algorithm names.
package continuity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// Type is the type of a key continuity proof, and the <type> of the message
// its signatures cover: "ron-kms/v1 key_continuity <hex digest>"
// (envelope.Message), where the digest is that of the proof without its
// signatures (canon.DigestOf). See Proof.Message.
const Type = "key_continuity"

// Signature roles. Each of the four keys signs the same message, which names
// both versions' public keys: so the old key vouches for the new one and the
// new one for the old, in both the traditional and the ML-DSA-65 half of the
// tenant's key.
const (
	RoleOld      = "old"       // the old traditional key
	RoleNew      = "new"       // the new traditional key
	RoleOldMLDSA = "old-mldsa" // the ML-DSA-65 key derived for the old version
	RoleNewMLDSA = "new-mldsa" // the ML-DSA-65 key derived for the new version
)

// roles is the order of a proof's signatures.
var roles = []string{RoleOld, RoleNew, RoleOldMLDSA, RoleNewMLDSA}

// Proof is a key continuity proof. Its bytes are canonical JSON (RFC 8785).
//
// Signatures by the traditional keys are pure Ed25519 over the message, or
// ECDSA P-256 over SHA-256 of the message in ASN.1 DER (VerifyTraditional);
// those by the ML-DSA keys are ML-DSA-65 (FIPS 204) over the message with an
// empty context. Each entry's key_id is KeyID of the signing public key's
// bytes as they appear in the proof.
type Proof struct {
	Type      string `json:"type"`
	Appliance string `json:"appliance"`
	Tenant    string `json:"tenant"`
	Key       string `json:"key"`
	Alg       string `json:"alg"` // ed25519 | ecdsa-p256
	Old       Key    `json:"old"`
	New       Key    `json:"new"`
	CreatedAt string `json:"created_at"` // RFC 3339 UTC
	// Signatures has exactly one entry per role, in the order old, new,
	// old-mldsa, new-mldsa.
	Signatures []Signature `json:"signatures"`
}

// Key is one version of the key in a continuity proof.
type Key struct {
	Version int `json:"version"`
	// PublicKey is the traditional public key in standard base64: the raw
	// 32 bytes of an Ed25519 key, or the 65-byte uncompressed SEC 1 point of
	// a P-256 key.
	PublicKey string `json:"public_key"`
	// KeyID is KeyID of PublicKey's bytes.
	KeyID string `json:"key_id"`
	// MLDSAPublicKey is the ML-DSA-65 public key derived for this version,
	// standard base64 (1952 bytes).
	MLDSAPublicKey string `json:"mldsa_public_key"`
}

// Signature is one signature of a continuity proof. It differs from
// envelope.Signature only in that Sig may be an ECDSA or ML-DSA signature.
type Signature struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"` // standard base64
}

// maxProof bounds the size of a proof Verify reads.
const maxProof = 64 << 10

// Error is why a continuity proof did not verify.
type Error struct{ Msg string }

// Error says what was wrong with the proof.
func (e *Error) Error() string { return "continuity proof: " + e.Msg }

func errorf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// KeyID is the hex SHA-256 of a public key's bytes: the key ids of a proof.
func KeyID(pub []byte) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:])
}

// Message returns the bytes every signature of p covers: envelope.Message of
// Type and the digest of p without its signatures. Signatures does not take
// part, so a producer may fill it in after signing.
func (p *Proof) Message() ([]byte, error) {
	digest, err := canon.DigestOf(p)
	if err != nil {
		return nil, err
	}
	return envelope.Message(Type, digest)
}

// Verify checks a continuity proof offline, from its bytes alone: strict
// I-JSON with no unknown fields, the type, names and versions well formed
// (new = old + 1), every key id matching its key, exactly the four roles,
// and every signature valid. It returns the proof on success and an *Error
// otherwise. The caller decides whether the keys in it are the ones it
// expects (compare Old and New with what it trusts).
func Verify(data []byte) (*Proof, error) {
	if len(data) > maxProof {
		return nil, errorf("%d bytes, at most %d", len(data), maxProof)
	}
	var p Proof
	if err := canon.Unmarshal(data, &p); err != nil {
		return nil, errorf("%v", err)
	}
	if p.Type != Type {
		return nil, errorf("type is %q, want %q", p.Type, Type)
	}
	if !policy.ApplianceRE.MatchString(p.Appliance) || !policy.TenantRE.MatchString(p.Tenant) || !policy.KeyNameRE.MatchString(p.Key) {
		return nil, errorf("appliance, tenant or key name is malformed")
	}
	if _, err := quorum.ParseTime(p.CreatedAt); err != nil {
		return nil, errorf("created_at: %v", err)
	}
	if p.Old.Version < 1 || p.New.Version != p.Old.Version+1 {
		return nil, errorf("versions %d → %d; a proof links consecutive versions", p.Old.Version, p.New.Version)
	}
	alg := backend.Algorithm(p.Alg)
	oldPub, oldML, err := p.Old.parse(alg)
	if err != nil {
		return nil, errorf("old: %v", err)
	}
	newPub, newML, err := p.New.parse(alg)
	if err != nil {
		return nil, errorf("new: %v", err)
	}
	if p.Old.KeyID == p.New.KeyID {
		return nil, errorf("old and new are the same key")
	}
	if len(p.Signatures) != len(roles) {
		return nil, errorf("%d signatures, want %d (%v)", len(p.Signatures), len(roles), roles)
	}
	msg, err := p.Message()
	if err != nil {
		return nil, errorf("%v", err)
	}
	for i, s := range p.Signatures {
		if s.Role != roles[i] {
			return nil, errorf("signature %d has role %q, want %q", i, s.Role, roles[i])
		}
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, errorf("signature %s: %v", s.Role, err)
		}
		var ok bool
		var want string
		switch s.Role {
		case RoleOld:
			want, ok = p.Old.KeyID, VerifyTraditional(alg, oldPub, msg, sig)
		case RoleNew:
			want, ok = p.New.KeyID, VerifyTraditional(alg, newPub, msg, sig)
		case RoleOldMLDSA:
			want, ok = KeyID(oldML.Bytes()), mldsa65.Verify(oldML, msg, nil, sig)
		case RoleNewMLDSA:
			want, ok = KeyID(newML.Bytes()), mldsa65.Verify(newML, msg, nil, sig)
		}
		if s.KeyID != want {
			return nil, errorf("signature %s names key %.16s, want %.16s", s.Role, s.KeyID, want)
		}
		if !ok {
			return nil, errorf("signature %s does not verify", s.Role)
		}
	}
	return &p, nil
}

func (k Key) parse(alg backend.Algorithm) (crypto.PublicKey, *mldsa65.PublicKey, error) {
	raw, err := decodeB64(k.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("public_key: %v", err)
	}
	pub, err := parseTraditional(alg, raw)
	if err != nil {
		return nil, nil, err
	}
	if k.KeyID != KeyID(raw) {
		return nil, nil, errors.New("key_id does not match public_key")
	}
	mraw, err := decodeB64(k.MLDSAPublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("mldsa_public_key: %v", err)
	}
	var ml mldsa65.PublicKey
	if err := ml.UnmarshalBinary(mraw); err != nil {
		return nil, nil, fmt.Errorf("mldsa_public_key: %v", err)
	}
	return pub, &ml, nil
}

// parseTraditional decodes a traditional public key of alg from its wire
// form (raw Ed25519, uncompressed SEC 1 P-256).
func parseTraditional(alg backend.Algorithm, raw []byte) (crypto.PublicKey, error) {
	switch alg {
	case backend.Ed25519:
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key is %d bytes, want %d", len(raw), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(slices.Clone(raw)), nil
	case backend.ECDSAP256:
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("ecdsa-p256 public key: %v", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("algorithm %q does not sign", alg)
}

// VerifyTraditional reports whether sig is a traditional signature of a
// proof's message msg by pub, a key of alg: pure Ed25519 over msg
// (ed25519.PublicKey), or ECDSA P-256 in ASN.1 DER over SHA-256 of msg
// (*ecdsa.PublicKey on P-256). A key of another type, size or curve, or
// another alg, gives false.
func VerifyTraditional(alg backend.Algorithm, pub crypto.PublicKey, msg, sig []byte) bool {
	switch alg {
	case backend.Ed25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, sig)
	case backend.ECDSAP256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve != elliptic.P256() {
			return false
		}
		h := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, h[:], sig)
	}
	return false
}

// decodeB64 accepts only canonical standard base64.
func decodeB64(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != s {
		return nil, errors.New("not canonical standard base64")
	}
	return raw, nil
}
