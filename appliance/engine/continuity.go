package engine

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/continuity"
)

// The engine writes key continuity proofs (Engine.continuity); their
// format and the offline checker every proof passes before it is published
// are package continuity's.

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
	if !continuity.VerifyTraditional(alg, s.Public(), msg, sig) {
		return nil, errors.New("engine: the backend returned a signature that does not verify")
	}
	return sig, nil
}

// keyID is the hex SHA-256 of a public key's bytes: the key ids of the API
// are those of continuity proofs (continuity.KeyID).
func keyID(pub []byte) string { return continuity.KeyID(pub) }

var b64 = base64.StdEncoding.EncodeToString
