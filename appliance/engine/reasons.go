package engine

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ron-kms/ron-kms/appliance/capability"
)

// Reason is why the appliance refused a request or a policy. The list is
// closed (see Reasons): the API returns it to clients, metrics use it as the
// reason label of kms_policy_rejects_total, and audit records carry it.
type Reason string

// The engine's own reasons. The capability reasons (capability.Reasons) are
// part of the same list, under their own names.
const (
	// ReasonNotReady: no verified policy has been applied yet.
	ReasonNotReady Reason = "not_ready"
	// ReasonNotEnrolled: the policy in force does not enrol this appliance
	// with the backend kind and slot it runs (K-G1).
	ReasonNotEnrolled Reason = "not_enrolled"
	// ReasonFrozen: an emergency freeze blocks sign until it expires.
	ReasonFrozen Reason = "frozen"
	// ReasonAttestationFailed: policy requires attestation and the backend
	// cannot attest, or its attestation check fails; sign is refused (K-G6).
	ReasonAttestationFailed Reason = "attestation_failed"
	// ReasonKeyNotFound: the tenant or key is not in policy, or the version
	// asked for does not exist on this appliance.
	ReasonKeyNotFound Reason = "key_not_found"
	// ReasonKeyRevoked: policy revoked the key.
	ReasonKeyRevoked Reason = "key_revoked"
	// ReasonKeyTooOld: the key's current version is older than its maximum
	// age; it signs and wraps again once a proposal rotates it.
	ReasonKeyTooOld Reason = "key_too_old"
	// ReasonKeySuperseded: sign or wrap named a version older than the
	// current one; only the current version makes new signatures.
	ReasonKeySuperseded Reason = "key_superseded"
	// ReasonAlgMismatch: the key's algorithm cannot do the operation (an
	// AES key asked to sign, a signing key asked to wrap), or the backend
	// holds a key of another algorithm than policy names.
	ReasonAlgMismatch Reason = "alg_mismatch"
	// ReasonPQMode: the request asks for a signature form the tenant's PQ
	// mode does not allow.
	ReasonPQMode Reason = "pq_mode"
	// ReasonBadRequest: the request is malformed (JSON, base64, a field out
	// of range, a digest where the algorithm cannot take one).
	ReasonBadRequest Reason = "bad_request"
	// ReasonUnwrapFailed: the ciphertext or its associated data does not
	// authenticate under the key.
	ReasonUnwrapFailed Reason = "unwrap_failed"
	// ReasonMinterUnknown: the mint request is not signed by a minter key
	// policy lists for the tenant.
	ReasonMinterUnknown Reason = "minter_unknown"
	// ReasonMinterBadSignature: the minter's signature does not verify.
	ReasonMinterBadSignature Reason = "minter_bad_signature"
	// ReasonMintStale: the mint request was issued more than MintWindow
	// ago, or too far in the future.
	ReasonMintStale Reason = "mint_request_stale"
	// ReasonMintReplayed: the mint request's nonce was used before.
	ReasonMintReplayed Reason = "mint_request_replayed"
	// ReasonAuditUnavailable: the decision could not be written to the
	// audit log; nothing is released (fail closed).
	ReasonAuditUnavailable Reason = "audit_unavailable"
	// ReasonBackendError: the key custodian failed.
	ReasonBackendError Reason = "backend_error"
	// ReasonPolicyRollback: a policy of a lower version than the one in
	// force was refused.
	ReasonPolicyRollback Reason = "policy_rollback"
	// ReasonPolicyConflict: a policy of the same version as the one in
	// force but another digest was refused (a fork).
	ReasonPolicyConflict Reason = "policy_conflict"
	// ReasonPolicyInvalid: a snapshot whose policy does not validate or
	// does not match its digest was refused.
	ReasonPolicyInvalid Reason = "policy_invalid"
	// ReasonTooLarge: the request body exceeds the size limit.
	ReasonTooLarge Reason = "too_large"
	// ReasonTimeout: the request ran out of time before it was decided.
	ReasonTimeout Reason = "timeout"
	// ReasonWebhookUnauthorized: a sync webhook without a valid HMAC.
	ReasonWebhookUnauthorized Reason = "webhook_unauthorized"
	// ReasonSyncFailed: a requested sync did not complete.
	ReasonSyncFailed Reason = "sync_failed"
	// ReasonOverloaded: more requests are in progress than policy's
	// limits.inflight_cap; retry after RetryAfter.
	ReasonOverloaded Reason = "overloaded"
	// ReasonNotFound: no such route.
	ReasonNotFound Reason = "not_found"
	// ReasonMethodNotAllowed: the route exists for another method.
	ReasonMethodNotAllowed Reason = "method_not_allowed"
)

var ownReasons = []Reason{
	ReasonNotReady, ReasonNotEnrolled, ReasonFrozen, ReasonAttestationFailed,
	ReasonKeyNotFound, ReasonKeyRevoked, ReasonKeyTooOld, ReasonKeySuperseded,
	ReasonAlgMismatch, ReasonPQMode, ReasonBadRequest, ReasonUnwrapFailed,
	ReasonMinterUnknown, ReasonMinterBadSignature, ReasonMintStale, ReasonMintReplayed,
	ReasonAuditUnavailable, ReasonBackendError,
	ReasonPolicyRollback, ReasonPolicyConflict, ReasonPolicyInvalid,
	ReasonTooLarge, ReasonTimeout, ReasonWebhookUnauthorized, ReasonSyncFailed,
	ReasonOverloaded, ReasonNotFound, ReasonMethodNotAllowed,
}

// Reasons returns the closed list of reasons: capability.Reasons followed by
// the engine's own, in a fixed order. The caller owns the slice.
func Reasons() []Reason {
	var out []Reason
	for _, r := range capability.Reasons() {
		out = append(out, Reason(r))
	}
	return append(out, ownReasons...)
}

// HTTPStatus is the status that fits r: 400 malformed, 401 the credential
// is not valid, 403 a valid credential or policy does not permit it, 404 no
// such key or route, 405, 409 conflicts with the state in force, 413, 429
// retry later, 503 the appliance cannot decide or serve now. A capability
// reason maps as capability.Reason.HTTPStatus; an unknown reason gives 403.
func (r Reason) HTTPStatus() int {
	switch r {
	case ReasonBadRequest, ReasonAlgMismatch, ReasonUnwrapFailed, ReasonPolicyInvalid:
		return http.StatusBadRequest
	case ReasonMinterUnknown, ReasonMinterBadSignature, ReasonMintStale, ReasonWebhookUnauthorized:
		return http.StatusUnauthorized
	case ReasonKeyRevoked, ReasonKeyTooOld, ReasonPQMode:
		return http.StatusForbidden
	case ReasonKeyNotFound, ReasonNotFound:
		return http.StatusNotFound
	case ReasonMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ReasonKeySuperseded, ReasonMintReplayed, ReasonPolicyRollback, ReasonPolicyConflict:
		return http.StatusConflict
	case ReasonTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonOverloaded:
		return http.StatusTooManyRequests
	case ReasonNotReady, ReasonNotEnrolled, ReasonFrozen, ReasonAttestationFailed,
		ReasonAuditUnavailable, ReasonBackendError, ReasonTimeout, ReasonSyncFailed:
		return http.StatusServiceUnavailable
	}
	return capability.Reason(r).HTTPStatus()
}

// Reject is the one error type the engine's operations return. Msg says
// what went wrong and what to do; it never holds key material, tokens,
// plaintext or message bytes.
type Reject struct {
	Reason Reason
	Msg    string
	// RetryAfter, when positive, is how long until a retry can succeed
	// (rate limits, a freeze); the API sends it as Retry-After.
	RetryAfter time.Duration
}

func (r *Reject) Error() string { return "engine: " + string(r.Reason) + ": " + r.Msg }

// HTTPStatus is r.Reason.HTTPStatus().
func (r *Reject) HTTPStatus() int { return r.Reason.HTTPStatus() }

func rejectf(reason Reason, format string, args ...any) *Reject {
	return &Reject{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// AsReject returns err as a *Reject: itself if it is one, a capability
// error under its own reason, and anything else as fallback with err's
// text. nil gives nil.
func AsReject(err error, fallback Reason) *Reject {
	if err == nil {
		return nil
	}
	var r *Reject
	if errors.As(err, &r) {
		return r
	}
	var ce *capability.Error
	if errors.As(err, &ce) {
		return &Reject{Reason: Reason(ce.Reason), Msg: ce.Msg, RetryAfter: ce.RetryAfter}
	}
	return &Reject{Reason: fallback, Msg: err.Error()}
}

// quote renders caller-chosen text for a message: quoted and cut short.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
