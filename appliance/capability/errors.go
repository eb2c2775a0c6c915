package capability

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Reason is why a capability was refused or could not be minted. The set of
// reasons is closed (see Reasons): each value is a stable, lower-case label
// that the API returns to clients and that metrics use as the reason label of
// kms_policy_rejects_total.
type Reason string

// The closed list of reasons. Add a reason here, in Reasons and in
// Reason.HTTPStatus together, or not at all.
const (
	// ReasonMalformed: the token is not a canonical base64url v2 binary
	// macaroon with a well-formed id, a caveat does not follow the caveat
	// grammar, or a request or mint request field is malformed.
	ReasonMalformed Reason = "malformed"
	// ReasonBadSignature: the macaroon's HMAC chain does not verify under
	// this appliance's root key (forged, altered, or minted elsewhere).
	ReasonBadSignature Reason = "bad_signature"
	// ReasonUnknownCaveat: a well-formed first-party caveat whose name this
	// package does not know.
	ReasonUnknownCaveat Reason = "unknown_caveat"
	// ReasonConflictingCaveat: a caveat repeats one that may appear only
	// once, repeats one without strictly narrowing it, or contradicts another
	// (a key pattern for a different tenant).
	ReasonConflictingCaveat Reason = "conflicting_caveat"
	// ReasonThirdPartyCaveat: the macaroon carries a third-party caveat;
	// they are never accepted.
	ReasonThirdPartyCaveat Reason = "third_party_caveat"
	// ReasonMissingCaveat: a required caveat (tenant, scope, exp) is absent.
	ReasonMissingCaveat Reason = "missing_caveat"
	// ReasonExpired: the capability's exp is not after the time of the check.
	ReasonExpired Reason = "expired"
	// ReasonRevoked: the capability's id has been revoked.
	ReasonRevoked Reason = "revoked"
	// ReasonTenantMismatch: the capability is for another tenant.
	ReasonTenantMismatch Reason = "tenant_mismatch"
	// ReasonScopeDenied: the operation is not in the capability's scope.
	ReasonScopeDenied Reason = "scope_denied"
	// ReasonAlgDenied: the algorithm is not in the capability's alg list.
	ReasonAlgDenied Reason = "alg_denied"
	// ReasonKeyDenied: the key does not match the capability's key pattern,
	// or belongs to another tenant.
	ReasonKeyDenied Reason = "key_denied"
	// ReasonNonceReused: a single-use capability has already been used.
	ReasonNonceReused Reason = "nonce_reused"
	// ReasonRateLimited: the capability's rps budget is spent; retry after
	// Error.RetryAfter.
	ReasonRateLimited Reason = "rate_limited"
	// ReasonMintCeiling: the tenant already holds its maximum number of
	// active capabilities.
	ReasonMintCeiling Reason = "mint_ceiling"
	// ReasonMintRate: the tenant's mint rate is spent; retry after
	// Error.RetryAfter.
	ReasonMintRate Reason = "mint_rate"
	// ReasonTTLExceeded: the requested lifetime is longer than policy allows.
	ReasonTTLExceeded Reason = "ttl_exceeded"
	// ReasonUnavailable: state needed to decide could not be read or recorded
	// (for example the nonce store is full or failing); the request is denied
	// rather than decided without it.
	ReasonUnavailable Reason = "unavailable"
)

var reasons = []Reason{
	ReasonMalformed,
	ReasonBadSignature,
	ReasonUnknownCaveat,
	ReasonConflictingCaveat,
	ReasonThirdPartyCaveat,
	ReasonMissingCaveat,
	ReasonExpired,
	ReasonRevoked,
	ReasonTenantMismatch,
	ReasonScopeDenied,
	ReasonAlgDenied,
	ReasonKeyDenied,
	ReasonNonceReused,
	ReasonRateLimited,
	ReasonMintCeiling,
	ReasonMintRate,
	ReasonTTLExceeded,
	ReasonUnavailable,
}

// Reasons returns every Reason this package can produce, in a fixed order.
// The caller owns the returned slice.
func Reasons() []Reason {
	return append([]Reason(nil), reasons...)
}

// HTTPStatus is the HTTP status that fits r: 400 for malformed input, 401
// when the credential itself is not (or no longer) valid, 403 when a valid
// credential does not permit the request, 429 when retrying later will help,
// 503 when the appliance could not decide. An unknown reason gives 403.
func (r Reason) HTTPStatus() int {
	switch r {
	case ReasonMalformed:
		return http.StatusBadRequest
	case ReasonBadSignature, ReasonExpired, ReasonRevoked:
		return http.StatusUnauthorized
	case ReasonRateLimited, ReasonMintRate:
		return http.StatusTooManyRequests
	case ReasonUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusForbidden
	}
}

// Error is the only error type this package returns for a refused
// capability, check or mint. Msg never contains key material, macaroon
// signatures or whole tokens.
type Error struct {
	Reason Reason
	Msg    string
	// RetryAfter is set for ReasonRateLimited and ReasonMintRate: how long
	// until a retry can succeed (the API rounds it up for Retry-After).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return "capability: " + string(e.Reason) + ": " + e.Msg
}

// HTTPStatus is e.Reason.HTTPStatus().
func (e *Error) HTTPStatus() int { return e.Reason.HTTPStatus() }

// ReasonOf returns the Reason of the *Error in err's chain. For any other
// non-nil error it returns ReasonUnavailable and false, so that a caller
// that labels every failure still uses a reason from the closed list.
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return ReasonUnavailable, false
}

func errorf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// quote renders attacker-chosen text for an error message: quoted, and cut
// to a length that keeps messages and logs small.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
