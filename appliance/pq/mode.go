package pq

import (
	"bytes"
	"crypto"
	"fmt"
)

// Mode is a tenant's PQ mode (DESIGN §3). A tenant keeps one key across
// modes — a composite algorithm and its composite public key — and the mode
// decides which signature is made and which is accepted:
//
//	off         traditional signature on the bare message; no context
//	hybrid_or   composite signature; either component suffices (non-standard)
//	hybrid_and  composite signature; both components must verify (the standard)
//	pq_only     plain ML-DSA-65 signature on the bare message
//
// In off and pq_only a message that begins with the composite prefix is
// refused, so one component stripped from a composite signature can never
// pass as a single-algorithm signature.
type Mode string

const (
	ModeOff       Mode = "off"
	ModeHybridOr  Mode = "hybrid_or"
	ModeHybridAnd Mode = "hybrid_and"
	ModePQOnly    Mode = "pq_only"
)

// DefaultMode is the production default. ParseMode never substitutes it for
// a missing or unreadable mode: the caller has to choose it explicitly.
const DefaultMode = ModeHybridAnd

// ParseMode returns the Mode spelled exactly s. Anything else — an empty
// string, other case, surrounding space — is ambiguous and gives an error
// wrapping ErrUnknownMode (K-G8: deny on ambiguity).
func ParseMode(s string) (Mode, error) {
	m := Mode(s)
	if !m.valid() {
		return "", fmt.Errorf("%w %q (want %s, %s, %s or %s)", ErrUnknownMode, s, ModeOff, ModeHybridOr, ModeHybridAnd, ModePQOnly)
	}
	return m, nil
}

func (m Mode) valid() bool {
	switch m {
	case ModeOff, ModeHybridOr, ModeHybridAnd, ModePQOnly:
		return true
	}
	return false
}

// Result describes an accepted signature.
type Result struct {
	Mode Mode
	Alg  Alg
	// MLDSA and Traditional report which components verified; a component
	// the mode does not check is false.
	MLDSA, Traditional bool
	// NonStandard is set on every result under hybrid_or: the signature was
	// judged by a rule the composite standard does not allow (hybrid_or is
	// non-standard, for phase 1 only). Check MLDSA and Traditional to see
	// whether it would also have passed hybrid_and.
	NonStandard bool
}

// VerifyForMode checks sig on msg under ctx by the public key pub of alg, as
// mode requires (see Mode). alg is the tenant key's algorithm: a composite
// algorithm in every mode, or MLDSA65 in pq_only; pub is always the key's
// full encoding (PublicKey).
//
// On success the Result says what was checked. Errors:
//   - matching ErrInvalidSignature: the signature is rejected — malformed
//     (wrong length, trailing bytes, non-canonical DER; in every mode, hybrid_or
//     included), a stripped-component message (see Mode), or a
//     *ComponentError naming the components that did not verify;
//   - ErrUnknownMode, ErrUnknownAlg, ErrModeAlg (alg cannot be used in mode),
//     ErrMalformedPublicKey, ErrContextTooLong, ErrContextUnsupported (off
//     with a non-empty ctx): the request is wrong, not the signature.
func VerifyForMode(mode Mode, alg Alg, pub, msg, ctx, sig []byte) (Result, error) {
	p, err := lookup(alg)
	if err != nil {
		return Result{}, err
	}
	return verifyForMode(mode, p, pub, msg, ctx, sig)
}

func verifyForMode(mode Mode, p *params, pub, msg, ctx, sig []byte) (Result, error) {
	if err := checkModeAlg(mode, p, ctx); err != nil {
		return Result{}, err
	}
	res := Result{Mode: mode, Alg: p.alg}
	switch mode {
	case ModeOff:
		_, tb, err := splitPublicKey(p, pub)
		if err != nil {
			return Result{}, err
		}
		tk, err := parseTradPublicKey(p, tb)
		if err != nil {
			return Result{}, err
		}
		if hasPrefix(msg) {
			return Result{}, fmt.Errorf("%w: mode off: message begins with the composite prefix (a stripped composite component?)", ErrInvalidSignature)
		}
		if err := checkTradSignature(p, sig); err != nil {
			return Result{}, err
		}
		if !verifyTrad(p, tk, msg, sig) {
			return Result{}, &ComponentError{Alg: p.alg, Failed: []Component{ComponentTraditional}}
		}
		res.Traditional = true
		return res, nil

	case ModePQOnly:
		mb, _, err := splitPublicKey(p, pub)
		if err != nil {
			return Result{}, err
		}
		if hasPrefix(msg) {
			return Result{}, fmt.Errorf("%w: mode pq_only: message begins with the composite prefix (a stripped composite component?)", ErrInvalidSignature)
		}
		if len(sig) != p.ml.sigSize {
			return Result{}, malformed(p.alg, "%s signature is %d bytes, want %d", p.ml.name, len(sig), p.ml.sigSize)
		}
		if !p.ml.verify(mb, msg, ctx, sig) {
			return Result{}, &ComponentError{Alg: p.alg, Failed: []Component{ComponentMLDSA}}
		}
		res.MLDSA = true
		return res, nil

	default: // hybrid_and, hybrid_or
		mb, tb, err := splitPublicKey(p, pub)
		if err != nil {
			return Result{}, err
		}
		tk, err := parseTradPublicKey(p, tb)
		if err != nil {
			return Result{}, err
		}
		ms, ts, err := splitSignature(p, sig)
		if err != nil {
			return Result{}, err
		}
		m := messageRepresentative(p, msg, ctx)
		// Both components are always checked, so that a rejection names
		// every failing one and the work done does not depend on which fails.
		res.MLDSA = p.ml.verify(mb, m, []byte(p.label), ms)
		res.Traditional = verifyTrad(p, tk, m, ts)
		res.NonStandard = mode == ModeHybridOr
		var failed []Component
		if !res.MLDSA {
			failed = append(failed, ComponentMLDSA)
		}
		if !res.Traditional {
			failed = append(failed, ComponentTraditional)
		}
		if (mode == ModeHybridAnd && len(failed) > 0) || len(failed) == 2 {
			return Result{}, &ComponentError{Alg: p.alg, Failed: failed}
		}
		return res, nil
	}
}

// SignForMode signs msg under ctx as mode requires (see Mode): in off, trad
// alone signs the bare message (ctx must be empty); in hybrid_or and
// hybrid_and, Sign makes a composite signature — the same standard
// signature in both; in pq_only, ml alone signs the bare message with ctx
// (hedged). A key the mode does not use may be nil. Whatever is made is
// verified before it is returned, as Sign does.
//
// Errors: as Sign, plus ErrUnknownMode, ErrModeAlg, ErrContextUnsupported,
// and ErrPrefixedMessage in off and pq_only.
func SignForMode(mode Mode, alg Alg, ml *MLDSAKey, trad crypto.Signer, msg, ctx []byte) ([]byte, error) {
	p, err := lookup(alg)
	if err != nil {
		return nil, err
	}
	if err := checkModeAlg(mode, p, ctx); err != nil {
		return nil, err
	}
	switch mode {
	case ModeOff:
		if hasPrefix(msg) {
			return nil, ErrPrefixedMessage
		}
		pub, err := signerPublicKey(p, trad)
		if err != nil {
			return nil, err
		}
		return signTrad(p, trad, pub, msg)
	case ModePQOnly:
		if hasPrefix(msg) {
			return nil, ErrPrefixedMessage
		}
		if err := ml.check(); err != nil {
			return nil, err
		}
		return signMLDSA(p, ml, msg, ctx)
	default:
		return Sign(alg, ml, trad, msg, ctx)
	}
}

// checkModeAlg rejects an unknown mode, an algorithm the mode cannot use and
// a context the mode cannot bind.
func checkModeAlg(mode Mode, p *params, ctx []byte) error {
	if !mode.valid() {
		return fmt.Errorf("%w %q", ErrUnknownMode, string(mode))
	}
	if len(ctx) > MaxContextSize {
		return ErrContextTooLong
	}
	switch {
	case mode != ModePQOnly && p.trad == tradNone:
		return fmt.Errorf("%w: %s has no traditional component; mode %s needs a composite algorithm", ErrModeAlg, p.alg, mode)
	case mode == ModeOff && len(ctx) != 0:
		return ErrContextUnsupported
	}
	return nil
}

func hasPrefix(msg []byte) bool { return bytes.HasPrefix(msg, []byte(prefix)) }

// Transition classifies a change of a tenant's mode.
type Transition struct {
	From, To Mode
	// Sensitive changes need the stronger approval that policy sets for
	// them; Reason says why, for the proposal and the audit record.
	Sensitive bool
	Reason    string
}

// ClassifyTransition says whether moving a tenant from one mode to another
// is sensitive. Two kinds of change are:
//
//   - moving to pq_only: the traditional safety net goes, and every verifier
//     that cannot check ML-DSA-65 stops accepting the tenant's signatures;
//   - leaving the standard for a weaker mode — hybrid_and (or pq_only) to
//     hybrid_or or off: a forged traditional signature alone would then pass.
//     pq_only → hybrid_or is the same weakening as hybrid_and → hybrid_or,
//     so it is sensitive too.
//
// Everything else (off → hybrid_or → hybrid_and, pq_only → hybrid_and,
// hybrid_or → off, no change) is not. Either mode unknown gives
// ErrUnknownMode.
func ClassifyTransition(from, to Mode) (Transition, error) {
	for _, m := range []Mode{from, to} {
		if !m.valid() {
			return Transition{}, fmt.Errorf("%w %q", ErrUnknownMode, string(m))
		}
	}
	t := Transition{From: from, To: to}
	switch {
	case from == to:
	case to == ModePQOnly:
		t.Sensitive, t.Reason = true, "moving to pq_only drops the traditional component; verifiers without ML-DSA-65 stop accepting"
	case (from == ModeHybridAnd || from == ModePQOnly) && (to == ModeHybridOr || to == ModeOff):
		t.Sensitive, t.Reason = true, fmt.Sprintf("leaving %s for %s lets a traditional signature alone pass", from, to)
	}
	return t, nil
}
