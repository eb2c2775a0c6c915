package engine_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// seedFaultBackend flips a bit of every ML-DSA seed it derives while fault
// is set, as a faulty custodian would: the private key derived from it is
// not the one whose public key the engine loaded and publishes, so each
// ML-DSA-65 signature made with it is one no verifier accepts.
type seedFaultBackend struct {
	backend.Backend
	fault atomic.Bool
}

func (b *seedFaultBackend) DeriveSeed(ctx context.Context, info []byte) ([32]byte, error) {
	seed, err := b.Backend.DeriveSeed(ctx, info)
	if err == nil && b.fault.Load() && bytes.HasPrefix(info, engine.MLDSAInfo("")) {
		seed[0] ^= 1
	}
	return seed, err
}

// TestMLDSAFaultNotReleased: in every mode that makes an ML-DSA-65
// signature, one that does not verify under the key's published ML-DSA-65
// public key is refused as backend_error, nothing is released, and the
// refusal is audited; once the fault is gone the key signs again.
func TestMLDSAFaultNotReleased(t *testing.T) {
	for _, mode := range []string{policy.PQHybridAnd, policy.PQHybridOr, policy.PQOnly} {
		t.Run(mode, func(t *testing.T) {
			fb := &seedFaultBackend{}
			v := enginetest.New(t, enginetest.Options{Wrap: func(b backend.Backend) backend.Backend { fb.Backend = b; return fb }})
			v.Standard(mode)
			tok := v.Token("acme", allOps, nil)
			sign := func() (*engine.SignResult, error) {
				return v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
			}
			verify := func(res *engine.SignResult) {
				t.Helper()
				alg := pq.MLDSA65Ed25519
				if mode == policy.PQOnly {
					alg = pq.MLDSA65
				}
				if res.Alg != string(alg) {
					t.Fatalf("alg %s, want %s", res.Alg, alg)
				}
				if err := pq.Verify(alg, res.PublicKey, []byte("m"), nil, res.Signature); err != nil {
					t.Fatalf("released signature does not verify: %v", err)
				}
			}

			res, err := sign()
			if err != nil {
				t.Fatal(err)
			}
			verify(res)

			fb.fault.Store(true)
			before := len(v.Records())
			res, err = sign()
			rej := wantReject(t, err, engine.ReasonBackendError)
			if res != nil {
				t.Fatal("a signature was released beside backend_error")
			}
			if !strings.Contains(rej.Msg, pq.ErrSignerFault.Error()) || !strings.Contains(rej.Msg, "ML-DSA-65") {
				t.Errorf("reject %q does not name the ML-DSA-65 signer fault", rej.Msg)
			}
			recs := v.Records()
			if len(recs) != before+1 {
				t.Fatalf("%d audit records for one refused signature, want 1", len(recs)-before)
			}
			if r := recs[len(recs)-1]; r.Event != engine.EventSign || r.Outcome != audit.OutcomeRejected ||
				r.Reason != string(engine.ReasonBackendError) || r.Key != "acme/pay/v1" {
				t.Errorf("audit record %+v, want a rejected sign of acme/pay/v1 with backend_error", r)
			}

			fb.fault.Store(false)
			res, err = sign()
			if err != nil {
				t.Fatalf("after the fault: %v", err)
			}
			verify(res)
		})
	}
}

// TestMLDSAFaultLeavesModeOff: mode off makes no ML-DSA-65 signature, so an
// ML-DSA seed fault does not touch it.
func TestMLDSAFaultLeavesModeOff(t *testing.T) {
	fb := &seedFaultBackend{}
	v := enginetest.New(t, enginetest.Options{Wrap: func(b backend.Backend) backend.Backend { fb.Backend = b; return fb }})
	v.Standard(policy.PQOff)
	tok := v.Token("acme", allOps, nil)
	fb.fault.Store(true)
	if _, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}); err != nil {
		t.Fatal(err)
	}
}
