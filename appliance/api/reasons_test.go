package api_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"gopkg.in/macaroon.v2"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/capability"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// std is a server with the standard policy in mode off.
func std(t *testing.T) *server {
	s := newServer(t, enginetest.Options{}, nil)
	s.Standard(policy.PQOff)
	return s
}

func (s *server) signPay(t *testing.T, tok string) *response {
	return s.post(t, "/v1/sign", tok, signBody("acme", "pay", []byte("m")))
}

// attenuate appends first-party caveats to a token, as any holder can.
func attenuate(t *testing.T, tok string, conds ...string) string {
	m, err := capability.Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conds {
		if err := m.AddFirstPartyCaveat([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// rootToken builds a macaroon under the appliance's own root key with
// arbitrary caveats: what only the appliance could mint.
func (s *server) rootToken(t *testing.T, conds ...string) *macaroon.Macaroon {
	root, err := engine.DeriveRootKey(s.Ctx, s.Backend)
	if err != nil {
		t.Fatal(err)
	}
	m, err := macaroon.New(root, []byte("00112233445566778899aabbccddeeff"), "", macaroon.V2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conds {
		if err := m.AddFirstPartyCaveat([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func encode(t *testing.T, m *macaroon.Macaroon) string {
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *server) syncCall(t *testing.T) *response {
	body := []byte(`{"ref":"refs/heads/main"}`)
	return s.do(t, http.MethodPost, "/v1/sync", "", body, map[string]string{api.SignatureHeader: api.WebhookSignature(s.secret, body)})
}

// TestEveryReason makes one concrete request for every reason in
// engine.Reasons and checks the status, the reason in the JSON error, the
// audit record of the refusal and the metric. A reason without a case fails.
func TestEveryReason(t *testing.T) {
	type outcome struct {
		r *response
		// reason is set when the case calls the engine directly.
		reason engine.Reason
		s      *server
	}
	cases := map[engine.Reason]func(t *testing.T) outcome{
		// Capability reasons.
		"malformed": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, "!!not-a-token"), s: s}
		},
		"bad_signature": func(t *testing.T) outcome {
			s, other := std(t), std(t)
			return outcome{r: s.signPay(t, other.token(t, "acme", allOps, nil)), s: s}
		},
		"unknown_caveat": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, attenuate(t, s.token(t, "acme", allOps, nil), "colour red")), s: s}
		},
		"conflicting_caveat": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, attenuate(t, s.token(t, "acme", allOps, nil), "tenant beta")), s: s}
		},
		"third_party_caveat": func(t *testing.T) outcome {
			s := std(t)
			m, err := capability.Decode(s.token(t, "acme", allOps, nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AddThirdPartyCaveat([]byte("0123456789abcdef0123456789abcdef"), []byte("is-admin"), "https://idp.example"); err != nil {
				t.Fatal(err)
			}
			return outcome{r: s.signPay(t, encode(t, m)), s: s}
		},
		"missing_caveat": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, encode(t, s.rootToken(t, "tenant acme", "scope sign"))), s: s}
		},
		"expired": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, func(r *engine.MintRequest) { r.TTLSeconds = 1 })
			s.Clock.Advance(time.Second)
			return outcome{r: s.signPay(t, tok), s: s}
		},
		"revoked": func(t *testing.T) outcome {
			s := std(t)
			var m engine.MintResult
			s.mint(t, s.MintRequest("acme", "minter-acme", allOps, nil)).decode(t, &m)
			s.Change("tenant:acme", "revoke_capability="+m.ID)
			if r := s.syncCall(t); r.status != http.StatusOK {
				t.Fatalf("sync: %d %s", r.status, r.body)
			}
			return outcome{r: s.signPay(t, m.Token), s: s}
		},
		"tenant_mismatch": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, s.token(t, "beta", allOps, nil)), s: s}
		},
		"scope_denied": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, s.token(t, "acme", []string{"verify"}, nil)), s: s}
		},
		"alg_denied": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, s.token(t, "acme", allOps, func(r *engine.MintRequest) { r.Alg = []string{"ecdsa-p256"} })), s: s}
		},
		"key_denied": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.signPay(t, s.token(t, "acme", allOps, func(r *engine.MintRequest) { r.Key = "acme/ec" })), s: s}
		},
		"nonce_reused": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, func(r *engine.MintRequest) { r.SingleUse = true })
			if r := s.signPay(t, tok); r.status != http.StatusOK {
				t.Fatalf("first use: %d %s", r.status, r.body)
			}
			return outcome{r: s.signPay(t, tok), s: s}
		},
		"rate_limited": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, func(r *engine.MintRequest) { r.RPS = 1 })
			if r := s.signPay(t, tok); r.status != http.StatusOK {
				t.Fatalf("first request: %d %s", r.status, r.body)
			}
			r := s.signPay(t, tok)
			if got := r.header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After %q, want \"1\"", got)
			}
			return outcome{r: r, s: s}
		},
		"mint_ceiling": func(t *testing.T) outcome {
			s := std(t)
			s.Govern("tenant:acme", "mint.max_active=1")
			s.token(t, "acme", allOps, nil)
			return outcome{r: s.mint(t, s.MintRequest("acme", "minter-acme", allOps, nil)), s: s}
		},
		"mint_rate": func(t *testing.T) outcome {
			s := std(t)
			s.Govern("tenant:acme", "mint.rate_per_minute=1")
			s.token(t, "acme", allOps, nil)
			r := s.mint(t, s.MintRequest("acme", "minter-acme", allOps, nil))
			if got := r.header.Get("Retry-After"); got != "60" {
				t.Errorf("Retry-After %q, want \"60\"", got)
			}
			return outcome{r: r, s: s}
		},
		"ttl_exceeded": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.mint(t, s.MintRequest("acme", "minter-acme", allOps, func(r *engine.MintRequest) { r.TTLSeconds = 3601 })), s: s}
		},
		"unavailable": func(t *testing.T) outcome {
			// Room for one remembered nonce: the second single-use capability
			// cannot be recorded, so it is refused rather than served unrecorded.
			s := newServer(t, enginetest.Options{Engine: func(o *engine.Options) { o.MaxNonces = 1 }}, nil)
			s.Standard(policy.PQOff)
			s.token(t, "acme", allOps, nil)
			return outcome{r: s.mint(t, s.MintRequest("acme", "minter-acme", allOps, nil)), s: s}
		},

		// Engine reasons.
		"not_ready": func(t *testing.T) outcome {
			s := newServer(t, enginetest.Options{}, nil)
			return outcome{r: s.signPay(t, "x"), s: s}
		},
		"not_enrolled": func(t *testing.T) outcome {
			s := newServer(t, enginetest.Options{}, nil)
			s.Govern("tenant:acme", "create_tenant")
			return outcome{r: s.signPay(t, "x"), s: s}
		},
		"frozen": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, nil)
			s.Govern("global", "freeze=incident")
			r := s.signPay(t, tok)
			if got := r.header.Get("Retry-After"); got != "3600" {
				t.Errorf("Retry-After %q, want \"3600\"", got)
			}
			return outcome{r: r, s: s}
		},
		"attestation_failed": func(t *testing.T) outcome {
			s := std(t)
			s.Govern("global", "attestation=required")
			return outcome{r: s.signPay(t, s.token(t, "acme", allOps, nil)), s: s}
		},
		"key_not_found": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.post(t, "/v1/sign", s.token(t, "acme", allOps, nil), signBody("acme", "nope", []byte("m"))), s: s}
		},
		"key_revoked": func(t *testing.T) outcome {
			s := std(t)
			s.Govern("tenant:acme", "revoke_key=pay")
			return outcome{r: s.signPay(t, s.token(t, "acme", allOps, nil)), s: s}
		},
		"key_too_old": func(t *testing.T) outcome {
			s := std(t)
			s.Clock.Advance(91 * 24 * time.Hour)
			return outcome{r: s.signPay(t, s.token(t, "acme", allOps, nil)), s: s}
		},
		"key_superseded": func(t *testing.T) outcome {
			s := std(t)
			s.Govern("tenant:acme", "rotate_key=pay")
			b := signBody("acme", "pay", []byte("m"))
			b.Version = 1
			return outcome{r: s.post(t, "/v1/sign", s.token(t, "acme", allOps, nil), b), s: s}
		},
		"alg_mismatch": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.post(t, "/v1/sign", s.token(t, "acme", allOps, nil), signBody("acme", "data", []byte("m"))), s: s}
		},
		"pq_mode": func(t *testing.T) outcome {
			s := std(t)
			s.Govern("tenant:acme", "pq_mode=hybrid_and")
			b := signBody("acme", "pay", []byte("m"))
			b.Alg = "ed25519"
			return outcome{r: s.post(t, "/v1/sign", s.token(t, "acme", allOps, nil), b), s: s}
		},
		"bad_request": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.do(t, http.MethodPost, "/v1/sign", "x", []byte(`{"tenant":"acme","key":"pay","message":"bQ==","extra":1}`), nil), s: s}
		},
		"unwrap_failed": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.post(t, "/v1/unwrap", s.token(t, "acme", allOps, nil), api.UnwrapBody{Tenant: "acme", Key: "data", Ciphertext: b64(make([]byte, 40))}), s: s}
		},
		"minter_unknown": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.mint(t, s.MintRequest("acme", "minter-beta", allOps, nil)), s: s}
		},
		"minter_bad_signature": func(t *testing.T) outcome {
			s := std(t)
			r := s.MintRequest("acme", "minter-acme", allOps, nil)
			r.Scope = []string{"sign", "verify", "wrap", "unwrap"}
			r.TTLSeconds = 3600
			return outcome{r: s.mint(t, r), s: s}
		},
		"mint_request_stale": func(t *testing.T) outcome {
			s := std(t)
			r := s.MintRequest("acme", "minter-acme", allOps, nil)
			s.Clock.Advance(engine.MintWindow + time.Second)
			return outcome{r: s.mint(t, r), s: s}
		},
		"mint_request_replayed": func(t *testing.T) outcome {
			s := std(t)
			r := s.MintRequest("acme", "minter-acme", allOps, nil)
			if res := s.mint(t, r); res.status != http.StatusOK {
				t.Fatalf("first mint: %d %s", res.status, res.body)
			}
			return outcome{r: s.mint(t, r), s: s}
		},
		"audit_unavailable": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, nil)
			s.Audit.Close()
			r := s.signPay(t, tok)
			if strings.Contains(string(r.body), "signature") {
				t.Errorf("answer %s carries a signature", r.body)
			}
			return outcome{r: r}
		},
		"backend_error": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, nil)
			if r := s.signPay(t, tok); r.status != http.StatusOK {
				t.Fatalf("first sign: %d %s", r.status, r.body)
			}
			s.Sealed.Close() // the custodian goes away
			return outcome{r: s.signPay(t, tok), s: s}
		},
		"policy_rollback": func(t *testing.T) outcome {
			s := std(t)
			old := s.Policy
			s.Govern("tenant:acme", "pq_mode=hybrid_and")
			s.onSync = func(ctx context.Context) error {
				_, err := s.Engine.Apply(ctx, s.Snapshot(old))
				return err
			}
			return outcome{r: s.syncCall(t), s: s}
		},
		"policy_conflict": func(t *testing.T) outcome {
			s := std(t)
			base := s.Policy
			s.Govern("tenant:acme", "pq_mode=hybrid_and")
			s.Policy = base
			fork := s.Change("tenant:acme", "pq_mode=hybrid_or")
			s.onSync = func(ctx context.Context) error {
				_, err := s.Engine.Apply(ctx, s.Snapshot(fork))
				return err
			}
			return outcome{r: s.syncCall(t), s: s}
		},
		"policy_invalid": func(t *testing.T) outcome {
			s := std(t)
			s.onSync = func(ctx context.Context) error {
				snap := s.Snapshot(s.Policy)
				snap.PolicyDigest = "sha256:" + strings.Repeat("ab", 32)
				_, err := s.Engine.Apply(ctx, snap)
				return err
			}
			return outcome{r: s.syncCall(t), s: s}
		},
		"too_large": func(t *testing.T) outcome {
			s := newServer(t, enginetest.Options{}, func(o *api.Options) { o.MaxBodyBytes = 1024 })
			s.Standard(policy.PQOff)
			return outcome{r: s.post(t, "/v1/sign", "x", signBody("acme", "pay", make([]byte, 2048))), s: s}
		},
		"timeout": func(t *testing.T) outcome {
			s := std(t)
			tok := s.token(t, "acme", allOps, nil)
			ctx, cancel := context.WithCancel(s.Ctx)
			cancel() // the request's time ran out before it was decided
			_, err := s.Engine.Sign(ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m")})
			var rej *engine.Reject
			if !errors.As(err, &rej) {
				t.Fatalf("Sign: %v", err)
			}
			return outcome{reason: rej.Reason, s: s}
		},
		"webhook_unauthorized": func(t *testing.T) outcome {
			s := std(t)
			body := []byte(`{"ref":"refs/heads/main"}`)
			return outcome{r: s.do(t, http.MethodPost, "/v1/sync", "", body, map[string]string{api.SignatureHeader: api.WebhookSignature([]byte("wrong"), body)}), s: s}
		},
		"sync_failed": func(t *testing.T) outcome {
			s := std(t)
			s.onSync = func(context.Context) error {
				return errors.New("fetching the governance repository: connection refused")
			}
			return outcome{r: s.syncCall(t), s: s}
		},
		"overloaded": func(t *testing.T) outcome {
			g := &gate{}
			s := newServer(t, enginetest.Options{Wrap: g.wrap}, nil)
			s.Standard(policy.PQOff)
			s.Govern("global", "inflight_cap=1")
			tok := s.token(t, "acme", allOps, nil)
			g.close()
			done := make(chan *response)
			go func() { done <- s.signPay(t, tok) }()
			<-g.entered // one sign is inside the backend
			r := s.signPay(t, tok)
			g.open()
			if first := <-done; first.status != http.StatusOK {
				t.Errorf("the admitted request: %d %s", first.status, first.body)
			}
			if got := r.header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After %q, want \"1\"", got)
			}
			return outcome{r: r, s: s}
		},
		"not_found": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.get(t, "/v1/nope"), s: s}
		},
		"method_not_allowed": func(t *testing.T) outcome {
			s := std(t)
			return outcome{r: s.get(t, "/v1/sign"), s: s}
		},
	}
	for _, reason := range engine.Reasons() {
		t.Run(string(reason), func(t *testing.T) {
			c, ok := cases[reason]
			if !ok {
				t.Fatalf("reason %s has no test case", reason)
			}
			o := c(t)
			got := o.reason
			if o.r != nil {
				got = engine.Reason(o.r.reason(t))
				if o.r.status != reason.HTTPStatus() {
					t.Errorf("status %d, want %d", o.r.status, reason.HTTPStatus())
				}
				if ct := o.r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
			}
			if got != reason {
				body := ""
				if o.r != nil {
					body = string(o.r.body)
				}
				t.Fatalf("reason %s (%s), want %s", got, body, reason)
			}
			if o.s != nil {
				found := false
				for _, rec := range o.s.Records() {
					found = found || rec.Reason == string(reason) && rec.Outcome == "rejected"
				}
				if !found {
					t.Errorf("no audit record of a rejection with reason %s", reason)
				}
				if n := enginetest.MetricValue(o.s.Metrics.PolicyRejects.WithLabelValues(string(reason))); n < 1 {
					t.Errorf("kms_policy_rejects_total{reason=%q} = %v", reason, n)
				}
			}
		})
	}
	for r := range cases {
		found := false
		for _, x := range engine.Reasons() {
			found = found || x == r
		}
		if !found {
			t.Errorf("case %s is not a reason in engine.Reasons", r)
		}
	}
}
