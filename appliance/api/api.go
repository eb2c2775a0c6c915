// Package api is the appliance's HTTP API, and the only importer of
// gorilla/mux. It turns requests into calls on an engine.Engine and its
// answers into JSON; every rule lives in the engine.
//
// # Routes
//
//	POST /v1/sign                     sign with a tenant key (capability: sign)
//	POST /v1/verify                   verify a signature (capability: verify)
//	POST /v1/wrap                     encrypt under an AES key (capability: wrap)
//	POST /v1/unwrap                   decrypt (capability: unwrap)
//	GET  /v1/keys/{tenant}/{name}     public keys, versions, continuity proofs
//	POST /v1/capabilities             mint a capability from a signed mint request
//	POST /v1/sync                     Git host webhook: HMAC-checked, runs Options.OnSync
//	GET  /v1/status                   governance head, policy version, freeze, attestation, PQ modes
//	GET  /healthz                     the process answers
//	GET  /readyz                      200 once a verified policy enrols this appliance, else 503 with the reason
//	GET  /metrics                     Prometheus, the appliance registry
//
// The capability goes in "Authorization: Bearer <token>". Request bodies are
// JSON objects parsed strictly: I-JSON (no duplicate keys, valid UTF-8),
// unknown fields and trailing data are 400 bad_request; byte fields are
// canonical standard base64. A body over Options.MaxBodyBytes is 413
// too_large. Every route runs under a timeout.
//
// Every error is
//
//	{"error": {"reason": "<reason>", "message": "<words>"}}
//
// with the status of the reason (engine.Reason.HTTPStatus) and, for rate
// limits and freezes, a Retry-After header in whole seconds. Reasons come
// from one closed list, engine.Reasons.
//
// # Sync webhook
//
// POST /v1/sync must carry "X-Hub-Signature-256: sha256=<hex>", the
// HMAC-SHA256 of the raw body under Options.WebhookSecret (the GitHub
// format; Gitea and GitLab can send the same). It is compared in constant
// time. A missing or wrong signature, or no secret configured, is 401
// webhook_unauthorized (audited). A valid call runs Options.OnSync with the
// sync timeout and answers 200 with the status, or the error's reason
// (an *engine.Reject's own, else sync_failed).
package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/govtool/canon"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 10 * time.Second
	DefaultSyncTimeout  = 60 * time.Second
)

// Options configure New. Engine and Metrics are required.
type Options struct {
	Engine  *engine.Engine
	Metrics *metrics.Metrics
	// OnSync runs a sync (pull, verify, Engine.Apply) when the webhook is
	// called. If it returns an error that is, or wraps, an *engine.Reject,
	// that reject is the answer (the engine audited it already); any other
	// error is answered, and audited, as sync_failed. nil means the route
	// always answers sync_failed.
	OnSync func(ctx context.Context) error
	// WebhookSecret is the HMAC-SHA256 key of POST /v1/sync. Empty means
	// every webhook call is refused.
	WebhookSecret []byte
	// MaxBodyBytes bounds every request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Timeout bounds every route but sync; 0 means DefaultTimeout.
	Timeout time.Duration
	// SyncTimeout bounds POST /v1/sync; 0 means DefaultSyncTimeout.
	SyncTimeout time.Duration
}

// API is the HTTP handler.
type API struct {
	e      *engine.Engine
	m      *metrics.Metrics
	onSync func(context.Context) error
	secret []byte
	max    int64
	to     time.Duration
	syncTo time.Duration
	router *mux.Router
}

// New returns the handler for every route.
func New(o Options) (*API, error) {
	if o.Engine == nil || o.Metrics == nil {
		return nil, errors.New("api: Options.Engine and Options.Metrics are required")
	}
	a := &API{e: o.Engine, m: o.Metrics, onSync: o.OnSync, secret: bytes.Clone(o.WebhookSecret),
		max: o.MaxBodyBytes, to: o.Timeout, syncTo: o.SyncTimeout}
	if a.max <= 0 {
		a.max = DefaultMaxBodyBytes
	}
	if a.to <= 0 {
		a.to = DefaultTimeout
	}
	if a.syncTo <= 0 {
		a.syncTo = DefaultSyncTimeout
	}
	r := mux.NewRouter()
	r.Handle("/v1/sign", a.route("sign", a.to, a.sign)).Methods(http.MethodPost)
	r.Handle("/v1/verify", a.route("verify", a.to, a.verify)).Methods(http.MethodPost)
	r.Handle("/v1/wrap", a.route("wrap", a.to, a.wrap)).Methods(http.MethodPost)
	r.Handle("/v1/unwrap", a.route("unwrap", a.to, a.unwrap)).Methods(http.MethodPost)
	r.Handle("/v1/keys/{tenant}/{name}", a.route("keys", a.to, a.keys)).Methods(http.MethodGet)
	r.Handle("/v1/capabilities", a.route("capabilities", a.to, a.mint)).Methods(http.MethodPost)
	r.Handle("/v1/sync", a.route("sync", a.syncTo, a.sync)).Methods(http.MethodPost)
	r.Handle("/v1/status", a.route("status", a.to, a.status)).Methods(http.MethodGet)
	r.Handle("/healthz", a.route("healthz", a.to, a.healthz)).Methods(http.MethodGet)
	r.Handle("/readyz", a.route("readyz", a.to, a.readyz)).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{Timeout: a.to})).Methods(http.MethodGet)
	r.NotFoundHandler = a.route("not_found", a.to, func(w http.ResponseWriter, r *http.Request) *engine.Reject {
		return a.refuse(r, engine.EventRequest, &engine.Reject{Reason: engine.ReasonNotFound, Msg: fmt.Sprintf("no route %s %s", r.Method, quote(r.URL.Path))})
	})
	r.MethodNotAllowedHandler = a.route("method_not_allowed", a.to, func(w http.ResponseWriter, r *http.Request) *engine.Reject {
		return a.refuse(r, engine.EventRequest, &engine.Reject{Reason: engine.ReasonMethodNotAllowed, Msg: fmt.Sprintf("%s is not allowed on %s", r.Method, quote(r.URL.Path))})
	})
	a.router = r
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// NewServer returns an http.Server for h with timeouts on every phase of a
// connection and a bound on header size.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

type handler func(w http.ResponseWriter, r *http.Request) *engine.Reject

// Header values every answer carries; the keys are in canonical form.
var (
	noStore = []string{"no-store"}
	noSniff = []string{"nosniff"}
	jsonCT  = []string{"application/json; charset=utf-8"}
)

// route wraps a handler: body limit, timeout, security headers, latency
// and outcome metrics, and the JSON error answer.
func (a *API) route(op string, timeout time.Duration, h handler) http.Handler {
	// The collectors of the common outcome, looked up once.
	ok := a.m.Requests.WithLabelValues(op, "ok")
	latency := a.m.Latency.WithLabelValues(op)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		r.Body = http.MaxBytesReader(w, r.Body, a.max)
		hd := w.Header()
		hd["Cache-Control"] = noStore
		hd["X-Content-Type-Options"] = noSniff
		if rej := h(w, r); rej != nil {
			writeError(w, rej)
			a.m.Requests.WithLabelValues(op, string(rej.Reason)).Inc()
		} else {
			ok.Inc()
		}
		latency.Observe(time.Since(start).Seconds())
	})
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, rej *engine.Reject) {
	if rej.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int64(math.Ceil(rej.RetryAfter.Seconds()))))
	}
	var b errorBody
	b.Error.Reason, b.Error.Message = string(rej.Reason), rej.Msg
	writeJSON(w, rej.HTTPStatus(), b)
}

// buffers are the scratch buffers of writeJSON.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v as JSON and a newline (json.Marshal's bytes).
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			buffers.Put(buf)
		}
	}()
	buf.Reset()
	body := []byte(`{"error":{"reason":"backend_error","message":"api: encoding the answer failed"}}` + "\n")
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		status = http.StatusInternalServerError
	} else {
		body = buf.Bytes()
	}
	w.Header()["Content-Type"] = jsonCT
	w.WriteHeader(status)
	w.Write(body)
}

// refuse audits a refusal decided here and returns what to answer.
func (a *API) refuse(r *http.Request, event string, rej *engine.Reject) *engine.Reject {
	return a.e.Refuse(r.Context(), event, "", rej)
}

// readBody reads the whole body within the size limit.
func (a *API) readBody(r *http.Request, event string) ([]byte, *engine.Reject) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, a.refuse(r, event, &engine.Reject{Reason: engine.ReasonTooLarge, Msg: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)})
		}
		return nil, a.refuse(r, event, &engine.Reject{Reason: engine.ReasonBadRequest, Msg: "reading the request body: " + err.Error()})
	}
	return body, nil
}

// decode reads a JSON object into v strictly: I-JSON (canon.Parse: no
// duplicate keys, valid UTF-8, exact numbers), no unknown fields, nothing
// after it.
func (a *API) decode(r *http.Request, event string, v any) *engine.Reject {
	body, rej := a.readBody(r, event)
	if rej != nil {
		return rej
	}
	bad := func(format string, args ...any) *engine.Reject {
		return a.refuse(r, event, &engine.Reject{Reason: engine.ReasonBadRequest, Msg: fmt.Sprintf(format, args...)})
	}
	tree, err := canon.Parse(body)
	if err != nil {
		return bad("request body is not I-JSON: %v", err)
	}
	obj, ok := tree.(canon.Object)
	if !ok {
		return bad("request body is not a JSON object")
	}
	// encoding/json matches field names case-insensitively; a name must
	// be exactly one the format has, so {"Tenant": …} is not a tenant. So
	// every name is one of v's fields, and canon.Parse has refused data
	// after the object.
	names := bodyFields(reflect.TypeOf(v).Elem())
	for k := range obj {
		if !names[k] {
			return bad("request body: unknown field %s", quote(k))
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return bad("request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// fieldCache maps a body type to its fieldNames.
var fieldCache sync.Map

// bodyFields is fieldNames, computed once per type. The map is shared:
// callers only read it.
func bodyFields(t reflect.Type) map[string]bool {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m, _ := fieldCache.LoadOrStore(t, fieldNames(t))
	return m.(map[string]bool)
}

// fieldNames returns the JSON names of a struct's fields, including those
// of embedded structs.
func fieldNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			maps.Copy(names, fieldNames(f.Type))
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}

// b64 decodes a canonical standard-base64 field; absent (nil) stays nil.
func b64(field string, s *string) ([]byte, *engine.Reject) {
	if s == nil {
		return nil, nil
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(*s)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != *s {
		return nil, &engine.Reject{Reason: engine.ReasonBadRequest, Msg: fmt.Sprintf("%s is not canonical standard base64", field)}
	}
	return raw, nil
}

// token returns the bearer token, or "" (which the engine refuses as
// malformed, saying how to present one).
func token(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return h[7:]
	}
	return ""
}

func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}

// answer writes res or returns the engine's reject.
func answer(w http.ResponseWriter, res any, err error) *engine.Reject {
	if err != nil {
		return engine.AsReject(err, engine.ReasonBackendError)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// SignBody is the JSON of POST /v1/sign. Byte fields are standard base64.
type SignBody struct {
	Tenant    string  `json:"tenant"`
	Key       string  `json:"key"`
	Version   int     `json:"version,omitempty"`
	Message   *string `json:"message,omitempty"`
	Digest    *string `json:"digest,omitempty"`
	Hash      string  `json:"hash,omitempty"`
	Context   *string `json:"context,omitempty"`
	Alg       string  `json:"alg,omitempty"`
	RequestID string  `json:"request_id,omitempty"`
}

// VerifyBody is the JSON of POST /v1/verify.
type VerifyBody struct {
	SignBody
	Signature *string `json:"signature"`
}

// WrapBody is the JSON of POST /v1/wrap.
type WrapBody struct {
	Tenant    string  `json:"tenant"`
	Key       string  `json:"key"`
	Version   int     `json:"version,omitempty"`
	Plaintext *string `json:"plaintext"`
	AAD       *string `json:"aad,omitempty"`
	RequestID string  `json:"request_id,omitempty"`
}

// UnwrapBody is the JSON of POST /v1/unwrap.
type UnwrapBody struct {
	Tenant     string  `json:"tenant"`
	Key        string  `json:"key"`
	Version    int     `json:"version,omitempty"`
	Ciphertext *string `json:"ciphertext"`
	AAD        *string `json:"aad,omitempty"`
	RequestID  string  `json:"request_id,omitempty"`
}

// fields decodes the byte fields of a sign or verify body.
func (b *SignBody) fields() (msg, digest, sctx []byte, rej *engine.Reject) {
	if msg, rej = b64("message", b.Message); rej != nil {
		return
	}
	if digest, rej = b64("digest", b.Digest); rej != nil {
		return
	}
	sctx, rej = b64("context", b.Context)
	return
}

func (a *API) sign(w http.ResponseWriter, r *http.Request) *engine.Reject {
	var b SignBody
	if rej := a.decode(r, engine.EventSign, &b); rej != nil {
		return rej
	}
	msg, digest, sctx, rej := b.fields()
	if rej != nil {
		return a.e.Refuse(r.Context(), engine.EventSign, b.RequestID, rej)
	}
	res, err := a.e.Sign(r.Context(), token(r), engine.SignRequest{Tenant: b.Tenant, Key: b.Key, Version: b.Version,
		Message: msg, Digest: digest, Hash: b.Hash, Context: sctx, Alg: b.Alg, RequestID: b.RequestID})
	return answer(w, res, err)
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) *engine.Reject {
	var b VerifyBody
	if rej := a.decode(r, engine.EventVerify, &b); rej != nil {
		return rej
	}
	msg, digest, sctx, rej := b.fields()
	var sig []byte
	if rej == nil {
		sig, rej = b64("signature", b.Signature)
	}
	if rej != nil {
		return a.e.Refuse(r.Context(), engine.EventVerify, b.RequestID, rej)
	}
	res, err := a.e.Verify(r.Context(), token(r), engine.VerifyRequest{Tenant: b.Tenant, Key: b.Key, Version: b.Version,
		Message: msg, Digest: digest, Hash: b.Hash, Context: sctx, Signature: sig, Alg: b.Alg, RequestID: b.RequestID})
	return answer(w, res, err)
}

func (a *API) wrap(w http.ResponseWriter, r *http.Request) *engine.Reject {
	var b WrapBody
	if rej := a.decode(r, engine.EventWrap, &b); rej != nil {
		return rej
	}
	pt, rej := b64("plaintext", b.Plaintext)
	var aad []byte
	if rej == nil {
		aad, rej = b64("aad", b.AAD)
	}
	if rej != nil {
		return a.e.Refuse(r.Context(), engine.EventWrap, b.RequestID, rej)
	}
	res, err := a.e.Wrap(r.Context(), token(r), engine.WrapRequest{Tenant: b.Tenant, Key: b.Key, Version: b.Version,
		Plaintext: pt, AAD: aad, RequestID: b.RequestID})
	clear(pt)
	return answer(w, res, err)
}

func (a *API) unwrap(w http.ResponseWriter, r *http.Request) *engine.Reject {
	var b UnwrapBody
	if rej := a.decode(r, engine.EventUnwrap, &b); rej != nil {
		return rej
	}
	ct, rej := b64("ciphertext", b.Ciphertext)
	var aad []byte
	if rej == nil {
		aad, rej = b64("aad", b.AAD)
	}
	if rej != nil {
		return a.e.Refuse(r.Context(), engine.EventUnwrap, b.RequestID, rej)
	}
	res, err := a.e.Unwrap(r.Context(), token(r), engine.UnwrapRequest{Tenant: b.Tenant, Key: b.Key, Version: b.Version,
		Ciphertext: ct, AAD: aad, RequestID: b.RequestID})
	rej = answer(w, res, err)
	if res != nil {
		clear(res.Plaintext)
	}
	return rej
}

func (a *API) keys(w http.ResponseWriter, r *http.Request) *engine.Reject {
	v := mux.Vars(r)
	res, err := a.e.PublicKey(r.Context(), v["tenant"], v["name"])
	return answer(w, res, err)
}

func (a *API) mint(w http.ResponseWriter, r *http.Request) *engine.Reject {
	body, rej := a.readBody(r, engine.EventMint)
	if rej != nil {
		return rej
	}
	req, err := engine.ParseMintRequest(body)
	if err != nil {
		return a.refuse(r, engine.EventMint, engine.AsReject(err, engine.ReasonBadRequest))
	}
	res, err := a.e.Mint(r.Context(), req)
	return answer(w, res, err)
}

func (a *API) status(w http.ResponseWriter, r *http.Request) *engine.Reject {
	writeJSON(w, http.StatusOK, a.e.Status(r.Context()))
	return nil
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) *engine.Reject {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) *engine.Reject {
	if rej := a.e.NotReady(); rej != nil {
		return rej
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	return nil
}

// SignatureHeader is the webhook signature header (GitHub's format).
const SignatureHeader = "X-Hub-Signature-256"

// WebhookSignature returns the SignatureHeader value for body under secret.
func WebhookSignature(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(webhookMAC(secret, body))
}

// webhookMAC is the HMAC-SHA256 of body under secret.
func webhookMAC(secret, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return mac.Sum(nil)
}

// checkWebhook verifies the HMAC of body in constant time.
func (a *API) checkWebhook(r *http.Request, body []byte) error {
	if len(a.secret) == 0 {
		return errors.New("no webhook secret is configured, so no webhook is accepted; set governance.webhook_secret_file in the appliance configuration")
	}
	got, ok := strings.CutPrefix(r.Header.Get(SignatureHeader), "sha256=")
	if !ok {
		return fmt.Errorf("no %s: sha256=<hex> header", SignatureHeader)
	}
	sig, err := hex.DecodeString(got)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%s is not sha256= and 64 hex digits", SignatureHeader)
	}
	if !hmac.Equal(sig, webhookMAC(a.secret, body)) {
		return fmt.Errorf("%s does not match the body under the webhook secret", SignatureHeader)
	}
	return nil
}

func (a *API) sync(w http.ResponseWriter, r *http.Request) *engine.Reject {
	body, rej := a.readBody(r, engine.EventSync)
	if rej != nil {
		return rej
	}
	if err := a.checkWebhook(r, body); err != nil {
		return a.refuse(r, engine.EventSync, &engine.Reject{Reason: engine.ReasonWebhookUnauthorized, Msg: err.Error()})
	}
	if a.onSync == nil {
		return a.refuse(r, engine.EventSync, &engine.Reject{Reason: engine.ReasonSyncFailed, Msg: "no sync is wired to this appliance"})
	}
	if err := a.onSync(r.Context()); err != nil {
		var rej *engine.Reject
		if errors.As(err, &rej) {
			return rej // the engine audited it
		}
		return a.refuse(r, engine.EventSync, &engine.Reject{Reason: engine.ReasonSyncFailed, Msg: err.Error()})
	}
	writeJSON(w, http.StatusOK, a.e.Status(r.Context()))
	return nil
}
