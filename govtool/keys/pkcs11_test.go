package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

const (
	testUserPIN = "4711-user"
	testSOPIN   = "4711-so"
)

// softHSM is one test's own SoftHSM2 token store.
type softHSM struct {
	module  string
	pinFile string
	dir     string
}

// newSoftHSM gives the test a private SoftHSM2 configuration (SOFTHSM2_CONF
// points into a temporary directory) with one initialised token per label.
// Outside CI a missing SoftHSM2 skips the test; under CI=true it fails it.
func newSoftHSM(t *testing.T, labels ...string) *softHSM {
	t.Helper()
	util := requireTool(t, "softhsm2-util", "softhsm2")
	module := ""
	for _, p := range DefaultModuleAllowList() {
		if fileExists(p) {
			module = p
			break
		}
	}
	if module == "" {
		if inCI() {
			t.Fatal("the SoftHSM2 module is not installed (Debian package softhsm2): .ci/run must install it")
		}
		t.Skip("the SoftHSM2 module is not installed (Debian package softhsm2); skipped outside CI only")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	content := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	for _, l := range labels {
		run(t, nil, util, "--init-token", "--free", "--label", l, "--pin", testUserPIN, "--so-pin", testSOPIN)
	}
	return &softHSM{module: module, dir: dir, pinFile: writeSecret(t, dir, "pin", testUserPIN+"\n")}
}

// uri is a pkcs11 URI for token label, with extra path attributes.
func (h *softHSM) uri(label string, path ...string) string {
	u := &PKCS11URI{Token: label, ModulePath: h.module, PinSource: h.pinFile}
	s := u.String()
	if len(path) > 0 {
		q := strings.Index(s, "?")
		s = s[:q] + ";" + strings.Join(path, ";") + s[q:]
	}
	return s
}

func TestSoftHSMGenerateAndSign(t *testing.T) {
	h := newSoftHSM(t, "signer-a")
	ctx := context.Background()

	pub, err := GenerateToken(ctx, h.uri("signer-a"), "alice-2026", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) != ed25519.PublicKeySize {
		t.Fatalf("public key of %d bytes", len(pub))
	}
	s := load(t, h.uri("signer-a", "object=alice-2026"), LoadOptions{KeyID: envelope.KeyID(pub)})
	if !pub.Equal(s.Public()) {
		t.Fatal("loaded key differs from the generated one")
	}
	checkSigns(t, s)
	if got := fmt.Sprint(s); !strings.Contains(got, "PKCS#11 token") {
		t.Errorf("String() = %q", got)
	}

	// Concurrent signing: each goroutine gets its own session.
	signConcurrently(t, s, pub, 8, 25)

	// A second signer for the same key, closed first, leaves the first
	// logged in: login state is shared, and only the last close ends it.
	s2 := load(t, h.uri("signer-a", "object=alice-2026"), LoadOptions{})
	s2.Close()
	checkSigns(t, s)

	// The label is taken: keys are never replaced.
	if _, err := GenerateToken(ctx, h.uri("signer-a"), "alice-2026", LoadOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second key with one label: got %v", err)
	}

	s.Close()
	if _, err := s.Sign(nil, []byte("m"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: got %v", err)
	}
}

// The private key the token made is sensitive and cannot be read out.
func TestSoftHSMKeyNeverLeaves(t *testing.T) {
	h := newSoftHSM(t, "vault")
	ctx := context.Background()
	if _, err := GenerateToken(ctx, h.uri("vault"), "k", LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	u, _ := ParsePKCS11URI(h.uri("vault", "object=k"))
	tok, err := openToken(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.close()
	sh, err := tok.login(ctx, u, LoadOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.mod.ctx.CloseSession(sh)
	priv, err := findOne(tok.mod.ctx, sh, keyTemplate(u, pkcs11.CKO_PRIVATE_KEY), "private key", tok.label, keyName(u))
	if err != nil {
		t.Fatal(err)
	}
	flags, err := boolAttrs(tok.mod.ctx, sh, priv, pkcs11.CKA_TOKEN, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE, pkcs11.CKA_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	for attr, want := range map[uint]bool{pkcs11.CKA_TOKEN: true, pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_EXTRACTABLE: false,
		pkcs11.CKA_ALWAYS_SENSITIVE: true, pkcs11.CKA_NEVER_EXTRACTABLE: true, pkcs11.CKA_PRIVATE: true} {
		if flags[attr] != want {
			t.Errorf("attribute %#x = %v, want %v", attr, flags[attr], want)
		}
	}
	if _, err := tok.mod.ctx.GetAttributeValue(sh, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); !isCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		t.Errorf("reading CKA_VALUE: got %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
}

// A key that the token would hand out (imported, extractable) is refused.
func TestSoftHSMRefusesExtractableKey(t *testing.T) {
	h := newSoftHSM(t, "loose")
	ctx := context.Background()
	u, _ := ParsePKCS11URI(h.uri("loose"))
	tok, err := openToken(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := tok.login(ctx, u, LoadOptions{}, pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	c := tok.mod.ctx
	attrs := func(class uint, extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
		return append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "loose-key"),
		}, extra...)
	}
	_, _, err = c.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil)},
		attrs(pkcs11.CKO_PUBLIC_KEY, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidEd25519)),
		attrs(pkcs11.CKO_PRIVATE_KEY, pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)))
	c.CloseSession(sh)
	tok.close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadSigner(ctx, h.uri("loose", "object=loose-key"), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "extractable") {
		t.Fatalf("extractable key: got %v", err)
	}
}

func TestSoftHSMErrors(t *testing.T) {
	h := newSoftHSM(t, "one", "two")
	ctx := context.Background()
	pubOne, err := GenerateToken(ctx, h.uri("one"), "k", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pubTwo, err := GenerateToken(ctx, h.uri("two"), "k", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Tokens are told apart by label, whatever their slot ids.
	for label, want := range map[string]ed25519.PublicKey{"one": pubOne, "two": pubTwo} {
		s, err := LoadSigner(ctx, h.uri(label, "object=k"), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !want.Equal(s.Public()) {
			t.Errorf("token label %q picked the wrong token", label)
		}
		s.Close()
	}

	wrongPin := writeSecret(t, h.dir, "wrong", "0000")
	u, _ := ParsePKCS11URI(h.uri("one", "object=k"))
	u.PinSource = wrongPin
	if _, err := LoadSigner(ctx, u.String(), LoadOptions{}); !errors.Is(err, ErrWrongPIN) {
		t.Errorf("wrong PIN: got %v", err)
	}
	if strings.Contains(fmt.Sprint(err), "0000") {
		t.Errorf("error shows the PIN: %v", err)
	}

	// Without pin-source the prompt is asked, naming the token.
	u.PinSource = ""
	asked := ""
	s, err := LoadSigner(ctx, u.String(), LoadOptions{Prompt: func(_ context.Context, p string) ([]byte, error) {
		asked = p
		return []byte(testUserPIN), nil
	}})
	if err != nil {
		t.Fatalf("PIN from the prompt: %v", err)
	}
	s.Close()
	if !strings.Contains(asked, `"one"`) {
		t.Errorf("prompt %q does not name the token", asked)
	}

	for name, c := range map[string]struct{ uri, says string }{
		"no such token":  {h.uri("three", "object=k"), "no initialised token"},
		"no such key":    {h.uri("one", "object=nope"), `token "one" holds no Ed25519 private key with object="nope"`},
		"no key named":   {h.uri("one"), "names no key"},
		"public key":     {h.uri("one", "object=k", "type=public"), "type=public"},
		"wrong id":       {h.uri("one", "object=k", "id=%00"), `token "one" holds no Ed25519 private key with object="k" id=%00`},
		"mismatched key": {h.uri("two", "object=k"), "not the expected key"},
	} {
		_, err := LoadSigner(ctx, c.uri, LoadOptions{PublicKey: pubOne})
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %v, want %q", name, err, c.says)
		}
	}
	if _, err := GenerateToken(ctx, h.uri("one", "object=other"), "k2", LoadOptions{}); err == nil {
		t.Error("GenerateToken with a conflicting object= accepted")
	}
	if _, err := GenerateToken(ctx, h.uri("one"), "", LoadOptions{}); err == nil {
		t.Error("GenerateToken with an empty label accepted")
	}
	if _, err := GenerateToken(ctx, h.uri("one"), "k3", LoadOptions{ModuleAllowList: []string{"/nowhere.so"}}); err == nil || !strings.Contains(err.Error(), "allow-list") {
		t.Errorf("module off a custom allow-list: got %v", err)
	}

	// Everything was closed: the module is unloaded.
	modules.Lock()
	n := len(modules.m)
	modules.Unlock()
	if n != 0 {
		t.Errorf("%d PKCS#11 modules still loaded after every signer was closed", n)
	}
}
