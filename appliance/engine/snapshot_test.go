package engine_test

import (
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

func TestSnapshotOfKeyIssued(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff) // every key created at Start
	v.Clock.Advance(10 * 24 * time.Hour)
	v.Change("tenant:acme", "rotate_key=ec")
	rotated := v.Clock.Now()
	v.Clock.Advance(24 * time.Hour)
	v.Change("tenant:acme", "revoke_key=data", "pq_mode=hybrid_and") // touch keys without issuing a version

	s := engine.SnapshotOf(v.State())
	want := map[string]time.Time{
		"acme/pay/v1":  enginetest.Start,
		"acme/ec/v2":   rotated,
		"acme/data/v1": enginetest.Start,
		"beta/pay/v1":  enginetest.Start,
	}
	if len(s.KeyIssued) != len(want) {
		t.Errorf("KeyIssued %v, want %v", s.KeyIssued, want)
	}
	for l, at := range want {
		if !s.KeyIssued[l].Equal(at) {
			t.Errorf("KeyIssued[%s] = %v, want %v", l, s.KeyIssued[l], at)
		}
	}
	if d, _ := v.Policy.Digest(); s.PolicyDigest != d || s.Policy != v.Policy {
		t.Errorf("snapshot names another policy")
	}
}

// TestKeyAgeSurvivesRestart: an appliance that restarts long after a key
// was issued still counts its age from governance, not from the restart.
func TestKeyAgeSurvivesRestart(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff)
	v.Clock.Advance(89 * 24 * time.Hour)
	v.Change("tenant:acme", "pq_mode=hybrid_or") // a later policy, executed now
	v.Clock.Advance(24 * time.Hour)

	root, err := engine.DeriveRootKey(v.Ctx, v.Backend)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{ApplianceID: enginetest.ApplianceID, Backend: v.Backend, BackendSlot: enginetest.Slot, Audit: v.Audit, Now: v.Clock.Now, RootKey: root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(v.Ctx, engine.SnapshotOf(v.State())); err != nil {
		t.Fatal(err)
	}
	tok := v.Token("acme", allOps, nil)
	_, err = e.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonKeyTooOld)
	info, err := e.PublicKey(v.Ctx, "acme", "pay")
	if err != nil || !info.TooOld || info.IssuedAt != "2026-03-02T09:00:00Z" {
		t.Errorf("key info %+v %v", info, err)
	}
}
