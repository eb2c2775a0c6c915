package capability

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/macaroon.v2"
)

// RootKeySize is the length of the appliance's macaroon root key.
const RootKeySize = 32

// rootKey holds the macaroon root key. It is never printed: the types that
// hold one implement fmt.Formatter.
type rootKey [RootKeySize]byte

func newRootKey(b []byte) (*rootKey, error) {
	if len(b) != RootKeySize {
		return nil, fmt.Errorf("capability: root key is %d bytes, want %d", len(b), RootKeySize)
	}
	var k rootKey
	copy(k[:], b)
	var zero rootKey
	if subtle.ConstantTimeCompare(k[:], zero[:]) == 1 {
		return nil, errors.New("capability: root key is all zero; generate 32 random bytes")
	}
	return &k, nil
}

// MintRequest is what a tenant asks to be minted. The API has already
// checked that the request is signed by a minter key that policy lists.
type MintRequest struct {
	Tenant string
	// Ops are the operations permitted (OpSign, ...); at least one.
	Ops []string
	// Algs restricts the algorithms (see Algs); empty means any.
	Algs []string
	// Key is a key pattern "tenant/glob" (see package doc); empty means any
	// key of the tenant.
	Key string
	// TTL is the lifetime; at least one second, at most Limits.MaxTTL. The
	// expiry is now+TTL rounded down to a whole second.
	TTL time.Duration
	// RPS, if positive, limits use of the capability to RPS requests per
	// second (burst RPS).
	RPS int
	// SingleUse adds a random nonce: the capability is accepted once.
	SingleUse bool
}

// Capability is a minted macaroon. Its token is a bearer credential: String
// and every fmt verb print only the id, tenant and expiry, never the token
// or its signature.
type Capability struct {
	// ID is the macaroon id, 16 random bytes in lower-case hex; it is what
	// revocation and audit records name.
	ID      string
	Tenant  string
	Expires time.Time
	// Caveats are the first-party caveats, in order.
	Caveats []string
	m       *macaroon.Macaroon
}

// Token returns the capability in the form Check accepts: the macaroon v2
// binary encoding in unpadded base64url. It is a secret.
func (c *Capability) Token() string {
	b, err := c.m.MarshalBinary()
	if err != nil {
		panic("capability: marshalling a minted v2 macaroon: " + err.Error()) // cannot happen for V2
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Macaroon returns a copy of the macaroon.
func (c *Capability) Macaroon() *macaroon.Macaroon { return c.m.Clone() }

func (c *Capability) String() string {
	return fmt.Sprintf("capability %s tenant=%s exp=%s", c.ID, c.Tenant, c.Expires.Format(expLayout))
}

// Format implements fmt.Formatter so that no verb prints the token.
func (c *Capability) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// Minter mints capabilities under the appliance's root key, within each
// tenant's Limits, recording them in a Registry.
type Minter struct {
	key  *rootKey
	reg  *Registry
	rand io.Reader
}

// NewMinter returns a Minter for rootKey (RootKeySize random bytes, kept by
// the appliance; the Minter keeps a copy) that records mints in reg.
func NewMinter(rootKey []byte, reg *Registry) (*Minter, error) {
	k, err := newRootKey(rootKey)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New("capability: NewMinter needs a Registry")
	}
	return &Minter{key: k, reg: reg, rand: rand.Reader}, nil
}

func (m *Minter) String() string { return "capability.Minter{root key redacted}" }

// Format implements fmt.Formatter so that no verb prints the root key.
func (m *Minter) Format(f fmt.State, _ rune) { io.WriteString(f, m.String()) }

// Mint mints a capability for req at now under limits, the policy limits of
// req.Tenant. The caveats are, in order: tenant, scope, alg (if any), key
// (if any), rps (if any), exp, nonce (if single use).
//
// Errors are *Error: ReasonMalformed for a malformed request,
// ReasonTTLExceeded when req.TTL > limits.MaxTTL, ReasonMintRate (with
// RetryAfter) and ReasonMintCeiling from the Registry, ReasonUnavailable
// if no randomness could be read. Nothing is recorded unless Mint succeeds.
func (m *Minter) Mint(req MintRequest, limits Limits, now time.Time) (*Capability, error) {
	if !tenantRE.MatchString(req.Tenant) {
		return nil, errorf(ReasonMalformed, "tenant %s is not a tenant name", quote(req.Tenant))
	}
	if req.TTL < time.Second {
		return nil, errorf(ReasonMalformed, "ttl %v is shorter than one second", req.TTL)
	}
	if req.TTL > limits.MaxTTL {
		return nil, errorf(ReasonTTLExceeded, "ttl %v exceeds tenant %s's maximum %v", req.TTL, quote(req.Tenant), max(limits.MaxTTL, 0))
	}
	if req.RPS < 0 || req.RPS > MaxRPS {
		return nil, errorf(ReasonMalformed, "rps %d is outside 0..%d", req.RPS, MaxRPS)
	}
	exp := now.UTC().Add(req.TTL).Truncate(time.Second)

	conds := []string{CaveatTenant + " " + req.Tenant, CaveatScope + " " + strings.Join(req.Ops, ",")}
	if len(req.Algs) > 0 {
		conds = append(conds, CaveatAlg+" "+strings.Join(req.Algs, ","))
	}
	if req.Key != "" {
		conds = append(conds, CaveatKey+" "+req.Key)
	}
	if req.RPS > 0 {
		conds = append(conds, CaveatRPS+" "+strconv.Itoa(req.RPS))
	}
	conds = append(conds, CaveatExp+" "+exp.Format(expLayout))

	var rnd [32]byte
	if _, err := io.ReadFull(m.rand, rnd[:]); err != nil {
		return nil, errorf(ReasonUnavailable, "reading randomness: %v", err)
	}
	id := hex.EncodeToString(rnd[:16])
	if req.SingleUse {
		conds = append(conds, CaveatNonce+" "+hex.EncodeToString(rnd[16:]))
	}
	// The same parser Check uses: what is minted is what will be checked.
	if _, err := parseCaveats(conds); err != nil {
		return nil, errorf(ReasonMalformed, "mint request: %s", err.Msg)
	}

	mac, err := macaroon.New(m.key[:], []byte(id), "", macaroon.V2)
	if err != nil {
		return nil, errorf(ReasonUnavailable, "creating macaroon: %v", err)
	}
	for _, c := range conds {
		if err := mac.AddFirstPartyCaveat([]byte(c)); err != nil {
			return nil, errorf(ReasonUnavailable, "adding caveat: %v", err)
		}
	}
	if err := m.reg.reserve(req.Tenant, id, exp, limits, now); err != nil {
		return nil, err
	}
	return &Capability{ID: id, Tenant: req.Tenant, Expires: exp, Caveats: conds, m: mac}, nil
}
