// Package config reads the appliance's one configuration file.
//
// The file is JSON (unknown fields are errors, so a misspelt setting is never
// silently ignored). Secrets are never values in it: the webhook secret and
// the sealed-file passphrase are read from files named by it, which must not
// be readable by group or others.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/schemas"
)

// Duration is a time.Duration written as "30s", "5m".
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %v", s, err)
	}
	d.Duration = v
	return nil
}

// Config is the appliance configuration.
type Config struct {
	// ApplianceID names this appliance; it must be enrolled in policy
	// (appliances/<id>.json) and names its audit branch audit/<id>.
	ApplianceID string     `json:"appliance_id"`
	Governance  Governance `json:"governance"`
	// Listen is the HTTP API address; loopback by default.
	Listen string `json:"listen"`
	// DataDir holds the local clone, verified-state cache and the audit log.
	DataDir string  `json:"data_dir"`
	Backend Backend `json:"backend"`
	Audit   Audit   `json:"audit"`
	Limits  Limits  `json:"limits"`
}

// Governance says where the signed policy comes from and what anchors it.
type Governance struct {
	// URL of the governance repository (file://, http(s)://, or a path).
	URL    string `json:"url"`
	Branch string `json:"branch"`
	// RootDigest pins signer-sets/0001.json: the root of trust. The appliance
	// trusts nothing that does not chain to it — not CI, not the Git server.
	RootDigest   string   `json:"root_digest"`
	PullInterval Duration `json:"pull_interval"`
	// WebhookSecretFile holds the HMAC secret a Git host signs POST /v1/sync with.
	WebhookSecretFile string `json:"webhook_secret_file"`
}

// Backend selects the key custodian. Kind and Slot must match what the
// verified policy enrols for this appliance (K-G1).
type Backend struct {
	Kind       string     `json:"kind"` // sealed-file | pkcs11 | tpm
	Slot       string     `json:"slot"`
	SealedFile SealedFile `json:"sealed_file"`
}

// SealedFile configures the sealed-file backend.
type SealedFile struct {
	Dir            string `json:"dir"`
	PassphraseFile string `json:"passphrase_file"`
	// Amnesia keeps keys in memory only: they are lost on restart.
	Amnesia bool `json:"amnesia"`
}

// Audit configures the audit log.
type Audit struct {
	// Dir of the audit log; default <data_dir>/audit.
	Dir string `json:"dir"`
}

// Limits bound every request.
type Limits struct {
	MaxBodyBytes   int64    `json:"max_body_bytes"`
	RequestTimeout Duration `json:"request_timeout"`
}

// idRE is the appliance id rule, defs.json#/$defs/appliance_id: the one
// policy enrols ids by. It is compiled here rather than taken from
// govtool/policy's ApplianceRE because that package pulls in net, and with
// it cgo, through its dependencies.
var idRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/appliance_id"))

// Load reads and checks a configuration file. Relative paths in it are
// relative to the file's folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	// Resolve against an absolute folder, so that what Load returns does not
	// depend on the working directory staying the same.
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.resolve(base)
	return c, nil
}

// Parse decodes a configuration, applies defaults and validates it.
func Parse(data []byte) (*Config, error) {
	if _, err := canon.Parse(data); err != nil { // duplicate keys, bad UTF-8 …
		return nil, err
	}
	c := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Default is the configuration before the file is applied.
func Default() *Config {
	return &Config{
		Governance: Governance{Branch: "main", PullInterval: Duration{30 * time.Second}},
		Listen:     "127.0.0.1:8443",
		Backend:    Backend{Kind: "sealed-file", Slot: "default"},
		Limits:     Limits{MaxBodyBytes: 1 << 20, RequestTimeout: Duration{10 * time.Second}},
	}
}

// Validate checks the settings that need no file system.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !idRE.MatchString(c.ApplianceID) {
		bad("appliance_id %q does not match %s: 1 to 63 lower-case letters, digits, '-' and '_', the first a letter or digit, so that it is one component of the Git branch audit/<id>", c.ApplianceID, idRE)
	}
	if c.Governance.URL == "" {
		bad("governance.url is required")
	} else if err := checkURL(c.Governance.URL); err != nil {
		bad("governance.url: %v", err)
	}
	if c.Governance.Branch == "" {
		bad("governance.branch is required")
	}
	if _, err := canon.ParseDigest(c.Governance.RootDigest); err != nil {
		bad("governance.root_digest: %v (print it with: govtool init, or govtool digest signer-sets/0001.json)", err)
	}
	if c.Governance.PullInterval.Duration < time.Second {
		bad("governance.pull_interval must be at least 1s")
	}
	if c.DataDir == "" {
		bad("data_dir is required")
	}
	switch c.Backend.Kind {
	case "sealed-file":
		if c.Backend.SealedFile.PassphraseFile == "" && !c.Backend.SealedFile.Amnesia {
			bad("backend.sealed_file.passphrase_file is required (or amnesia: true)")
		}
	case "pkcs11", "tpm":
		bad("backend.kind %q is not built into this appliance yet", c.Backend.Kind)
	default:
		bad("backend.kind %q: want sealed-file, pkcs11 or tpm", c.Backend.Kind)
	}
	if c.Limits.MaxBodyBytes < 1024 || c.Limits.MaxBodyBytes > 64<<20 {
		bad("limits.max_body_bytes must be between 1 KiB and 64 MiB")
	}
	if c.Limits.RequestTimeout.Duration <= 0 {
		bad("limits.request_timeout must be positive")
	}
	return errors.Join(errs...)
}

// checkURL accepts what the appliance can fetch from without credentials
// helpers: https://, http://, file:// and a path. Credentials in the URL are
// never echoed.
func checkURL(u string) error {
	if scheme, _, ok := strings.Cut(u, "://"); ok {
		switch scheme {
		case "https", "http", "file":
			return nil
		}
		return fmt.Errorf("scheme %q is not supported: use https://, http://, file:// or a path", scheme)
	}
	// Git's scp-like SSH syntax (host:path, user@host:path) would otherwise
	// be taken for a relative path.
	if i := strings.IndexByte(u, ':'); i > 0 && !strings.ContainsRune(u[:i], '/') {
		return errors.New("SSH addresses (host:path) are not supported: use https://, http://, file:// or a path")
	}
	return nil
}

func (c *Config) resolve(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Governance.WebhookSecretFile)
	abs(&c.Backend.SealedFile.Dir)
	abs(&c.Backend.SealedFile.PassphraseFile)
	abs(&c.Audit.Dir)
	if c.Backend.SealedFile.Dir == "" {
		c.Backend.SealedFile.Dir = filepath.Join(c.DataDir, "keys")
	}
	if c.Audit.Dir == "" {
		c.Audit.Dir = filepath.Join(c.DataDir, "audit")
	}
	if u := c.Governance.URL; !strings.Contains(u, "://") && !filepath.IsAbs(u) {
		c.Governance.URL = filepath.Join(base, u)
	}
}

// ReadSecretFile reads a secret from a file that only its owner may read
// (backend.CheckSecretFile), less trailing line breaks; it must be at least
// 16 bytes.
func ReadSecretFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: secret file: %w", err)
	}
	if err := backend.CheckSecretFile(path, fi); err != nil {
		return nil, fmt.Errorf("config: secret file %w", err)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("config: secret file %s is empty", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: secret file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < 16 {
		return nil, fmt.Errorf("config: secret in %s is shorter than 16 bytes", path)
	}
	return b, nil
}
