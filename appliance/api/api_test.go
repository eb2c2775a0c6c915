package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// vectorInput is the message and context of the LAMPS composite vectors
// (appliance/pq/testdata/composite-mldsa.json).
func vectorInput(t *testing.T) (msg, ctx []byte) {
	data, err := os.ReadFile("../pq/testdata/composite-mldsa.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ M, Ctx []byte }
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v.M, v.Ctx
}

// TestCompositeRoundTrip signs the vectors' message and context through the
// HTTP API with both composite algorithms and checks the answers
// independently: pq.Verify over the composite key, crypto/ed25519 or
// crypto/ecdsa over the traditional component, and the appliance's own
// /v1/verify.
func TestCompositeRoundTrip(t *testing.T) {
	msg, sctx := vectorInput(t)
	s := newServer(t, enginetest.Options{}, nil)
	s.Standard(policy.PQHybridAnd)
	tok := s.token(t, "acme", allOps, nil)
	for key, c := range map[string]struct {
		alg   pq.Alg
		label string
	}{
		"pay": {pq.MLDSA65Ed25519, "COMPSIG-MLDSA65-Ed25519-SHA512"},
		"ec":  {pq.MLDSA65ECDSAP256, "COMPSIG-MLDSA65-ECDSA-P256-SHA512"},
	} {
		t.Run(string(c.alg), func(t *testing.T) {
			var info engine.KeyInfo
			s.get(t, "/v1/keys/acme/"+key).decode(t, &info)
			kv := info.Versions[0]
			if kv.CompositeAlg != string(c.alg) || info.PQMode != policy.PQHybridAnd {
				t.Fatalf("key info %+v", info)
			}
			b := signBody("acme", key, msg)
			b.Context = b64(sctx)
			var res engine.SignResult
			s.post(t, "/v1/sign", tok, b).decode(t, &res)
			if res.Alg != string(c.alg) || !bytes.Equal(res.PublicKey, kv.CompositePublicKey) || res.KeyID != kv.CompositeKeyID {
				t.Fatalf("sign result alg %s key id %s", res.Alg, res.KeyID)
			}
			if err := pq.Verify(c.alg, kv.CompositePublicKey, msg, sctx, res.Signature); err != nil {
				t.Errorf("pq.Verify: %v", err)
			}
			if err := pq.Verify(c.alg, kv.CompositePublicKey, msg, nil, res.Signature); err == nil {
				t.Errorf("pq.Verify accepts the signature without its context")
			}
			_, trad, err := pq.SplitSignature(c.alg, res.Signature)
			if err != nil {
				t.Fatal(err)
			}
			m := enginetest.MessageRepresentative(c.label, msg, sctx)
			switch key {
			case "pay":
				if !ed25519.Verify(kv.PublicKey, m, trad) {
					t.Error("Ed25519 component does not verify with crypto/ed25519")
				}
			case "ec":
				pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kv.PublicKey)
				h := sha256.Sum256(m)
				if err != nil || !ecdsa.VerifyASN1(pub, h[:], trad) {
					t.Errorf("ECDSA component does not verify with crypto/ecdsa (%v)", err)
				}
			}
			vb := api.VerifyBody{SignBody: b, Signature: b64(res.Signature)}
			var vr engine.VerifyResult
			s.post(t, "/v1/verify", tok, vb).decode(t, &vr)
			if !vr.Valid || !vr.MLDSA || !vr.Traditional || vr.NonStandard {
				t.Errorf("verify: %+v", vr)
			}
		})
	}
}

// TestHybridOrAndThroughAPI: a signature with a broken ML-DSA component is
// refused under hybrid_and and accepted (labelled non-standard) under
// hybrid_or, from the first request after the sync that changes the mode.
func TestHybridOrAndThroughAPI(t *testing.T) {
	s := newServer(t, enginetest.Options{}, nil)
	s.Standard(policy.PQHybridAnd)
	tok := s.token(t, "acme", allOps, nil)
	var res engine.SignResult
	s.post(t, "/v1/sign", tok, signBody("acme", "pay", []byte("m"))).decode(t, &res)
	broken := bytes.Clone(res.Signature)
	broken[0] ^= 0x80
	check := func() engine.VerifyResult {
		var vr engine.VerifyResult
		s.post(t, "/v1/verify", tok, api.VerifyBody{SignBody: signBody("acme", "pay", []byte("m")), Signature: b64(broken)}).decode(t, &vr)
		return vr
	}
	if vr := check(); vr.Valid {
		t.Fatalf("hybrid_and accepted a broken ML-DSA component: %+v", vr)
	}
	s.Change("tenant:acme", "pq_mode=hybrid_or")
	if r := s.syncCall(t); r.status != http.StatusOK {
		t.Fatalf("sync: %d %s", r.status, r.body)
	}
	if vr := check(); !vr.Valid || !vr.NonStandard || vr.MLDSA || vr.Mode != "hybrid_or" {
		t.Fatalf("hybrid_or: %+v", vr)
	}
	var st engine.Status
	s.get(t, "/v1/status").decode(t, &st)
	if st.PQ.Tenants["acme"] != "hybrid_or" || st.PolicyVersion != s.Policy.Version || st.GovernanceCommit != s.Commit {
		t.Errorf("status %+v", st)
	}
}

func TestRevocationByWebhook(t *testing.T) {
	s := std(t)
	var m engine.MintResult
	s.mint(t, s.MintRequest("acme", "minter-acme", allOps, nil)).decode(t, &m)
	if r := s.signPay(t, m.Token); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
	s.Change("tenant:acme", "revoke_capability="+m.ID) // merged; not yet pulled
	if r := s.signPay(t, m.Token); r.status != http.StatusOK {
		t.Fatalf("refused before the sync: %s", r.body)
	}
	if r := s.syncCall(t); r.status != http.StatusOK {
		t.Fatalf("sync: %d %s", r.status, r.body)
	}
	if r := s.signPay(t, m.Token); r.reason(t) != "revoked" {
		t.Fatalf("after the sync: %d %s", r.status, r.body)
	}
}

func TestWebhookAuthentication(t *testing.T) {
	var calls atomic.Int32
	s := newServer(t, enginetest.Options{}, nil)
	s.Standard(policy.PQOff)
	s.onSync = func(context.Context) error { calls.Add(1); return nil }
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := api.WebhookSignature(s.secret, body)
	for name, hdr := range map[string]string{
		"missing":       "",
		"sha1 prefix":   "sha1=" + strings.TrimPrefix(good, "sha256="),
		"uppercase hex": "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")),
		"truncated":     good[:len(good)-2],
		"other secret":  api.WebhookSignature([]byte("guess"), body),
		"other body":    api.WebhookSignature(s.secret, []byte(`{}`)),
		"no prefix":     strings.TrimPrefix(good, "sha256="),
	} {
		h := map[string]string{}
		if hdr != "" {
			h[api.SignatureHeader] = hdr
		}
		r := s.do(t, http.MethodPost, "/v1/sync", "", body, h)
		if name == "uppercase hex" {
			// hex.DecodeString accepts upper case; the MAC is the same bytes.
			if r.status != http.StatusOK {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
			continue
		}
		if r.status != http.StatusUnauthorized || r.reason(t) != "webhook_unauthorized" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := s.do(t, http.MethodPost, "/v1/sync", "", body, map[string]string{api.SignatureHeader: good}); r.status != http.StatusOK {
		t.Errorf("good signature: %d %s", r.status, r.body)
	}
	if n := calls.Load(); n != 2 { // uppercase hex and the good one
		t.Errorf("OnSync ran %d times, want 2", n)
	}

	// Without a secret nothing is accepted.
	ns := newServer(t, enginetest.Options{}, func(o *api.Options) { o.WebhookSecret = nil })
	r := ns.do(t, http.MethodPost, "/v1/sync", "", body, map[string]string{api.SignatureHeader: api.WebhookSignature(nil, body)})
	if r.reason(t) != "webhook_unauthorized" {
		t.Errorf("no secret: %d %s", r.status, r.body)
	}
}

func TestStrictJSON(t *testing.T) {
	s := std(t)
	tok := s.token(t, "acme", allOps, nil)
	for name, body := range map[string]string{
		"unknown field":          `{"tenant":"acme","key":"pay","message":"bQ==","colour":"red"}`,
		"case-folded field":      `{"Tenant":"acme","key":"pay","message":"bQ=="}`,
		"duplicate key":          `{"tenant":"acme","tenant":"beta","key":"pay","message":"bQ=="}`,
		"trailing data":          `{"tenant":"acme","key":"pay","message":"bQ=="}{}`,
		"not an object":          `["acme"]`,
		"non-canonical base64":   `{"tenant":"acme","key":"pay","message":"bR=="}`,
		"base64 with newline":    `{"tenant":"acme","key":"pay","message":"bQ=\n="}`,
		"url-safe base64":        `{"tenant":"acme","key":"pay","message":"-_8="}`,
		"wrong type":             `{"tenant":"acme","key":"pay","message":"bQ==","version":"1"}`,
		"fraction":               `{"tenant":"acme","key":"pay","message":"bQ==","version":1.5}`,
		"invalid utf-8":          "{\"tenant\":\"ac\xffme\",\"key\":\"pay\",\"message\":\"bQ==\"}",
		"empty":                  ``,
		"message and digest":     `{"tenant":"acme","key":"pay","message":"bQ==","digest":"bQ=="}`,
		"neither":                `{"tenant":"acme","key":"pay"}`,
		"request id not hex":     `{"tenant":"acme","key":"pay","message":"bQ==","request_id":"x"}`,
		"context in mode off":    `{"tenant":"acme","key":"pay","message":"bQ==","context":"bQ=="}`,
		"prefixed message (off)": `{"tenant":"acme","key":"pay","message":"` + base64.StdEncoding.EncodeToString([]byte("CompositeAlgorithmSignatures2025x")) + `"}`,
	} {
		r := s.do(t, http.MethodPost, "/v1/sign", tok, []byte(body), nil)
		if r.status != http.StatusBadRequest || r.reason(t) != "bad_request" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// The same request, well formed, is served.
	if r := s.do(t, http.MethodPost, "/v1/sign", tok, []byte(`{"tenant":"acme","key":"pay","message":"bQ=="}`), nil); r.status != http.StatusOK {
		t.Errorf("well-formed: %d %s", r.status, r.body)
	}
	// Mint requests are strict too.
	mr := s.MintRequest("acme", "minter-acme", allOps, nil)
	raw, _ := json.Marshal(mr)
	for name, body := range map[string][]byte{
		"unknown field": bytes.Replace(raw, []byte(`{"type"`), []byte(`{"x":1,"type"`), 1),
		"explicit zero": bytes.Replace(raw, []byte(`"ttl_seconds"`), []byte(`"rps":0,"ttl_seconds"`), 1),
		"null":          bytes.Replace(raw, []byte(`"ttl_seconds"`), []byte(`"key":null,"ttl_seconds"`), 1),
	} {
		r := s.do(t, http.MethodPost, "/v1/capabilities", "", body, nil)
		if r.reason(t) != "bad_request" {
			t.Errorf("mint %s: %d %s", name, r.status, r.body)
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := newServer(t, enginetest.Options{}, func(o *api.Options) { o.MaxBodyBytes = 4096 })
	s.Standard(policy.PQOff)
	tok := s.token(t, "acme", allOps, nil)
	for _, path := range []string{"/v1/sign", "/v1/verify", "/v1/wrap", "/v1/unwrap", "/v1/capabilities", "/v1/sync"} {
		body := []byte(`{"tenant":"acme","message":"` + strings.Repeat("A", 8192) + `"}`)
		r := s.do(t, http.MethodPost, path, tok, body, nil)
		if r.status != http.StatusRequestEntityTooLarge || r.reason(t) != "too_large" {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	// Just under the limit is fine.
	if r := s.post(t, "/v1/sign", tok, signBody("acme", "pay", make([]byte, 2048))); r.status != http.StatusOK {
		t.Errorf("under the limit: %d %s", r.status, r.body)
	}
}

func TestReadyzHealthzStatus(t *testing.T) {
	s := newServer(t, enginetest.Options{}, nil)
	if r := s.get(t, "/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz %d", r.status)
	}
	if r := s.get(t, "/readyz"); r.status != http.StatusServiceUnavailable || r.reason(t) != "not_ready" {
		t.Errorf("readyz before a policy: %d %s", r.status, r.body)
	}
	s.Govern("global", "enroll_appliance="+enginetest.ApplianceID+":pkcs11:k:default")
	if r := s.get(t, "/readyz"); r.reason(t) != "not_enrolled" || !strings.Contains(string(r.body), "pkcs11") {
		t.Errorf("readyz with the wrong backend: %d %s", r.status, r.body)
	}
	s.Standard(policy.PQHybridAnd)
	if r := s.get(t, "/readyz"); r.status != http.StatusOK {
		t.Errorf("readyz enrolled: %d %s", r.status, r.body)
	}
	s.Govern("global", "freeze=drill")
	var st engine.Status
	s.get(t, "/v1/status").decode(t, &st)
	if !st.Ready || !st.Freeze.Active || st.Freeze.Reason != "drill" || st.Backend != "sealed-file" ||
		st.PQ.Default != "hybrid_and" || st.PQ.Tenants["beta"] != "hybrid_and" || st.Attestation.Required || st.Attestation.OK {
		t.Errorf("status %+v", st)
	}
	if r := s.get(t, "/v1/keys/acme/nope"); r.reason(t) != "key_not_found" || r.status != http.StatusNotFound {
		t.Errorf("unknown key: %d %s", r.status, r.body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	s := std(t)
	tok := s.token(t, "acme", allOps, nil)
	s.signPay(t, tok)
	s.signPay(t, "bogus")
	r := s.get(t, "/metrics")
	for _, want := range []string{
		`kms_policy_rejects_total{reason="malformed"} 1`,
		`kms_request_duration_seconds_bucket{op="sign"`,
		`kms_requests_total{op="sign",outcome="ok"} 1`,
		`kms_capabilities_minted_total{tenant="acme"} 1`,
		`kms_pq_phase{mode="off",tenant="acme"} 1`,
		`kms_policy_version `,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestWrapUnwrapAndDigestThroughAPI(t *testing.T) {
	s := std(t)
	tok := s.token(t, "acme", allOps, nil)
	var w engine.WrapResult
	s.post(t, "/v1/wrap", tok, api.WrapBody{Tenant: "acme", Key: "data", Plaintext: b64([]byte("k")), AAD: b64([]byte("a"))}).decode(t, &w)
	var u engine.UnwrapResult
	s.post(t, "/v1/unwrap", tok, api.UnwrapBody{Tenant: "acme", Key: "data", Version: w.Version, Ciphertext: b64(w.Ciphertext), AAD: b64([]byte("a"))}).decode(t, &u)
	if string(u.Plaintext) != "k" || u.Key != "acme/data/v1" {
		t.Errorf("unwrap %+v", u)
	}
	h := sha256.Sum256([]byte("doc"))
	b := api.SignBody{Tenant: "acme", Key: "ec", Digest: b64(h[:]), Hash: "sha256"}
	var res engine.SignResult
	s.post(t, "/v1/sign", tok, b).decode(t, &res)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), res.PublicKey)
	if err != nil || !ecdsa.VerifyASN1(pub, h[:], res.Signature) {
		t.Errorf("digest signature: %v", err)
	}
}
