// Package envelope defines what a ron-kms signature signs and how a
// signature entry is written (DESIGN §2.1).
//
// The signed message is the ASCII text "ron-kms/v1 <type> <hex digest>". The
// type prefix separates domains: a signature on a proposal never passes as
// one on a signer set. Signatures are pure Ed25519 (RFC 8032), made through a
// crypto.Signer so that file keys, ssh-agent, PKCS#11 tokens and other
// hardware plug in unchanged.
package envelope

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"filippo.io/edwards25519"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// Domain is the prefix of every signed message.
const Domain = "ron-kms/v1"

// Message returns the bytes an Ed25519 signature covers for an object of
// type objType whose digest is digest ("sha256:<hex>").
func Message(objType, digest string) ([]byte, error) {
	if !isType(objType) {
		return nil, fmt.Errorf("envelope: malformed object type %q", objType)
	}
	raw, err := canon.ParseDigest(digest)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return []byte(Domain + " " + objType + " " + hex.EncodeToString(raw)), nil
}

// Signature is one entry of an object's "signatures" array.
type Signature struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"`
}

// KeyID is the hex SHA-256 of a raw 32-byte Ed25519 public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// EncodePublicKey is the public_key form of signer sets: standard base64 of
// the raw 32 bytes.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// DecodePublicKey parses a public_key field strictly: canonical standard
// base64 of exactly 32 bytes that are the canonical encoding of a curve
// point of large order. A small-order ("weak") key would let anyone make
// signatures that verify under it, so a signer set listing one would let
// anyone sign for that member; ed25519.Verify does not refuse such keys.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := decodeB64(s)
	if err != nil {
		return nil, fmt.Errorf("envelope: public key: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("envelope: public key is %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	if err := checkPoint(raw); err != nil {
		return nil, fmt.Errorf("envelope: public key %s: %w", s, err)
	}
	return ed25519.PublicKey(raw), nil
}

// goodKeys remembers public keys that passed checkPoint, so that callers
// that decode the same signer-set keys for every signature (quorum.Tally)
// pay for the point decompression once. It is bounded and holds only
// public data; a key that fails is checked again each time.
var goodKeys struct {
	sync.Mutex
	m map[[ed25519.PublicKeySize]byte]struct{}
}

const maxGoodKeys = 1024

// checkPoint accepts only the canonical encoding of a point whose order is
// not small (8·P is not the identity).
func checkPoint(raw []byte) error {
	key := [ed25519.PublicKeySize]byte(raw)
	goodKeys.Lock()
	_, ok := goodKeys.m[key]
	goodKeys.Unlock()
	if ok {
		return nil
	}
	if err := checkPointSlow(raw); err != nil {
		return err
	}
	goodKeys.Lock()
	if goodKeys.m == nil || len(goodKeys.m) >= maxGoodKeys {
		goodKeys.m = make(map[[ed25519.PublicKeySize]byte]struct{})
	}
	goodKeys.m[key] = struct{}{}
	goodKeys.Unlock()
	return nil
}

func checkPointSlow(raw []byte) error {
	p, err := new(edwards25519.Point).SetBytes(raw)
	if err != nil {
		return errors.New("is not a point on Ed25519")
	}
	if !bytes.Equal(p.Bytes(), raw) {
		return errors.New("is not canonically encoded")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errors.New("has small order (a weak key anyone can sign for)")
	}
	return nil
}

// decodeB64 accepts only the canonical standard-base64 form: no line breaks,
// no missing padding, no stray bits — one encoding per byte string.
func decodeB64(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not canonical standard base64")
	}
	if base64.StdEncoding.EncodeToString(raw) != s {
		return nil, fmt.Errorf("not canonical standard base64")
	}
	return raw, nil
}

// Validate checks the shape of an entry: role and key id well formed, sig
// canonical base64 of 64 bytes. It says nothing about whether it verifies.
func (s Signature) Validate() error {
	_, err := s.validate()
	return err
}

// validate is Validate that also returns the signature's bytes.
func (s Signature) validate() ([ed25519.SignatureSize]byte, error) {
	var raw [ed25519.SignatureSize]byte
	if !isRole(s.Role) {
		return raw, &EntryError{Entry: s, Reason: ReasonMalformed, Detail: fmt.Sprintf("role %q is not a role name", s.Role)}
	}
	if !IsKeyID(s.KeyID) {
		return raw, &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "key_id must be 64 lower-case hex digits"}
	}
	if decodeSig(&raw, s.Sig) {
		return raw, nil
	}
	b, err := decodeB64(s.Sig)
	if err != nil {
		return raw, &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "sig: " + err.Error()}
	}
	if len(b) != ed25519.SignatureSize {
		return raw, &EntryError{Entry: s, Reason: ReasonMalformed, Detail: fmt.Sprintf("sig is %d bytes, want %d", len(b), ed25519.SignatureSize)}
	}
	// decodeSig refuses only what decodeB64 refuses or decodes to
	// another length; TestDecodeSig holds them to each other.
	return raw, &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "sig: not canonical standard base64"}
}

// ParseSignature decodes one signature entry strictly (I-JSON, no unknown
// or missing fields) and validates its shape.
func ParseSignature(data []byte) (Signature, error) {
	var s Signature
	if err := canon.Unmarshal(data, &s); err != nil {
		return Signature{}, &EntryError{Reason: ReasonMalformed, Detail: err.Error()}
	}
	if err := s.Validate(); err != nil {
		return Signature{}, err
	}
	return s, nil
}

// Reason says why an entry was not accepted. The list is closed.
type Reason string

const (
	ReasonMalformed    Reason = "malformed signature entry"
	ReasonBadSignature Reason = "signature does not verify"
	ReasonKeyMismatch  Reason = "key_id does not match the public key"
	ReasonUnknownKey   Reason = "key not in signer set"
	ReasonRoleMismatch Reason = "role does not match the signer set"
	ReasonDuplicate    Reason = "key counted once"
	ReasonNotQuorum    Reason = "role does not count toward quorum"
)

// EntryError is the rejection of one signature entry.
type EntryError struct {
	Entry  Signature
	Reason Reason
	Detail string
}

func (e *EntryError) Error() string {
	id := e.Entry.KeyID
	if len(id) > 12 {
		id = id[:12]
	}
	msg := "envelope: " + string(e.Reason)
	if id != "" || e.Entry.Role != "" {
		msg += fmt.Sprintf(" (role %q, key %s)", e.Entry.Role, id)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Sign signs the object (objType, digest) with signer, whose public key must
// be Ed25519, and returns the entry for role. The signature is verified
// before it is returned, so a faulty token or agent cannot slip a bad one in.
func Sign(signer crypto.Signer, role, objType, digest string) (Signature, error) {
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return Signature{}, fmt.Errorf("envelope: signer key is %T, want Ed25519", signer.Public())
	}
	msg, err := Message(objType, digest)
	if err != nil {
		return Signature{}, err
	}
	sig, err := signer.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return Signature{}, fmt.Errorf("envelope: signing: %w", err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return Signature{}, errors.New("envelope: the signer returned a signature that does not verify; check the key or token")
	}
	s := Signature{Role: role, KeyID: KeyID(pub), Sig: base64.StdEncoding.EncodeToString(sig)}
	if err := s.Validate(); err != nil {
		return Signature{}, err
	}
	return s, nil
}

// Verify checks one entry against pub for the object (objType, digest). It
// returns nil or an *EntryError (malformed, key mismatch, bad signature),
// or Message's error for a malformed objType or digest.
func Verify(pub ed25519.PublicKey, objType, digest string, s Signature) error {
	raw, err := s.validate()
	if err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "public key is not 32 bytes"}
	}
	return keyFor(pub).verify(objType, digest, s, &raw)
}
