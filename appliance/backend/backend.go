// Package backend defines the one small interface behind which every key
// custodian of the appliance lives: a sealed file, a PKCS#11 token or a TPM.
//
// Keys are generated inside a backend and never imported (K-G1). A backend
// never hands out private key material: callers get a crypto.Signer, a
// wrap/unwrap operation or a derived seed, computed inside the custodian.
package backend

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
)

// Algorithm names a key algorithm as it appears in policy and in the API.
type Algorithm string

const (
	Ed25519   Algorithm = "ed25519"
	ECDSAP256 Algorithm = "ecdsa-p256"
	// AES256GCM keys wrap and unwrap data; they never sign.
	AES256GCM Algorithm = "aes-256-gcm"
)

// Errors a backend returns. Callers branch on them with errors.Is; any other
// error is a fault of the custodian and must fail the request closed.
var (
	ErrNotFound       = errors.New("backend: key not found")
	ErrExists         = errors.New("backend: key already exists")
	ErrUnsupported    = errors.New("backend: algorithm not supported by this backend")
	ErrWrongAlgorithm = errors.New("backend: operation not valid for this key's algorithm")
	ErrSealed         = errors.New("backend: sealed")
	// ErrUnwrap means the ciphertext or its associated data failed
	// authentication; nothing about the plaintext is revealed.
	ErrUnwrap = errors.New("backend: unwrap failed authentication")
)

// labelRE is the shape of a key label: "tenant/name/vN" for tenant keys,
// or a short system name such as "audit" or "seed-hmac". A label with a
// '/' is a key name as schemas/defs.json#/$defs/key_name writes it, which
// label_test.go holds this pattern to (this package, which every backend
// imports, stays free of the schema validator); a system name is this
// package's own rule, written in no schema.
var labelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}(/[a-z0-9][a-z0-9._-]{0,62}(/v[1-9][0-9]{0,8})?)?$`)

// CheckLabel reports whether label is a well-formed key label.
func CheckLabel(label string) error {
	if !labelRE.MatchString(label) {
		return fmt.Errorf("backend: malformed key label %q (want tenant/name/vN or a lower-case system name)", label)
	}
	return nil
}

// CheckSecretFile is the one rule for a file that holds a secret — a
// passphrase, a PIN, a webhook secret: it must be a regular file that group
// and others can neither read nor write. fi describes the file (from Stat,
// or better from the opened file's Stat); name is used in the error only.
// It reads nothing, so it serves both a check before start and the read.
func CheckSecretFile(name string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s may be read or written by group or others (mode %04o); it holds a secret: run \"chmod 600 %s\"", name, perm, name)
	}
	return nil
}

// Backend is a key custodian.
//
// Every method takes the key's label (see CheckLabel). A method returns
// ErrNotFound when no key has that label, ErrWrongAlgorithm when the key
// cannot do what was asked (an AES key asked to sign), ErrUnsupported when
// the backend cannot make keys of that algorithm at all. Any other error is
// a custodian fault: the caller fails the request closed.
//
// Implementations are safe for concurrent use.
type Backend interface {
	// Name is the backend kind as policy enrols it: "sealed-file", "pkcs11", "tpm".
	Name() string
	// GenerateKey creates a new key inside the backend. It returns ErrExists
	// when the label is taken: keys are versioned, never overwritten. For
	// AES256GCM keys the returned public key is nil.
	GenerateKey(ctx context.Context, label string, alg Algorithm) (crypto.PublicKey, error)
	// PublicKey returns the public half of a signing key.
	PublicKey(ctx context.Context, label string) (crypto.PublicKey, Algorithm, error)
	// Signer returns a crypto.Signer whose Sign runs inside the backend.
	// Ed25519 signers take crypto.Hash(0) and the whole message; ECDSA P-256
	// signers take crypto.SHA256 and a digest and return an ASN.1 signature.
	// Callers keep a signer for the life of the backend: it must stay valid
	// until Close (re-opening sessions itself), or return an error, after
	// which the caller asks for a new one.
	Signer(ctx context.Context, label string) (crypto.Signer, error)
	// Wrap encrypts plaintext under the AES256GCM key label, binding aad.
	Wrap(ctx context.Context, label string, plaintext, aad []byte) ([]byte, error)
	// Unwrap reverses Wrap; a forged or altered ciphertext gives ErrUnwrap.
	Unwrap(ctx context.Context, label string, ciphertext, aad []byte) ([]byte, error)
	// DeriveSeed returns HMAC-SHA256 under a non-exportable backend secret
	// over info: the 32-byte seed from which ML-DSA keys are derived (DESIGN
	// §3). The same backend and info always give the same seed; the secret
	// never leaves the backend.
	DeriveSeed(ctx context.Context, info []byte) ([32]byte, error)
	// Close releases sessions and zeroes what the backend holds in memory.
	Close() error
}

// Attester is the optional ability of a backend to prove its own state
// (K-G6). Attest returns nil when the backend is in the attested state and an
// error saying why not otherwise; sign is refused while it fails.
type Attester interface {
	Attest(ctx context.Context) error
}
