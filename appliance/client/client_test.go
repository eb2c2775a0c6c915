package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/client"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

const webhookSecret = "webhook secret for client tests"

// appliance serves the real API over an enginetest engine on loopback.
// Its clock starts at the real time, since Mint stamps requests with it.
func appliance(t *testing.T) (*enginetest.Env, string) {
	t.Helper()
	v := enginetest.New(t, enginetest.Options{})
	v.Clock.Advance(time.Since(v.Clock.Now()))
	h, err := api.New(api.Options{Engine: v.Engine, Metrics: v.Metrics, WebhookSecret: []byte(webhookSecret),
		OnSync: func(context.Context) error { _, err := v.Sync(); return err }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return v, srv.URL
}

// refused checks that err is the appliance's refusal with status and reason.
func refused(t *testing.T, what string, err error, status int, reason string) {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Reason != reason || ae.Message == "" {
		t.Errorf("%s: %v, want %d %s with a message", what, err, status, reason)
	}
}

// TestClient runs every call of the client against a real appliance API:
// readiness, mint, sign (checked here with package pq), verify, public
// keys, status, the signed webhook, and refusals as *APIError.
func TestClient(t *testing.T) {
	v, url := appliance(t)
	ctx := context.Background()
	c := &client.Client{BaseURL: url + "/"} // a trailing slash is fine

	refused(t, "ready before any policy", c.Ready(ctx), http.StatusServiceUnavailable, string(engine.ReasonNotReady))
	v.Standard(policy.PQHybridAnd)
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}

	minted, err := c.Mint(ctx, enginetest.Key("minter-acme"), client.MintOptions{Tenant: "acme", Scope: []string{"sign", "verify"}, TTL: 10 * time.Minute})
	if err != nil || minted.Token == "" || minted.Tenant != "acme" {
		t.Fatalf("mint: %+v %v", minted, err)
	}
	_, err = c.Mint(ctx, enginetest.Key("minter-beta"), client.MintOptions{Tenant: "acme", Scope: []string{"sign"}, TTL: time.Minute})
	refused(t, "mint by another tenant's minter", err, http.StatusUnauthorized, string(engine.ReasonMinterUnknown))

	_, err = c.Sign(ctx, "acme", "pay", []byte("m"), nil, "")
	refused(t, "sign without a token", err, http.StatusBadRequest, "malformed")
	if err == nil || !strings.Contains(err.Error(), "Authorization: Bearer") {
		t.Errorf("sign without a token: %v, want how to present one", err)
	}
	c.Token = minted.Token
	msg, sctx := []byte("pay 100 to bob"), []byte("invoice-7")
	sig, err := c.Sign(ctx, "acme", "pay", msg, sctx, "00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	if sig.RequestID != "00112233445566778899aabbccddeeff" || sig.Key != "acme/pay/v1" {
		t.Errorf("sign result %+v", sig)
	}
	alg, err := pq.ParseAlg(sig.Alg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pq.Verify(alg, sig.PublicKey, msg, sctx, sig.Signature); err != nil {
		t.Errorf("the signature does not verify here: %v", err)
	}

	for _, tc := range []struct {
		msg   string
		valid bool
	}{{string(msg), true}, {"pay 900 to bob", false}} {
		raw, err := c.Verify(ctx, "acme", "pay", 0, []byte(tc.msg), sctx, sig.Signature)
		var res engine.VerifyResult
		if err != nil || json.Unmarshal(raw, &res) != nil || res.Valid != tc.valid {
			t.Errorf("verify %q: %s %v, want valid %v", tc.msg, raw, err, tc.valid)
		}
	}
	_, err = c.Sign(ctx, "acme", "nope", msg, nil, "")
	refused(t, "sign with an unknown key", err, http.StatusNotFound, string(engine.ReasonKeyNotFound))

	info, err := c.PublicKey(ctx, "acme", "pay")
	if err != nil || info.Version != 1 || len(info.Versions) != 1 || info.PQMode != policy.PQHybridAnd {
		t.Errorf("public key: %+v %v", info, err)
	}

	// A new policy announced through the webhook is in force when Sync returns.
	v.Change("tenant:acme", "create_key=more:ed25519")
	_, err = c.Sync(ctx, []byte("not the secret"))
	refused(t, "sync with another secret", err, http.StatusUnauthorized, string(engine.ReasonWebhookUnauthorized))
	raw, err := c.Sync(ctx, []byte(webhookSecret))
	var st engine.Status
	if err != nil || json.Unmarshal(raw, &st) != nil || st.PolicyVersion != v.Policy.Version {
		t.Fatalf("sync: %s %v, want policy version %d", raw, err, v.Policy.Version)
	}
	raw, err = c.Status(ctx)
	if err != nil || json.Unmarshal(raw, &st) != nil || !st.Ready || st.PolicyVersion != v.Policy.Version {
		t.Errorf("status: %s %v", raw, err)
	}
}

// TestClientNotAnAppliance: an answer that is not the appliance's JSON
// error still comes back as an *APIError with the body as its message.
func TestClientNotAnAppliance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway from a proxy", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	c := &client.Client{BaseURL: srv.URL}
	refused(t, "status through a failing proxy", func() error { _, err := c.Status(context.Background()); return err }(), http.StatusBadGateway, "unknown")
	_, err := c.Sync(context.Background(), []byte("s"))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Message != "bad gateway from a proxy" {
		t.Errorf("sync through a failing proxy: %v", err)
	}
}
