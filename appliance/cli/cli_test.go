package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/config"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

const (
	passphrase    = "correct horse battery staple"
	webhookSecret = "0123456789abcdef-webhook-secret"
)

// governance is a governance repository on a bare remote, written by the
// test's signers (verifytest.Remote).
type governance struct{ *verifytest.Remote }

func newGovernance(t *testing.T) *governance {
	g := &governance{verifytest.NewRemote(t, policy.ProfileProduction)}
	// Recent history, so that keys are young and proposals fresh.
	g.H.Clock = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	return g
}

// execute commits the execution of one approved change, titled change.
func (g *governance) execute(scope, change string, signers ...string) {
	g.T.Helper()
	p := g.H.Approve(g.H.Proposal(change, scope, g.H.Change(scope, change)...), signers...)
	g.Commit(g.H.Next(g.H.Execute(p)...), change)
}

// writeConfig writes a configuration, its passphrase and webhook secret
// files into dir and returns the configuration's path.
func writeConfig(t *testing.T, dir, url, pin string) string {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "passphrase"), []byte(passphrase+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "webhook-secret"), []byte(webhookSecret+"\n"), 0o600)
	cfg := fmt.Sprintf(`{
  "appliance_id": "app-1",
  "governance": {
    "url": %q,
    "branch": "main",
    "root_digest": %q,
    "pull_interval": "1h",
    "webhook_secret_file": "webhook-secret"
  },
  "listen": "127.0.0.1:0",
  "data_dir": "data",
  "backend": {"kind": "sealed-file", "slot": "default", "sealed_file": {"passphrase_file": "passphrase"}}
}
`, url, pin)
	p := filepath.Join(dir, "appliance.json")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type syncBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// client talks to a running appliance.
type client struct {
	t    *testing.T
	base string
}

func (c *client) do(method, path string, body []byte, hdr map[string]string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func reasonOf(b []byte) string {
	var e struct{ Error struct{ Reason string } }
	json.Unmarshal(b, &e)
	return e.Error.Reason
}

// The appliance binary's whole path on real parts: a governance repository
// served by git http-backend on loopback, the sealed-file backend, the audit
// file log, the engine and the API; mint, sign, revoke by proposal announced
// through the HMAC webhook, sign refused; graceful stop.
func TestServeEndToEnd(t *testing.T) {
	g := newGovernance(t)
	minter := verifytest.Key("minter")
	auditPub := envelope.EncodePublicKey(verifytest.Key("audit").Public().(ed25519.PublicKey))
	g.Commit(g.H.Next(g.H.Genesis()...), "genesis")
	g.execute("tenant:acme", "create_tenant", "po", "so")
	g.execute("global", "enroll_appliance=app-1:sealed-file:"+auditPub+":default", "po", "so")
	g.execute("tenant:acme", "create_key=signing:ed25519", "po", "so")
	g.execute("tenant:acme", "add_minter="+envelope.EncodePublicKey(minter.Public().(ed25519.PublicKey)), "po", "so")
	g.Push()
	url := gittest.Serve(t, g.Bare)

	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, url, g.H.Pin())
	addrFile := filepath.Join(dir, "addr")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--config", cfgPath, "--addr-file", addrFile, "--log-format", "json"}, &stdout, &stderr)
	}()

	var addr string
	waitFor(t, 30*time.Second, "address file", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("appliance exited with %d:\n%s", code, stderr.String())
		default:
		}
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	})
	c := &client{t: t, base: "http://" + addr}
	waitFor(t, 30*time.Second, "readyz", func() bool {
		code, _ := c.do("GET", "/readyz", nil, nil)
		return code == http.StatusOK
	})
	var st engine.Status
	_, b := c.do("GET", "/v1/status", nil, nil)
	if err := json.Unmarshal(b, &st); err != nil || st.PolicyVersion != 5 || st.ApplianceID != "app-1" {
		t.Fatalf("status %s (%v)", b, err)
	}

	// Mint a capability with the tenant's minter key and sign with it.
	mr := &engine.MintRequest{Type: engine.MintRequestType, Tenant: "acme", Scope: []string{"sign"}, TTLSeconds: 600,
		IssuedAt: quorum.FormatTime(time.Now()), Nonce: randHex(t)}
	if err := engine.SignMintRequest(mr, minter); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(mr)
	code, b := c.do("POST", "/v1/capabilities", body, nil)
	var minted engine.MintResult
	if code != http.StatusOK || json.Unmarshal(b, &minted) != nil || minted.Token == "" {
		t.Fatalf("mint: %d %s", code, b)
	}
	sign := func() (int, []byte) {
		msg := base64.StdEncoding.EncodeToString([]byte("hello"))
		body, _ := json.Marshal(api.SignBody{Tenant: "acme", Key: "signing", Message: &msg})
		return c.do("POST", "/v1/sign", body, map[string]string{"Authorization": "Bearer " + minted.Token})
	}
	if code, b := sign(); code != http.StatusOK {
		t.Fatalf("sign: %d %s", code, b)
	}

	// A webhook without the right HMAC is refused and syncs nothing.
	if code, b := c.do("POST", "/v1/sync", []byte(`{}`), map[string]string{api.SignatureHeader: "sha256=" + strings.Repeat("0", 64)}); code != http.StatusUnauthorized {
		t.Fatalf("unsigned webhook: %d %s", code, b)
	}

	// Revoke the capability by proposal, push, announce it: refused at once.
	g.execute("global", "revoke_capability="+minted.ID, "po")
	g.Push()
	hook := []byte(`{"ref":"refs/heads/main"}`)
	start := time.Now()
	code, b = c.do("POST", "/v1/sync", hook, map[string]string{api.SignatureHeader: api.WebhookSignature([]byte(webhookSecret), hook)})
	if code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, b)
	}
	code, b = sign()
	t.Logf("revocation refused %v after the webhook", time.Since(start))
	if code != http.StatusForbidden && code != http.StatusUnauthorized || reasonOf(b) != "revoked" {
		t.Fatalf("sign with a revoked capability: %d %s", code, b)
	}

	cancel()
	select {
	case code := <-exit:
		if code != ExitOK {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful stop")
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"appliance started"`, `"msg":"applied verified policy"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{passphrase, webhookSecret, minted.Token} {
		if strings.Contains(logs, secret) || strings.Contains(stdout.String(), secret) {
			t.Errorf("a secret is in the output")
		}
	}
	// The data directory holds what the README says, and no key in clear.
	for _, p := range []string{"governance/last-verified.json", "audit/audit.log", "keys/seed-hmac.sealed"} {
		if _, err := os.Stat(filepath.Join(dir, "data", p)); err != nil {
			t.Errorf("data dir: %v", err)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, "https://deploy:hunter2-token@git.example.com/gov.git", "sha256:"+strings.Repeat("1", 64))
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check-config", p}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out+stderr.String(), "hunter2") || strings.Contains(out, passphrase) || strings.Contains(out, webhookSecret) {
		t.Fatalf("check-config printed a secret:\n%s", out)
	}
	var c struct {
		DataDir    string `json:"data_dir"`
		Governance struct {
			URL          string `json:"url"`
			PullInterval string `json:"pull_interval"`
		} `json:"governance"`
		Listen string `json:"listen"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &c); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if c.Governance.URL != "https://deploy:xxxxx@git.example.com/gov.git" || c.DataDir != filepath.Join(dir, "data") || c.Governance.PullInterval != "1h0m0s" {
		t.Errorf("resolved config: %+v", c)
	}

	// A passphrase file others can read is a problem check-config reports.
	os.Chmod(filepath.Join(dir, "passphrase"), 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"check-config", p}, &stdout, &stderr); code != ExitFailed || !strings.Contains(stderr.String(), "chmod 600") {
		t.Errorf("world-readable passphrase: exit %d, %s", code, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != ExitOK ||
		!strings.Contains(stdout.String(), "appliance/config/example.json") || !strings.Contains(stdout.String(), "--addr-file") {
		t.Errorf("--help: %d\n%s", code, stdout.String())
	}
	stderr.Reset()
	if code := run(context.Background(), nil, &stdout, &stderr); code != ExitUsage || !strings.Contains(stderr.String(), "--config FILE is required") {
		t.Errorf("no --config: %d %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"--config", filepath.Join(t.TempDir(), "missing.json")}, &stdout, &stderr); code != ExitFailed {
		t.Errorf("missing config file: %d %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"--config", "x", "--log-level", "loud"}, &stdout, &stderr); code != ExitUsage {
		t.Errorf("bad --log-level: %d %s", code, stderr.String())
	}
}

// TestClientErrors: the client subcommands' mistakes name the flag at
// fault and what to do, and a usage hint names the subcommand's help.
func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	closed := "http://" + closedAddr(t)
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"client", "sign", "--url", closed, "--tenant", "a", "--key", "b", "--message", "m"}, ExitFailed,
			[]string{"connection refused", "is the appliance running at " + closed}},
		{[]string{"client", "sign", "--url", closed, "--token-file", filepath.Join(dir, "none"), "--tenant", "a", "--key", "b", "--message", "m"}, ExitFailed,
			[]string{"--token-file: "}},
		{[]string{"client", "verify-local", "--message", "m"}, ExitUsage,
			[]string{"--alg is required", "run 'appliance client verify-local --help'"}},
		{[]string{"client", "verify-local", "--message", "m", "--alg", "ecdsa-p256"}, ExitUsage,
			[]string{"does not check plain ECDSA"}},
		{[]string{"client", "verify-local", "--message", "m", "--alg", "ed25519", "--public-key", "AAAA"}, ExitUsage,
			[]string{"--public-key is 3 bytes, want 32"}},
		{[]string{"client", "verify-local", "--message", "m", "--from", filepath.Join(dir, "none")}, ExitFailed,
			[]string{"--from: "}},
		{[]string{"client", "sync", "--url", closed}, ExitUsage,
			[]string{`"secret-file" not set`, "run 'appliance client sync --help'"}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.code, stderr.String())
		}
		for _, w := range c.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, stderr.String())
			}
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8443": true, "localhost:1": true, "[::1]:8443": true, "127.1.2.3:0": true,
		"0.0.0.0:8443": false, ":8443": false, "10.0.0.1:8443": false, "[::]:8443": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

func randHex(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The example configuration in the source tree is valid.
func TestExampleConfigParses(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "config", "example.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(data)
	if err != nil {
		t.Fatalf("example.json: %v", err)
	}
	if c.Backend.Kind != "sealed-file" || c.Governance.WebhookSecretFile == "" {
		t.Errorf("example.json does not show the settings the README explains: %+v", c)
	}
}

// SIGTERM stops a running appliance gracefully through Main: exit 0. The
// governance remote is empty, so the appliance runs but is not ready, and
// /readyz says so.
func TestMainStopsOnSIGTERM(t *testing.T) {
	gittest.SetEnv(t)
	_, url := gittest.NewBare(t)
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, url, "sha256:"+strings.Repeat("1", 64))
	addrFile := filepath.Join(dir, "addr")
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- Main([]string{"--config", cfgPath, "--addr-file", addrFile}, &stdout, &stderr) }()
	var addr string
	waitFor(t, 30*time.Second, "address file", func() bool {
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	})
	c := &client{t: t, base: "http://" + addr}
	if code, b := c.do("GET", "/readyz", nil, nil); code != http.StatusServiceUnavailable || reasonOf(b) != "not_ready" {
		t.Errorf("readyz on an empty governance repository: %d %s", code, b)
	}
	waitFor(t, 10*time.Second, "sync attempt logged", func() bool { return strings.Contains(stderr.String(), "remote repository is empty") })

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != ExitOK || !strings.Contains(stderr.String(), "msg=stopped") {
			t.Fatalf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM did not stop the appliance")
	}
}
