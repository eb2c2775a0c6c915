// Package keys is how a signer holds and uses the Ed25519 key with which
// they approve governance objects (DESIGN §2): a passphrase-protected
// OpenSSH file, a key held by ssh-agent, or a key generated inside a
// PKCS#11 token; plus a Shamir backup of a file key's seed.
//
// Every way of holding a key ends in the same thing: a Signer, which is a
// crypto.Signer whose Public() is an ed25519.PublicKey and whose Sign takes
// the whole message with crypto.Hash(0) (pure Ed25519, RFC 8032) — what
// envelope.Sign expects. Each Signer checks the signature it returns against
// its public key, so a faulty agent or token cannot hand back a bad one.
//
// Key material never appears in an error, in a String() or in a %v of any
// value of this package. Seeds and passphrases are zeroed after use where the
// libraries below allow it; a PKCS#11 PIN passes through a Go string in
// github.com/miekg/pkcs11 and cannot be zeroed.
package keys

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// Signer is a crypto.Signer for one Ed25519 key. Close releases what it
// holds (zeroes an in-memory key, closes the agent connection, closes the
// token session); Sign fails after Close. A Signer is safe for concurrent use.
type Signer interface {
	crypto.Signer
	Close() error
}

// SpecAgent is the LoadSigner spec that selects a key held by ssh-agent.
const SpecAgent = "ssh-agent"

// PassphraseFunc returns a passphrase or PIN for what prompt describes
// ("passphrase for key file …"). The caller zeroes the returned slice.
type PassphraseFunc func(ctx context.Context, prompt string) ([]byte, error)

// LoadOptions say which key to load and where its secrets come from.
type LoadOptions struct {
	// KeyID, when set, is the envelope key id (64 lower-case hex digits,
	// the SHA-256 of the raw public key) the loaded key must have. With
	// ssh-agent it also picks the key when the agent holds several.
	KeyID string
	// PublicKey, when set, is the public key the loaded key must have; it
	// does what KeyID does. When both are set they must name one key.
	PublicKey ed25519.PublicKey

	// PassphraseFile names a file holding the passphrase of an encrypted
	// key file (one trailing newline is ignored). The file must not be
	// readable by group or others.
	PassphraseFile string
	// Prompt asks for a passphrase, or for a PIN when a pkcs11 URI has no
	// pin-source. Nil means TerminalPrompt: ask on the terminal, and only
	// when standard input is one. Never wire a command-line flag's value
	// into it: secrets on command lines leak through process lists.
	Prompt PassphraseFunc

	// AgentSocket is the ssh-agent socket; empty means $SSH_AUTH_SOCK.
	AgentSocket string

	// ModuleAllowList lists the PKCS#11 module paths a pkcs11 URI may
	// load. Nil means DefaultModuleAllowList. A module runs as code in
	// this process: a URI from an untrusted place must not choose one.
	ModuleAllowList []string
}

// Errors callers branch on with errors.Is.
var (
	// ErrWrongPassphrase: the passphrase did not decrypt the key file.
	ErrWrongPassphrase = errors.New("keys: wrong passphrase for the key file")
	// ErrWrongPIN: the token refused the PIN. Tokens lock after a few
	// failures: do not retry in a loop.
	ErrWrongPIN = errors.New("keys: the token refused the PIN (tokens lock after a few wrong PINs: check pin-source before trying again)")
	// ErrKeyMismatch: the key found is not the one LoadOptions asked for.
	ErrKeyMismatch = errors.New("keys: the loaded key is not the expected key")
	// ErrNotEd25519: the key exists but is not an Ed25519 key.
	ErrNotEd25519 = errors.New("keys: not an Ed25519 key (ron-kms signers use Ed25519)")
	// ErrNoPassphrase: a passphrase or PIN was needed and there was no way
	// to ask for one.
	ErrNoPassphrase = errors.New("keys: a passphrase is needed but standard input is not a terminal: give it in a passphrase file")
	// ErrClosed: the Signer was closed.
	ErrClosed = errors.New("keys: signer is closed")
)

// AmbiguousKeyError says that several Ed25519 keys matched and none was
// chosen. KeyIDs lists the candidates' envelope key ids (public data).
type AmbiguousKeyError struct {
	Where  string
	KeyIDs []string
}

func (e *AmbiguousKeyError) Error() string {
	return fmt.Sprintf("keys: %s holds %d Ed25519 keys (%s); choose one by its key id",
		e.Where, len(e.KeyIDs), strings.Join(e.KeyIDs, ", "))
}

// LoadSigner opens the key that spec names:
//
//   - "ssh-agent": a key held by the agent at LoadOptions.AgentSocket or
//     $SSH_AUTH_SOCK. When it holds several Ed25519 keys, LoadOptions.KeyID
//     or PublicKey must pick one.
//   - "pkcs11:…": an RFC 7512 URI naming a key inside a token (see
//     ParsePKCS11URI for what it may and may not contain).
//   - anything else: the path of a key file, OpenSSH ("BEGIN OPENSSH
//     PRIVATE KEY", encrypted or not) or PKCS#8 PEM ("BEGIN PRIVATE KEY",
//     "BEGIN ENCRYPTED PRIVATE KEY"). A file literally named ssh-agent is
//     spelled ./ssh-agent.
//
// When LoadOptions.KeyID or PublicKey is set, a key that does not match is
// ErrKeyMismatch.
func LoadSigner(ctx context.Context, spec string, opts LoadOptions) (Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want, err := opts.expected()
	if err != nil {
		return nil, err
	}
	var s Signer
	switch {
	case spec == SpecAgent:
		s, err = loadAgent(ctx, want, opts)
	case strings.HasPrefix(spec, "pkcs11:"):
		s, err = loadToken(ctx, spec, opts)
	case spec == "":
		return nil, errors.New("keys: no key given: name a key file, ssh-agent or a pkcs11: URI")
	default:
		s, err = loadFile(ctx, spec, opts)
	}
	if err != nil {
		return nil, err
	}
	if err := want.check(s.Public().(ed25519.PublicKey)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// expectation is what LoadOptions say the key must be; the zero value
// accepts any key.
type expectation struct {
	keyID string
}

func (o LoadOptions) expected() (expectation, error) {
	var e expectation
	if o.KeyID != "" {
		if !envelope.IsKeyID(o.KeyID) { // schemas/defs.json#/$defs/key_id
			return e, errors.New("keys: key id must be 64 lower-case hex digits (the key_id of the signer set)")
		}
		e.keyID = o.KeyID
	}
	if o.PublicKey != nil {
		if len(o.PublicKey) != ed25519.PublicKeySize {
			return e, fmt.Errorf("keys: expected public key is %d bytes, want %d", len(o.PublicKey), ed25519.PublicKeySize)
		}
		id := envelope.KeyID(o.PublicKey)
		if e.keyID != "" && e.keyID != id {
			return e, errors.New("keys: the key id and the public key given name different keys")
		}
		e.keyID = id
	}
	return e, nil
}

func (e expectation) any() bool { return e.keyID == "" }

func (e expectation) matches(pub ed25519.PublicKey) bool {
	return e.any() || subtle.ConstantTimeCompare([]byte(envelope.KeyID(pub)), []byte(e.keyID)) == 1
}

func (e expectation) check(pub ed25519.PublicKey) error {
	if e.matches(pub) {
		return nil
	}
	return fmt.Errorf("%w: found key %s, want %s", ErrKeyMismatch, shortID(pub), e.keyID[:16])
}

// shortID is the first 16 hex digits of pub's key id, for messages.
func shortID(pub ed25519.PublicKey) string {
	return envelope.KeyID(pub)[:16]
}

// checkSignOpts accepts only pure Ed25519: the whole message, no pre-hash
// (Ed25519ph) and no context (Ed25519ctx).
func checkSignOpts(opts crypto.SignerOpts) error {
	if opts == nil {
		return nil
	}
	if opts.HashFunc() != crypto.Hash(0) {
		return errors.New("keys: Ed25519 signers sign the whole message: pass crypto.Hash(0), not a digest")
	}
	if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
		return errors.New("keys: Ed25519ctx is not used by ron-kms: pass no context")
	}
	return nil
}

// verified returns sig when it is a valid Ed25519 signature of msg by pub,
// and an error naming where otherwise.
func verified(where string, pub ed25519.PublicKey, msg, sig []byte) ([]byte, error) {
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("keys: %s returned a signature that does not verify under key %s; check the key or device", where, shortID(pub))
	}
	return sig, nil
}
