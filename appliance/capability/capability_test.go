package capability

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gopkg.in/macaroon.v2"
)

var (
	rootA = sha256Sum("root key A")
	rootB = sha256Sum("root key B")
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp0  = "2026-03-01T13:00:00Z" // t0 + 1h
	// testID is a well-formed capability id for hand-built macaroons.
	testID = "00112233445566778899aabbccddeeff"

	generous = Limits{MaxActive: 100, MintPerMinute: 100, MaxTTL: 24 * time.Hour}
	signReq  = Request{Tenant: "acme", Op: OpSign, Alg: "ed25519", Key: "acme/payments/v1"}
)

func sha256Sum(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

type env struct {
	reg     *Registry
	minter  *Minter
	checker *Checker
	nonces  *MemNonceStore
	limiter *Limiter
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{reg: NewRegistry(), nonces: NewMemNonceStore(1000), limiter: NewLimiter(1000)}
	var err error
	if e.minter, err = NewMinter(rootA, e.reg); err != nil {
		t.Fatal(err)
	}
	if e.checker, err = NewChecker(rootA, e.reg, e.nonces, e.limiter); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) mint(t testing.TB, req MintRequest) *Capability {
	t.Helper()
	c, err := e.minter.Mint(req, generous, t0)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return c
}

// build makes a v2 macaroon with id and conds under key, as only the
// appliance (or a holder appending caveats) could.
func build(t testing.TB, key []byte, id string, conds ...string) *macaroon.Macaroon {
	t.Helper()
	m, err := macaroon.New(key, []byte(id), "", macaroon.V2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conds {
		if err := m.AddFirstPartyCaveat([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func encode(t testing.TB, m *macaroon.Macaroon) string {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func token(t testing.TB, conds ...string) string {
	return encode(t, build(t, rootA, testID, conds...))
}

// base is the caveat list of a plain valid capability for signReq.
func base(extra ...string) []string {
	return append([]string{"tenant acme", "scope sign,verify", "exp " + exp0}, extra...)
}

func wantReason(t *testing.T, err error, want Reason) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error with reason %s", err, err, want)
	}
	if e.Reason != want {
		t.Fatalf("reason %s (%v), want %s", e.Reason, err, want)
	}
	if !strings.HasPrefix(err.Error(), "capability: ") {
		t.Errorf("error %q lacks the capability: prefix", err)
	}
}

// nonCanonicalBits returns a valid token re-encoded with a non-zero unused
// bit in its last base64 character: a lax decoder would accept it.
func nonCanonicalBits(t *testing.T) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, extra := range []string{"rps 1", "rps 12", "rps 123"} {
		tok := token(t, base(extra)...)
		if len(tok)%4 == 0 {
			continue // no unused bits
		}
		last := strings.IndexByte(alphabet, tok[len(tok)-1])
		if last&1 != 0 {
			t.Fatalf("canonical token %s has a non-zero unused bit", tok)
		}
		return tok[:len(tok)-1] + string(alphabet[last|1])
	}
	t.Fatal("no token with unused bits")
	return ""
}

func TestMintCheckRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{
		Tenant: "acme", Ops: []string{OpSign, OpVerify}, Algs: []string{"ed25519", "ecdsa-p256"},
		Key: "acme/pay*", TTL: time.Hour + 500*time.Millisecond, RPS: 10, SingleUse: true,
	})
	if !idRE.MatchString(c.ID) || c.Tenant != "acme" || !c.Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("capability %+v", c)
	}
	wantCaveats := []string{"tenant acme", "scope sign,verify", "alg ed25519,ecdsa-p256", "key acme/pay*", "rps 10", "exp " + exp0}
	if got := c.Caveats[:len(c.Caveats)-1]; fmt.Sprint(got) != fmt.Sprint(wantCaveats) || !strings.HasPrefix(c.Caveats[len(c.Caveats)-1], "nonce ") {
		t.Fatalf("caveats %q, want %q then a nonce", c.Caveats, wantCaveats)
	}
	v, err := e.checker.Check(c.Token(), signReq, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := Verified{ID: c.ID, Tenant: "acme", Ops: []string{"sign", "verify"}, Algs: []string{"ed25519", "ecdsa-p256"},
		Key: "acme/pay*", Expires: c.Expires, RPS: 10, Nonce: strings.TrimPrefix(c.Caveats[6], "nonce ")}
	if fmt.Sprint(*v) != fmt.Sprint(want) {
		t.Fatalf("verified %+v, want %+v", *v, want)
	}

	// A multi-use capability without optional caveats, presented padded.
	c2 := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpWrap}, TTL: time.Minute})
	tok := c2.Token()
	if n := len(tok) % 4; n != 0 {
		tok += strings.Repeat("=", 4-n)
	}
	req := Request{Tenant: "acme", Op: OpWrap, Alg: "aes-256-gcm", Key: "acme/anything"}
	for i := 0; i < 3; i++ {
		v, err := e.checker.Check(tok, req, t0)
		if err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
		if v.Algs != nil || v.Key != "" || v.RPS != 0 || v.Nonce != "" {
			t.Fatalf("verified %+v, want no optional restrictions", v)
		}
	}
	if _, err := e.checker.CheckMacaroon(c2.Macaroon(), req, t0); err != nil {
		t.Fatal(err)
	}
	if got := e.reg.Active("acme", t0); got != 2 {
		t.Fatalf("Active = %d, want 2", got)
	}
}

// checkCase is one concrete input and the reason it must produce.
type checkCase struct {
	name  string
	token string
	m     *macaroon.Macaroon // used instead of token when set
	req   Request
	now   time.Time
	want  Reason
	setup func(*env) // runs before the check
}

func checkCases(t *testing.T) []checkCase {
	good := token(t, base()...)
	goodBin, _ := base64.RawURLEncoding.DecodeString(good)
	forged := append([]byte(nil), goodBin...)
	forged[len(forged)-1] ^= 1
	v1, err := macaroon.New(rootA, []byte(testID), "", macaroon.V1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range base() {
		_ = v1.AddFirstPartyCaveat([]byte(c))
	}
	v1Bin, _ := v1.MarshalBinary()
	jsonTok, _ := build(t, rootA, testID, base()...).MarshalJSON()
	third := build(t, rootA, testID, base()...)
	if err := third.AddThirdPartyCaveat(rootB, []byte("third"), "https://elsewhere"); err != nil {
		t.Fatal(err)
	}
	tooMany := base()
	for i := 0; len(tooMany) <= maxCaveats; i++ {
		tooMany = append(tooMany, fmt.Sprintf("exp 2026-03-01T12:59:%02dZ", 59-i))
	}

	return []checkCase{
		// malformed: the token
		{name: "empty token", token: "", want: ReasonMalformed},
		{name: "not base64", token: "!!!!", want: ReasonMalformed},
		{name: "standard alphabet", token: strings.ReplaceAll(good, "_", "/") + "+", want: ReasonMalformed},
		{name: "line break", token: good[:10] + "\n" + good[10:], want: ReasonMalformed},
		{name: "space", token: good[:10] + " " + good[10:], want: ReasonMalformed},
		{name: "non-zero trailing bits", token: nonCanonicalBits(t), want: ReasonMalformed},
		{name: "too long", token: strings.Repeat("A", MaxTokenLen+1), want: ReasonMalformed},
		{name: "trailing byte", token: base64.RawURLEncoding.EncodeToString(append(goodBin, 0)), want: ReasonMalformed},
		{name: "two macaroons", token: base64.RawURLEncoding.EncodeToString(append(goodBin, goodBin...)), want: ReasonMalformed},
		{name: "truncated", token: base64.RawURLEncoding.EncodeToString(goodBin[:len(goodBin)-1]), want: ReasonMalformed},
		{name: "v1 binary", token: base64.RawURLEncoding.EncodeToString(v1Bin), want: ReasonMalformed},
		{name: "v1 macaroon value", m: v1, want: ReasonMalformed},
		{name: "json", token: base64.RawURLEncoding.EncodeToString(jsonTok), want: ReasonMalformed},
		{name: "short id", token: encode(t, build(t, rootA, "0011", base()...)), want: ReasonMalformed},
		{name: "upper-case id", token: encode(t, build(t, rootA, strings.ToUpper(testID), base()...)), want: ReasonMalformed},
		{name: "too many caveats", token: token(t, tooMany...), want: ReasonMalformed},
		// malformed: caveat grammar (under a valid signature)
		{name: "no space", token: token(t, base("rps")...), want: ReasonMalformed},
		{name: "two spaces", token: token(t, base("rps  5")...), want: ReasonMalformed},
		{name: "trailing space", token: token(t, base("rps 5 ")...), want: ReasonMalformed},
		{name: "tab", token: token(t, base("rps\t5")...), want: ReasonMalformed},
		{name: "empty caveat", token: token(t, base("")...), want: ReasonMalformed},
		{name: "upper-case tenant", token: token(t, "tenant ACME", "scope sign", "exp "+exp0), want: ReasonMalformed},
		{name: "exp with offset", token: token(t, "tenant acme", "scope sign", "exp 2026-03-01T14:00:00+01:00"), want: ReasonMalformed},
		{name: "exp with fraction", token: token(t, "tenant acme", "scope sign", "exp 2026-03-01T13:00:00.5Z"), want: ReasonMalformed},
		{name: "exp lower-case z", token: token(t, "tenant acme", "scope sign", "exp 2026-03-01T13:00:00z"), want: ReasonMalformed},
		{name: "exp unix", token: token(t, "tenant acme", "scope sign", "exp 1772370000"), want: ReasonMalformed},
		{name: "scope unknown op", token: token(t, "tenant acme", "scope sign,delete", "exp "+exp0), want: ReasonMalformed},
		{name: "scope repeated op", token: token(t, "tenant acme", "scope sign,sign", "exp "+exp0), want: ReasonMalformed},
		{name: "scope empty element", token: token(t, "tenant acme", "scope sign,", "exp "+exp0), want: ReasonMalformed},
		{name: "alg unknown", token: token(t, base("alg rsa-2048")...), want: ReasonMalformed},
		{name: "rps zero", token: token(t, base("rps 0")...), want: ReasonMalformed},
		{name: "rps leading zero", token: token(t, base("rps 05")...), want: ReasonMalformed},
		{name: "rps negative", token: token(t, base("rps -1")...), want: ReasonMalformed},
		{name: "rps too large", token: token(t, base("rps 1000001")...), want: ReasonMalformed},
		{name: "key character class", token: token(t, base("key acme/[a-z]*")...), want: ReasonMalformed},
		{name: "key two segments", token: token(t, base("key acme/pay/*")...), want: ReasonMalformed},
		{name: "key no tenant", token: token(t, base("key payments")...), want: ReasonMalformed},
		{name: "nonce short", token: token(t, base("nonce abcd")...), want: ReasonMalformed},
		{name: "nonce upper-case", token: token(t, base("nonce "+strings.ToUpper(testID))...), want: ReasonMalformed},
		// malformed: the request
		{name: "request tenant", token: good, req: Request{Tenant: "", Op: OpSign, Alg: "ed25519", Key: "acme/k"}, want: ReasonMalformed},
		{name: "request op", token: good, req: Request{Tenant: "acme", Op: "delete", Alg: "ed25519", Key: "acme/k"}, want: ReasonMalformed},
		{name: "request alg", token: good, req: Request{Tenant: "acme", Op: OpSign, Alg: "rsa", Key: "acme/k"}, want: ReasonMalformed},
		{name: "request key", token: good, req: Request{Tenant: "acme", Op: OpSign, Alg: "ed25519", Key: "acme/../k"}, want: ReasonMalformed},

		{name: "third-party caveat", m: third, want: ReasonThirdPartyCaveat},

		{name: "forged signature", token: base64.RawURLEncoding.EncodeToString(forged), want: ReasonBadSignature},
		{name: "other root key", token: encode(t, build(t, rootB, testID, base()...)), want: ReasonBadSignature},
		{name: "caveat altered", token: func() string {
			// Replace "scope sign,verify" by "scope sign,wrap" in the encoding.
			b := bytes.Replace(goodBin, []byte("sign,verify"), []byte("sign,unwrap"), 1)
			return base64.RawURLEncoding.EncodeToString(b)
		}(), want: ReasonBadSignature},
		{name: "caveat removed", token: func() string {
			// Rebuild the chain without the exp caveat but keep the old signature.
			m := build(t, rootA, testID, "tenant acme", "scope sign,verify")
			b, _ := m.MarshalBinary()
			b = append(b[:len(b)-32], goodBin[len(goodBin)-32:]...)
			return base64.RawURLEncoding.EncodeToString(b)
		}(), want: ReasonBadSignature},
		{name: "bad signature beats unknown caveat", token: encode(t, build(t, rootB, testID, base("frobnicate yes")...)), want: ReasonBadSignature},

		{name: "unknown caveat", token: token(t, base("time-before 2030-01-01T00:00:00Z")...), want: ReasonUnknownCaveat},
		{name: "unknown caveat name case", token: token(t, base("Tenant acme")...), want: ReasonUnknownCaveat},

		{name: "two tenants", token: token(t, base("tenant evil")...), want: ReasonConflictingCaveat},
		{name: "same tenant twice", token: token(t, base("tenant acme")...), want: ReasonConflictingCaveat},
		{name: "two nonces", token: token(t, base("nonce "+testID, "nonce ffeeddccbbaa99887766554433221100")...), want: ReasonConflictingCaveat},
		{name: "key of another tenant", token: token(t, base("key evil/*")...), want: ReasonConflictingCaveat},

		{name: "missing tenant", token: token(t, "scope sign", "exp "+exp0), want: ReasonMissingCaveat},
		{name: "missing scope", token: token(t, "tenant acme", "exp "+exp0), want: ReasonMissingCaveat},
		{name: "missing exp", token: token(t, "tenant acme", "scope sign"), want: ReasonMissingCaveat},
		{name: "no caveats", token: token(t), want: ReasonMissingCaveat},

		{name: "expired at exp", token: good, now: t0.Add(time.Hour), want: ReasonExpired},
		{name: "expired after exp", token: good, now: t0.Add(48 * time.Hour), want: ReasonExpired},
		{name: "revoked", token: good, setup: func(e *env) { e.reg.Revoke(testID) }, want: ReasonRevoked},
		{name: "tenant mismatch", token: good, req: Request{Tenant: "evil", Op: OpSign, Alg: "ed25519", Key: "evil/k"}, want: ReasonTenantMismatch},
		{name: "scope denied", token: good, req: Request{Tenant: "acme", Op: OpUnwrap, Alg: "aes-256-gcm", Key: "acme/k"}, want: ReasonScopeDenied},
		{name: "alg denied", token: token(t, base("alg ecdsa-p256")...), want: ReasonAlgDenied},
		{name: "key pattern denied", token: token(t, base("key acme/hr-*")...), want: ReasonKeyDenied},
		{name: "key version does not escape pattern", token: token(t, base("key acme/pay?")...), req: Request{Tenant: "acme", Op: OpSign, Alg: "ed25519", Key: "acme/payments/v1"}, want: ReasonKeyDenied},
		{name: "key of another tenant in request", token: good, req: Request{Tenant: "acme", Op: OpSign, Alg: "ed25519", Key: "evil/payments"}, want: ReasonKeyDenied},

		{name: "nonce reused", token: token(t, base("nonce "+testID)...), setup: func(e *env) {
			if _, err := e.checker.Check(token(t, base("nonce "+testID)...), signReq, t0); err != nil {
				panic(err)
			}
		}, want: ReasonNonceReused},
		{name: "rate limited", token: token(t, base("rps 1")...), setup: func(e *env) {
			if _, err := e.checker.Check(token(t, base("rps 1")...), signReq, t0); err != nil {
				panic(err)
			}
		}, want: ReasonRateLimited},
		{name: "nonce store full", token: token(t, base("nonce "+testID)...), setup: func(e *env) {
			for i := 0; i < 1000; i++ {
				if err := e.nonces.Use(fmt.Sprintf("%032x", i), testID, t0.Add(time.Hour), t0); err != nil {
					panic(err)
				}
			}
		}, want: ReasonUnavailable},
	}
}

func TestCheckReasons(t *testing.T) {
	seen := map[Reason]bool{}
	for _, tc := range checkCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			req, now := tc.req, tc.now
			if req == (Request{}) {
				req = signReq
			}
			if now.IsZero() {
				now = t0
			}
			var err error
			var v *Verified
			if tc.m != nil {
				v, err = e.checker.CheckMacaroon(tc.m, req, now)
			} else {
				v, err = e.checker.Check(tc.token, req, now)
			}
			if v != nil {
				t.Fatalf("granted %+v", v)
			}
			wantReason(t, err, tc.want)
			seen[tc.want] = true
		})
	}
	for _, tc := range mintCases() {
		seen[tc.want] = true
	}
	seen[ReasonUnavailable] = true // also from TestMintReasons (failing randomness)
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("no test case produces reason %s", r)
		}
	}
}

func TestCheckMacaroonLocation(t *testing.T) {
	// A location on a first-party caveat cannot be encoded in v2, so the
	// v2 parser never produces one; a caller-built macaroon can only carry
	// a macaroon-level location, which is unsigned and ignored.
	e := newEnv(t)
	m := build(t, rootA, testID, base()...)
	m.SetLocation("https://ron-kms.example")
	if _, err := e.checker.CheckMacaroon(m, signReq, t0); err != nil {
		t.Fatal(err)
	}
}

type mintCase struct {
	name   string
	req    MintRequest
	limits Limits
	prior  int // successful mints at t0 before this one
	want   Reason
}

func mintCases() []mintCase {
	ok := MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour}
	with := func(f func(*MintRequest)) MintRequest { r := ok; f(&r); return r }
	return []mintCase{
		{name: "ttl over max", req: with(func(r *MintRequest) { r.TTL = 24*time.Hour + time.Second }), limits: generous, want: ReasonTTLExceeded},
		{name: "no max ttl", req: ok, limits: Limits{MaxActive: 1, MintPerMinute: 1}, want: ReasonTTLExceeded},
		{name: "ceiling", req: ok, limits: Limits{MaxActive: 2, MintPerMinute: 10, MaxTTL: time.Hour}, prior: 2, want: ReasonMintCeiling},
		{name: "no ceiling", req: ok, limits: Limits{MintPerMinute: 10, MaxTTL: time.Hour}, want: ReasonMintCeiling},
		{name: "rate", req: ok, limits: Limits{MaxActive: 10, MintPerMinute: 3, MaxTTL: time.Hour}, prior: 3, want: ReasonMintRate},
		{name: "no rate", req: ok, limits: Limits{MaxActive: 10, MaxTTL: time.Hour}, want: ReasonMintRate},
		{name: "bad tenant", req: with(func(r *MintRequest) { r.Tenant = "Acme" }), limits: generous, want: ReasonMalformed},
		{name: "no ops", req: with(func(r *MintRequest) { r.Ops = nil }), limits: generous, want: ReasonMalformed},
		{name: "unknown op", req: with(func(r *MintRequest) { r.Ops = []string{"admin"} }), limits: generous, want: ReasonMalformed},
		{name: "caveat injection", req: with(func(r *MintRequest) { r.Ops = []string{"sign exp 2099-01-01T00:00:00Z"} }), limits: generous, want: ReasonMalformed},
		{name: "unknown alg", req: with(func(r *MintRequest) { r.Algs = []string{"rsa"} }), limits: generous, want: ReasonMalformed},
		{name: "key of other tenant", req: with(func(r *MintRequest) { r.Key = "evil/*" }), limits: generous, want: ReasonMalformed},
		{name: "ttl under a second", req: with(func(r *MintRequest) { r.TTL = time.Millisecond }), limits: generous, want: ReasonMalformed},
		{name: "negative rps", req: with(func(r *MintRequest) { r.RPS = -1 }), limits: generous, want: ReasonMalformed},
	}
}

func TestMintReasons(t *testing.T) {
	for _, tc := range mintCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ok := MintRequest{Tenant: tc.req.Tenant, Ops: []string{OpSign}, TTL: time.Minute}
			for i := 0; i < tc.prior; i++ {
				if _, err := e.minter.Mint(ok, tc.limits, t0); err != nil {
					t.Fatalf("prior mint %d: %v", i, err)
				}
			}
			c, err := e.minter.Mint(tc.req, tc.limits, t0)
			if c != nil {
				t.Fatalf("minted %v", c)
			}
			wantReason(t, err, tc.want)
			if got := e.reg.Active(tc.req.Tenant, t0); got != tc.prior {
				t.Errorf("Active = %d after refused mint, want %d", got, tc.prior)
			}
		})
	}
	t.Run("randomness fails", func(t *testing.T) {
		e := newEnv(t)
		e.minter.rand = io.LimitReader(nil, 0)
		_, err := e.minter.Mint(MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Minute}, generous, t0)
		wantReason(t, err, ReasonUnavailable)
	})
}

func TestMintLimitsOverTime(t *testing.T) {
	e := newEnv(t)
	req := MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: 10 * time.Minute}
	lim := Limits{MaxActive: 2, MintPerMinute: 3, MaxTTL: 10 * time.Minute}
	mint := func(at time.Time) error { _, err := e.minter.Mint(req, lim, at); return err }

	a, err := e.minter.Mint(req, lim, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := mint(t0); err != nil {
		t.Fatal(err)
	}
	wantReason(t, mint(t0), ReasonMintCeiling)
	// Ceilings are per tenant.
	if _, err := e.minter.Mint(MintRequest{Tenant: "other", Ops: []string{OpSign}, TTL: time.Minute}, lim, t0); err != nil {
		t.Fatal(err)
	}
	// Revoking frees a slot; the third mint in the minute is allowed.
	e.reg.Revoke(a.ID)
	if got := e.reg.Active("acme", t0); got != 1 {
		t.Fatalf("Active after revoke = %d, want 1", got)
	}
	if err := mint(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Expiry frees slots, but the mint rate is spent until t0+1m.
	later := t0.Add(10*time.Minute + time.Second)
	if got := e.reg.Active("acme", later); got != 0 {
		t.Fatalf("Active after expiry = %d, want 0", got)
	}
	e2 := newEnv(t)
	for i := 0; i < 3; i++ {
		if _, err := e2.minter.Mint(req, Limits{MaxActive: 10, MintPerMinute: 3, MaxTTL: time.Hour}, t0.Add(time.Duration(i)*10*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e2.minter.Mint(req, Limits{MaxActive: 10, MintPerMinute: 3, MaxTTL: time.Hour}, t0.Add(30*time.Second))
	wantReason(t, err, ReasonMintRate)
	if got := err.(*Error).RetryAfter; got != 30*time.Second {
		t.Fatalf("RetryAfter = %v, want 30s", got)
	}
	if _, err := e2.minter.Mint(req, Limits{MaxActive: 10, MintPerMinute: 3, MaxTTL: time.Hour}, t0.Add(time.Minute)); err != nil {
		t.Fatalf("mint after the window: %v", err)
	}
	// TTL exactly at the maximum is allowed.
	if _, err := e2.minter.Mint(MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour}, Limits{MaxActive: 10, MintPerMinute: 10, MaxTTL: time.Hour}, t0.Add(time.Minute)); err != nil {
		t.Fatalf("TTL == MaxTTL: %v", err)
	}
}

// TestAttenuation appends caveats as a holder would: narrowing ones are
// accepted and take effect; ones that try to widen are refused outright.
func TestAttenuation(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign, OpVerify}, Algs: []string{"ed25519", "ecdsa-p256"},
		Key: "acme/pay*", TTL: time.Hour, RPS: 100})
	tests := []struct {
		name   string
		append []string
		req    Request
		now    time.Time
		want   Reason // "" means granted
	}{
		{name: "none", want: ""},
		{name: "earlier exp", append: []string{"exp 2026-03-01T12:30:00Z"}, want: ""},
		{name: "earlier exp takes effect", append: []string{"exp 2026-03-01T12:30:00Z"}, now: t0.Add(30 * time.Minute), want: ReasonExpired},
		{name: "two earlier exps", append: []string{"exp 2026-03-01T12:30:00Z", "exp 2026-03-01T12:10:00Z"}, want: ""},
		{name: "later exp", append: []string{"exp 2026-03-01T14:00:00Z"}, want: ReasonConflictingCaveat},
		{name: "same exp", append: []string{"exp " + exp0}, want: ReasonConflictingCaveat},
		{name: "earlier then later exp", append: []string{"exp 2026-03-01T12:30:00Z", "exp 2026-03-01T12:45:00Z"}, want: ReasonConflictingCaveat},
		{name: "narrower scope", append: []string{"scope sign"}, want: ""},
		{name: "narrower scope takes effect", append: []string{"scope verify"}, want: ReasonScopeDenied},
		{name: "wider scope", append: []string{"scope sign,verify,wrap"}, want: ReasonConflictingCaveat},
		{name: "disjoint scope", append: []string{"scope wrap"}, want: ReasonConflictingCaveat},
		{name: "same scope", append: []string{"scope verify,sign"}, want: ReasonConflictingCaveat},
		{name: "narrower alg", append: []string{"alg ed25519"}, want: ""},
		{name: "narrower alg takes effect", append: []string{"alg ecdsa-p256"}, want: ReasonAlgDenied},
		{name: "wider alg", append: []string{"alg ed25519,ecdsa-p256,mldsa65"}, want: ReasonConflictingCaveat},
		{name: "lower rps", append: []string{"rps 5"}, want: ""},
		{name: "higher rps", append: []string{"rps 1000"}, want: ReasonConflictingCaveat},
		{name: "single key", append: []string{"key acme/payments"}, want: ""},
		{name: "single key takes effect", append: []string{"key acme/payroll"}, req: Request{Tenant: "acme", Op: OpSign, Alg: "ed25519", Key: "acme/payments"}, want: ReasonKeyDenied},
		{name: "key outside pattern", append: []string{"key acme/hr"}, want: ReasonConflictingCaveat},
		{name: "wider key pattern", append: []string{"key acme/*"}, want: ReasonConflictingCaveat},
		{name: "narrower key pattern", append: []string{"key acme/pay-*"}, want: ReasonConflictingCaveat},
		{name: "other tenant", append: []string{"tenant evil"}, req: Request{Tenant: "evil", Op: OpSign, Alg: "ed25519", Key: "evil/payments"}, want: ReasonConflictingCaveat},
		{name: "add nonce", append: []string{"nonce " + testID}, want: ""},
		{name: "unknown caveat", append: []string{"admin true"}, want: ReasonUnknownCaveat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := c.Macaroon()
			for _, cond := range tc.append {
				if err := m.AddFirstPartyCaveat([]byte(cond)); err != nil {
					t.Fatal(err)
				}
			}
			req, now := tc.req, tc.now
			if req == (Request{}) {
				req = signReq
			}
			if now.IsZero() {
				now = t0
			}
			v, err := e.checker.Check(encode(t, m), req, now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if v.ID != c.ID {
					t.Fatalf("id %s, want %s", v.ID, c.ID)
				}
				return
			}
			wantReason(t, err, tc.want)
		})
	}
	// The original is untouched by attenuated copies.
	if _, err := e.checker.Check(c.Token(), Request{Tenant: "acme", Op: OpVerify, Alg: "ecdsa-p256", Key: "acme/payroll/v3"}, t0); err != nil {
		t.Fatal(err)
	}
}

func TestRevocation(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour})
	other := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour})
	if _, err := e.checker.Check(c.Token(), signReq, t0); err != nil {
		t.Fatal(err)
	}
	e.reg.Revoke(c.ID)
	_, err := e.checker.Check(c.Token(), signReq, t0)
	wantReason(t, err, ReasonRevoked)
	// An attenuated copy shares the id and is revoked too.
	m := c.Macaroon()
	_ = m.AddFirstPartyCaveat([]byte("scope sign"))
	_, err = e.checker.CheckMacaroon(m, signReq, t0)
	wantReason(t, err, ReasonConflictingCaveat) // "scope sign" does not narrow "scope sign"
	m = c.Macaroon()
	_ = m.AddFirstPartyCaveat([]byte("exp 2026-03-01T12:10:00Z"))
	_, err = e.checker.CheckMacaroon(m, signReq, t0)
	wantReason(t, err, ReasonRevoked)
	if _, err := e.checker.Check(other.Token(), signReq, t0); err != nil {
		t.Fatalf("unrevoked capability: %v", err)
	}
	// Revoking an id never minted here (before a restart) is remembered.
	e.reg.Revoke(testID)
	if !e.reg.Revoked(testID) {
		t.Fatal("unknown id not remembered as revoked")
	}
}

func TestNonceSingleUse(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour, SingleUse: true})
	// A refused request does not consume the nonce.
	_, err := e.checker.Check(c.Token(), Request{Tenant: "acme", Op: OpVerify, Alg: "ed25519", Key: "acme/k"}, t0)
	wantReason(t, err, ReasonScopeDenied)
	if _, err := e.checker.Check(c.Token(), signReq, t0); err != nil {
		t.Fatal(err)
	}
	_, err = e.checker.Check(c.Token(), signReq, t0.Add(time.Second))
	wantReason(t, err, ReasonNonceReused)
	// Attenuating does not give a second use.
	m := c.Macaroon()
	_ = m.AddFirstPartyCaveat([]byte("exp 2026-03-01T12:30:00Z"))
	_, err = e.checker.CheckMacaroon(m, signReq, t0.Add(time.Second))
	wantReason(t, err, ReasonNonceReused)
	// Another single-use capability is unaffected.
	c2 := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour, SingleUse: true})
	if _, err := e.checker.Check(c2.Token(), signReq, t0); err != nil {
		t.Fatal(err)
	}
}

func TestMemNonceStore(t *testing.T) {
	s := NewMemNonceStore(2)
	exp := t0.Add(time.Minute)
	if err := s.Use("a", "n", exp, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Use("a", "n", exp, t0); !errors.Is(err, ErrNonceReused) {
		t.Fatalf("reuse: %v", err)
	}
	if err := s.Use("b", "n", exp, t0); err != nil {
		t.Fatalf("same nonce, other id: %v", err)
	}
	if err := s.Use("c", "n", t0.Add(2*time.Minute), t0); !errors.Is(err, ErrNonceStoreFull) {
		t.Fatalf("full: %v", err)
	}
	// At exp the entries are forgotten and there is room again.
	if err := s.Use("c", "n", t0.Add(2*time.Minute), exp); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	// A clock stepping back cannot revive a forgotten nonce.
	if err := s.Use("a", "n", exp, t0); !errors.Is(err, ErrNonceReused) {
		t.Fatalf("after clock step back: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(10)
	now := t0
	for i := 0; i < 2; i++ {
		if ok, _ := l.Allow("a", 2, now); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, retry := l.Allow("a", 2, now)
	if ok || retry != 500*time.Millisecond {
		t.Fatalf("third request: ok=%v retry=%v, want refused, 500ms", ok, retry)
	}
	if ok, _ := l.Allow("b", 2, now); !ok {
		t.Fatal("other id refused")
	}
	if ok, _ := l.Allow("a", 2, now.Add(499*time.Millisecond)); ok {
		t.Fatal("allowed before the retry time")
	}
	if ok, _ := l.Allow("a", 2, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused at the retry time")
	}
	// Steady rate: over 10 s at most 2*10 + burst 2 requests pass.
	l = NewLimiter(10)
	n := 0
	for ms := 0; ms < 10000; ms += 10 {
		if ok, _ := l.Allow("s", 2, t0.Add(time.Duration(ms)*time.Millisecond)); ok {
			n++
		}
	}
	if n != 21 && n != 22 {
		t.Fatalf("%d requests passed in 10s at rps 2, want 21..22", n)
	}
	if ok, _ := l.Allow("z", 0, t0); ok {
		t.Fatal("rps 0 allowed")
	}
}

func TestLimiterBounded(t *testing.T) {
	l := NewLimiter(1)
	if ok, _ := l.Allow("a", 1, t0); !ok {
		t.Fatal("first refused")
	}
	if ok, retry := l.Allow("b", 1, t0); ok || retry <= 0 {
		t.Fatalf("second id while full: ok=%v retry=%v", ok, retry)
	}
	if ok, _ := l.Allow("b", 1, t0.Add(time.Second)); !ok {
		t.Fatal("second id after the first refilled")
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d, want 1", l.Len())
	}
}

func TestCheckRateLimited(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour, RPS: 3})
	for i := 0; i < 3; i++ {
		if _, err := e.checker.Check(c.Token(), signReq, t0); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := e.checker.Check(c.Token(), signReq, t0)
	wantReason(t, err, ReasonRateLimited)
	if e := err.(*Error); e.RetryAfter <= 0 || e.RetryAfter > time.Second || e.HTTPStatus() != http.StatusTooManyRequests {
		t.Fatalf("RetryAfter %v status %d", e.RetryAfter, e.HTTPStatus())
	}
	if _, err := e.checker.Check(c.Token(), signReq, t0.Add(time.Second)); err != nil {
		t.Fatalf("after a second: %v", err)
	}
}

func TestReasonsAndStatus(t *testing.T) {
	rs := Reasons()
	if len(rs) != 18 {
		t.Fatalf("%d reasons", len(rs))
	}
	seen := map[Reason]bool{}
	for _, r := range rs {
		if seen[r] || r == "" || strings.ToLower(string(r)) != string(r) {
			t.Errorf("bad or repeated reason %q", r)
		}
		seen[r] = true
		switch s := r.HTTPStatus(); s {
		case 400, 401, 403, 429, 503:
		default:
			t.Errorf("%s: status %d", r, s)
		}
	}
	rs[0] = "changed"
	if Reasons()[0] != ReasonMalformed {
		t.Fatal("Reasons returned its internal slice")
	}
	for r, want := range map[Reason]int{ReasonMalformed: 400, ReasonBadSignature: 401, ReasonExpired: 401, ReasonRevoked: 401,
		ReasonScopeDenied: 403, ReasonRateLimited: 429, ReasonMintRate: 429, ReasonUnavailable: 503} {
		if got := r.HTTPStatus(); got != want {
			t.Errorf("%s: status %d, want %d", r, got, want)
		}
	}
	if r, ok := ReasonOf(fmt.Errorf("wrapped: %w", &Error{Reason: ReasonRevoked})); !ok || r != ReasonRevoked {
		t.Fatalf("ReasonOf wrapped = %s %v", r, ok)
	}
	if r, ok := ReasonOf(io.EOF); ok || r != ReasonUnavailable {
		t.Fatalf("ReasonOf(EOF) = %s %v", r, ok)
	}
}

// TestNoSecretsPrinted formats everything that holds key material with every
// common verb and looks for the root key and the macaroon signature.
func TestNoSecretsPrinted(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour})
	sig := c.Macaroon().Signature()
	secrets := []string{
		hex.EncodeToString(rootA), string(rootA), fmt.Sprint(rootA[:8]), fmt.Sprintf("%#v", rootA[:4]),
		hex.EncodeToString(sig), string(sig), fmt.Sprint(sig[:8]), base64.RawURLEncoding.EncodeToString(sig)[:20], c.Token(),
	}
	// Errors produced from this capability.
	forged := c.Macaroon()
	forged.SetLocation("x")
	_, err1 := e.checker.Check(c.Token()+"A", signReq, t0)
	_, err2 := NewChecker(rootA[:31], e.reg, e.nonces, e.limiter)
	m2 := build(t, rootB, c.ID, c.Caveats...)
	_, err3 := e.checker.CheckMacaroon(m2, signReq, t0)
	values := []any{e.minter, *e.minter, e.checker, *e.checker, c, *c, err1, err2, err3}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
					t.Fatalf("fmt %s of %T prints a secret: %s", verb, v, out)
				}
			}
		}
	}
	if !strings.Contains(fmt.Sprint(c), c.ID) {
		t.Fatalf("String() lacks the id: %s", c)
	}
}

func TestNewRejectsBadKeys(t *testing.T) {
	for _, k := range [][]byte{nil, rootA[:16], append(rootA, 0), make([]byte, 32)} {
		if _, err := NewMinter(k, NewRegistry()); err == nil {
			t.Errorf("NewMinter accepted a %d-byte key", len(k))
		}
		if _, err := NewChecker(k, NewRegistry(), NewMemNonceStore(1), NewLimiter(1)); err == nil {
			t.Errorf("NewChecker accepted a %d-byte key", len(k))
		}
	}
	if _, err := NewMinter(rootA, nil); err == nil {
		t.Error("NewMinter accepted a nil Registry")
	}
	if _, err := NewChecker(rootA, nil, NewMemNonceStore(1), NewLimiter(1)); err == nil {
		t.Error("NewChecker accepted nil Revocations")
	}
	// The Minter keeps a copy: changing the caller's slice changes nothing.
	k := append([]byte(nil), rootA...)
	e := newEnv(t)
	m, _ := NewMinter(k, NewRegistry())
	k[0] ^= 1
	c, err := m.Mint(MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour}, generous, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.checker.Check(c.Token(), signReq, t0); err != nil {
		t.Fatal(err)
	}
}

func TestKeyPatterns(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"acme/*", "acme/payments", true},
		{"acme/*", "acme/payments/v7", true},
		{"acme/pay*", "acme/payments", true},
		{"acme/pay*", "acme/hr", false},
		{"acme/pay?", "acme/pays", true},
		{"acme/pay?", "acme/payments", false},
		{"acme/payments", "acme/payments/v2", true},
		{"acme/payments", "acme/payments2", false},
		{"acme/*", "evil/payments", false},
		{"acme/*", "acme", false},
		{"acme/*", "acme/a/b", false},
		{"acme/pay*", "acme/pay/v123456789", true},
		{"acme/pay", "acme/pay/v1234567890", false},
		{"acme/*", "acme/payments/v0", false},
		{"acme/*", "acme/payments/v", false},
		{"acme/*", "acme/payments/V1", false},
		{"acme/*", "acme/payments/", false},
		{"acme/*", "acme/payments/v1/v2", false},
		{"acme/*", "acme//v1", false},
		{"acme/*", "ACME/payments", false},
	}
	for _, tc := range tests {
		if got := keyMatches(tc.pattern, tc.key); got != tc.want {
			t.Errorf("keyMatches(%q, %q) = %v, want %v", tc.pattern, tc.key, got, tc.want)
		}
	}
}

// TestConcurrentUse checks the two races that matter: a single-use
// capability presented many times at once is granted exactly once, and
// concurrent mints never exceed the tenant's ceiling.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	c := e.mint(t, MintRequest{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour, SingleUse: true})
	const n = 32
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { _, err := e.checker.Check(c.Token(), signReq, t0); results <- err }()
	}
	granted := 0
	for i := 0; i < n; i++ {
		if err := <-results; err == nil {
			granted++
		} else if r, _ := ReasonOf(err); r != ReasonNonceReused {
			t.Errorf("unexpected refusal %v", err)
		}
	}
	if granted != 1 {
		t.Fatalf("single-use capability granted %d times", granted)
	}

	lim := Limits{MaxActive: 5, MintPerMinute: 100, MaxTTL: time.Hour}
	for i := 0; i < n; i++ {
		go func() {
			_, err := e.minter.Mint(MintRequest{Tenant: "busy", Ops: []string{OpSign}, TTL: time.Hour}, lim, t0)
			results <- err
		}()
	}
	minted := 0
	for i := 0; i < n; i++ {
		if err := <-results; err == nil {
			minted++
		}
	}
	if minted != 5 || e.reg.Active("busy", t0) != 5 {
		t.Fatalf("minted %d (active %d) under a ceiling of 5", minted, e.reg.Active("busy", t0))
	}
}
