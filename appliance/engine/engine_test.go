package engine_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/continuity"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

var allOps = []string{"sign", "verify", "wrap", "unwrap"}

func wantReject(t *testing.T, err error, want engine.Reason) *engine.Reject {
	t.Helper()
	var r *engine.Reject
	if !errors.As(err, &r) {
		t.Fatalf("error %v (%T), want *engine.Reject %s", err, err, want)
	}
	if r.Reason != want {
		t.Fatalf("reason %s (%s), want %s", r.Reason, r.Msg, want)
	}
	return r
}

func standard(t *testing.T, mode string) (*enginetest.Env, string) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(mode)
	return v, v.Token("acme", allOps, nil)
}

func TestNotReadyUntilEnrolled(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	if ok, why := v.Engine.Ready(); ok || !strings.Contains(why, "no verified policy") {
		t.Fatalf("fresh engine: Ready = %v, %q", ok, why)
	}
	_, err := v.Engine.Sign(v.Ctx, "", engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonNotReady)

	// A policy that does not enrol this appliance: in force, not ready, no key made.
	v.Change("tenant:acme", "create_tenant", "create_key=pay:ed25519")
	res, err := v.Sync()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Generated) != 0 {
		t.Errorf("generated %v while not enrolled", res.Generated)
	}
	if r := v.Engine.NotReady(); r == nil || r.Reason != engine.ReasonNotEnrolled {
		t.Fatalf("NotReady = %v, want not_enrolled", r)
	}
	if _, _, err := v.Backend.PublicKey(v.Ctx, "acme/pay/v1"); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("key made while not enrolled: %v", err)
	}

	// Enrolled with another slot: still not ready, and it says why.
	v.Govern("global", "enroll_appliance="+enginetest.ApplianceID+":sealed-file:auditkey:slot-2")
	if ok, why := v.Engine.Ready(); ok || !strings.Contains(why, `slot "slot-2"`) {
		t.Fatalf("wrong slot: Ready = %v, %q", ok, why)
	}
	// Enrolled with another backend kind.
	v.Govern("global", "enroll_appliance="+enginetest.ApplianceID+":pkcs11:auditkey:default")
	if ok, why := v.Engine.Ready(); ok || !strings.Contains(why, "backend pkcs11") {
		t.Fatalf("wrong backend: Ready = %v, %q", ok, why)
	}
	res = v.Govern("global", "enroll_appliance="+enginetest.ApplianceID+":sealed-file:auditkey:default")
	if ok, why := v.Engine.Ready(); !ok {
		t.Fatalf("enrolled: not ready: %s", why)
	}
	if len(res.Generated) != 1 || res.Generated[0] != "acme/pay/v1" {
		t.Errorf("Generated = %v, want [acme/pay/v1]", res.Generated)
	}
	if _, alg, err := v.Backend.PublicKey(v.Ctx, "acme/pay/v1"); err != nil || alg != backend.Ed25519 {
		t.Errorf("backend key acme/pay/v1: %v %v", alg, err)
	}
}

func TestApplyRefusesRollbackForkAndInvalid(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQHybridAnd)
	base := v.Policy
	v.Govern("tenant:acme", "pq_mode=hybrid_or")
	inForce := v.Policy

	// A lower version.
	_, err := v.Engine.Apply(v.Ctx, v.Snapshot(base))
	wantReject(t, err, engine.ReasonPolicyRollback)
	// The same version, another digest: a fork.
	v.Policy = base
	fork := v.Change("tenant:acme", "pq_mode=off")
	if fork.Version != inForce.Version {
		t.Fatalf("fork version %d, in force %d", fork.Version, inForce.Version)
	}
	_, err = v.Engine.Apply(v.Ctx, v.Snapshot(fork))
	wantReject(t, err, engine.ReasonPolicyConflict)
	// A digest that does not match.
	s := v.Snapshot(inForce)
	s.PolicyDigest = "sha256:" + strings.Repeat("0", 64)
	_, err = v.Engine.Apply(v.Ctx, s)
	wantReject(t, err, engine.ReasonPolicyInvalid)
	// No commit.
	s = v.Snapshot(inForce)
	s.Commit = "main"
	_, err = v.Engine.Apply(v.Ctx, s)
	wantReject(t, err, engine.ReasonPolicyInvalid)

	if st := v.Engine.Status(v.Ctx); st.PolicyVersion != inForce.Version || st.PQ.Tenants["acme"] != policy.PQHybridOr {
		t.Errorf("status after refusals: version %d mode %s", st.PolicyVersion, st.PQ.Tenants["acme"])
	}
	// The same version again is fine: a new commit, nothing else.
	s = v.Snapshot(inForce)
	if _, err := v.Engine.Apply(v.Ctx, s); err != nil {
		t.Fatal(err)
	}
	if st := v.Engine.Status(v.Ctx); st.GovernanceCommit != s.Commit {
		t.Errorf("commit %s, want %s", st.GovernanceCommit, s.Commit)
	}
	var refused []string
	for _, r := range v.Records() {
		if r.Event == engine.EventPolicy && r.Outcome != "ok" {
			refused = append(refused, r.Reason)
		}
	}
	want := []string{"policy_rollback", "policy_conflict", "policy_invalid", "policy_invalid"}
	if fmt.Sprint(refused) != fmt.Sprint(want) {
		t.Errorf("audited refusals %v, want %v", refused, want)
	}
	if got := enginetest.MetricValue(v.Metrics.PolicyRejects.WithLabelValues("policy_rollback")); got != 1 {
		t.Errorf("kms_policy_rejects_total{policy_rollback} = %v", got)
	}
}

func TestSignFormsVerifyIndependently(t *testing.T) {
	msg := []byte("pay 100 to bob")
	sctx := []byte("invoice-7")
	for _, mode := range policy.PQModes {
		t.Run(mode, func(t *testing.T) {
			v, tok := standard(t, mode)
			for _, key := range []string{"pay", "ec"} {
				info, err := v.Engine.PublicKey(v.Ctx, "acme", key)
				if err != nil {
					t.Fatal(err)
				}
				kv := info.Versions[0]
				c := sctx
				if mode == policy.PQOff {
					c = nil
				}
				res, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: key, Message: msg, Context: c})
				if err != nil {
					t.Fatalf("%s: Sign: %v", key, err)
				}
				if res.Mode != mode || res.Version != 1 || res.Key != "acme/"+key+"/v1" {
					t.Errorf("%s: result %+v", key, res)
				}
				sig := res.Signature
				switch mode {
				case policy.PQOff:
					if key == "pay" {
						if res.Alg != "ed25519" || !ed25519.Verify(kv.PublicKey, msg, sig) {
							t.Errorf("ed25519 signature does not verify with crypto/ed25519 (alg %s)", res.Alg)
						}
					} else {
						pub, err := ecdsa.ParseUncompressedPublicKey(ecdsaCurve(), kv.PublicKey)
						h := sha256.Sum256(msg)
						if err != nil || res.Alg != "ecdsa-p256" || !ecdsa.VerifyASN1(pub, h[:], sig) {
							t.Errorf("ecdsa signature does not verify with crypto/ecdsa (alg %s, %v)", res.Alg, err)
						}
					}
					if !bytes.Equal(res.PublicKey, kv.PublicKey) {
						t.Errorf("result public key is not the traditional key")
					}
				case policy.PQOnly:
					var pk mldsa65.PublicKey
					if err := pk.UnmarshalBinary(kv.MLDSAPublicKey); err != nil {
						t.Fatal(err)
					}
					if res.Alg != string(pq.MLDSA65) || !mldsa65.Verify(&pk, msg, sctx, sig) {
						t.Errorf("ML-DSA-65 signature does not verify with circl (alg %s)", res.Alg)
					}
					if err := pq.Verify(pq.MLDSA65, kv.MLDSAPublicKey, msg, sctx, sig); err != nil {
						t.Errorf("pq.Verify: %v", err)
					}
				default:
					alg := pq.Alg(kv.CompositeAlg)
					if res.Alg != string(alg) || !bytes.Equal(res.PublicKey, kv.CompositePublicKey) {
						t.Errorf("alg %s, want %s", res.Alg, alg)
					}
					if err := pq.Verify(alg, kv.CompositePublicKey, msg, sctx, sig); err != nil {
						t.Errorf("pq.Verify: %v", err)
					}
					// The traditional half, checked with the standard library over M'.
					_, tsig, err := pq.SplitSignature(alg, sig)
					if err != nil {
						t.Fatal(err)
					}
					label := map[string]string{"pay": "COMPSIG-MLDSA65-Ed25519-SHA512", "ec": "COMPSIG-MLDSA65-ECDSA-P256-SHA512"}[key]
					m := enginetest.MessageRepresentative(label, msg, sctx)
					if key == "pay" {
						if !ed25519.Verify(kv.PublicKey, m, tsig) {
							t.Errorf("traditional Ed25519 component does not verify with crypto/ed25519")
						}
					} else {
						pub, _ := ecdsa.ParseUncompressedPublicKey(ecdsaCurve(), kv.PublicKey)
						h := sha256.Sum256(m)
						if !ecdsa.VerifyASN1(pub, h[:], tsig) {
							t.Errorf("traditional ECDSA component does not verify with crypto/ecdsa")
						}
					}
				}
				if keyID(res.PublicKey) != res.KeyID {
					t.Errorf("key id %s is not the SHA-256 of the public key", res.KeyID)
				}
				// The engine's own verify agrees, and refuses a changed message.
				vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: key, Message: msg, Context: c, Signature: sig})
				if err != nil || !vr.Valid {
					t.Errorf("Verify: %+v %v", vr, err)
				}
				vr, err = v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: key, Message: []byte("pay 999 to eve"), Context: c, Signature: sig})
				if err != nil || vr.Valid {
					t.Errorf("Verify of another message: %+v %v", vr, err)
				}
			}
		})
	}
}

func keyID(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%x", h)
}

func TestDigestSigning(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	msg := []byte("a large document")
	h := sha256.Sum256(msg)
	res, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "ec", Digest: h[:], Hash: "sha256"})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ecdsa.ParseUncompressedPublicKey(ecdsaCurve(), res.PublicKey)
	if !ecdsa.VerifyASN1(pub, h[:], res.Signature) {
		t.Fatal("digest signature does not verify")
	}
	// The same signature verifies over the message.
	vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "ec", Message: msg, Signature: res.Signature})
	if err != nil || !vr.Valid {
		t.Fatalf("Verify over the message: %+v %v", vr, err)
	}
	// Ed25519 cannot sign a pre-hash.
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Digest: h[:], Hash: "sha256"})
	wantReject(t, err, engine.ReasonBadRequest)
	// Neither can a hybrid mode.
	v.Govern("tenant:acme", "pq_mode=hybrid_and")
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "ec", Digest: h[:], Hash: "sha256"})
	wantReject(t, err, engine.ReasonBadRequest)
}

func TestHybridOrVersusAnd(t *testing.T) {
	v, tok := standard(t, policy.PQHybridAnd)
	msg := []byte("m")
	res, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	ml, _, _ := pq.SplitSignature(pq.MLDSA65Ed25519, res.Signature)
	badML := bytes.Clone(res.Signature)
	badML[10] ^= 1 // inside the ML-DSA component
	badTrad := bytes.Clone(res.Signature)
	badTrad[len(ml)+5] ^= 1 // inside the Ed25519 component
	badBoth := bytes.Clone(badML)
	badBoth[len(ml)+5] ^= 1

	verify := func(sig []byte) *engine.VerifyResult {
		t.Helper()
		vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "pay", Message: msg, Signature: sig})
		if err != nil {
			t.Fatal(err)
		}
		return vr
	}
	for name, sig := range map[string][]byte{"ml-dsa broken": badML, "ed25519 broken": badTrad, "both broken": badBoth} {
		if vr := verify(sig); vr.Valid {
			t.Errorf("hybrid_and accepts a signature with %s", name)
		}
	}
	if vr := verify(res.Signature); !vr.Valid || vr.NonStandard || !vr.MLDSA || !vr.Traditional {
		t.Errorf("hybrid_and, good signature: %+v", vr)
	}

	// Rollback to hybrid_or takes effect with the next Apply.
	v.Govern("tenant:acme", "pq_mode=hybrid_or")
	if vr := verify(badML); !vr.Valid || !vr.NonStandard || vr.MLDSA || !vr.Traditional {
		t.Errorf("hybrid_or, ML-DSA broken: %+v", vr)
	}
	if vr := verify(badTrad); !vr.Valid || !vr.NonStandard || !vr.MLDSA || vr.Traditional {
		t.Errorf("hybrid_or, Ed25519 broken: %+v", vr)
	}
	if vr := verify(badBoth); vr.Valid {
		t.Errorf("hybrid_or accepts a signature with both components broken")
	}
	// And back.
	v.Govern("tenant:acme", "pq_mode=hybrid_and")
	if vr := verify(badML); vr.Valid {
		t.Errorf("hybrid_and again still accepts one component")
	}
	if got := enginetest.MetricValue(v.Metrics.PQPhase.WithLabelValues("acme", "hybrid_and")); got != 1 {
		t.Errorf("kms_pq_phase{acme,hybrid_and} = %v", got)
	}
}

func TestExpectedAlgAndModeChange(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	req := engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m"), Alg: "ed25519"}
	if _, err := v.Engine.Sign(v.Ctx, tok, req); err != nil {
		t.Fatal(err)
	}
	v.Govern("tenant:acme", "pq_mode=hybrid_and")
	_, err := v.Engine.Sign(v.Ctx, tok, req)
	wantReject(t, err, engine.ReasonPQMode)
	// A capability for ed25519 alone no longer covers acme's signatures.
	edOnly := v.Token("acme", []string{"sign"}, func(r *engine.MintRequest) { r.Alg = []string{"ed25519"} })
	req.Alg = ""
	_, err = v.Engine.Sign(v.Ctx, edOnly, req)
	wantReject(t, err, "alg_denied")
}

func TestFreezeBlocksSignUntilItExpires(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	msg := []byte("m")
	good, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	v.Govern("global", "freeze=incident 42")
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: msg})
	r := wantReject(t, err, engine.ReasonFrozen)
	if r.RetryAfter != 60*time.Minute {
		t.Errorf("RetryAfter %v, want 60m", r.RetryAfter)
	}
	if vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "pay", Message: msg, Signature: good.Signature}); err != nil || !vr.Valid {
		t.Errorf("verify during a freeze: %+v %v", vr, err)
	}
	if st := v.Engine.Status(v.Ctx); !st.Freeze.Active || st.Freeze.Reason != "incident 42" {
		t.Errorf("status freeze %+v", st.Freeze)
	}
	if n := enginetest.MetricValue(v.Metrics.Freezes); n != 1 {
		t.Errorf("kms_freezes_total = %v, want 1", n)
	}
	v.Clock.Advance(60 * time.Minute)
	if _, err := v.Sync(); err != nil { // the same policy again: not a new freeze
		t.Fatal(err)
	}
	if n := enginetest.MetricValue(v.Metrics.Freezes); n != 1 {
		t.Errorf("kms_freezes_total after re-applying = %v, want 1", n)
	}
	tok = v.Token("acme", allOps, nil)
	if _, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: msg}); err != nil {
		t.Errorf("sign after the freeze expired: %v", err)
	}
}

// attesting adds an attestation check to a real backend.
type attesting struct {
	backend.Backend
	err *error
}

func (a attesting) Attest(context.Context) error { return *a.err }

func TestAttestation(t *testing.T) {
	t.Run("backend without attester", func(t *testing.T) {
		v, tok := standard(t, policy.PQOff)
		good, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
		if err != nil {
			t.Fatal(err)
		}
		v.Govern("global", "attestation=required")
		_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
		r := wantReject(t, err, engine.ReasonAttestationFailed)
		if !strings.Contains(r.Msg, "sealed-file cannot attest") {
			t.Errorf("message %q", r.Msg)
		}
		if vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "pay", Message: []byte("m"), Signature: good.Signature}); err != nil || !vr.Valid {
			t.Errorf("verify continues: %+v %v", vr, err)
		}
		if st := v.Engine.Status(v.Ctx); !st.Attestation.Required || st.Attestation.OK {
			t.Errorf("status attestation %+v", st.Attestation)
		}
	})
	t.Run("attesting backend", func(t *testing.T) {
		var attErr error
		v := enginetest.New(t, enginetest.Options{Wrap: func(b backend.Backend) backend.Backend { return attesting{b, &attErr} }})
		v.Standard(policy.PQOff)
		tok := v.Token("acme", allOps, nil)
		v.Govern("global", "attestation=required")
		if _, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}); err != nil {
			t.Fatalf("attested backend: %v", err)
		}
		v.Clock.Advance(10 * time.Second)
		if _, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}); err != nil {
			t.Fatal(err)
		}
		if got := enginetest.MetricValue(v.Metrics.AttestationReadyS); got != 10 {
			t.Errorf("kms_attestation_ready_seconds_total = %v, want 10", got)
		}
		attErr = errors.New("PCR 7 changed")
		_, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
		wantReject(t, err, engine.ReasonAttestationFailed)
		if got := enginetest.MetricValue(v.Metrics.AttestationReady); got != 0 {
			t.Errorf("kms_attestation_ready = %v", got)
		}
		attErr = nil
		if _, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}); err != nil {
			t.Errorf("attestation restored: %v", err)
		}
	})
}

func TestKeyAgeRotationAndContinuity(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	old, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	if err != nil {
		t.Fatal(err)
	}
	v.Clock.Advance(90 * 24 * time.Hour)
	tok = v.Token("acme", allOps, nil)
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonKeyTooOld)
	if got := enginetest.MetricValue(v.Metrics.KeysTooOld); got != 4 {
		t.Errorf("kms_keys_over_max_age = %v, want 4", got)
	}
	_, err = v.Engine.Wrap(v.Ctx, tok, engine.WrapRequest{Tenant: "acme", Key: "data", Plaintext: []byte("k")})
	wantReject(t, err, engine.ReasonKeyTooOld)
	if vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "pay", Message: []byte("m"), Signature: old.Signature}); err != nil || !vr.Valid {
		t.Errorf("verify with an old key: %+v %v", vr, err)
	}

	res := v.Govern("tenant:acme", "rotate_key=pay")
	if len(res.Generated) != 1 || res.Generated[0] != "acme/pay/v2" || len(res.Proofs) != 1 {
		t.Fatalf("rotation: %+v", res)
	}
	neu, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	if err != nil || neu.Version != 2 {
		t.Fatalf("sign after rotation: %+v %v", neu, err)
	}
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Version: 1, Message: []byte("m")})
	wantReject(t, err, engine.ReasonKeySuperseded)
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Version: 3, Message: []byte("m")})
	wantReject(t, err, engine.ReasonKeyNotFound)
	// Signatures of version 1 still verify against version 1, not 2.
	for ver, want := range map[int]bool{1: true, 2: false} {
		vr, err := v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "pay", Version: ver, Message: []byte("m"), Signature: old.Signature})
		if err != nil || vr.Valid != want {
			t.Errorf("old signature against version %d: %+v %v", ver, vr, err)
		}
	}

	info, err := v.Engine.PublicKey(v.Ctx, "acme", "pay")
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 2 || len(info.Versions) != 2 || len(info.Continuity) != 1 {
		t.Fatalf("key info: version %d, %d versions, %d proofs", info.Version, len(info.Versions), len(info.Continuity))
	}
	c, err := continuity.Verify(info.Continuity[0])
	if err != nil {
		t.Fatalf("continuity.Verify: %v", err)
	}
	if c.Old.KeyID != info.Versions[0].KeyID || c.New.KeyID != info.Versions[1].KeyID || c.Tenant != "acme" || c.Key != "pay" {
		t.Errorf("proof names other keys: %+v", c)
	}
	if c.Old.MLDSAPublicKey != base64.StdEncoding.EncodeToString(info.Versions[0].MLDSAPublicKey) {
		t.Errorf("proof names another ML-DSA key")
	}
	// The rotation reset the age: the new version is young.
	if got := enginetest.MetricValue(v.Metrics.KeysTooOld); got != 3 {
		t.Errorf("kms_keys_over_max_age after rotating one = %v, want 3", got)
	}

	// A restarted engine (same backend) finds the same proof again.
	v2 := restart(t, v)
	info2, err := v2.PublicKey(v.Ctx, "acme", "pay")
	if err != nil || len(info2.Continuity) != 1 {
		t.Fatalf("after restart: %v, %d proofs", err, len(info2.Continuity))
	}
	if _, err := continuity.Verify(info2.Continuity[0]); err != nil {
		t.Errorf("proof after restart: %v", err)
	}
}

// restart makes a new engine over v's backend and audit log and applies
// v's policy, as a restarted appliance would.
func restart(t *testing.T, v *enginetest.Env) *engine.Engine {
	e := v.Restart(nil)
	res, err := e.Apply(v.Ctx, v.Snapshot(v.Policy))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Generated) != 0 {
		t.Errorf("restart generated %v: keys must survive in the backend", res.Generated)
	}
	return e
}

func TestCapabilitySurvivesRestart(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	e := restart(t, v)
	if _, err := e.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}); err != nil {
		t.Fatalf("capability minted before a restart: %v", err)
	}
}

func TestRevocationOnNextApply(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff)
	mint, err := v.Engine.Mint(v.Ctx, v.MintRequest("acme", "minter-acme", allOps, nil))
	if err != nil {
		t.Fatal(err)
	}
	sign := func() error {
		_, err := v.Engine.Sign(v.Ctx, mint.Token, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	v.Change("tenant:acme", "revoke_capability="+mint.ID)
	if err := sign(); err != nil {
		t.Fatalf("revoked before the policy is applied: %v", err)
	}
	res, err := v.Sync()
	if err != nil || len(res.Revoked) != 1 || res.Revoked[0] != mint.ID {
		t.Fatalf("Apply: %+v %v", res, err)
	}
	wantReject(t, sign(), "revoked")

	tok := v.Token("acme", allOps, nil)
	if _, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	v.Govern("tenant:acme", "revoke_key=pay")
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonKeyRevoked)
	_, err = v.Engine.Verify(v.Ctx, tok, engine.VerifyRequest{Tenant: "acme", Key: "pay", Message: []byte("m"), Signature: make([]byte, 64)})
	wantReject(t, err, engine.ReasonKeyRevoked)

	var revokes int
	for _, r := range v.Records() {
		if r.Event == engine.EventRevoke && r.CapabilityID == mint.ID {
			revokes++
		}
	}
	if revokes != 1 {
		t.Errorf("%d revoke records for %s, want 1", revokes, mint.ID)
	}
}

func TestAuditFailureReleasesNothing(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	v.Audit.Close()
	res, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonAuditUnavailable)
	if res != nil {
		t.Fatal("a signature came back without an audit record")
	}
	mres, err := v.Engine.Mint(v.Ctx, v.MintRequest("acme", "minter-acme", allOps, nil))
	wantReject(t, err, engine.ReasonAuditUnavailable)
	if mres != nil {
		t.Fatal("a token came back without an audit record")
	}
	// Refusals fail closed too: the reason becomes audit_unavailable.
	_, err = v.Engine.Sign(v.Ctx, "garbage", engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
	wantReject(t, err, engine.ReasonAuditUnavailable)
	if got := enginetest.MetricValue(v.Metrics.AuditErrors); got != 3 {
		t.Errorf("kms_audit_write_errors_total = %v, want 3", got)
	}
	// The mint that could not be audited does not count toward the ceiling.
	if got := enginetest.MetricValue(v.Metrics.CapabilitiesActive.WithLabelValues("acme")); got != 1 {
		t.Errorf("kms_capabilities_active{acme} = %v, want 1", got)
	}
}

func TestAuditRecordsHoldMetadataOnly(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQHybridAnd)
	mint, err := v.Engine.Mint(v.Ctx, v.MintRequest("acme", "minter-acme", allOps, nil))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("the secret message 0123456789")
	secret := []byte("the wrapped secret 9876543210")
	res, err := v.Engine.Sign(v.Ctx, mint.Token, engine.SignRequest{Tenant: "acme", Key: "pay", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	w, err := v.Engine.Wrap(v.Ctx, mint.Token, engine.WrapRequest{Tenant: "acme", Key: "data", Plaintext: secret, AAD: []byte("ctx")})
	if err != nil {
		t.Fatal(err)
	}
	u, err := v.Engine.Unwrap(v.Ctx, mint.Token, engine.UnwrapRequest{Tenant: "acme", Key: "data", Ciphertext: w.Ciphertext, AAD: []byte("ctx")})
	if err != nil || !bytes.Equal(u.Plaintext, secret) {
		t.Fatalf("unwrap: %v", err)
	}
	recs := v.Records()
	sign := recs[res.Receipt.Index]
	h := sha256.Sum256(msg)
	if sign.Event != "sign" || sign.Outcome != "ok" || sign.CapabilityID != mint.ID || sign.Key != "acme/pay/v1" ||
		sign.Digest != fmt.Sprintf("sha256:%x", h) || sign.PolicyVersion != v.Policy.Version || sign.GovernanceCommit != v.Commit ||
		sign.Alg != "mldsa65-ed25519" || sign.RequestID != res.RequestID {
		t.Errorf("sign record %+v", sign)
	}
	raw, err := readAll(v.AuditDir)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string][]byte{
		"token": []byte(mint.Token), "message": msg, "plaintext": secret,
		"message base64": []byte(base64.StdEncoding.EncodeToString(msg)), "plaintext base64": []byte(base64.StdEncoding.EncodeToString(secret)),
		"signature": res.Signature[:32], "ciphertext": w.Ciphertext,
	} {
		if bytes.Contains(raw, s) {
			t.Errorf("the audit log contains the %s", name)
		}
	}
}

func TestMintChecks(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff)
	mint := func(r *engine.MintRequest) error {
		_, err := v.Engine.Mint(v.Ctx, r)
		return err
	}
	wantReject(t, mint(v.MintRequest("acme", "minter-beta", allOps, nil)), engine.ReasonMinterUnknown)
	wantReject(t, mint(v.MintRequest("gamma", "minter-acme", allOps, nil)), engine.ReasonMinterUnknown)
	r := v.MintRequest("acme", "minter-acme", allOps, nil)
	r.TTLSeconds++ // changed after signing
	wantReject(t, mint(r), engine.ReasonMinterBadSignature)
	stale := v.MintRequest("acme", "minter-acme", allOps, func(r *engine.MintRequest) {
		r.IssuedAt = v.Clock.Now().Add(-engine.MintWindow - time.Second).Format(time.RFC3339)
	})
	wantReject(t, mint(stale), engine.ReasonMintStale)
	future := v.MintRequest("acme", "minter-acme", allOps, func(r *engine.MintRequest) {
		r.IssuedAt = v.Clock.Now().Add(engine.MintSkew + time.Second).Format(time.RFC3339)
	})
	wantReject(t, mint(future), engine.ReasonMintStale)
	once := v.MintRequest("acme", "minter-acme", allOps, nil)
	if err := mint(once); err != nil {
		t.Fatal(err)
	}
	wantReject(t, mint(once), engine.ReasonMintReplayed)
	// A bad signature does not use up the nonce.
	again := v.MintRequest("acme", "minter-acme", allOps, nil)
	forged := *again
	forged.Signatures = v.MintRequest("acme", "minter-acme", allOps, nil).Signatures
	wantReject(t, mint(&forged), engine.ReasonMinterBadSignature)
	if err := mint(again); err != nil {
		t.Errorf("the nonce was used by a forged request: %v", err)
	}
	wantReject(t, mint(v.MintRequest("acme", "minter-acme", allOps, func(r *engine.MintRequest) { r.TTLSeconds = 3601 })), "ttl_exceeded")
	wantReject(t, mint(v.MintRequest("acme", "minter-acme", []string{"fly"}, nil)), "malformed")
	wantReject(t, mint(v.MintRequest("acme", "minter-acme", allOps, func(r *engine.MintRequest) { r.Key = "beta/*" })), "malformed")
}

func TestMintCeilings(t *testing.T) {
	v := enginetest.New(t, enginetest.Options{})
	v.Standard(policy.PQOff)
	v.Govern("tenant:acme", "mint.max_active=2")
	v.Token("acme", allOps, nil)
	v.Token("acme", allOps, nil)
	_, err := v.Engine.Mint(v.Ctx, v.MintRequest("acme", "minter-acme", allOps, nil))
	wantReject(t, err, "mint_ceiling")
	v.Govern("tenant:acme", "mint.max_active=100", "mint.rate_per_minute=3")
	v.Token("acme", allOps, nil) // the third this minute
	_, err = v.Engine.Mint(v.Ctx, v.MintRequest("acme", "minter-acme", allOps, nil))
	r := wantReject(t, err, "mint_rate")
	if r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
		t.Errorf("RetryAfter %v", r.RetryAfter)
	}
	v.Clock.Advance(time.Minute)
	v.Token("acme", allOps, nil)
}

func TestWrapUnwrap(t *testing.T) {
	v, tok := standard(t, policy.PQHybridAnd)
	secret := []byte("database key")
	w, err := v.Engine.Wrap(v.Ctx, tok, engine.WrapRequest{Tenant: "acme", Key: "data", Plaintext: secret, AAD: []byte("db-1")})
	if err != nil {
		t.Fatal(err)
	}
	unwrap := func(ver int, aad string) ([]byte, error) {
		u, err := v.Engine.Unwrap(v.Ctx, tok, engine.UnwrapRequest{Tenant: "acme", Key: "data", Version: ver, Ciphertext: w.Ciphertext, AAD: []byte(aad)})
		if err != nil {
			return nil, err
		}
		return u.Plaintext, nil
	}
	if pt, err := unwrap(0, "db-1"); err != nil || !bytes.Equal(pt, secret) {
		t.Fatalf("unwrap: %q %v", pt, err)
	}
	_, err = unwrap(0, "db-2")
	wantReject(t, err, engine.ReasonUnwrapFailed)
	v.Govern("tenant:acme", "rotate_key=data")
	_, err = unwrap(2, "db-1") // the label is bound: version 2 cannot open version 1's
	if err == nil {
		t.Fatal("version 2 unwrapped version 1's ciphertext")
	}
	if pt, err := unwrap(1, "db-1"); err != nil || !bytes.Equal(pt, secret) {
		t.Fatalf("unwrap with version 1 after rotation: %v", err)
	}
	_, err = v.Engine.Wrap(v.Ctx, tok, engine.WrapRequest{Tenant: "acme", Key: "data", Version: 1, Plaintext: secret})
	wantReject(t, err, engine.ReasonKeySuperseded)
	_, err = v.Engine.Wrap(v.Ctx, tok, engine.WrapRequest{Tenant: "acme", Key: "pay", Plaintext: secret})
	wantReject(t, err, engine.ReasonAlgMismatch)
	_, err = v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "data", Message: secret})
	wantReject(t, err, engine.ReasonAlgMismatch)
}

func TestReasonsClosedAndMapped(t *testing.T) {
	seen := map[engine.Reason]bool{}
	allowed := map[int]bool{400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 413: true, 429: true, 503: true}
	for _, r := range engine.Reasons() {
		if seen[r] {
			t.Errorf("reason %s listed twice", r)
		}
		seen[r] = true
		if !allowed[r.HTTPStatus()] {
			t.Errorf("reason %s has status %d", r, r.HTTPStatus())
		}
		if strings.ToLower(string(r)) != string(r) || strings.ContainsAny(string(r), " -") {
			t.Errorf("reason %q is not a lower-case label", r)
		}
	}
}
