package schemas_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/schemas"
	"github.com/ron-kms/ron-kms/testvectors"
)

// TestMintRequestContract: a mint request signed the way the appliance's
// clients sign one is valid against mint_request.schema.json, and the
// mint_request vector parses with the appliance's own parser to the same
// digest. If this fails, engine.MintRequest and the schema have drifted.
func TestMintRequestContract(t *testing.T) {
	seed := sha256.Sum256([]byte("schemas contract minter"))
	r := &engine.MintRequest{Type: engine.MintRequestType, Tenant: "acme", Scope: []string{"sign"},
		TTLSeconds: 600, IssuedAt: "2026-03-01T12:00:00Z", Nonce: "00112233445566778899aabbccddeeff"}
	if err := engine.SignMintRequest(r, ed25519.NewKeyFromSeed(seed[:])); err != nil {
		t.Fatal(err)
	}
	body, err := canon.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("mint_request", body); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}

	var d testvectors.Digests
	data, _ := testvectors.FS.ReadFile(testvectors.DigestsFile)
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range d.Vectors {
		if v.Type != engine.MintRequestType {
			continue
		}
		found = true
		req, err := engine.ParseMintRequest([]byte(v.File))
		if err != nil {
			t.Fatalf("vector does not parse: %v", err)
		}
		if dg, err := req.Digest(); err != nil || dg != v.Digest {
			t.Fatalf("digest %s (%v), vector says %s", dg, err, v.Digest)
		}
	}
	if !found {
		t.Fatal("no mint_request vector")
	}
}
