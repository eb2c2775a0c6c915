package capability_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/ron-kms/ron-kms/appliance/capability"
)

func Example() {
	root := make([]byte, capability.RootKeySize)
	rand.Read(root) // in the appliance: from its backend, never logged

	reg := capability.NewRegistry()
	minter, _ := capability.NewMinter(root, reg)
	checker, _ := capability.NewChecker(root, reg, capability.NewMemNonceStore(10000), capability.NewLimiter(10000))

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	limits := capability.Limits{MaxActive: 10, MintPerMinute: 5, MaxTTL: time.Hour}
	c, err := minter.Mint(capability.MintRequest{
		Tenant: "acme", Ops: []string{capability.OpSign}, Algs: []string{"ed25519"},
		Key: "acme/payments-*", TTL: 15 * time.Minute, RPS: 10,
	}, limits, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Caveats)

	req := capability.Request{Tenant: "acme", Op: capability.OpSign, Alg: "ed25519", Key: "acme/payments-eu/v2"}
	v, err := checker.Check(c.Token(), req, now.Add(time.Minute))
	fmt.Println(v.Ops, v.Expires, err)

	req.Key = "acme/hr"
	_, err = checker.Check(c.Token(), req, now.Add(time.Minute))
	e := err.(*capability.Error)
	fmt.Println(e.Reason, e.HTTPStatus())
	// Output:
	// [tenant acme scope sign alg ed25519 key acme/payments-* rps 10 exp 2026-03-01T12:15:00Z]
	// [sign] 2026-03-01 12:15:00 +0000 UTC <nil>
	// key_denied 403
}
