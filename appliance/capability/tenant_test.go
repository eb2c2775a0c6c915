package capability

import (
	"errors"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// TestTenantNamesMatchPolicy checks that capabilities accept exactly the
// tenant and key names policy accepts: every tenant policy can create is
// mintable and checkable, and no caveat or request names a tenant policy
// cannot have. Policy's names are also valid backend labels, which is what
// lets one name mean one tenant from governance down to the key custodian.
func TestTenantNamesMatchPolicy(t *testing.T) {
	names := []string{
		"acme", "a", "0", "acme-corp", "acme_corp", "acme.corp", "a1b2",
		"ACME", "Acme", "aCME", "-acme", "_acme", ".acme", "acme corp", "acme/x", "",
		"ac\u00e9me", "acme\n", string(make([]byte, 63)),
		"a23456789012345678901234567890123456789012345678901234567890123",  // 63
		"a234567890123456789012345678901234567890123456789012345678901234", // 64
	}
	e := newEnv(t)
	for _, name := range names {
		want := policy.TenantRE.MatchString(name)
		_, mintErr := e.minter.Mint(MintRequest{Tenant: name, Ops: []string{OpSign}, TTL: 60e9}, generous, t0)
		if got := mintErr == nil; got != want {
			t.Errorf("tenant %q: policy accepts %v, Mint accepts %v (%v)", name, want, got, mintErr)
		}
		if !want {
			continue
		}
		// The same name as a key name, and as a full request.
		key := name + "/" + name + "/v1"
		if policy.KeyNameRE.MatchString(name) {
			if err := backend.CheckLabel(key); err != nil {
				t.Errorf("policy tenant and key %q are not a backend label: %v", name, err)
			}
			c, err := e.minter.Mint(MintRequest{Tenant: name, Ops: []string{OpSign}, Key: name + "/*", TTL: 60e9}, generous, t0)
			if err != nil {
				t.Fatalf("Mint for %q: %v", name, err)
			}
			if _, err := e.checker.Check(c.Token(), Request{Tenant: name, Op: OpSign, Alg: "ed25519", Key: key}, t0); err != nil {
				t.Errorf("Check for tenant %q key %q: %v", name, key, err)
			}
		}
	}
	// A tenant policy refuses is refused in a request, not just at mint.
	_, err := e.checker.Check("x", Request{Tenant: "ACME", Op: OpSign, Alg: "ed25519", Key: "ACME/k"}, t0)
	var ce *Error
	if !errors.As(err, &ce) || ce.Reason != ReasonMalformed {
		t.Errorf("Check with tenant ACME: %v, want malformed", err)
	}
}
