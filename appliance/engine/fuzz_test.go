package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// FuzzParseMintRequest: the parser of POST /v1/capabilities never panics,
// fails only with a bad_request *Reject, and what it accepts re-encodes to
// the same canonical bytes and verifies under the key that signed it only.
func FuzzParseMintRequest(f *testing.F) {
	r := &engine.MintRequest{Type: engine.MintRequestType, Tenant: "acme", Scope: []string{"sign"}, Alg: []string{"ed25519"},
		Key: "acme/pay*", TTLSeconds: 600, RPS: 5, IssuedAt: "2026-03-02T09:00:00Z", Nonce: "00112233445566778899aabbccddeeff"}
	if err := engine.SignMintRequest(r, enginetest.Key("minter-acme")); err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(r)
	f.Add(good)
	f.Add([]byte(`{"type":"mint_request"}`))
	f.Add([]byte(`{"type":"mint_request","type":"mint_request"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := engine.ParseMintRequest(data)
		if err != nil {
			rej, ok := err.(*engine.Reject)
			if !ok || rej.Reason != engine.ReasonBadRequest {
				t.Fatalf("error %v (%T), want a bad_request *Reject", err, err)
			}
			return
		}
		in, err := canon.Parse(data)
		if err != nil {
			t.Fatalf("accepted input that is not I-JSON: %v", err)
		}
		a, _ := canon.Canonical(in)
		b, err := canon.Marshal(req)
		if err != nil || string(a) != string(b) {
			t.Fatalf("accepted input does not round-trip:\n%s\n%s", a, b)
		}
		if _, err := req.Digest(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzVerifyContinuity: the offline proof checker never panics and never
// accepts a proof whose bytes were changed.
func FuzzVerifyContinuity(f *testing.F) {
	v := enginetest.New(f, enginetest.Options{})
	v.Standard(policy.PQHybridAnd)
	v.Govern("tenant:acme", "rotate_key=pay", "rotate_key=ec")
	for _, key := range []string{"pay", "ec"} {
		info, err := v.Engine.PublicKey(v.Ctx, "acme", key)
		if err != nil || len(info.Continuity) != 1 {
			f.Fatalf("%v, %d proofs", err, len(info.Continuity))
		}
		f.Add([]byte(info.Continuity[0]), 100, byte(1))
		f.Add([]byte(info.Continuity[0]), 0, byte(0))
	}
	f.Add([]byte(`{"type":"key_continuity"}`), 0, byte(0))
	f.Add([]byte(`{}`), 3, byte(1))
	f.Fuzz(func(t *testing.T, data []byte, at int, x byte) {
		c, err := engine.VerifyContinuity(data)
		if err == nil && c == nil {
			t.Fatal("nil proof without error")
		}
		if err == nil && len(data) > 0 && x != 0 {
			// A verified proof must not survive a change of one byte of its
			// canonical form.
			canonical, err := canon.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			i := (at%len(canonical) + len(canonical)) % len(canonical)
			mutated := append([]byte(nil), canonical...)
			mutated[i] ^= x
			if _, err := engine.VerifyContinuity(mutated); err == nil {
				t.Fatalf("proof still verifies with byte %d changed", i)
			}
		}
	})
}
