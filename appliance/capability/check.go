package capability

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/macaroon.v2"
)

// MaxTokenLen is the longest token, in base64url characters, that Decode
// accepts.
const MaxTokenLen = 4096

// Decode parses a token as it arrives in an HTTP header: the macaroon v2
// binary format (exactly one macaroon, nothing after it, in its canonical
// encoding) in base64url, unpadded or padded. Nothing else is accepted: not
// the standard base64 alphabet, not whitespace or line breaks, not non-zero
// trailing bits, not v1 or JSON macaroons. The error is an *Error with
// ReasonMalformed.
func Decode(token string) (*macaroon.Macaroon, error) {
	if token == "" || len(token) > MaxTokenLen {
		return nil, errorf(ReasonMalformed, "token is %d characters, want 1..%d", len(token), MaxTokenLen)
	}
	enc := base64.RawURLEncoding
	body := token
	for len(body) > 0 && body[len(body)-1] == '=' {
		body = body[:len(body)-1]
		enc = base64.URLEncoding
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, errorf(ReasonMalformed, "token is not base64url: byte %d is %q", i, c)
		}
	}
	data, err := enc.Strict().DecodeString(token)
	if err != nil {
		return nil, errorf(ReasonMalformed, "token is not canonical base64url: %v", err)
	}
	if len(data) == 0 || data[0] != 2 {
		return nil, errorf(ReasonMalformed, "token is not a v2 binary macaroon")
	}
	var m macaroon.Macaroon
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, errorf(ReasonMalformed, "token is not a v2 binary macaroon: %v", err)
	}
	again, err := m.MarshalBinary()
	if err != nil || !bytes.Equal(again, data) {
		return nil, errorf(ReasonMalformed, "token has trailing or non-canonical bytes")
	}
	return &m, nil
}

// Revocations tells whether a capability id is revoked. Revoked must be
// safe for concurrent use; true means the capability is refused.
type Revocations interface {
	Revoked(id string) bool
}

// Request is what a capability is checked against: the API fills it from
// the HTTP request.
type Request struct {
	// Tenant is the tenant the request acts for.
	Tenant string
	// Op is OpSign, OpVerify, OpWrap or OpUnwrap.
	Op string
	// Alg is the algorithm of the operation (one of Algs).
	Alg string
	// Key is the key's name "tenant/name", or a key version "tenant/name/vN".
	Key string
}

// Verified is what a capability that passed Check grants. It holds no
// secrets.
type Verified struct {
	// ID is the capability (macaroon) id, for audit records.
	ID      string
	Tenant  string
	Ops     []string
	Algs    []string // nil: any algorithm
	Key     string   // key pattern; "": any key of the tenant
	Expires time.Time
	RPS     int    // 0: no per-capability limit
	Nonce   string // "": multi-use
}

// Checker checks capabilities minted under one root key. It is safe for
// concurrent use.
type Checker struct {
	key     *rootKey
	revoked Revocations
	nonces  NonceStore
	limiter *Limiter
}

// NewChecker returns a Checker for rootKey (the Minter's; the Checker keeps
// a copy). Every dependency is required: revoked says which ids are revoked
// (a *Registry does), nonces remembers single-use nonces, limiter enforces
// rps caveats.
func NewChecker(rootKey []byte, revoked Revocations, nonces NonceStore, limiter *Limiter) (*Checker, error) {
	k, err := newRootKey(rootKey)
	if err != nil {
		return nil, err
	}
	if revoked == nil || nonces == nil || limiter == nil {
		return nil, errors.New("capability: NewChecker needs Revocations, a NonceStore and a Limiter")
	}
	return &Checker{key: k, revoked: revoked, nonces: nonces, limiter: limiter}, nil
}

func (c *Checker) String() string { return "capability.Checker{root key redacted}" }

// Format implements fmt.Formatter so that no verb prints the root key.
func (c *Checker) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// Check decodes token (see Decode) and checks it with CheckMacaroon.
func (c *Checker) Check(token string, req Request, now time.Time) (*Verified, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	m, err := Decode(token)
	if err != nil {
		return nil, err
	}
	return c.check(m, req, now)
}

// CheckMacaroon decides whether m grants req at now. It returns the
// capability's grant, or an *Error whose Reason is, in the order checked:
//
//   - malformed: req is malformed; m is not a v2 macaroon with a 32-hex-digit
//     id; it has more than 32 caveats; a caveat breaks the grammar;
//   - third_party_caveat: m has a third-party caveat;
//   - bad_signature: m's signature does not verify under the root key;
//   - unknown_caveat, conflicting_caveat, missing_caveat: see the package doc;
//   - expired: now is not before exp;
//   - revoked: the id is revoked;
//   - tenant_mismatch, scope_denied, alg_denied, key_denied: req is outside
//     the capability;
//   - rate_limited (with RetryAfter): the rps budget is spent;
//   - nonce_reused: a single-use capability was used before;
//   - unavailable: the nonce store could not record the use.
//
// Only caveats whose signature verified decide anything beyond malformed
// and third_party_caveat. A request that passes everything else uses one
// rps token and, last, the nonce; a refused request never uses the nonce.
// Rate and nonce are kept per capability id, so attenuated copies of a
// capability share its rps budget and its single use.
func (c *Checker) CheckMacaroon(m *macaroon.Macaroon, req Request, now time.Time) (*Verified, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	return c.check(m, req, now)
}

func checkRequest(req Request) *Error {
	switch {
	case !tenantRE.MatchString(req.Tenant):
		return errorf(ReasonMalformed, "request tenant %s is not a tenant name", quote(req.Tenant))
	case indexOf(ops, req.Op) < 0:
		return errorf(ReasonMalformed, "request operation %s is not one of %v", quote(req.Op), ops)
	case indexOf(algs, req.Alg) < 0:
		return errorf(ReasonMalformed, "request algorithm %s is not one of %v", quote(req.Alg), algs)
	case !keyNameRE.MatchString(req.Key):
		return errorf(ReasonMalformed, "request key %s is not \"tenant/name\" or \"tenant/name/vN\"", quote(req.Key))
	}
	return nil
}

func (c *Checker) check(m *macaroon.Macaroon, req Request, now time.Time) (*Verified, error) {
	if m == nil || m.Version() != macaroon.V2 {
		return nil, errorf(ReasonMalformed, "not a v2 macaroon")
	}
	id := string(m.Id())
	if !idRE.MatchString(id) {
		return nil, errorf(ReasonMalformed, "macaroon id %s is not 32 lower-case hex digits", quote(id))
	}
	cavs := m.Caveats()
	if len(cavs) > maxCaveats {
		return nil, errorf(ReasonMalformed, "%d caveats, at most %d allowed", len(cavs), maxCaveats)
	}
	for _, cav := range cavs {
		if len(cav.VerificationId) > 0 {
			return nil, errorf(ReasonThirdPartyCaveat, "capability %s has a third-party caveat", id)
		}
		if cav.Location != "" {
			return nil, errorf(ReasonMalformed, "capability %s has a first-party caveat with a location", id)
		}
	}
	// VerifySignature compares the HMAC chain in constant time (hmac.Equal)
	// and returns the caveats only if it matches, so nothing unauthenticated
	// decides the outcome below.
	conds, err := m.VerifySignature(c.key[:], nil)
	if err != nil {
		return nil, errorf(ReasonBadSignature, "capability %s does not verify under this appliance's root key", id)
	}
	cv, perr := parseCaveats(conds)
	if perr != nil {
		perr.Msg = "capability " + id + ": " + perr.Msg
		return nil, perr
	}
	if !now.Before(cv.exp) {
		return nil, errorf(ReasonExpired, "capability %s expired at %s", id, cv.exp.Format(expLayout))
	}
	if c.revoked.Revoked(id) {
		return nil, errorf(ReasonRevoked, "capability %s is revoked", id)
	}
	if req.Tenant != cv.tenant {
		return nil, errorf(ReasonTenantMismatch, "capability %s is for tenant %s, not %s", id, quote(cv.tenant), quote(req.Tenant))
	}
	if cv.scope&(1<<indexOf(ops, req.Op)) == 0 {
		return nil, errorf(ReasonScopeDenied, "capability %s does not permit %s", id, req.Op)
	}
	if cv.algs != 0 && cv.algs&(1<<indexOf(algs, req.Alg)) == 0 {
		return nil, errorf(ReasonAlgDenied, "capability %s does not permit algorithm %s", id, req.Alg)
	}
	if kt, _, _ := strings.Cut(req.Key, "/"); kt != cv.tenant {
		return nil, errorf(ReasonKeyDenied, "capability %s is for tenant %s, key %s belongs to another", id, quote(cv.tenant), quote(req.Key))
	}
	if cv.key != "" && !keyMatches(cv.key, req.Key) {
		return nil, errorf(ReasonKeyDenied, "capability %s does not permit key %s (pattern %s)", id, quote(req.Key), quote(cv.key))
	}
	if cv.rps > 0 {
		if ok, retry := c.limiter.Allow(id, cv.rps, now); !ok {
			e := errorf(ReasonRateLimited, "capability %s is limited to %d requests per second", id, cv.rps)
			e.RetryAfter = retry
			return nil, e
		}
	}
	if cv.nonce != "" {
		switch err := c.nonces.Use(id, cv.nonce, cv.exp, now); {
		case errors.Is(err, ErrNonceReused):
			return nil, errorf(ReasonNonceReused, "single-use capability %s was already used", id)
		case err != nil:
			return nil, errorf(ReasonUnavailable, "recording the nonce of capability %s: %v", id, err)
		}
	}
	return &Verified{
		ID:      id,
		Tenant:  cv.tenant,
		Ops:     formatList(cv.scope, ops),
		Algs:    formatList(cv.algs, algs),
		Key:     cv.key,
		Expires: cv.exp,
		RPS:     cv.rps,
		Nonce:   cv.nonce,
	}, nil
}
