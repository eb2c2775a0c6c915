package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/canon"
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
