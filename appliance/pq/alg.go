package pq

import (
	"crypto/ed25519"
	"fmt"

	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// Alg names a signature algorithm by its identifier: the composite names of
// draft-ietf-lamps-pq-composite-sigs, or id-ML-DSA-65 for plain ML-DSA-65.
type Alg string

// The algorithms the appliance uses. Policy decides which of them a tenant's
// key may use; this package only implements them.
const (
	// MLDSA65Ed25519 is ML-DSA-65 with pure Ed25519, message pre-hashed with SHA-512.
	MLDSA65Ed25519 Alg = "id-MLDSA65-Ed25519-SHA512"
	// MLDSA65ECDSAP256 is ML-DSA-65 with ECDSA P-256 over SHA-256, message
	// pre-hashed with SHA-512.
	MLDSA65ECDSAP256 Alg = "id-MLDSA65-ECDSA-P256-SHA512"
	// MLDSA65 is plain ML-DSA-65 (FIPS 204, "pure", with a context string).
	MLDSA65 Alg = "id-ML-DSA-65"
)

// ParseAlg returns the Alg named exactly by s. Anything else, including a
// different spelling of a known name, is an error wrapping ErrUnknownAlg.
func ParseAlg(s string) (Alg, error) {
	if _, ok := algs[Alg(s)]; !ok {
		return "", fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownAlg, s, MLDSA65Ed25519, MLDSA65ECDSAP256, MLDSA65)
	}
	return Alg(s), nil
}

// Composite reports whether a is a known composite algorithm.
func (a Alg) Composite() bool {
	p, ok := algs[a]
	return ok && p.trad != tradNone
}

// Component names one half of a composite signature.
type Component string

const (
	ComponentMLDSA       Component = "ML-DSA"
	ComponentTraditional Component = "traditional"
)

// tradKind is the traditional half of a composite algorithm.
type tradKind int

const (
	tradNone tradKind = iota
	tradEd25519
	tradP256
)

const (
	p256PublicKeySize = 65 // uncompressed SEC 1 point
	// p256MaxSigSize is the longest DER ECDSA P-256 signature:
	// SEQUENCE{INTEGER(33 bytes), INTEGER(33 bytes)}.
	p256MaxSigSize = 2 + 2*(2+33)
	// p256MinSigSize is the shortest: SEQUENCE{INTEGER(1 byte), INTEGER(1 byte)}.
	p256MinSigSize = 2 + 2*(2+1)
)

// mldsaSet is one ML-DSA parameter set.
type mldsaSet struct {
	name            string
	pkSize, sigSize int
	// verify reports whether sig is a valid signature of msg under ctx by the
	// encoded public key pk, which has length pkSize.
	verify func(pk, msg, ctx, sig []byte) bool
}

var mldsa65Set = &mldsaSet{
	name:    "ML-DSA-65",
	pkSize:  mldsa65.PublicKeySize,
	sigSize: mldsa65.SignatureSize,
	verify: func(pk, msg, ctx, sig []byte) bool {
		var k mldsa65.PublicKey
		if k.UnmarshalBinary(pk) != nil {
			return false
		}
		return mldsa65.Verify(&k, msg, ctx, sig)
	},
}

// mldsa44Set exists only so that the package's tests can check the
// id-MLDSA44-Ed25519-SHA512 known-answer vector through the same code path.
var mldsa44Set = &mldsaSet{
	name:    "ML-DSA-44",
	pkSize:  mldsa44.PublicKeySize,
	sigSize: mldsa44.SignatureSize,
	verify: func(pk, msg, ctx, sig []byte) bool {
		var k mldsa44.PublicKey
		if k.UnmarshalBinary(pk) != nil {
			return false
		}
		return mldsa44.Verify(&k, msg, ctx, sig)
	},
}

// params describes one algorithm.
type params struct {
	alg   Alg
	label string // composite label, the ML-DSA context; "" for plain ML-DSA
	ml    *mldsaSet
	trad  tradKind
}

func (p *params) tradPublicKeySize() int {
	switch p.trad {
	case tradEd25519:
		return ed25519.PublicKeySize
	case tradP256:
		return p256PublicKeySize
	}
	return 0
}

func (p *params) publicKeySize() int { return p.ml.pkSize + p.tradPublicKeySize() }

func (p *params) tradName() string {
	switch p.trad {
	case tradEd25519:
		return "Ed25519"
	case tradP256:
		return "ECDSA P-256"
	}
	return "none"
}

var algs = map[Alg]*params{
	MLDSA65Ed25519:   {alg: MLDSA65Ed25519, label: "COMPSIG-MLDSA65-Ed25519-SHA512", ml: mldsa65Set, trad: tradEd25519},
	MLDSA65ECDSAP256: {alg: MLDSA65ECDSAP256, label: "COMPSIG-MLDSA65-ECDSA-P256-SHA512", ml: mldsa65Set, trad: tradP256},
	MLDSA65:          {alg: MLDSA65, ml: mldsa65Set},
}

// mldsa44Ed25519 is deliberately not in algs: the appliance does not use it,
// so no caller can reach it by converting a string to Alg.
var mldsa44Ed25519 = &params{alg: "id-MLDSA44-Ed25519-SHA512", label: "COMPSIG-MLDSA44-Ed25519-SHA512", ml: mldsa44Set, trad: tradEd25519}

func lookup(alg Alg) (*params, error) {
	p, ok := algs[alg]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownAlg, string(alg))
	}
	return p, nil
}

func lookupComposite(alg Alg) (*params, error) {
	p, err := lookup(alg)
	if err != nil {
		return nil, err
	}
	if p.trad == tradNone {
		return nil, fmt.Errorf("%w: %s is not a composite algorithm", ErrModeAlg, alg)
	}
	return p, nil
}
