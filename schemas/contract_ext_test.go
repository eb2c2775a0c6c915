package schemas_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
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

// TestAuditRecordsFromEngine: the records the appliance engine writes for
// a key whose tenant and name are both at the 63 characters defs.json
// allows, at a version of two digits — key generated, continuity proofs,
// sign, verify of the current and of an old version, wrap, unwrap, a sign
// of a superseded version and a verify of a version of nine digits that
// does not exist — are valid against audit_record.schema.json, byte for
// byte as the log holds them. Their key is the label the engine names
// the key version by, tenant/name/vN, up to 138 characters: longer than
// the short names of the other tests, and than the schema once allowed.
// Where a record also names the tenant or the version, the label agrees.
func TestAuditRecordsFromEngine(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQHybridAnd) // enrols the appliance
	tenant := "acme.payments-" + strings.Repeat("t", 49)
	name := "signing_" + strings.Repeat("k", 55)
	data := "wrapping_" + strings.Repeat("d", 54)
	for _, s := range []string{tenant, name, data} {
		if len(s) != 63 {
			t.Fatalf("%q is %d characters, want the maximum, 63", s, len(s))
		}
	}
	scope := "tenant:" + tenant
	v.Govern(scope, "create_tenant", "pq_mode="+policy.PQHybridAnd, "create_key="+name+":ed25519", "create_key="+data+":aes-256-gcm",
		"add_minter="+envelope.EncodePublicKey(enginetest.Key("minter-"+tenant).Public().(ed25519.PublicKey)))
	const version = 12
	for range version - 1 {
		v.Govern(scope, "rotate_key="+name)
	}
	tok := v.Token(tenant, []string{"sign", "verify", "wrap", "unwrap"}, nil)
	msg := []byte("audit record contract")
	sig, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: tenant, Key: name, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s/%s/v%d", tenant, name, version); sig.Key != want {
		t.Fatalf("signed with %s, want %s", sig.Key, want)
	}
	if _, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: tenant, Key: name, Message: msg, Signature: sig.Signature}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: tenant, Key: name, Version: 1, Message: msg, Signature: sig.Signature}); err != nil {
		t.Fatal(err)
	}
	wantReason := func(err error, want engine.Reason) {
		t.Helper()
		var r *engine.Reject
		if !errors.As(err, &r) || r.Reason != want {
			t.Fatalf("got %v, want a refusal with %s", err, want)
		}
	}
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: tenant, Key: name, Version: 1, Message: msg})
	wantReason(err, engine.ReasonKeySuperseded)
	_, err = v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: tenant, Key: name, Version: 999_999_999, Message: msg, Signature: sig.Signature})
	wantReason(err, engine.ReasonKeyNotFound)
	w, err := v.Engine.Wrap(v.Ctx, tok, engine.WrapRequest{Tenant: tenant, Key: data, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Engine.Unwrap(v.Ctx, tok, engine.UnwrapRequest{Tenant: tenant, Key: data, Ciphertext: w.Ciphertext}); err != nil {
		t.Fatal(err)
	}

	// The events of the ok records that name a key of tenant, and the
	// longest such key: the refusals above are only held to the schema.
	seen := map[string]int{}
	longest := 0
	for i, body := range auditBodies(t, v.AuditDir) {
		if err := schemas.Validate("audit_record", body); err != nil {
			t.Errorf("record %d: %v\n%s", i, err, body)
		}
		var r struct {
			Event, Outcome, Tenant, Key string
			KeyVersion                  int `json:"key_version"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Key == "" {
			continue
		}
		if r.Tenant != "" && !strings.HasPrefix(r.Key, r.Tenant+"/") {
			t.Errorf("record %d: key %s is not of tenant %s", i, r.Key, r.Tenant)
		}
		if r.KeyVersion != 0 && !strings.HasSuffix(r.Key, fmt.Sprintf("/v%d", r.KeyVersion)) {
			t.Errorf("record %d: key %s is not of version %d", i, r.Key, r.KeyVersion)
		}
		if r.Outcome == "ok" && strings.HasPrefix(r.Key, tenant+"/") {
			seen[r.Event]++
			longest = max(longest, len(r.Key))
		}
	}
	// key: 2 generated + 11 rotations, each generated with its proof.
	want := map[string]int{"key": 2 + 2*(version-1), "sign": 1, "verify": 2, "wrap": 1, "unwrap": 1}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("ok records naming keys of the long tenant, by event: %v, want %v", seen, want)
	}
	if want := len(sig.Key); longest != want {
		t.Errorf("longest key label %d characters, want %d (%s)", longest, want, sig.Key)
	}
}

// auditBodies returns the records of the audit log in dir as the log
// holds them (audit.FileLog's frames: 4-byte big-endian length, 4-byte
// CRC-32C, the record's canonical JSON); enginetest.ReadRecords checks
// the frames, and the count is held to it.
func auditBodies(t *testing.T, dir string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for len(data) >= 8 {
		n := int(binary.BigEndian.Uint32(data[:4]))
		if len(data)-8 < n {
			t.Fatal("audit log: torn frame")
		}
		out = append(out, data[8:8+n])
		data = data[8+n:]
	}
	if len(data) != 0 || len(out) != len(enginetest.ReadRecords(t, dir)) {
		t.Fatal("audit log: frames do not match enginetest.ReadRecords")
	}
	return out
}
