package capability

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzCheck runs Check and asserts what must hold for any input: no panic,
// every refusal is an *Error with a listed reason, and a grant is
// consistent with the request.
func fuzzCheck(t *testing.T, tok string, req Request) {
	e := newEnv(t)
	v, err := e.checker.Check(tok, req, t0)
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) || !slices.Contains(Reasons(), ce.Reason) {
			t.Fatalf("error %v (%T) is not an *Error with a listed reason", err, err)
		}
		if v != nil {
			t.Fatal("both a grant and an error")
		}
		return
	}
	if v.Tenant != req.Tenant || !slices.Contains(v.Ops, req.Op) || !t0.Before(v.Expires) {
		t.Fatalf("granted %+v for %+v", v, req)
	}
	if v.Algs != nil && !slices.Contains(v.Algs, req.Alg) || v.Key != "" && !keyMatches(v.Key, req.Key) {
		t.Fatalf("granted %+v for %+v", v, req)
	}
	m, derr := Decode(tok)
	if derr != nil || string(m.Id()) != v.ID {
		t.Fatalf("granted a token Decode refuses: %v", derr)
	}
	if _, serr := m.VerifySignature(rootA, nil); serr != nil {
		t.Fatalf("granted a token whose signature does not verify: %v", serr)
	}
}

// FuzzCheck fuzzes the deserialiser and the checker with whole tokens.
func FuzzCheck(f *testing.F) {
	e := newEnv(f)
	for _, req := range []MintRequest{
		{Tenant: "acme", Ops: []string{OpSign}, TTL: time.Hour},
		{Tenant: "acme", Ops: []string{OpSign, OpVerify}, Algs: []string{"ed25519"}, Key: "acme/pay*", TTL: time.Hour, RPS: 5, SingleUse: true},
	} {
		tok := e.mint(f, req).Token()
		f.Add(tok, OpSign, "ed25519", "acme/payments")
		f.Add(tok+"==", OpSign, "ed25519", "acme/payments/v1")
		f.Add(tok[:len(tok)/2], OpVerify, "ecdsa-p256", "acme/x")
	}
	f.Add("", "", "", "")
	f.Add("AgIEAA", OpSign, "ed25519", "acme/k")
	f.Fuzz(func(t *testing.T, tok, op, alg, key string) {
		fuzzCheck(t, tok, Request{Tenant: "acme", Op: op, Alg: alg, Key: key})
	})
}

// FuzzCaveats fuzzes the caveat parser behind a valid signature: the
// fuzzer's caveats (one per line) are signed under the root key, as only
// the appliance or a holder attenuating a capability could.
func FuzzCaveats(f *testing.F) {
	f.Add(strings.Join(base(), "\n"), "acme/payments")
	f.Add(strings.Join(base("alg ed25519", "key acme/pay*", "rps 3", "nonce "+testID, "exp 2026-03-01T12:30:00Z", "scope sign"), "\n"), "acme/payments/v2")
	f.Add("tenant acme\nscope sign\nexp 2026-03-01T13:00:00Z\ntenant evil", "acme/k")
	f.Fuzz(func(t *testing.T, caveats, key string) {
		conds := strings.Split(caveats, "\n")
		tok := encode(t, build(t, rootA, testID, conds...))
		if len(tok) > MaxTokenLen {
			return
		}
		fuzzCheck(t, tok, Request{Tenant: "acme", Op: OpSign, Alg: "ed25519", Key: key})
	})
}
