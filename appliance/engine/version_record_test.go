package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
)

// TestMissingVersionRecord: a request for a key version that does not
// exist — negative, past the current one, or longer than any version — is
// refused as key_not_found, and its audit record names the key without a
// version (not a label such as "acme/pay/v-1" that exists nowhere).
func TestMissingVersionRecord(t *testing.T) {
	v, tok := standard(t, "off")
	for _, ver := range []int{-1, 2, 1234567890} {
		before := len(v.Records())
		_, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Version: ver, Message: []byte("m")})
		wantReject(t, err, engine.ReasonKeyNotFound)
		recs := v.Records()
		if len(recs) != before+1 {
			t.Fatalf("version %d: %d new audit records, want 1", ver, len(recs)-before)
		}
		r := recs[len(recs)-1]
		if r.Reason != string(engine.ReasonKeyNotFound) || r.Tenant != "acme" || r.Key != "acme/pay" || r.KeyVersion != 0 {
			t.Errorf("version %d: record reason %q tenant %q key %q version %d, want key_not_found acme acme/pay 0", ver, r.Reason, r.Tenant, r.Key, r.KeyVersion)
		}
	}
}

// TestKeyEventRecord: the record of a key the engine generated names its
// tenant and version as well as its label, as a sign record does.
func TestKeyEventRecord(t *testing.T) {
	v, _ := standard(t, "off")
	n := 0
	for _, r := range v.Records() {
		if r.Event != engine.EventKey {
			continue
		}
		n++
		if r.Tenant == "" || r.KeyVersion < 1 || r.Key != fmt.Sprintf("%s/%s/v%d", r.Tenant, strings.Split(r.Key, "/")[1], r.KeyVersion) {
			t.Errorf("key record: tenant %q key %q version %d", r.Tenant, r.Key, r.KeyVersion)
		}
	}
	if n == 0 {
		t.Fatal("no key records after the standard setup")
	}
}
