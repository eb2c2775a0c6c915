package cli

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/keys"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

func TestParsePublicKey(t *testing.T) {
	pub := vt.Key("alice").Public().(ed25519.PublicKey)
	line, err := keys.AuthorizedKey(pub, "ron-kms policy-owner")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "alice.pub")
	if err := os.WriteFile(file, line, 0o644); err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(dir, "two.pub")
	if err := os.WriteFile(two, append(append([]byte{}, line...), line...), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"line":   string(line),
		"file":   file,
		"base64": envelope.EncodePublicKey(pub),
	} {
		got, err := parsePublicKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("%s: got another key", name)
		}
	}
	for name, c := range map[string]struct{ in, want string }{
		"empty":        {"", "empty"},
		"two keys":     {two, "more than one public key"},
		"rsa":          {"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDcdtnuDqY9Tp+b4mIkgI4bHUGkJvfsrjdTLjo2Q4J4UqkkeGrOhU6Vi6tYqvOYZnLZQW7T5jTsmdoE4XKWjdgdKYrS63GXRq9YpA60Xk0mVfIEAN+XITH5BE3QftUNwmlA6SZOWi5uM4NFxz6jBAt51BP7ZGqPNp1T5HTMU9LfBQ==", "ssh-rsa"},
		"small order":  {"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "small order"},
		"short":        {"AAAA", "32"},
		"garbage line": {"ssh-ed25519 !!!", "not an OpenSSH public key"},
		"missing file": {filepath.Join(dir, "nope.pub"), "neither"},
	} {
		_, err := parsePublicKey(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
}

func TestParseSignerArgAndKeyRef(t *testing.T) {
	pub := vt.Key("bob").Public().(ed25519.PublicKey)
	b64 := envelope.EncodePublicKey(pub)
	m, err := parseSignerArg("custodian=" + b64)
	if err != nil {
		t.Fatal(err)
	}
	if m.Role != "custodian" || m.KeyID != envelope.KeyID(pub) || m.PublicKey != b64 || m.Alg != "ed25519" {
		t.Errorf("member = %+v", m)
	}
	for _, bad := range []string{"custodian", "=" + b64, "janitor=" + b64, "custodian="} {
		if _, err := parseSignerArg(bad); err == nil {
			t.Errorf("parseSignerArg(%q) accepted", bad)
		}
	}
	id, err := parseKeyRef(b64)
	if err != nil || id != envelope.KeyID(pub) {
		t.Errorf("parseKeyRef(base64) = %q, %v", id, err)
	}
	if id, err := parseKeyRef(envelope.KeyID(pub)); err != nil || id != envelope.KeyID(pub) {
		t.Errorf("parseKeyRef(key id) = %q, %v", id, err)
	}
	if _, err := parseKeyRef(strings.ToUpper(envelope.KeyID(pub))); err == nil {
		t.Error("parseKeyRef accepted an upper-case key id")
	}
}

func FuzzParsePublicKey(f *testing.F) {
	pub := vt.Key("alice").Public().(ed25519.PublicKey)
	line, _ := keys.AuthorizedKey(pub, "c")
	f.Add(string(line))
	f.Add(envelope.EncodePublicKey(pub))
	f.Add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==")
	f.Add("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "/\\") || strings.HasPrefix(s, ".") {
			return // not a file name this test may open
		}
		got, err := parsePublicKey(s)
		if err != nil {
			return
		}
		if len(got) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(got))
		}
		if _, err := envelope.DecodePublicKey(envelope.EncodePublicKey(got)); err != nil {
			t.Fatalf("accepted a key that signer sets refuse: %v", err)
		}
	})
}
