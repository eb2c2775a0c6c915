package sealedfile

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"

	"github.com/ron-kms/ron-kms/appliance/backend"
)

// key is one unsealed key held in memory. It is never printed: Format
// writes only the algorithm.
type key struct {
	alg    backend.Algorithm
	ed     ed25519.PrivateKey // Ed25519
	ec     *ecdsa.PrivateKey  // ECDSAP256
	gcm    cipher.AEAD        // AES256GCM
	secret []byte             // AES256GCM key or the algSeed secret
}

// newKey builds a key from its 32-byte sealed secret. It does not retain
// secret; the caller zeroes it.
func newKey(alg backend.Algorithm, secret []byte) (*key, error) {
	if len(secret) != secretSize {
		return nil, fmt.Errorf("sealedfile: %s secret is %d bytes, want %d", alg, len(secret), secretSize)
	}
	k := &key{alg: alg}
	switch alg {
	case backend.Ed25519:
		k.ed = ed25519.NewKeyFromSeed(secret)
	case backend.ECDSAP256:
		ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), secret)
		if err != nil {
			return nil, errors.New("sealedfile: invalid P-256 private scalar")
		}
		k.ec = ec
	case backend.AES256GCM, algSeed:
		k.secret = append([]byte(nil), secret...)
		if alg == backend.AES256GCM {
			block, err := aes.NewCipher(k.secret)
			if err != nil {
				return nil, err
			}
			if k.gcm, err = cipher.NewGCM(block); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("sealedfile: %w: %q", backend.ErrUnsupported, alg)
	}
	return k, nil
}

// public returns a copy of the public key, or nil for keys without one.
func (k *key) public() crypto.PublicKey {
	switch k.alg {
	case backend.Ed25519:
		return k.ed.Public()
	case backend.ECDSAP256:
		pub := k.ec.PublicKey
		return &pub
	}
	return nil
}

// zero overwrites the private material that is reachable from here.
func (k *key) zero() {
	clear(k.ed)
	//lint:ignore SA1019 zeroing the scalar's words in place is the point; nothing reads D afterwards
	if k.ec != nil && k.ec.D != nil {
		//lint:ignore SA1019 as above
		clear(k.ec.D.Bits())
	}
	clear(k.secret)
	k.ed, k.ec, k.gcm, k.secret = nil, nil, nil, nil
}

// Format prints the algorithm only, for every verb, so that no log line or
// error can carry key bytes.
func (k key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "sealedfile.key(%s, redacted)", k.alg)
}

// signer is the crypto.Signer that Backend.Signer returns.
type signer struct {
	b     *Backend
	label string
	k     *key
	pub   crypto.PublicKey
}

var _ crypto.Signer = signer{}

func (s signer) Public() crypto.PublicKey { return s.pub }

// Sign signs inside the backend; rand is ignored in favour of Config.Rand.
// Ed25519 takes crypto.Hash(0) and the whole message (no Ed25519ph or
// Ed25519ctx); ECDSA P-256 takes crypto.SHA256 and a 32-byte digest and
// returns an ASN.1 DER signature. Any other opts is an error. After Close,
// Sign fails.
func (s signer) Sign(_ io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, errors.New("sealedfile: nil crypto.SignerOpts")
	}
	s.b.mu.RLock()
	defer s.b.mu.RUnlock()
	if s.b.closed {
		return nil, errClosed
	}
	switch s.k.alg {
	case backend.Ed25519:
		if h := opts.HashFunc(); h != 0 {
			return nil, fmt.Errorf("sealedfile: %s: ed25519 signs the whole message with crypto.Hash(0), not %v", s.label, h)
		}
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return nil, fmt.Errorf("sealedfile: %s: ed25519ctx is not supported", s.label)
		}
		return ed25519.Sign(s.k.ed, message), nil
	case backend.ECDSAP256:
		if h := opts.HashFunc(); h != crypto.SHA256 {
			return nil, fmt.Errorf("sealedfile: %s: ecdsa-p256 signs a SHA-256 digest, not %v", s.label, h)
		}
		if len(message) != 32 {
			return nil, fmt.Errorf("sealedfile: %s: ecdsa-p256 digest is %d bytes, want 32", s.label, len(message))
		}
		return ecdsa.SignASN1(s.b.rand, s.k.ec, message)
	}
	return nil, fmt.Errorf("sealedfile: %s: %w", s.label, backend.ErrWrongAlgorithm)
}

// Format prints the label and algorithm only.
func (s signer) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "sealedfile.signer(%s, %s)", s.label, s.k.alg)
}
