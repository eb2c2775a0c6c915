// Package client is a small Go client of the appliance's HTTP API: mint a
// capability with a tenant minter key, then sign, verify and read public
// keys with it. It is what `appliance client …` and the demo use.
package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// Client talks to one appliance.
type Client struct {
	// BaseURL is the appliance's address, e.g. "http://127.0.0.1:8443".
	BaseURL string
	// Token is the capability sent as a bearer token; a secret.
	Token string
	HTTP  *http.Client
}

// APIError is a refusal from the appliance: its reason (from the closed
// list) and message, with the HTTP status.
type APIError struct {
	Status  int
	Reason  string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("appliance refused (%d %s): %s", e.Status, e.Reason, e.Message)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	header := http.Header{}
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
		header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		header.Set("Authorization", "Bearer "+c.Token)
	}
	data, err := c.send(ctx, method, path, raw, header)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decoding %s response: %w", path, err)
	}
	return nil
}

// send makes one request with body (nil: none) and header, and returns
// the body of a 200 answer, or the refusal as an *APIError.
func (c *Client) send(ctx context.Context, method, path string, body []byte, header http.Header) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	maps.Copy(req.Header, header)
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp.StatusCode, data)
	}
	return data, nil
}

// MintOptions describe the capability to ask for.
type MintOptions struct {
	Tenant    string
	Scope     []string // sign, verify, wrap, unwrap
	Alg       []string
	Key       string // "tenant/name" pattern
	TTL       time.Duration
	RPS       int
	SingleUse bool
}

// Mint signs a mint request with minter (an Ed25519 key that policy lists
// as the tenant's minter) and asks the appliance for a capability.
func (c *Client) Mint(ctx context.Context, minter crypto.Signer, o MintOptions) (*engine.MintResult, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	req := &engine.MintRequest{
		Type:       engine.MintRequestType,
		Tenant:     o.Tenant,
		Scope:      o.Scope,
		Alg:        o.Alg,
		Key:        o.Key,
		TTLSeconds: int(o.TTL / time.Second),
		RPS:        o.RPS,
		SingleUse:  o.SingleUse,
		IssuedAt:   quorum.FormatTime(time.Now()),
		Nonce:      hex.EncodeToString(nonce),
	}
	if err := engine.SignMintRequest(req, minter); err != nil {
		return nil, err
	}
	var res engine.MintResult
	if err := c.do(ctx, http.MethodPost, "/v1/capabilities", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func b64(b []byte) *string {
	if b == nil {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

// Sign asks for a signature over message, binding the application
// context sctx (nil: none; mode off refuses one).
func (c *Client) Sign(ctx context.Context, tenant, key string, message, sctx []byte, requestID string) (*engine.SignResult, error) {
	var res engine.SignResult
	err := c.do(ctx, http.MethodPost, "/v1/sign", api.SignBody{Tenant: tenant, Key: key, Message: b64(message), Context: b64(sctx), RequestID: requestID}, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Verify asks the appliance to verify sig over message.
func (c *Client) Verify(ctx context.Context, tenant, key string, version int, message, sctx, sig []byte) (json.RawMessage, error) {
	var res json.RawMessage
	body := api.VerifyBody{SignBody: api.SignBody{Tenant: tenant, Key: key, Version: version, Message: b64(message), Context: b64(sctx)}, Signature: b64(sig)}
	if err := c.do(ctx, http.MethodPost, "/v1/verify", body, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// PublicKey reads a key's public information.
func (c *Client) PublicKey(ctx context.Context, tenant, name string) (*engine.KeyInfo, error) {
	var res engine.KeyInfo
	if err := c.do(ctx, http.MethodGet, "/v1/keys/"+url.PathEscape(tenant)+"/"+url.PathEscape(name), nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Status reads GET /v1/status.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var res json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &res); err != nil {
		return nil, err
	}
	return res, nil
}

// Ready returns nil when GET /readyz answers 200, else an error with the
// appliance's reason.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil)
}

// Sync calls POST /v1/sync as a Git host webhook does, signing the body
// with the shared secret (HMAC-SHA256, X-Hub-Signature-256). It returns once
// the appliance has verified and applied the new head, or its refusal.
func (c *Client) Sync(ctx context.Context, secret []byte) (json.RawMessage, error) {
	body := []byte(`{"ref":"refs/heads/main","source":"ron-kms client"}`)
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set(api.SignatureHeader, api.WebhookSignature(secret, body))
	data, err := c.send(ctx, http.MethodPost, "/v1/sync", body, header)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(data), nil
}

func apiError(status int, data []byte) error {
	var e struct {
		Error struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) != nil || e.Error.Reason == "" {
		return &APIError{Status: status, Reason: "unknown", Message: strings.TrimSpace(string(data))}
	}
	return &APIError{Status: status, Reason: e.Error.Reason, Message: e.Error.Message}
}
