package api_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
)

// server is an appliance API on loopback over an enginetest.Env.
type server struct {
	*enginetest.Env
	srv    *httptest.Server
	secret []byte
	// onSync is what POST /v1/sync runs; tests set it.
	onSync func(ctx context.Context) error
}

func newServer(t testing.TB, o enginetest.Options, mod func(*api.Options)) *server {
	t.Helper()
	s := &server{Env: enginetest.New(t, o), secret: []byte("webhook secret for tests")}
	opts := api.Options{Engine: s.Engine, Metrics: s.Metrics, WebhookSecret: s.secret,
		OnSync: func(ctx context.Context) error {
			if s.onSync == nil {
				_, err := s.Sync()
				return err
			}
			return s.onSync(ctx)
		}}
	if mod != nil {
		mod(&opts)
	}
	h, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(h)
	t.Cleanup(s.srv.Close)
	return s
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// reason returns the error reason of the answer, or "" for a success.
func (r *response) reason(t testing.TB) string {
	t.Helper()
	if r.status == http.StatusOK {
		return ""
	}
	var e struct {
		Error struct{ Reason, Message string }
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Reason == "" {
		t.Fatalf("status %d, body %q is not an error answer", r.status, r.body)
	}
	return e.Error.Reason
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (s *server) do(t testing.TB, method, path, token string, body []byte, header map[string]string) *response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *server) post(t testing.TB, path, token string, v any) *response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, path, token, b, nil)
}

func (s *server) get(t testing.TB, path string) *response {
	t.Helper()
	return s.do(t, http.MethodGet, path, "", nil, nil)
}

// mint mints through the API.
func (s *server) mint(t testing.TB, r *engine.MintRequest) *response {
	t.Helper()
	return s.post(t, "/v1/capabilities", "", r)
}

// token mints a capability through the API.
func (s *server) token(t testing.TB, tenant string, scope []string, mod func(*engine.MintRequest)) string {
	t.Helper()
	var res engine.MintResult
	s.mint(t, s.MintRequest(tenant, "minter-"+tenant, scope, mod)).decode(t, &res)
	return res.Token
}

func b64(b []byte) *string {
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

func signBody(tenant, key string, msg []byte) api.SignBody {
	return api.SignBody{Tenant: tenant, Key: key, Message: b64(msg)}
}

var allOps = []string{"sign", "verify", "wrap", "unwrap"}

// gate wraps a real backend so that a test can hold signers inside it.
type gate struct {
	mu      sync.Mutex
	hold    chan struct{} // nil: open
	entered chan struct{}
}

func (g *gate) wrap(b backend.Backend) backend.Backend { return gatedBackend{b, g} }

// close makes the next Sign calls wait until open, announcing each on entered.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.entered = make(chan struct{}), make(chan struct{}, 16)
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.hold)
	g.hold = nil
}

func (g *gate) wait() {
	g.mu.Lock()
	hold, entered := g.hold, g.entered
	g.mu.Unlock()
	if hold != nil {
		entered <- struct{}{}
		<-hold
	}
}

type gatedBackend struct {
	backend.Backend
	g *gate
}

func (b gatedBackend) Signer(ctx context.Context, label string) (crypto.Signer, error) {
	s, err := b.Backend.Signer(ctx, label)
	if err != nil {
		return nil, err
	}
	return gatedSigner{s, b.g}, nil
}

type gatedSigner struct {
	crypto.Signer
	g *gate
}

func (s gatedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.g.wait()
	return s.Signer.Sign(r, digest, opts)
}
