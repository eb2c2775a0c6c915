package policy

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/schemas"
)

// TestReplayChecksSchema: Validate does not bound everything the schema
// bounds (here: at most 64 minters per tenant), so Replay validates its
// result against the schema itself. The verifier relies on that to accept a
// policy file equal to the replay without validating it again.
func TestReplayChecksSchema(t *testing.T) {
	var minters []string
	for i := range 65 {
		seed := sha256.Sum256(fmt.Appendf(nil, "minter %d", i))
		pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
		m, _ := json.Marshal(Minter{KeyID: envelope.KeyID(pub), PublicKey: envelope.EncodePublicKey(pub)})
		minters = append(minters, string(m))
	}
	tenant := func(n int) string {
		return `{"pq_mode":"hybrid_and","mint":{"max_active":10,"rate_per_minute":60,"max_ttl_seconds":3600},"minters":[` +
			strings.Join(minters[:n], ",") + `],"keys":{}}`
	}
	prev := genesis(t, ProfileProduction)
	ok, err := Apply(prev, []Op{op(OpSet, "/tenants/acme", tenant(64))}, applied(t0))
	if err != nil {
		t.Fatalf("64 minters: %v", err)
	}
	if b, _ := ok.File(); schemas.Validate(Type, b) != nil {
		t.Fatal("64 minters: result breaks the schema")
	}

	_, err = Replay(prev, setDigest, []Op{op(OpSet, "/tenants/acme", tenant(65))}, applied(t0))
	var se *schemas.Error
	if !errors.As(err, &se) || se.Keyword != "maxItems" {
		t.Fatalf("65 minters: got %v, want a *schemas.Error (maxItems)", err)
	}
	// The premise: Validate alone accepts it.
	p := ok.Clone()
	for _, m := range minters[64:] {
		var x Minter
		if err := json.Unmarshal([]byte(m), &x); err != nil {
			t.Fatal(err)
		}
		p.Tenants["acme"].Minters = append(p.Tenants["acme"].Minters, x)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("test premise: Validate refuses 65 minters (%v); pick another schema-only bound", err)
	}
}
