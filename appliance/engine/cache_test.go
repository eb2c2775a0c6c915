package engine_test

import (
	"context"
	"crypto"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// TestRepeatedTokenCheckedEveryTime: a token presented again (its decoding
// kept by the engine) is still checked in full on every request — against
// the request, the clock, the revocations in force, its rps budget and its
// single use — and a token that differs from a kept one in any byte is
// checked on its own.
func TestRepeatedTokenCheckedEveryTime(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff)
	sign := func(tok, key string) error {
		_, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: key, Message: []byte("m")})
		return err
	}
	mint, err := v.Engine.Mint(v.Ctx, v.MintRequest("acme", "minter-acme", []string{"sign"}, func(r *engine.MintRequest) {
		r.TTLSeconds, r.RPS, r.Key = 60, 2, "acme/pay"
	}))
	if err != nil {
		t.Fatal(err)
	}
	tok := mint.Token
	for range 2 {
		if err := sign(tok, "pay"); err != nil {
			t.Fatal(err)
		}
	}
	wantReject(t, sign(tok, "pay"), "rate_limited")
	v.Clock.Advance(time.Second)
	wantReject(t, sign(tok, "ec"), "key_denied")
	_, err = v.Engine.Wrap(v.Ctx, tok, engine.WrapRequest{Tenant: "acme", Key: "data", Plaintext: []byte("p")})
	wantReject(t, err, "scope_denied")
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "beta", Key: "pay", Message: []byte("m")})
	wantReject(t, err, "tenant_mismatch")

	// One byte changed in the signature part: refused, the kept token
	// still works.
	b := []byte(tok)
	b[len(b)-2] ^= 'A' ^ 'B'
	if b[len(b)-2] == tok[len(tok)-2] {
		t.Fatal("token not changed")
	}
	if err := sign(string(b), "pay"); err == nil {
		t.Fatal("a token with one byte changed was accepted")
	}
	if err := sign(tok, "pay"); err != nil {
		t.Fatalf("the original token after a forged one: %v", err)
	}

	v.Clock.Advance(time.Minute)
	wantReject(t, sign(tok, "pay"), "expired")

	// Revocation reaches a kept token.
	tok2 := v.Token("acme", []string{"sign"}, nil)
	if err := sign(tok2, "pay"); err != nil {
		t.Fatal(err)
	}
	id := v.Records()[len(v.Records())-1].CapabilityID
	v.Govern("tenant:acme", "revoke_capability="+id)
	wantReject(t, sign(tok2, "pay"), "revoked")

	// A single-use token stays single-use.
	once := v.Token("acme", []string{"sign"}, func(r *engine.MintRequest) { r.SingleUse = true })
	if err := sign(once, "pay"); err != nil {
		t.Fatal(err)
	}
	wantReject(t, sign(once, "pay"), "nonce_reused")
}

// countingBackend counts Signer calls and can make its signers fail.
type countingBackend struct {
	backend.Backend
	mu      sync.Mutex
	signers int
	fail    bool
}

func (c *countingBackend) Signer(ctx context.Context, label string) (crypto.Signer, error) {
	s, err := c.Backend.Signer(ctx, label)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signers++
	return failingSigner{s, c}, nil
}

func (c *countingBackend) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signers
}

func (c *countingBackend) setFail(f bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = f
}

type failingSigner struct {
	crypto.Signer
	c *countingBackend
}

func (s failingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.c.mu.Lock()
	fail := s.c.fail
	s.c.mu.Unlock()
	if fail {
		return nil, errors.New("session lost")
	}
	return s.Signer.Sign(r, digest, opts)
}

// TestSignerKeptUntilItFails: the engine asks the backend for a key
// version's signer once and keeps it; after the signer fails, the next
// request asks the backend again.
func TestSignerKeptUntilItFails(t *testing.T) {
	cb := &countingBackend{}
	v := enginetest.New(t, enginetest.Options{Wrap: func(b backend.Backend) backend.Backend { cb.Backend = b; return cb }})
	v.Standard(policy.PQHybridAnd)
	tok := v.Token("acme", allOps, nil)
	sign := func() error {
		_, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
		return err
	}
	before := cb.count()
	for range 3 {
		if err := sign(); err != nil {
			t.Fatal(err)
		}
	}
	if got := cb.count() - before; got != 1 {
		t.Fatalf("%d Signer calls for 3 signatures, want 1", got)
	}
	cb.setFail(true)
	wantReject(t, sign(), engine.ReasonBackendError)
	cb.setFail(false)
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	if got := cb.count() - before; got != 2 {
		t.Fatalf("%d Signer calls, want 2: a signer that failed must be asked for again", got)
	}
}
