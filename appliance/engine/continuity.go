package engine

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
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

// ContinuityType is the type of a key continuity proof, and the <type> of
// the message its signatures cover: "ron-kms/v1 key_continuity <hex digest>"
// (envelope.Message), where the digest is that of the proof without its
// signatures (canon.DigestOf).
const ContinuityType = "key_continuity"

// Continuity proof signature roles. Each of the four keys signs the same
// message, which names both versions' public keys: so the old key vouches
// for the new one and the new one for the old, in both the traditional and
// the ML-DSA-65 half of the tenant's key.
const (
	RoleOld      = "old"       // the old traditional key
	RoleNew      = "new"       // the new traditional key
	RoleOldMLDSA = "old-mldsa" // the ML-DSA-65 key derived for the old version
	RoleNewMLDSA = "new-mldsa" // the ML-DSA-65 key derived for the new version
)

var continuityRoles = []string{RoleOld, RoleNew, RoleOldMLDSA, RoleNewMLDSA}

// Continuity is a key continuity proof: written by an appliance when a
// proposal rotates a signing key (version N-1 → N) and both versions are in
// its backend. Its bytes are canonical JSON (RFC 8785).
//
// Signatures by the traditional keys are pure Ed25519 over the message, or
// ECDSA P-256 over SHA-256 of the message in ASN.1 DER; those by the ML-DSA
// keys are ML-DSA-65 (FIPS 204) over the message with an empty context.
// Each entry's key_id is the hex SHA-256 of the signing public key's bytes
// as they appear in the proof.
type Continuity struct {
	Type      string        `json:"type"`
	Appliance string        `json:"appliance"`
	Tenant    string        `json:"tenant"`
	Key       string        `json:"key"`
	Alg       string        `json:"alg"` // ed25519 | ecdsa-p256
	Old       ContinuityKey `json:"old"`
	New       ContinuityKey `json:"new"`
	CreatedAt string        `json:"created_at"` // RFC 3339 UTC
	// Signatures has exactly one entry per role, in the order old, new,
	// old-mldsa, new-mldsa.
	Signatures []ProofSignature `json:"signatures"`
}

// ContinuityKey is one version of the key in a continuity proof.
type ContinuityKey struct {
	Version int `json:"version"`
	// PublicKey is the traditional public key in standard base64: the raw
	// 32 bytes of an Ed25519 key, or the 65-byte uncompressed SEC 1 point of
	// a P-256 key.
	PublicKey string `json:"public_key"`
	// KeyID is the hex SHA-256 of PublicKey's bytes.
	KeyID string `json:"key_id"`
	// MLDSAPublicKey is the ML-DSA-65 public key derived for this version,
	// standard base64 (1952 bytes).
	MLDSAPublicKey string `json:"mldsa_public_key"`
}

// ProofSignature is one signature of a continuity proof. It differs from
// envelope.Signature only in that Sig may be an ECDSA or ML-DSA signature.
type ProofSignature struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"` // standard base64
}

// maxProof bounds the size of a proof VerifyContinuity reads.
const maxProof = 64 << 10

// ContinuityError is why a continuity proof did not verify.
type ContinuityError struct{ Msg string }

func (e *ContinuityError) Error() string { return "engine: continuity proof: " + e.Msg }

func contErr(format string, args ...any) error {
	return &ContinuityError{Msg: fmt.Sprintf(format, args...)}
}

// VerifyContinuity checks a continuity proof offline, from its bytes alone:
// strict I-JSON with no unknown fields, the type, names and versions well
// formed (new = old + 1), every key id matching its key, exactly the four
// roles, and every signature valid. It returns the proof on success and a
// *ContinuityError otherwise. The caller decides whether the keys in it are
// the ones it expects (compare Old and New with what it trusts).
func VerifyContinuity(data []byte) (*Continuity, error) {
	if len(data) > maxProof {
		return nil, contErr("%d bytes, at most %d", len(data), maxProof)
	}
	var c Continuity
	if err := canon.Unmarshal(data, &c); err != nil {
		return nil, contErr("%v", err)
	}
	if c.Type != ContinuityType {
		return nil, contErr("type is %q, want %q", c.Type, ContinuityType)
	}
	if !policy.ApplianceRE.MatchString(c.Appliance) || !policy.TenantRE.MatchString(c.Tenant) || !policy.KeyNameRE.MatchString(c.Key) {
		return nil, contErr("appliance, tenant or key name is malformed")
	}
	if _, err := quorum.ParseTime(c.CreatedAt); err != nil {
		return nil, contErr("created_at: %v", err)
	}
	if c.Old.Version < 1 || c.New.Version != c.Old.Version+1 {
		return nil, contErr("versions %d → %d; a proof links consecutive versions", c.Old.Version, c.New.Version)
	}
	alg := backend.Algorithm(c.Alg)
	oldPub, oldML, err := c.Old.parse(alg)
	if err != nil {
		return nil, contErr("old: %v", err)
	}
	newPub, newML, err := c.New.parse(alg)
	if err != nil {
		return nil, contErr("new: %v", err)
	}
	if c.Old.KeyID == c.New.KeyID {
		return nil, contErr("old and new are the same key")
	}
	if len(c.Signatures) != len(continuityRoles) {
		return nil, contErr("%d signatures, want %d (%v)", len(c.Signatures), len(continuityRoles), continuityRoles)
	}
	digest, err := canon.DigestOf(&c)
	if err != nil {
		return nil, contErr("%v", err)
	}
	msg, err := envelope.Message(ContinuityType, digest)
	if err != nil {
		return nil, contErr("%v", err)
	}
	for i, s := range c.Signatures {
		if s.Role != continuityRoles[i] {
			return nil, contErr("signature %d has role %q, want %q", i, s.Role, continuityRoles[i])
		}
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, contErr("signature %s: %v", s.Role, err)
		}
		var ok bool
		var want string
		switch s.Role {
		case RoleOld:
			want, ok = c.Old.KeyID, verifyTrad(alg, oldPub, msg, sig)
		case RoleNew:
			want, ok = c.New.KeyID, verifyTrad(alg, newPub, msg, sig)
		case RoleOldMLDSA:
			want, ok = keyID(oldML.Bytes()), mldsa65.Verify(oldML, msg, nil, sig)
		case RoleNewMLDSA:
			want, ok = keyID(newML.Bytes()), mldsa65.Verify(newML, msg, nil, sig)
		}
		if s.KeyID != want {
			return nil, contErr("signature %s names key %.16s, want %.16s", s.Role, s.KeyID, want)
		}
		if !ok {
			return nil, contErr("signature %s does not verify", s.Role)
		}
	}
	return &c, nil
}

func (k ContinuityKey) parse(alg backend.Algorithm) (crypto.PublicKey, *mldsa65.PublicKey, error) {
	raw, err := decodeB64(k.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("public_key: %v", err)
	}
	pub, err := parseTradPublic(alg, raw)
	if err != nil {
		return nil, nil, err
	}
	if k.KeyID != keyID(raw) {
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

// parseTradPublic decodes a traditional public key of alg from its wire
// form (raw Ed25519, uncompressed SEC 1 P-256).
func parseTradPublic(alg backend.Algorithm, raw []byte) (crypto.PublicKey, error) {
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

// tradBytes is the wire form of a traditional public key.
func tradBytes(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return slices.Clone([]byte(k)), nil
	case *ecdsa.PublicKey:
		return k.Bytes()
	}
	return nil, fmt.Errorf("engine: unsupported public key type %T", pub)
}

func verifyTrad(alg backend.Algorithm, pub crypto.PublicKey, msg, sig []byte) bool {
	switch alg {
	case backend.Ed25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, msg, sig)
	case backend.ECDSAP256:
		k, ok := pub.(*ecdsa.PublicKey)
		h := sha256.Sum256(msg)
		return ok && ecdsa.VerifyASN1(k, h[:], sig)
	}
	return false
}

// signTrad signs msg with a backend signer the way continuity proofs do,
// and checks the signature before returning it.
func signTrad(s crypto.Signer, alg backend.Algorithm, msg []byte) ([]byte, error) {
	var sig []byte
	var err error
	switch alg {
	case backend.Ed25519:
		sig, err = s.Sign(rand.Reader, msg, crypto.Hash(0))
	case backend.ECDSAP256:
		h := sha256.Sum256(msg)
		sig, err = s.Sign(rand.Reader, h[:], crypto.SHA256)
	default:
		return nil, fmt.Errorf("engine: algorithm %q does not sign", alg)
	}
	if err != nil {
		return nil, err
	}
	if !verifyTrad(alg, s.Public(), msg, sig) {
		return nil, errors.New("engine: the backend returned a signature that does not verify")
	}
	return sig, nil
}

// keyID is the hex SHA-256 of a public key's bytes.
func keyID(pub []byte) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:])
}

// decodeB64 accepts only canonical standard base64.
func decodeB64(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != s {
		return nil, errors.New("not canonical standard base64")
	}
	return raw, nil
}

var b64 = base64.StdEncoding.EncodeToString
