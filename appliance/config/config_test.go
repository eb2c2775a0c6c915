package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/schemas"
)

const good = `{
  "appliance_id": "app-1",
  "governance": {"url": "gov", "root_digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"},
  "data_dir": "data",
  "backend": {"kind": "sealed-file", "sealed_file": {"passphrase_file": "pass"}}
}`

func TestLoadResolvesAndDefaults(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "appliance.json")
	os.WriteFile(p, []byte(good), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Governance.Branch != "main" || c.Listen != "127.0.0.1:8443" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Backend.SealedFile.Dir != filepath.Join(dir, "data", "keys") || c.Governance.URL != filepath.Join(dir, "gov") {
		t.Errorf("paths not resolved: %q %q", c.Backend.SealedFile.Dir, c.Governance.URL)
	}
}

func TestRejects(t *testing.T) {
	for name, in := range map[string]string{
		"unknown field":  strings.Replace(good, `"data_dir"`, `"datadir": "x", "data_dir"`, 1),
		"duplicate key":  strings.Replace(good, `"data_dir": "data"`, `"data_dir": "a", "data_dir": "b"`, 1),
		"bad digest":     strings.Replace(good, "sha256:1111", "sha256:zz11", 1),
		"bad backend":    strings.Replace(good, `"sealed-file"`, `"floppy"`, 1),
		"no passphrase":  strings.Replace(good, `"passphrase_file": "pass"`, `"amnesia": false`, 1),
		"bad id":         strings.Replace(good, `"app-1"`, `"App 1"`, 1),
		"short interval": strings.Replace(good, `"url": "gov"`, `"url": "gov", "pull_interval": "1ms"`, 1),
		"ssh url":        strings.Replace(good, `"url": "gov"`, `"url": "ssh://git@example.com/gov.git"`, 1),
		"scp-like url":   strings.Replace(good, `"url": "gov"`, `"url": "git@example.com:org/gov.git"`, 1),
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s")
	os.WriteFile(p, []byte("0123456789abcdef0123\n"), 0o644)
	if _, err := ReadSecretFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable secret accepted: %v", err)
	}
	os.Chmod(p, 0o600)
	s, err := ReadSecretFile(p)
	if err != nil || string(s) != "0123456789abcdef0123" {
		t.Fatalf("%q %v", s, err)
	}
}

func TestLoadRelativePathGivesAbsolutePaths(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "appliance.json"), []byte(good), 0o600)
	t.Chdir(dir)
	c, err := Load("appliance.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{c.DataDir, c.Governance.URL, c.Backend.SealedFile.PassphraseFile, c.Audit.Dir} {
		if !filepath.IsAbs(p) {
			t.Errorf("%q is not absolute", p)
		}
	}
}

// TestApplianceIDRule: the appliance takes the ids policy enrols, and
// refuses the ones it refuses, because both check the schema's one rule.
func TestApplianceIDRule(t *testing.T) {
	if idRE.String() != policy.ApplianceRE.String() {
		t.Fatalf("config checks ids with %s, policy with %s", idRE, policy.ApplianceRE)
	}
	enrolled := policy.Appliance{Backend: policy.Backend{Kind: policy.BackendSealedFile, Slot: "default"}, AuditPublicKey: "x+00000000+Zm9v"}
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"app-1", true},
		{"hsm_eu-1", true}, // '_' was refused here and enrolled by policy
		{"0", true},
		{strings.Repeat("a", 63), true},
		{"a..b", false},
		{"a.", false},
		{".a", false},
		{"x.lock", false},
		{"a.b", false},
		{"App-1", false},
		{"APP", false},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"-a", false},
		{"a/b", false},
	} {
		cfg := strings.Replace(good, `"app-1"`, strconv.Quote(c.id), 1)
		_, err := Parse([]byte(cfg))
		if got := err == nil; got != c.want {
			t.Errorf("config %q: accepted %v, want %v (%v)", c.id, got, c.want, err)
		} else if err != nil && !strings.Contains(err.Error(), idRE.String()) {
			t.Errorf("config %q: error does not name the rule: %v", c.id, err)
		}
		file, err := policy.EnrollmentOf(c.id, enrolled).File()
		if err != nil {
			t.Fatal(err)
		}
		_, err = policy.ParseEnrollment(file)
		if got := err == nil; got != c.want {
			t.Errorf("enrollment %q: accepted %v, want %v (%v)", c.id, got, c.want, err)
		}
		err = schemas.Validate(policy.TypeAppliance, file)
		if got := err == nil; got != c.want {
			t.Errorf("schema on enrollment %q: accepted %v, want %v (%v)", c.id, got, c.want, err)
		}
	}
}
