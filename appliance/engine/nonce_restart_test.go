package engine_test

import (
	"testing"

	"github.com/ron-kms/ron-kms/appliance/capability"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

func withNonceDir(t *testing.T, v *enginetest.Env, dir string) *engine.Engine {
	t.Helper()
	e := v.Restart(func(o *engine.Options) { o.NonceDir = dir })
	if _, err := e.Apply(v.Ctx, v.Snapshot(v.Policy)); err != nil {
		t.Fatal(err)
	}
	return e
}

// A single-use capability and a mint request stay used when the appliance
// restarts (K-G3: a restart is no way to replay them).
func TestNoncesSurviveRestart(t *testing.T) {
	v, _ := standard(t, policy.PQOff)
	dir := t.TempDir()
	a := withNonceDir(t, v, dir)
	req := v.MintRequest("acme", "minter-acme", []string{"sign"}, func(r *engine.MintRequest) { r.SingleUse = true })
	res, err := a.Mint(v.Ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sign := engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}
	if _, err := a.Sign(v.Ctx, res.Token, sign); err != nil {
		t.Fatalf("first use: %v", err)
	}

	b := withNonceDir(t, v, dir)
	_, err = b.Sign(v.Ctx, res.Token, sign)
	if rej := engine.AsReject(err, engine.ReasonBackendError); rej == nil || string(rej.Reason) != string(capability.ReasonNonceReused) {
		t.Fatalf("single-use capability after restart: %v", err)
	}
	if _, err := b.Mint(v.Ctx, req); err == nil || engine.AsReject(err, engine.ReasonBackendError).Reason != engine.ReasonMintReplayed {
		t.Fatalf("mint request replayed after restart: %v", err)
	}
	// Without the directory (memory only) the replay would pass: the test
	// can fail.
	c := restart(t, v)
	if _, err := c.Sign(v.Ctx, res.Token, sign); err != nil {
		t.Fatalf("memory-only engine: %v", err)
	}
}
