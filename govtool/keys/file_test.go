package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"
	"golang.org/x/crypto/ssh"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

func TestOpenSSHFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	priv, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "signer")
	if err := WriteKeyFiles(path, priv, "alice@ron-kms", []byte("correct horse")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n")) {
		t.Fatalf("not an OpenSSH key file:\n%s", data)
	}
	if _, err := ssh.ParseRawPrivateKey(data); !errors.As(err, new(*ssh.PassphraseMissingError)) {
		t.Fatalf("key file is not encrypted: ParseRawPrivateKey gave %v", err)
	}
	pubLine, _ := os.ReadFile(path + ".pub")
	want := "ssh-ed25519 " + authorizedBase64(t, priv.Public().(ed25519.PublicKey)) + " alice@ron-kms\n"
	if string(pubLine) != want {
		t.Errorf(".pub = %q, want %q", pubLine, want)
	}

	pass := writeSecret(t, dir, "pass", "correct horse\n")
	s := load(t, path, LoadOptions{PassphraseFile: pass})
	if !bytes.Equal(s.Public().(ed25519.PublicKey), priv.Public().(ed25519.PublicKey)) {
		t.Fatal("loaded a different public key")
	}
	checkSigns(t, s)

	// The same key, asked for by key id and by public key.
	load(t, path, LoadOptions{PassphraseFile: pass, KeyID: envelope.KeyID(priv.Public().(ed25519.PublicKey))})
	load(t, path, LoadOptions{PassphraseFile: pass, PublicKey: priv.Public().(ed25519.PublicKey)})

	// The prompt is used when there is no passphrase file.
	asked := ""
	load(t, path, LoadOptions{Prompt: func(_ context.Context, p string) ([]byte, error) {
		asked = p
		return []byte("correct horse"), nil
	}})
	if !strings.Contains(asked, "passphrase for key file") {
		t.Errorf("prompt was %q", asked)
	}
}

func authorizedBase64(t *testing.T, pub ed25519.PublicKey) string {
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(ssh.MarshalAuthorizedKey(k)))[1]
}

func TestWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	priv, _ := Generate(nil)
	path := filepath.Join(dir, "k")
	if err := WriteKeyFiles(path, priv, "", []byte("right")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSigner(context.Background(), path, LoadOptions{PassphraseFile: writeSecret(t, dir, "p", "wrong")})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase gave %v, want ErrWrongPassphrase", err)
	}
	if !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("message %q does not say what went wrong", err)
	}
	// Without a way to ask, it says so.
	_, err = LoadSigner(context.Background(), path, LoadOptions{Prompt: func(context.Context, string) ([]byte, error) {
		return nil, ErrNoPassphrase
	}})
	if !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("got %v, want ErrNoPassphrase", err)
	}
}

func TestExpectedKeyMismatch(t *testing.T) {
	dir := t.TempDir()
	priv, _ := Generate(nil)
	other, _ := Generate(nil)
	path := filepath.Join(dir, "k")
	if err := WriteKeyFiles(path, priv, "", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	pass := writeSecret(t, dir, "p", "pw")
	otherPub := other.Public().(ed25519.PublicKey)
	for name, opts := range map[string]LoadOptions{
		"key id":     {PassphraseFile: pass, KeyID: envelope.KeyID(otherPub)},
		"public key": {PassphraseFile: pass, PublicKey: otherPub},
	} {
		_, err := LoadSigner(context.Background(), path, opts)
		if !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("%s: got %v, want ErrKeyMismatch", name, err)
		}
	}
	_, err := LoadSigner(context.Background(), path, LoadOptions{PassphraseFile: pass, KeyID: "ABC"})
	if err == nil || !strings.Contains(err.Error(), "64 lower-case hex") {
		t.Errorf("malformed key id: got %v", err)
	}
}

func TestWriteRefusals(t *testing.T) {
	dir := t.TempDir()
	priv, _ := Generate(nil)

	// No passphrase without the loud option.
	var buf bytes.Buffer
	if err := WriteOpenSSH(&buf, priv, "", nil); err == nil || !strings.Contains(err.Error(), "AllowUnencryptedUnsafe") {
		t.Fatalf("empty passphrase: got %v", err)
	}
	if buf.Len() != 0 {
		t.Fatal("something was written for a refused key")
	}
	if err := WriteKeyFiles(filepath.Join(dir, "clear"), priv, "", nil); err == nil {
		t.Fatal("WriteKeyFiles wrote a key in clear")
	}
	if _, err := os.Stat(filepath.Join(dir, "clear")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("refused key left a file behind")
	}

	// With it, the file loads without asking.
	clearPath := filepath.Join(dir, "clear2")
	if err := WriteKeyFiles(clearPath, priv, "test", nil, AllowUnencryptedUnsafe()); err != nil {
		t.Fatal(err)
	}
	s := load(t, clearPath, LoadOptions{Prompt: func(context.Context, string) ([]byte, error) {
		t.Fatal("asked for a passphrase for a clear key")
		return nil, nil
	}})
	checkSigns(t, s)

	// Never overwrite the key, nor its .pub.
	before, _ := os.ReadFile(clearPath)
	err := WriteKeyFiles(clearPath, priv, "", []byte("pw"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrite: got %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(clearPath)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file changed")
	}
	onlyPub := filepath.Join(dir, "onlypub")
	os.WriteFile(onlyPub+".pub", []byte("x"), 0o644)
	if err := WriteKeyFiles(onlyPub, priv, "", []byte("pw")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("existing .pub: got %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(onlyPub); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a private key was written although its .pub existed")
	}

	// Comments are one printable line.
	if err := WriteOpenSSH(&buf, priv, "a\nb", []byte("pw")); err == nil {
		t.Fatal("comment with a newline accepted")
	}
}

func TestFilePermissionsChecked(t *testing.T) {
	dir := t.TempDir()
	priv, _ := Generate(nil)
	path := filepath.Join(dir, "k")
	if err := WriteKeyFiles(path, priv, "", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	pass := writeSecret(t, dir, "p", "pw")
	os.Chmod(pass, 0o644)
	if _, err := LoadSigner(context.Background(), path, LoadOptions{PassphraseFile: pass}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable passphrase file: got %v", err)
	}
	os.Chmod(pass, 0o600)
	os.Chmod(path, 0o640)
	if _, err := LoadSigner(context.Background(), path, LoadOptions{PassphraseFile: pass}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key file: got %v", err)
	}
	os.Chmod(path, 0o600)
	load(t, path, LoadOptions{PassphraseFile: pass})

	two := writeSecret(t, dir, "two", "pw\nmore\n")
	if _, err := LoadSigner(context.Background(), path, LoadOptions{PassphraseFile: two}); err == nil || !strings.Contains(err.Error(), "more than one line") {
		t.Fatalf("two-line passphrase file: got %v", err)
	}
}

// A key written by ssh-keygen loads and signs; a key written here is read
// by ssh-keygen, which derives the same .pub line.
func TestSSHKeygenInterop(t *testing.T) {
	keygen := requireTool(t, "ssh-keygen", "openssh-client")
	dir := t.TempDir()

	path := filepath.Join(dir, "id_ed25519")
	run(t, nil, keygen, "-q", "-t", "ed25519", "-N", "s3cret pass", "-C", "bob@example", "-f", path)
	pubLine, _ := os.ReadFile(path + ".pub")
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pubLine)
	if err != nil {
		t.Fatal(err)
	}
	want := pk.(ssh.CryptoPublicKey).CryptoPublicKey().(ed25519.PublicKey)
	s := load(t, path, LoadOptions{PassphraseFile: writeSecret(t, dir, "pass", "s3cret pass\n"), PublicKey: want})
	checkSigns(t, s)
	if _, err := LoadSigner(context.Background(), path, LoadOptions{PassphraseFile: writeSecret(t, dir, "bad", "s3cret")}); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("ssh-keygen key, wrong passphrase: got %v", err)
	}

	priv, _ := Generate(nil)
	ours := filepath.Join(dir, "ours")
	if err := WriteKeyFiles(ours, priv, "carol", []byte("pw for keygen")); err != nil {
		t.Fatal(err)
	}
	got := run(t, nil, keygen, "-y", "-P", "pw for keygen", "-f", ours)
	ourPub, _ := os.ReadFile(ours + ".pub")
	if strings.Fields(got)[1] != strings.Fields(string(ourPub))[1] {
		t.Fatalf("ssh-keygen -y derives %q, our .pub has %q", got, ourPub)
	}
}

func TestPKCS8(t *testing.T) {
	dir := t.TempDir()
	priv, _ := Generate(nil)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	plain := writeSecret(t, dir, "plain.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	s := load(t, plain, LoadOptions{PublicKey: priv.Public().(ed25519.PublicKey)})
	checkSigns(t, s)

	encDER, err := pkcs8.MarshalPrivateKey(priv, []byte("pkcs8 pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := writeSecret(t, dir, "enc.pem", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encDER})))
	load(t, enc, LoadOptions{PassphraseFile: writeSecret(t, dir, "p", "pkcs8 pw"), PublicKey: priv.Public().(ed25519.PublicKey)})
	if _, err := LoadSigner(context.Background(), enc, LoadOptions{PassphraseFile: writeSecret(t, dir, "q", "nope")}); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("encrypted PKCS#8, wrong passphrase: got %v", err)
	}
}

func TestParsePrivateKeyRejects(t *testing.T) {
	noPass := func() ([]byte, error) { t.Fatal("asked for a passphrase"); return nil, nil }
	priv, _ := Generate(nil)

	// A file whose public half does not belong to its seed.
	bad := make(ed25519.PrivateKey, ed25519.PrivateKeySize)
	copy(bad, priv)
	other, _ := Generate(nil)
	copy(bad[32:], other[32:])
	block, err := ssh.MarshalPrivateKey(bad, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey(pem.EncodeToMemory(block), noPass); err == nil || !strings.Contains(err.Error(), "does not match its seed") {
		t.Errorf("mismatched halves: got %v", err)
	}

	// Another algorithm.
	ecKey := mustECDSA(t)
	block, _ = ssh.MarshalPrivateKey(ecKey, "")
	if _, err := ParsePrivateKey(pem.EncodeToMemory(block), noPass); !errors.Is(err, ErrNotEd25519) {
		t.Errorf("ECDSA key: got %v, want ErrNotEd25519", err)
	}
	block, _ = ssh.MarshalPrivateKeyWithPassphrase(ecKey, "", []byte("pw"))
	if _, err := ParsePrivateKey(pem.EncodeToMemory(block), noPass); !errors.Is(err, ErrNotEd25519) {
		t.Errorf("encrypted ECDSA key: got %v, want ErrNotEd25519 before any prompt", err)
	}

	good, _ := ssh.MarshalPrivateKey(priv, "")
	goodPEM := pem.EncodeToMemory(good)
	for name, data := range map[string][]byte{
		"empty":         nil,
		"not pem":       []byte("ssh-ed25519 AAAA"),
		"two blocks":    append(append([]byte{}, goodPEM...), goodPEM...),
		"trailing junk": append(append([]byte{}, goodPEM...), "junk"...),
		"other type":    pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}}),
		"legacy enc":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}),
	} {
		if _, err := ParsePrivateKey(data, noPass); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParsePrivateKey(goodPEM, noPass); err != nil {
		t.Fatalf("good key: %v", err)
	}
}

func TestSignOptions(t *testing.T) {
	priv, _ := Generate(nil)
	s := newMemorySigner(priv, "test")
	msg := []byte("m")
	if _, err := s.Sign(nil, msg, crypto.SHA512); err == nil {
		t.Error("Ed25519ph (SHA-512 pre-hash) accepted")
	}
	if _, err := s.Sign(nil, msg, &ed25519.Options{Context: "x"}); err == nil {
		t.Error("Ed25519ctx accepted")
	}
	if _, err := s.Sign(nil, msg, &ed25519.Options{}); err != nil {
		t.Errorf("pure Ed25519 options refused: %v", err)
	}
	s.Close()
	if _, err := s.Sign(nil, msg, crypto.Hash(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v", err)
	}
	if !isZero(priv) {
		t.Error("Close did not zero the key")
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// No fmt verb shows key material.
func TestSignerRedacted(t *testing.T) {
	priv, _ := Generate(nil)
	keep := bytes.Clone(priv)
	s := newMemorySigner(priv, "file x")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		out := fmt.Sprintf(verb, s)
		for _, secret := range []string{hex.EncodeToString(keep[:32]), strings.ToUpper(hex.EncodeToString(keep[:32])), strings.Trim(fmt.Sprint(keep[:4]), "[]")} {
			if strings.Contains(out, secret) {
				t.Errorf("%s prints key material: %s", verb, out)
			}
		}
		if !strings.Contains(out, "ed25519 key ") {
			t.Errorf("%s prints %q", verb, out)
		}
	}
}

func TestLoadSpecErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := LoadSigner(ctx, "", LoadOptions{}); err == nil {
		t.Error("empty spec accepted")
	}
	if _, err := LoadSigner(ctx, filepath.Join(t.TempDir(), "missing"), LoadOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	// A .pub file given for the key: the message names the mix-up, not
	// the .pub file's mode.
	pub := filepath.Join(t.TempDir(), "alice.pub")
	if err := os.WriteFile(pub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH4rN4nV0d0BfGqVyJxqHSA3xYp6b6J1Xm0o9ZPyJ3xU alice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(ctx, pub, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "is a public key file: name the private key file ("+strings.TrimSuffix(pub, ".pub")+")") {
		t.Errorf(".pub file as the key: got %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := LoadSigner(cancelled, "x", LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}
