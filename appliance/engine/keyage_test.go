package engine_test

import (
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// TestKeyAgeSurvivesRestart: an appliance that restarts long after a key
// was issued counts its age from Snapshot.KeyIssued, not from the restart
// or the policy it first sees.
func TestKeyAgeSurvivesRestart(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff)
	v.Clock.Advance(89 * 24 * time.Hour)
	v.Change("tenant:acme", "pq_mode=hybrid_or") // a later policy, executed now
	v.Clock.Advance(24 * time.Hour)

	e := v.Restart(nil)
	// The sync loop tells when governance issued each version (appliance/sync
	// records it as it walks the verified history).
	snap := v.Snapshot(v.Policy)
	snap.KeyIssued = map[string]time.Time{"acme/pay/v1": enginetest.Start}
	if _, err := e.Apply(v.Ctx, snap); err != nil {
		t.Fatal(err)
	}
	tok := v.Token("acme", allOps, nil)
	_, err := e.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonKeyTooOld)
	info, err := e.PublicKey(v.Ctx, "acme", "pay")
	if err != nil || !info.TooOld || info.IssuedAt != "2026-03-02T09:00:00Z" {
		t.Errorf("key info %+v %v", info, err)
	}
}
