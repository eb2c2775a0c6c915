package pq

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on with errors.Is. Every rejection of a signature
// (malformed, stripped, or a component that does not verify) matches
// ErrInvalidSignature; the other errors mean the request itself was wrong
// (unknown algorithm or mode, bad key, over-long context) or, for
// ErrSignerFault, that a backend misbehaved.
var (
	ErrInvalidSignature   = errors.New("pq: invalid signature")
	ErrUnknownAlg         = errors.New("pq: unknown algorithm")
	ErrUnknownMode        = errors.New("pq: unknown mode")
	ErrModeAlg            = errors.New("pq: algorithm not usable in this mode")
	ErrKeyType            = errors.New("pq: wrong key type for algorithm")
	ErrMalformedPublicKey = errors.New("pq: malformed public key")
	ErrContextTooLong     = errors.New("pq: context longer than 255 bytes")
	// ErrContextUnsupported: mode off signs with the traditional algorithm
	// alone, which cannot bind a context.
	ErrContextUnsupported = errors.New("pq: mode off cannot bind a context; pass an empty context or use a hybrid mode")
	// ErrPrefixedMessage: in modes off and pq_only a message may not begin
	// with the composite prefix, since a signature on it could be one
	// component stripped from a composite signature.
	ErrPrefixedMessage = errors.New("pq: message begins with the composite signature prefix")
	// ErrSignerFault: a half of a signature did not verify before release —
	// the crypto.Signer returned something that is not a valid signature
	// under its own public key, or the ML-DSA-65 signature does not verify
	// under MLDSAKey.Public. Fail the request closed.
	ErrSignerFault = errors.New("pq: signer returned an invalid signature")
)

// ComponentError reports that one or both components of a well-formed
// signature did not verify. It matches ErrInvalidSignature under errors.Is.
type ComponentError struct {
	Alg Alg
	// Failed lists the failing components in signature order; never empty.
	Failed []Component
}

func (e *ComponentError) Error() string {
	names := make([]string, len(e.Failed))
	for i, c := range e.Failed {
		names[i] = string(c)
	}
	if len(names) == 1 {
		return fmt.Sprintf("pq: invalid signature: %s component of %s does not verify", names[0], e.Alg)
	}
	return fmt.Sprintf("pq: invalid signature: %s components of %s do not verify", strings.Join(names, " and "), e.Alg)
}

// Is makes a ComponentError match ErrInvalidSignature.
func (e *ComponentError) Is(target error) bool { return target == ErrInvalidSignature }

// Has reports whether component c failed.
func (e *ComponentError) Has(c Component) bool {
	for _, f := range e.Failed {
		if f == c {
			return true
		}
	}
	return false
}

// malformed returns an ErrInvalidSignature for a signature that could not be
// parsed, with the reason in its message.
func malformed(alg Alg, format string, args ...any) error {
	return fmt.Errorf("%w: malformed %s signature: %s", ErrInvalidSignature, alg, fmt.Sprintf(format, args...))
}
