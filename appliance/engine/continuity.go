package engine

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"

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

// keyID is the hex SHA-256 of a public key's bytes: the key ids of the API
// are those of continuity proofs (continuity.KeyID).
func keyID(pub []byte) string { return continuity.KeyID(pub) }

var b64 = base64.StdEncoding.EncodeToString
