// Package capability mints and checks the appliance's capabilities:
// macaroons (gopkg.in/macaroon.v2) whose first-party caveats say which
// tenant, operations, algorithms and keys a bearer may use, until when, how
// often and how many times. It enforces K-G2 (no operation without a
// capability), K-G3 (capabilities are bounded: every one has a tenant and an
// expiry, and minting is capped and rate-limited per tenant by policy) and
// K-G8 (anything ambiguous is denied). Time comes in as an argument and
// state lives in the Registry, NonceStore and Limiter; the only I/O is
// FileNonceStore's, which keeps used nonces in a file across restarts.
//
// # Tokens
//
// A token is one macaroon in the v2 binary format, base64url-encoded with or
// without padding (see Decode). Its id is 16 random bytes in lower-case hex
// (schemas/defs.json#/$defs/id128); revocation and audit name capabilities
// by it. Its location is not signed and is ignored.
//
// # Caveat grammar
//
// Every caveat is first-party; third-party caveats are refused. A caveat is
//
//	caveat  = name SP value            ; exactly one space
//	value   = 1*VCHAR                  ; printable ASCII, no space
//
//	tenant <tenant>                    ; schemas/defs.json#/$defs/tenant (policy.TenantRE)
//	scope  <op>[,<op>...]              ; op = sign | verify | wrap | unwrap, distinct
//	alg    <alg>[,<alg>...]            ; alg from Algs(), distinct
//	exp    <YYYY-MM-DDTHH:MM:SSZ>      ; RFC 3339, UTC, whole seconds, exactly this form
//	rps    <n>                         ; 1..MaxRPS, decimal, no leading zero
//	key    <tenant>/<glob>             ; schemas/defs.json#/$defs/key_pattern
//	nonce  <id128>                     ; schemas/defs.json#/$defs/id128
//
// tenant, scope and exp are required (missing_caveat). Without alg any
// algorithm is permitted, without key any key of the tenant, without rps
// there is no per-capability rate, without nonce the capability is
// multi-use. A nonce makes the capability single use: the first request that
// passes every other check consumes it.
//
// Key patterns: a request names a key as "tenant/name" or "tenant/name/vN"
// (schemas/defs.json#/$defs/key_name, the shape of a backend label). The
// version is dropped and "tenant/name" is matched against the pattern with
// path.Match: '*' matches any run of name characters and '?' exactly one;
// there are no character classes or escapes, and nothing matches across
// '/'. The pattern's tenant is literal and must be the tenant caveat's
// (else conflicting_caveat). A key of another tenant is always denied
// (key_denied).
//
// # Attenuation and conflicts
//
// A holder may append caveats to narrow a capability; every caveat must hold,
// and a repeated caveat must strictly narrow the one before it, which it
// then replaces (anything else is conflicting_caveat):
//
//   - tenant, nonce: at most once;
//   - exp: a strictly earlier time;
//   - scope, alg: a strict subset;
//   - rps: a strictly lower rate;
//   - key: a single literal key name ("acme/payments") that the earlier
//     pattern matches.
//
// So appending "exp" with a later time, "scope" with an extra operation or
// a second "tenant" is refused outright, not silently ignored.
//
// # Errors
//
// Every refusal is an *Error with a Reason from the closed list returned by
// Reasons; Reason.HTTPStatus maps it to 400, 401, 403, 429 or 503. No
// message contains the root key, a macaroon signature or a token.
package capability
