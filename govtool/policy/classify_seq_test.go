package policy

import "testing"

// A changeset may refer to what its own earlier ops create; the class of
// the whole is still the strictest of its parts.
func TestClassifySequentialChangeset(t *testing.T) {
	p := genesis(t, ProfileProduction)
	tenant := `{"pq_mode":"hybrid_and","mint":{"max_active":10,"rate_per_minute":10,"max_ttl_seconds":3600},"minters":[],"keys":{}}`
	key := `{"alg":"ed25519","version":1,"max_age_days":90,"revoked":false}`
	ops := []Op{
		op(OpSet, "/tenants/acme", tenant),
		op(OpSet, "/tenants/acme/keys/payments", key),
	}
	r, err := Classify(p, ops)
	if err != nil {
		t.Fatalf("tenant and its key in one changeset: %v", err)
	}
	if r.Class != Sensitive {
		t.Fatalf("class %s, want sensitive", r.Class)
	}
	// Alone, the key op refers to a tenant that does not exist: denied.
	if _, err := Classify(p, ops[1:]); err == nil {
		t.Fatal("key of a missing tenant classified")
	}
	// A later op that does not apply after the earlier ones is denied.
	bad := []Op{op(OpSet, "/tenants/acme", tenant), op(OpSet, "/tenants/acme/keys/payments", `{"alg":"rot13"}`), op(OpSet, "/limits/cache_size", "1")}
	if _, err := Classify(p, bad); err == nil {
		t.Fatal("changeset whose ops do not apply was classified")
	}
}
