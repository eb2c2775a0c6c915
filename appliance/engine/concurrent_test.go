package engine_test

import (
	"sync"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// TestApplyWhileSigning: requests running while Apply swaps policies each
// see one whole policy — a signature is always of the form its result
// names, and verifies — and nothing races (run with -race).
func TestApplyWhileSigning(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	v.Govern("global", "inflight_cap=1000")
	modes := []string{policy.PQHybridAnd, policy.PQHybridOr, policy.PQOnly, policy.PQOff}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
				if err != nil {
					errs <- err
					return
				}
				var alg pq.Alg
				mode := pq.Mode(res.Mode)
				switch mode {
				case pq.ModeOff:
					alg = pq.MLDSA65Ed25519 // only its traditional half is used
				case pq.ModePQOnly:
					alg = pq.MLDSA65
				default:
					alg = pq.Alg(res.Alg)
				}
				if mode == pq.ModeOff {
					if res.Alg != "ed25519" || len(res.Signature) != 64 {
						errs <- errMode(res)
						return
					}
					continue
				}
				if err := pq.Verify(alg, res.PublicKey, []byte("m"), nil, res.Signature); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 12 {
		v.Govern("tenant:acme", "pq_mode="+modes[i%len(modes)])
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type modeError struct{ res *engine.SignResult }

func (e modeError) Error() string { return "signature of mode " + e.res.Mode + " has alg " + e.res.Alg }

func errMode(res *engine.SignResult) error { return modeError{res} }
