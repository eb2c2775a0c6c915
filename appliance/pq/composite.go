// Package pq implements the appliance's post-quantum signatures: composite
// ML-DSA signatures as specified by draft-ietf-lamps-pq-composite-sigs, plain
// ML-DSA-65 (FIPS 204), and the per-tenant PQ modes that choose between them
// (DESIGN §3).
//
// A composite signature over message M with application context ctx is
//
//	M'  = "CompositeAlgorithmSignatures2025" || Label || byte(len(ctx)) || ctx || SHA-512(M)
//	sig = ML-DSA.Sign(mldsaSK, M', ctx = Label) || Trad.Sign(tradSK, M')
//
// and its public key is the ML-DSA public key followed by the traditional
// one (a raw 32-byte Ed25519 key, or an uncompressed 65-byte P-256 point).
// Both components must verify; see Mode for the appliance's non-standard
// phase-1 exception.
//
// The traditional half signs through a crypto.Signer held by a backend; the
// ML-DSA-65 half is derived in process from a 32-byte seed the backend
// computes (KeyFromSeed). Nothing here stores or exports private keys.
//
// Every signature made here is verified before it is returned, both halves
// of a composite one included: the traditional half under its signer's
// public key, the ML-DSA-65 half under MLDSAKey.Public. One that does not
// verify is never returned (ErrSignerFault), so a fault in signing cannot
// release a signature that leaks the key or fails for every verifier.
//
// All functions are safe for concurrent use and have no effects beyond the
// signers they are given and the randomness of hedged signing. Verification
// is a pure function of its arguments and never panics on any input.
package pq

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// prefix is the domain separator every composite message representative
// starts with.
const prefix = "CompositeAlgorithmSignatures2025"

// MaxContextSize is the longest application context a signature can bind.
const MaxContextSize = 255

// KeyFromSeed derives the ML-DSA-65 key pair for a 32-byte seed (FIPS 204
// ML-DSA.KeyGen_internal). The same seed always gives the same keys.
func KeyFromSeed(seed [mldsa65.SeedSize]byte) (*mldsa65.PublicKey, *mldsa65.PrivateKey) {
	return mldsa65.NewKeyFromSeed(&seed)
}

// PublicKey encodes the public key of alg from its components: ML-DSA-65
// public key, then the traditional key (ed25519.PublicKey, or an
// *ecdsa.PublicKey on P-256). For MLDSA65, tradPub must be nil. A component
// of the wrong type gives ErrKeyType; an unknown alg, ErrUnknownAlg.
func PublicKey(alg Alg, mldsaPub *mldsa65.PublicKey, tradPub crypto.PublicKey) ([]byte, error) {
	p, err := lookup(alg)
	if err != nil {
		return nil, err
	}
	if mldsaPub == nil {
		return nil, fmt.Errorf("%w: nil ML-DSA-65 public key", ErrKeyType)
	}
	out := mldsaPub.Bytes()
	if p.trad == tradNone {
		if tradPub != nil {
			return nil, fmt.Errorf("%w: %s takes no traditional key, got %T", ErrKeyType, alg, tradPub)
		}
		return out, nil
	}
	tb, err := encodeTradPublicKey(p, tradPub)
	if err != nil {
		return nil, err
	}
	return append(out, tb...), nil
}

// MLDSAKey is the ML-DSA-65 half of a signing key. Private signs; every
// signature it makes is verified under Public before it is released, as the
// traditional half is verified under its signer's public key.
//
// Public should be the key verifiers will use — the one published for the
// key version — rather than one re-derived from Private: then a private key
// derived from the wrong seed is caught too, and signing costs no second
// key derivation. A Public that does not belong to Private makes every
// signature fail with ErrSignerFault.
type MLDSAKey struct {
	Public  *mldsa65.PublicKey
	Private *mldsa65.PrivateKey
}

// zeroMLDSA65 is the zero public key, which mldsa65.Verify cannot take
// (it dereferences the key's expanded matrix).
var zeroMLDSA65 mldsa65.PublicKey

// check returns ErrKeyType unless both halves of k are set.
func (k *MLDSAKey) check() error {
	switch {
	case k == nil || k.Private == nil:
		return fmt.Errorf("%w: nil ML-DSA-65 private key", ErrKeyType)
	case k.Public == nil || k.Public.Equal(&zeroMLDSA65):
		return fmt.Errorf("%w: nil or zero ML-DSA-65 public key", ErrKeyType)
	}
	return nil
}

// SplitPublicKey parses an encoded public key of alg into its ML-DSA-65 key
// and its traditional key (ed25519.PublicKey or *ecdsa.PublicKey; nil for
// MLDSA65). A key of the wrong length, or a P-256 point that is not on the
// curve, gives ErrMalformedPublicKey.
func SplitPublicKey(alg Alg, pub []byte) (*mldsa65.PublicKey, crypto.PublicKey, error) {
	p, err := lookup(alg)
	if err != nil {
		return nil, nil, err
	}
	mb, tb, err := splitPublicKey(p, pub)
	if err != nil {
		return nil, nil, err
	}
	var mk mldsa65.PublicKey
	if err := mk.UnmarshalBinary(mb); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformedPublicKey, err)
	}
	if p.trad == tradNone {
		return &mk, nil, nil
	}
	tk, err := parseTradPublicKey(p, tb)
	if err != nil {
		return nil, nil, err
	}
	return &mk, tk, nil
}

// SplitSignature splits a composite signature of alg into its ML-DSA and
// traditional components, which alias sig. It checks the structure only:
// the ML-DSA length, an Ed25519 length of 64, or a strictly DER-encoded
// ECDSA signature with r and s in range. Anything else gives an error
// matching ErrInvalidSignature; a non-composite alg gives ErrModeAlg.
func SplitSignature(alg Alg, sig []byte) (mldsaSig, tradSig []byte, err error) {
	p, err := lookupComposite(alg)
	if err != nil {
		return nil, nil, err
	}
	return splitSignature(p, sig)
}

// Sign returns the composite signature of msg under ctx for the composite
// algorithm alg. The ML-DSA-65 half is made by ml.Private and hedged
// (randomized, the FIPS 204 default), so two signatures of one message
// differ. The traditional half is made by trad: an Ed25519 signer is given
// crypto.Hash(0) and all of M', a P-256 signer crypto.SHA256 and
// SHA-256(M') and must return ASN.1 DER. Both halves are verified before
// the signature is returned.
//
// Errors: ErrUnknownAlg, ErrModeAlg (alg is not composite), ErrKeyType (nil
// key, or trad's public key does not fit alg), ErrContextTooLong, the
// signer's own error wrapped, and ErrSignerFault when a half does not
// verify: the ML-DSA-65 half under ml.Public, the traditional half under
// trad's own public key.
func Sign(alg Alg, ml *MLDSAKey, trad crypto.Signer, msg, ctx []byte) ([]byte, error) {
	p, err := lookupComposite(alg)
	if err != nil {
		return nil, err
	}
	if err := ml.check(); err != nil {
		return nil, err
	}
	return signComposite(p, ml, trad, msg, ctx)
}

// Verify checks sig on msg under ctx by pub the way the standard does: for a
// composite alg both components must verify (mode hybrid_and); for MLDSA65
// it is plain ML-DSA-65 (mode pq_only). It is VerifyForMode with that mode,
// and has the same error contract.
func Verify(alg Alg, pub, msg, ctx, sig []byte) error {
	p, err := lookup(alg)
	if err != nil {
		return err
	}
	mode := ModeHybridAnd
	if p.trad == tradNone {
		mode = ModePQOnly
	}
	_, err = verifyForMode(mode, p, pub, msg, ctx, sig)
	return err
}

// messageRepresentative returns M' for a composite algorithm.
func messageRepresentative(p *params, msg, ctx []byte) []byte {
	ph := sha512.Sum512(msg)
	m := make([]byte, 0, len(prefix)+len(p.label)+1+len(ctx)+len(ph))
	m = append(m, prefix...)
	m = append(m, p.label...)
	m = append(m, byte(len(ctx)))
	m = append(m, ctx...)
	return append(m, ph[:]...)
}

// mldsaSigner makes the ML-DSA half of a signature: sign signs msg under
// ctx, verify checks a signature under the public key it must verify with.
// *MLDSAKey is the one implementation outside tests.
type mldsaSigner interface {
	sign(msg, ctx []byte) ([]byte, error)
	verify(msg, ctx, sig []byte) bool
}

// sign makes a hedged ML-DSA-65 signature with k.Private.
func (k *MLDSAKey) sign(msg, ctx []byte) ([]byte, error) {
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k.Private, msg, ctx, true, sig); err != nil {
		return nil, fmt.Errorf("pq: ML-DSA-65 signing: %w", err)
	}
	return sig, nil
}

// verify checks sig under k.Public.
func (k *MLDSAKey) verify(msg, ctx, sig []byte) bool {
	return len(sig) == mldsa65.SignatureSize && mldsa65.Verify(k.Public, msg, ctx, sig)
}

// signMLDSA signs m under ctx with ml and checks the result before
// returning it, as signTrad does for the traditional half.
func signMLDSA(p *params, ml mldsaSigner, m, ctx []byte) ([]byte, error) {
	sig, err := ml.sign(m, ctx)
	if err != nil {
		return nil, err
	}
	if !ml.verify(m, ctx, sig) {
		return nil, fmt.Errorf("%w (%s, %d bytes)", ErrSignerFault, p.ml.name, len(sig))
	}
	return sig, nil
}

// signComposite signs msg under ctx with both halves of p, checking each
// before it is released.
func signComposite(p *params, ml mldsaSigner, trad crypto.Signer, msg, ctx []byte) ([]byte, error) {
	if len(ctx) > MaxContextSize {
		return nil, ErrContextTooLong
	}
	tradPub, err := signerPublicKey(p, trad)
	if err != nil {
		return nil, err
	}
	m := messageRepresentative(p, msg, ctx)
	mlSig, err := signMLDSA(p, ml, m, []byte(p.label))
	if err != nil {
		return nil, err
	}
	tradSig, err := signTrad(p, trad, tradPub, m)
	if err != nil {
		return nil, err
	}
	return append(mlSig, tradSig...), nil
}

// signerPublicKey returns trad's public key if it fits p, else ErrKeyType.
func signerPublicKey(p *params, trad crypto.Signer) (crypto.PublicKey, error) {
	if trad == nil {
		return nil, fmt.Errorf("%w: nil %s signer", ErrKeyType, p.tradName())
	}
	pub := trad.Public()
	if _, err := encodeTradPublicKey(p, pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// signTrad signs m (M', or the bare message in mode off) with trad and
// checks the result against pub before returning it.
func signTrad(p *params, trad crypto.Signer, pub crypto.PublicKey, m []byte) ([]byte, error) {
	var sig []byte
	var err error
	switch p.trad {
	case tradEd25519:
		sig, err = trad.Sign(rand.Reader, m, crypto.Hash(0))
	case tradP256:
		d := sha256.Sum256(m)
		sig, err = trad.Sign(rand.Reader, d[:], crypto.SHA256)
	default:
		return nil, fmt.Errorf("%w: %s has no traditional component", ErrModeAlg, p.alg)
	}
	if err != nil {
		return nil, fmt.Errorf("pq: %s signer: %w", p.tradName(), err)
	}
	if checkTradSignature(p, sig) != nil || !verifyTrad(p, pub, m, sig) {
		return nil, fmt.Errorf("%w (%s, %d bytes)", ErrSignerFault, p.tradName(), len(sig))
	}
	return sig, nil
}

// encodeTradPublicKey returns the wire form of a traditional public key, or
// ErrKeyType if it does not fit p.
func encodeTradPublicKey(p *params, pub crypto.PublicKey) ([]byte, error) {
	switch p.trad {
	case tradEd25519:
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: %s needs a 32-byte ed25519.PublicKey, got %T", ErrKeyType, p.alg, pub)
		}
		return bytes.Clone(k), nil
	case tradP256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: %s needs a P-256 *ecdsa.PublicKey, got %T", ErrKeyType, p.alg, pub)
		}
		b, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeyType, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: %s takes no traditional key", ErrKeyType, p.alg)
}

// splitPublicKey checks the length of an encoded public key of p and
// returns its halves (trad is empty for plain ML-DSA).
func splitPublicKey(p *params, pub []byte) (ml, trad []byte, err error) {
	if len(pub) != p.publicKeySize() {
		return nil, nil, fmt.Errorf("%w: %s public key is %d bytes, want %d", ErrMalformedPublicKey, p.alg, len(pub), p.publicKeySize())
	}
	return pub[:p.ml.pkSize], pub[p.ml.pkSize:], nil
}

func parseTradPublicKey(p *params, b []byte) (crypto.PublicKey, error) {
	switch p.trad {
	case tradEd25519:
		if len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 key is %d bytes, want 32", ErrMalformedPublicKey, len(b))
		}
		return ed25519.PublicKey(bytes.Clone(b)), nil
	case tradP256:
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
		if err != nil {
			return nil, fmt.Errorf("%w: P-256 key: %v", ErrMalformedPublicKey, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s takes no traditional key", ErrModeAlg, p.alg)
}

// splitSignature checks the structure of a composite signature of p.
func splitSignature(p *params, sig []byte) (ml, trad []byte, err error) {
	if len(sig) < p.ml.sigSize {
		return nil, nil, malformed(p.alg, "%d bytes, shorter than its %s part (%d)", len(sig), p.ml.name, p.ml.sigSize)
	}
	ml, trad = sig[:p.ml.sigSize], sig[p.ml.sigSize:]
	if err := checkTradSignature(p, trad); err != nil {
		return nil, nil, err
	}
	return ml, trad, nil
}

// checkTradSignature checks the structure of a traditional signature: exact
// Ed25519 length, or canonical DER for ECDSA with 0 < r, s < n.
func checkTradSignature(p *params, sig []byte) error {
	switch p.trad {
	case tradEd25519:
		if len(sig) != ed25519.SignatureSize {
			return malformed(p.alg, "Ed25519 part is %d bytes, want 64", len(sig))
		}
		return nil
	case tradP256:
		if len(sig) < p256MinSigSize || len(sig) > p256MaxSigSize {
			return malformed(p.alg, "ECDSA part is %d bytes, want %d to %d", len(sig), p256MinSigSize, p256MaxSigSize)
		}
		var rs struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(sig, &rs)
		if err != nil || len(rest) != 0 {
			return malformed(p.alg, "ECDSA part is not one DER SEQUENCE of two INTEGERs")
		}
		n := elliptic.P256().Params().N
		if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.Cmp(n) >= 0 || rs.S.Cmp(n) >= 0 {
			return malformed(p.alg, "ECDSA r or s out of range")
		}
		// encoding/asn1 is lenient in places; insist on the one encoding.
		if again, err := asn1.Marshal(rs); err != nil || !bytes.Equal(again, sig) {
			return malformed(p.alg, "ECDSA part is not canonical DER")
		}
		return nil
	}
	return malformed(p.alg, "no traditional component")
}

// verifyTrad verifies a structurally checked traditional signature on m
// (M', or the bare message in mode off).
func verifyTrad(p *params, pub crypto.PublicKey, m, sig []byte) bool {
	switch p.trad {
	case tradEd25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize && ed25519.Verify(k, m, sig)
	case tradP256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k == nil {
			return false
		}
		d := sha256.Sum256(m)
		return ecdsa.VerifyASN1(k, d[:], sig)
	}
	return false
}

// MessageRepresentative returns M', the bytes each component of a composite
// signature of alg signs for msg and ctx. It lets a verifier outside this
// package (openssl, another language) check the traditional component on its
// own, as the demo does.
func MessageRepresentative(alg Alg, msg, ctx []byte) ([]byte, error) {
	p, err := lookupComposite(alg)
	if err != nil {
		return nil, err
	}
	if len(ctx) > MaxContextSize {
		return nil, ErrContextTooLong
	}
	return messageRepresentative(p, msg, ctx), nil
}
