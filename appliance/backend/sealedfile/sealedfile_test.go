package sealedfile

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
)

// testLogN keeps scrypt fast in tests; TestDefaultScryptParams covers the default.
const testLogN = 10

const testPassphrase = "correct horse battery staple"

var ctx = context.Background()

func writePassphrase(t testing.TB, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{
		Dir:            filepath.Join(t.TempDir(), "keys"),
		PassphraseFile: writePassphrase(t, testPassphrase+"\n", 0o600),
		scryptLogN:     testLogN,
	}
}

func mustOpen(t testing.TB, c Config) *Backend {
	t.Helper()
	b, err := Open(ctx, c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustGenerate(t testing.TB, b *Backend, label string, alg backend.Algorithm) crypto.PublicKey {
	t.Helper()
	pub, err := b.GenerateKey(ctx, label, alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q, %s): %v", label, alg, err)
	}
	return pub
}

// signAndVerify signs msg with label and checks the signature against pub
// with the standard library.
func signAndVerify(t testing.TB, b *Backend, label string, pub crypto.PublicKey, msg []byte) {
	t.Helper()
	s, err := b.Signer(ctx, label)
	if err != nil {
		t.Fatalf("Signer(%q): %v", label, err)
	}
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		if !pub.Equal(s.Public()) {
			t.Fatalf("%q: signer public key differs from the generated one", label)
		}
		sig, err := s.Sign(nil, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("%q: Sign: %v", label, err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("%q: ed25519 signature does not verify", label)
		}
	case *ecdsa.PublicKey:
		if !pub.Equal(s.Public()) {
			t.Fatalf("%q: signer public key differs from the generated one", label)
		}
		d := sha256.Sum256(msg)
		sig, err := s.Sign(nil, d[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("%q: Sign: %v", label, err)
		}
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("%q: ecdsa signature does not verify", label)
		}
	default:
		t.Fatalf("%q: unexpected public key type %T", label, pub)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, amnesia := range []bool{false, true} {
		t.Run(fmt.Sprintf("amnesia=%v", amnesia), func(t *testing.T) {
			c := testConfig(t)
			c.Amnesia = amnesia
			b := mustOpen(t, c)
			msg := []byte("policy v7")

			edPub := mustGenerate(t, b, "acme/ed/v1", backend.Ed25519)
			signAndVerify(t, b, "acme/ed/v1", edPub, msg)
			pub, alg, err := b.PublicKey(ctx, "acme/ed/v1")
			if err != nil || alg != backend.Ed25519 || !edPub.(ed25519.PublicKey).Equal(pub) {
				t.Fatalf("PublicKey(ed) = %v, %q, %v", pub, alg, err)
			}

			ecPub := mustGenerate(t, b, "acme/ec/v1", backend.ECDSAP256)
			signAndVerify(t, b, "acme/ec/v1", ecPub, msg)
			pub, alg, err = b.PublicKey(ctx, "acme/ec/v1")
			if err != nil || alg != backend.ECDSAP256 || !ecPub.(*ecdsa.PublicKey).Equal(pub) {
				t.Fatalf("PublicKey(ec) = %v, %q, %v", pub, alg, err)
			}

			if pub := mustGenerate(t, b, "acme/aes/v1", backend.AES256GCM); pub != nil {
				t.Fatalf("GenerateKey(aes) public key = %v, want nil", pub)
			}
			pt, aad := []byte("data key"), []byte("tenant=acme")
			ct, err := b.Wrap(ctx, "acme/aes/v1", pt, aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != 12+len(pt)+16 || bytes.Contains(ct, pt) {
				t.Fatalf("Wrap output has length %d or holds the plaintext", len(ct))
			}
			ct2, _ := b.Wrap(ctx, "acme/aes/v1", pt, aad)
			if bytes.Equal(ct, ct2) {
				t.Fatal("two wraps of the same plaintext are equal: nonce not random")
			}
			got, err := b.Unwrap(ctx, "acme/aes/v1", ct, aad)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Unwrap = %q, %v", got, err)
			}
		})
	}
}

func TestPersistence(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	edPub := mustGenerate(t, b, "acme/ed/v1", backend.Ed25519)
	ecPub := mustGenerate(t, b, "acme/ec/v1", backend.ECDSAP256)
	mustGenerate(t, b, "audit", backend.Ed25519)
	mustGenerate(t, b, "acme/aes/v1", backend.AES256GCM)
	ct, err := b.Wrap(ctx, "acme/aes/v1", []byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := b.DeriveSeed(ctx, []byte("mldsa65/acme/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 { // twice: reopening must not disturb the files
		b := mustOpen(t, c)
		signAndVerify(t, b, "acme/ed/v1", edPub, []byte("after reopen"))
		signAndVerify(t, b, "acme/ec/v1", ecPub, []byte("after reopen"))
		if _, _, err := b.PublicKey(ctx, "audit"); err != nil {
			t.Fatalf("reopen %d: audit key: %v", i, err)
		}
		pt, err := b.Unwrap(ctx, "acme/aes/v1", ct, nil)
		if err != nil || string(pt) != "secret" {
			t.Fatalf("reopen %d: Unwrap = %q, %v", i, pt, err)
		}
		got, err := b.DeriveSeed(ctx, []byte("mldsa65/acme/v1"))
		if err != nil || got != seed {
			t.Fatalf("reopen %d: DeriveSeed changed across reopen (err %v)", i, err)
		}
		if _, err := b.GenerateKey(ctx, "acme/ed/v1", backend.Ed25519); !errors.Is(err, backend.ErrExists) {
			t.Fatalf("reopen %d: GenerateKey on a sealed label: %v, want ErrExists", i, err)
		}
		b.Close()
	}
}

func TestWrongPassphrase(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	mustGenerate(t, b, "acme/ed/v1", backend.Ed25519)
	b.Close()

	c.PassphraseFile = writePassphrase(t, testPassphrase+"!", 0o600)
	_, err := Open(ctx, c)
	if !errors.Is(err, ErrUnseal) {
		t.Fatalf("Open with a wrong passphrase: %v, want ErrUnseal", err)
	}
	if !strings.Contains(err.Error(), "wrong passphrase or corrupted sealed file") {
		t.Errorf("error %q does not say what went wrong", err)
	}
	if strings.Contains(err.Error(), testPassphrase) {
		t.Errorf("error %q contains the passphrase", err)
	}
}

func TestTrailingNewlineIsNotPassphrase(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	pub := mustGenerate(t, b, "acme/ed/v1", backend.Ed25519)
	b.Close()
	for _, content := range []string{testPassphrase, testPassphrase + "\r\n"} {
		c.PassphraseFile = writePassphrase(t, content, 0o600)
		b := mustOpen(t, c)
		signAndVerify(t, b, "acme/ed/v1", pub, []byte("m"))
		b.Close()
	}
	c.PassphraseFile = writePassphrase(t, testPassphrase+"\n\n", 0o600)
	if _, err := Open(ctx, c); !errors.Is(err, ErrUnseal) {
		t.Fatalf("a second trailing newline must be part of the passphrase; Open: %v", err)
	}
}

func TestPassphraseFile(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		wantErr       string // "" means Open succeeds
	}{
		{"0600", "pw", 0o600, ""},
		{"0400", "pw", 0o400, ""},
		{"group-readable", "pw", 0o640, "chmod 600"},
		{"group-writable", "pw", 0o620, "chmod 600"},
		{"other-readable", "pw", 0o604, "chmod 600"},
		{"world", "pw", 0o666, "chmod 600"},
		{"empty", "", 0o600, "empty"},
		{"newline-only", "\n", 0o600, "empty"},
		{"crlf-only", "\r\n", 0o600, "empty"},
		{"second-line-break", "\n\n", 0o600, ""},
		{"too-long", strings.Repeat("x", maxPassphrase+1), 0o600, "longer than"},
		{"longest", strings.Repeat("x", maxPassphrase), 0o600, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
			c.PassphraseFile = writePassphrase(t, tc.content, tc.mode)
			// CheckPassphraseFile, the check before start, agrees with Open.
			checkErr := CheckPassphraseFile(c.PassphraseFile)
			if (checkErr == nil) != (tc.wantErr == "") || (checkErr != nil && !strings.Contains(checkErr.Error(), tc.wantErr)) {
				t.Errorf("CheckPassphraseFile: %v, want an error containing %q", checkErr, tc.wantErr)
			}
			if checkErr != nil && !strings.Contains(checkErr.Error(), "passphrase file "+c.PassphraseFile) {
				t.Errorf("CheckPassphraseFile: %v does not name the passphrase file", checkErr)
			}
			b, err := Open(ctx, c)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				b.Close()
				return
			}
			if err == nil {
				b.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(c.Dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a rejected passphrase file still created the key directory (%v)", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		c := testConfig(t)
		c.PassphraseFile = filepath.Join(t.TempDir(), "nope")
		if err := CheckPassphraseFile(c.PassphraseFile); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CheckPassphraseFile with a missing passphrase file: %v", err)
		}
		if _, err := Open(ctx, c); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open with a missing passphrase file: %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		c := testConfig(t)
		c.PassphraseFile = t.TempDir()
		if _, err := Open(ctx, c); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Open with a directory for a passphrase file: %v", err)
		}
	})
	t.Run("unset", func(t *testing.T) {
		c := testConfig(t)
		c.PassphraseFile = ""
		if _, err := Open(ctx, c); err == nil || !strings.Contains(err.Error(), "PassphraseFile") {
			t.Fatalf("Open without a passphrase file: %v", err)
		}
	})
}

func TestDirPermissions(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	mustGenerate(t, b, "acme/ed/v1", backend.Ed25519)
	mustGenerate(t, b, "acme/aes/v1", backend.AES256GCM)
	b.Close()

	fi, err := os.Stat(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("key directory mode %04o, want 0700", perm)
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"seed-hmac.sealed": true, "acme~ed~v1.sealed": true, "acme~aes~v1.sealed": true}
	if len(entries) != len(want) {
		t.Errorf("directory holds %d entries, want %d", len(entries), len(want))
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("unexpected file %q (leftover temporary?)", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %04o, want 0600", e.Name(), perm)
		}
	}

	if err := os.Chmod(c.Dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, c); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("Open of a group-accessible directory: %v, want a chmod 700 hint", err)
	}

	c.Dir = c.PassphraseFile // a regular file
	if _, err := Open(ctx, c); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open of a file as directory: %v", err)
	}
}

func TestErrors(t *testing.T) {
	for _, amnesia := range []bool{false, true} {
		t.Run(fmt.Sprintf("amnesia=%v", amnesia), func(t *testing.T) {
			c := testConfig(t)
			c.Amnesia = amnesia
			b := mustOpen(t, c)
			mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
			mustGenerate(t, b, "t/ec/v1", backend.ECDSAP256)
			mustGenerate(t, b, "t/aes/v1", backend.AES256GCM)
			mustGenerate(t, b, "t/aes/v2", backend.AES256GCM)

			is := func(name string, err, want error) {
				t.Helper()
				if !errors.Is(err, want) {
					t.Errorf("%s: %v, want %v", name, err, want)
				} else if !strings.HasPrefix(err.Error(), "sealedfile: ") {
					t.Errorf("%s: error %q lacks the sealedfile: prefix", name, err)
				}
			}
			_, err := b.GenerateKey(ctx, "t/ed/v1", backend.Ed25519)
			is("GenerateKey existing", err, backend.ErrExists)
			_, err = b.GenerateKey(ctx, "t/ed/v1", backend.AES256GCM)
			is("GenerateKey existing, other alg", err, backend.ErrExists)
			_, err = b.GenerateKey(ctx, seedLabel, backend.Ed25519)
			is("GenerateKey seed-hmac", err, backend.ErrExists)
			_, err = b.GenerateKey(ctx, "t/rsa/v1", "rsa-2048")
			is("GenerateKey rsa", err, backend.ErrUnsupported)
			_, err = b.GenerateKey(ctx, "t/x/v1", algSeed)
			is("GenerateKey hkdf-sha256", err, backend.ErrUnsupported)

			_, err = b.Signer(ctx, "t/none/v1")
			is("Signer unknown", err, backend.ErrNotFound)
			_, _, err = b.PublicKey(ctx, "t/none/v1")
			is("PublicKey unknown", err, backend.ErrNotFound)
			_, err = b.Wrap(ctx, "t/none/v1", nil, nil)
			is("Wrap unknown", err, backend.ErrNotFound)
			_, err = b.Unwrap(ctx, "t/none/v1", make([]byte, 40), nil)
			is("Unwrap unknown", err, backend.ErrNotFound)

			_, err = b.Signer(ctx, "t/aes/v1")
			is("Signer aes", err, backend.ErrWrongAlgorithm)
			_, _, err = b.PublicKey(ctx, "t/aes/v1")
			is("PublicKey aes", err, backend.ErrWrongAlgorithm)
			_, err = b.Signer(ctx, seedLabel)
			is("Signer seed-hmac", err, backend.ErrWrongAlgorithm)
			_, err = b.Wrap(ctx, seedLabel, []byte("x"), nil)
			is("Wrap seed-hmac", err, backend.ErrWrongAlgorithm)
			for _, l := range []string{"t/ed/v1", "t/ec/v1"} {
				_, err = b.Wrap(ctx, l, []byte("x"), nil)
				is("Wrap "+l, err, backend.ErrWrongAlgorithm)
				_, err = b.Unwrap(ctx, l, make([]byte, 40), nil)
				is("Unwrap "+l, err, backend.ErrWrongAlgorithm)
			}

			ct, err := b.Wrap(ctx, "t/aes/v1", []byte("plaintext"), []byte("aad"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range ct {
				bad := bytes.Clone(ct)
				bad[i] ^= 0x01
				_, err = b.Unwrap(ctx, "t/aes/v1", bad, []byte("aad"))
				is(fmt.Sprintf("Unwrap with byte %d flipped", i), err, backend.ErrUnwrap)
			}
			_, err = b.Unwrap(ctx, "t/aes/v1", ct, []byte("aae"))
			is("Unwrap other aad", err, backend.ErrUnwrap)
			_, err = b.Unwrap(ctx, "t/aes/v1", ct, nil)
			is("Unwrap no aad", err, backend.ErrUnwrap)
			_, err = b.Unwrap(ctx, "t/aes/v2", ct, []byte("aad"))
			is("Unwrap other key", err, backend.ErrUnwrap)
			_, err = b.Unwrap(ctx, "t/aes/v1", ct[:27], []byte("aad"))
			is("Unwrap short", err, backend.ErrUnwrap)
			_, err = b.Unwrap(ctx, "t/aes/v1", nil, nil)
			is("Unwrap empty", err, backend.ErrUnwrap)

			for _, l := range []string{"", "../x", "t/../../x", "T/x/v1", "t/x/v0", "a/b/c/d", "/abs"} {
				if _, err := b.GenerateKey(ctx, l, backend.Ed25519); err == nil || !strings.Contains(err.Error(), "malformed key label") {
					t.Errorf("GenerateKey(%q): %v, want a malformed label error", l, err)
				}
				if _, err := b.Signer(ctx, l); err == nil || errors.Is(err, backend.ErrNotFound) {
					t.Errorf("Signer(%q): %v, want a malformed label error", l, err)
				}
			}

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := b.Signer(cancelled, "t/ed/v1"); !errors.Is(err, context.Canceled) {
				t.Errorf("Signer with a cancelled context: %v", err)
			}
			if _, err := b.DeriveSeed(cancelled, nil); !errors.Is(err, context.Canceled) {
				t.Errorf("DeriveSeed with a cancelled context: %v", err)
			}
		})
	}
}

func TestSignerOpts(t *testing.T) {
	b := mustOpen(t, testConfig(t))
	mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
	mustGenerate(t, b, "t/ec/v1", backend.ECDSAP256)
	ed, _ := b.Signer(ctx, "t/ed/v1")
	ec, _ := b.Signer(ctx, "t/ec/v1")
	d := sha256.Sum256([]byte("m"))

	for _, tc := range []struct {
		name string
		s    crypto.Signer
		msg  []byte
		opts crypto.SignerOpts
		ok   bool
	}{
		{"ed25519 hash 0", ed, []byte("m"), crypto.Hash(0), true},
		{"ed25519 options", ed, []byte("m"), &ed25519.Options{}, true},
		{"ed25519ph", ed, d[:], crypto.SHA512, false},
		{"ed25519ph options", ed, d[:], &ed25519.Options{Hash: crypto.SHA512}, false},
		{"ed25519ctx", ed, []byte("m"), &ed25519.Options{Context: "x"}, false},
		{"ed25519 nil opts", ed, []byte("m"), nil, false},
		{"ecdsa sha256", ec, d[:], crypto.SHA256, true},
		{"ecdsa sha384", ec, make([]byte, 48), crypto.SHA384, false},
		{"ecdsa sha512", ec, make([]byte, 64), crypto.SHA512, false},
		{"ecdsa hash 0", ec, []byte("m"), crypto.Hash(0), false},
		{"ecdsa hash 0, 32 bytes", ec, d[:], crypto.Hash(0), false},
		{"ecdsa sha3-256", ec, d[:], crypto.SHA3_256, false},
		{"ecdsa sha512/256", ec, d[:], crypto.SHA512_256, false},
		{"ecdsa short digest", ec, d[:20], crypto.SHA256, false},
		{"ecdsa long digest", ec, make([]byte, 33), crypto.SHA256, false},
	} {
		sig, err := tc.s.Sign(nil, tc.msg, tc.opts)
		if tc.ok != (err == nil) {
			t.Errorf("%s: Sign error %v, want ok=%v", tc.name, err, tc.ok)
		}
		if !tc.ok && (sig != nil || !strings.HasPrefix(err.Error(), "sealedfile: ")) {
			t.Errorf("%s: rejected Sign returned %x, %q", tc.name, sig, err)
		}
	}
}

func TestDeriveSeed(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	s1, err := b.DeriveSeed(ctx, []byte("mldsa65/acme/sign/v1"))
	if err != nil {
		t.Fatal(err)
	}
	s1again, _ := b.DeriveSeed(ctx, []byte("mldsa65/acme/sign/v1"))
	s2, _ := b.DeriveSeed(ctx, []byte("mldsa65/acme/sign/v2"))
	empty, _ := b.DeriveSeed(ctx, nil)
	if s1 != s1again {
		t.Error("DeriveSeed is not deterministic")
	}
	if s1 == s2 || s1 == empty || s2 == empty {
		t.Error("DeriveSeed gives the same seed for different info")
	}
	if s1 == ([32]byte{}) {
		t.Error("DeriveSeed returned zeros")
	}

	// The documented construction: HKDF-SHA256(IKM=secret, salt="", info, 32)
	// = HMAC(HMAC(0^32, secret), info || 0x01).
	b.mu.RLock()
	secret := bytes.Clone(b.keys[seedLabel].secret)
	b.mu.RUnlock()
	prk := hmac.New(sha256.New, make([]byte, 32))
	prk.Write(secret)
	okm := hmac.New(sha256.New, prk.Sum(nil))
	okm.Write([]byte("mldsa65/acme/sign/v1\x01"))
	if want := okm.Sum(nil); !bytes.Equal(s1[:], want) {
		t.Errorf("DeriveSeed = %x, want %x from the documented formula", s1, want)
	}
	b.Close()

	b = mustOpen(t, c)
	if got, _ := b.DeriveSeed(ctx, []byte("mldsa65/acme/sign/v1")); got != s1 {
		t.Error("DeriveSeed differs after reopen")
	}

	other := mustOpen(t, testConfig(t))
	if got, _ := other.DeriveSeed(ctx, []byte("mldsa65/acme/sign/v1")); got == s1 {
		t.Error("two backends derive the same seed: the secret is not random")
	}
}

func TestAmnesiaWritesNothing(t *testing.T) {
	root := t.TempDir()
	c := Config{
		Dir:            filepath.Join(root, "keys"), // must not be created
		PassphraseFile: filepath.Join(root, "no-such-passphrase"),
		Amnesia:        true,
	}
	b := mustOpen(t, c)
	edPub := mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
	ecPub := mustGenerate(t, b, "t/ec/v1", backend.ECDSAP256)
	mustGenerate(t, b, "t/aes/v1", backend.AES256GCM)
	signAndVerify(t, b, "t/ed/v1", edPub, []byte("m"))
	signAndVerify(t, b, "t/ec/v1", ecPub, []byte("m"))
	if _, err := b.Wrap(ctx, "t/aes/v1", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeriveSeed(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 0 {
		t.Fatalf("amnesia mode wrote %q", found)
	}

	b = mustOpen(t, c)
	if _, err := b.Signer(ctx, "t/ed/v1"); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("amnesia key survived Close: %v", err)
	}
}

// secrets returns every private byte string b holds, for scanning.
func secrets(t *testing.T, b *Backend) map[string][]byte {
	t.Helper()
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := map[string][]byte{"passphrase": []byte(testPassphrase)}
	for label, k := range b.keys {
		switch k.alg {
		case backend.Ed25519:
			out[label] = bytes.Clone(k.ed.Seed())
			out[label+" (expanded)"] = bytes.Clone(k.ed[:32])
		case backend.ECDSAP256:
			d, err := k.ec.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			out[label] = d
		default:
			out[label] = bytes.Clone(k.secret)
		}
	}
	for p, kek := range b.keks {
		out[fmt.Sprintf("kek %x", p.salt)] = bytes.Clone(kek[:])
	}
	if len(out) < 6 {
		t.Fatalf("only %d secrets to scan for", len(out))
	}
	return out
}

// encodings returns s as it might appear if leaked: raw, hex and base64.
func encodings(s []byte) [][]byte {
	h := hex.EncodeToString(s)
	return [][]byte{
		s, []byte(h), []byte(strings.ToUpper(h)),
		[]byte(base64.StdEncoding.EncodeToString(s)),
		[]byte(base64.RawURLEncoding.EncodeToString(s)),
		s[:16], s[16:], // half a key is still a leak
		[]byte(strings.Trim(fmt.Sprint(s), "[]")),                  // %v, %d
		[]byte(strings.TrimSuffix(fmt.Sprintf("%#v", s)[7:], "}")), // %#v
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	for _, alg := range []backend.Algorithm{backend.Ed25519, backend.ECDSAP256, backend.AES256GCM} {
		for i := range 3 {
			mustGenerate(t, b, fmt.Sprintf("t/%s/v%d", alg, i+1), alg)
		}
	}
	sec := secrets(t, b)

	scan := func(dir string) (leaks []string) {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for name, s := range sec {
				for _, enc := range encodings(s) {
					if bytes.Contains(data, enc) {
						leaks = append(leaks, fmt.Sprintf("%s in %s", name, filepath.Base(path)))
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return leaks
	}
	if leaks := scan(c.Dir); len(leaks) != 0 {
		t.Fatalf("private bytes on disk: %q", leaks)
	}

	// The scan itself must be able to find a leak.
	decoy := t.TempDir()
	os.WriteFile(filepath.Join(decoy, "x"), []byte("k="+hex.EncodeToString(sec["t/ecdsa-p256/v2"])), 0o600)
	if leaks := scan(decoy); len(leaks) == 0 {
		t.Fatal("scan missed a planted hex key")
	}
}

func TestFormatRedacts(t *testing.T) {
	b := mustOpen(t, testConfig(t))
	mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
	mustGenerate(t, b, "t/ec/v1", backend.ECDSAP256)
	mustGenerate(t, b, "t/aes/v1", backend.AES256GCM)
	sec := secrets(t, b)
	ed, _ := b.Signer(ctx, "t/ed/v1")
	ec, _ := b.Signer(ctx, "t/ec/v1")
	b.mu.RLock()
	k := b.keys["t/aes/v1"]
	b.mu.RUnlock()

	var out bytes.Buffer
	for _, v := range []any{b, ed, ec, k, *k} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
	}
	if !strings.Contains(out.String(), "sealedfile.Backend(") || !strings.Contains(out.String(), "redacted") {
		t.Fatalf("unexpected formatting:\n%s", out.String())
	}
	for name, s := range sec {
		for _, enc := range encodings(s) {
			if bytes.Contains(out.Bytes(), enc) {
				t.Errorf("formatting leaks %s", name)
			}
		}
	}
}

func TestClose(t *testing.T) {
	b := mustOpen(t, testConfig(t))
	mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
	mustGenerate(t, b, "t/ec/v1", backend.ECDSAP256)
	mustGenerate(t, b, "t/aes/v1", backend.AES256GCM)
	s, _ := b.Signer(ctx, "t/ed/v1")

	b.mu.RLock()
	ed := b.keys["t/ed/v1"].ed
	//lint:ignore SA1019 the test checks that Close zeroes the scalar's words
	ecD := b.keys["t/ec/v1"].ec.D
	aes := b.keys["t/aes/v1"].secret
	seed := b.keys[seedLabel].secret
	pass := b.pass
	var keks []*[32]byte
	for _, k := range b.keks {
		keks = append(keks, k)
	}
	b.mu.RUnlock()

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	zero := func(name string, s []byte) {
		if len(s) == 0 || !bytes.Equal(s, make([]byte, len(s))) {
			t.Errorf("%s not zeroed on Close (len %d)", name, len(s))
		}
	}
	zero("ed25519 key", ed)
	zero("aes key", aes)
	zero("seed secret", seed)
	zero("passphrase", pass)
	for _, kek := range keks {
		zero("kek", kek[:])
	}
	if len(keks) == 0 {
		t.Error("no key-encryption key cached")
	}
	for _, w := range ecD.Bits() {
		if w != 0 {
			t.Error("ecdsa scalar not zeroed on Close")
		}
	}

	if _, err := s.Sign(nil, []byte("m"), crypto.Hash(0)); !errors.Is(err, errClosed) {
		t.Errorf("Sign after Close: %v", err)
	}
	if _, err := b.Signer(ctx, "t/ed/v1"); !errors.Is(err, errClosed) {
		t.Errorf("Signer after Close: %v", err)
	}
	if _, err := b.GenerateKey(ctx, "t/new/v1", backend.Ed25519); !errors.Is(err, errClosed) {
		t.Errorf("GenerateKey after Close: %v", err)
	}
	if _, err := b.Wrap(ctx, "t/aes/v1", nil, nil); !errors.Is(err, errClosed) {
		t.Errorf("Wrap after Close: %v", err)
	}
	if _, err := b.DeriveSeed(ctx, nil); !errors.Is(err, errClosed) {
		t.Errorf("DeriveSeed after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestMissingSeedRefused(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
	b.Close()
	if err := os.Remove(filepath.Join(c.Dir, "seed-hmac.sealed")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Fatalf("Open without the backend secret: %v", err)
	}
	if _, statErr := os.Stat(filepath.Join(c.Dir, "seed-hmac.sealed")); statErr == nil {
		t.Fatal("Open created a new backend secret beside existing keys")
	}
}

func TestConfigRand(t *testing.T) {
	open := func(seed byte) *Backend {
		c := testConfig(t)
		c.Rand = mrand.NewChaCha8([32]byte{seed})
		return mustOpen(t, c)
	}
	a, b, other := open(1), open(1), open(2)
	var pubs []crypto.PublicKey
	var seeds [][32]byte
	for _, be := range []*Backend{a, b, other} {
		pubs = append(pubs, mustGenerate(t, be, "t/ed/v1", backend.Ed25519))
		mustGenerate(t, be, "t/ec/v1", backend.ECDSAP256)
		s, _ := be.DeriveSeed(ctx, []byte("x"))
		seeds = append(seeds, s)
	}
	if !pubs[0].(ed25519.PublicKey).Equal(pubs[1]) || seeds[0] != seeds[1] {
		t.Error("the same Config.Rand stream gave different keys: Rand is not the key source")
	}
	if pubs[0].(ed25519.PublicKey).Equal(pubs[2]) || seeds[0] == seeds[2] {
		t.Error("different Config.Rand streams gave the same keys")
	}
}

// flakyReader fails while fail is set.
type flakyReader struct{ fail atomic.Bool }

func (r *flakyReader) Read(p []byte) (int, error) {
	if r.fail.Load() {
		return 0, errors.New("entropy source unplugged")
	}
	return mrand.NewChaCha8([32]byte{byte(len(p))}).Read(p)
}

func TestRandFailure(t *testing.T) {
	c := testConfig(t)
	r := new(flakyReader)
	c.Rand = r
	b := mustOpen(t, c)
	mustGenerate(t, b, "t/aes/v1", backend.AES256GCM)

	r.fail.Store(true)
	for _, alg := range []backend.Algorithm{backend.Ed25519, backend.ECDSAP256, backend.AES256GCM} {
		if _, err := b.GenerateKey(ctx, "t/new/v1", alg); err == nil || !strings.Contains(err.Error(), "unplugged") {
			t.Errorf("GenerateKey(%s) with a failing Rand: %v", alg, err)
		}
	}
	if _, err := b.Wrap(ctx, "t/aes/v1", []byte("x"), nil); err == nil {
		t.Error("Wrap with a failing Rand succeeded")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "t~new~v1.sealed")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed GenerateKey left a file: %v", err)
	}
	r.fail.Store(false)
	mustGenerate(t, b, "t/new/v1", backend.Ed25519)

	r.fail.Store(true)
	c2 := testConfig(t)
	c2.Rand = r
	if _, err := Open(ctx, c2); err == nil {
		t.Error("Open of a new directory with a failing Rand succeeded")
	}
	c2.Amnesia = true
	if _, err := Open(ctx, c2); err == nil {
		t.Error("amnesia Open with a failing Rand succeeded")
	}
}

func TestScryptParams(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		c := testConfig(t)
		c.scryptLogN = 0
		b := mustOpen(t, c)
		mustGenerate(t, b, "t/ed/v1", backend.Ed25519)
		for _, name := range []string{"seed-hmac.sealed", "t~ed~v1.sealed"} {
			h := readHeader(t, filepath.Join(c.Dir, name))
			if h.kdf.logN != 15 || h.kdf.r != 8 || h.kdf.p != 1 {
				t.Errorf("%s: scrypt %d %d %d, want 15 8 1", name, h.kdf.logN, h.kdf.r, h.kdf.p)
			}
		}
	})

	t.Run("raised", func(t *testing.T) {
		c := testConfig(t)
		b := mustOpen(t, c)
		oldPub := mustGenerate(t, b, "t/old/v1", backend.Ed25519)
		b.Close()

		c.scryptLogN = testLogN + 1
		b = mustOpen(t, c)
		newPub := mustGenerate(t, b, "t/new/v1", backend.Ed25519)
		signAndVerify(t, b, "t/old/v1", oldPub, []byte("m"))
		b.Close()
		hOld := readHeader(t, filepath.Join(c.Dir, "t~old~v1.sealed"))
		hNew := readHeader(t, filepath.Join(c.Dir, "t~new~v1.sealed"))
		if hOld.kdf.logN != testLogN || hNew.kdf.logN != testLogN+1 {
			t.Errorf("logN old %d new %d, want %d and %d", hOld.kdf.logN, hNew.kdf.logN, testLogN, testLogN+1)
		}
		if hOld.kdf.salt == hNew.kdf.salt {
			t.Error("raised parameters reuse the old salt")
		}

		b = mustOpen(t, c)
		signAndVerify(t, b, "t/old/v1", oldPub, []byte("m"))
		signAndVerify(t, b, "t/new/v1", newPub, []byte("m"))
	})
}

func TestHeaderFields(t *testing.T) {
	c := testConfig(t)
	now := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))
	c.Now = func() time.Time { return now }
	b := mustOpen(t, c)
	mustGenerate(t, b, "acme/pay/v3", backend.ECDSAP256)
	h := readHeader(t, filepath.Join(c.Dir, "acme~pay~v3.sealed"))
	if h.label != "acme/pay/v3" || h.alg != backend.ECDSAP256 || !h.created.Equal(now.Truncate(time.Second)) {
		t.Errorf("header = %q %q %v", h.label, h.alg, h.created)
	}
	data, _ := os.ReadFile(filepath.Join(c.Dir, "acme~pay~v3.sealed"))
	if !bytes.Contains(data, []byte("\ncreated 2026-03-04T04:06:07Z\n---\n")) {
		t.Errorf("created line not in UTC whole seconds:\n%s", data)
	}
}

func readHeader(t *testing.T, path string) *header {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _, err := parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return h
}

func TestConcurrentUse(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	edPub := mustGenerate(t, b, "t/ed/v1", backend.Ed25519).(ed25519.PublicKey)
	ecPub := mustGenerate(t, b, "t/ec/v1", backend.ECDSAP256).(*ecdsa.PublicKey)
	mustGenerate(t, b, "t/aes/v1", backend.AES256GCM)
	b.Close()
	b = mustOpen(t, c) // cold cache: the first uses race to load

	var wg sync.WaitGroup
	var created atomic.Int32
	for g := range 16 {
		wg.Go(func() {
			for i := range 10 {
				msg := fmt.Appendf(nil, "goroutine %d message %d", g, i)
				ed, err := b.Signer(ctx, "t/ed/v1")
				if err != nil {
					t.Error(err)
					return
				}
				sig, err := ed.Sign(nil, msg, crypto.Hash(0))
				if err != nil || !ed25519.Verify(edPub, msg, sig) {
					t.Errorf("concurrent ed25519 sign: %v", err)
				}
				ec, err := b.Signer(ctx, "t/ec/v1")
				if err != nil {
					t.Error(err)
					return
				}
				d := sha256.Sum256(msg)
				sig, err = ec.Sign(nil, d[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(ecPub, d[:], sig) {
					t.Errorf("concurrent ecdsa sign: %v", err)
				}
				ct, err := b.Wrap(ctx, "t/aes/v1", msg, nil)
				if err != nil {
					t.Error(err)
				} else if pt, err := b.Unwrap(ctx, "t/aes/v1", ct, nil); err != nil || !bytes.Equal(pt, msg) {
					t.Errorf("concurrent unwrap: %v", err)
				}
				if _, err := b.DeriveSeed(ctx, msg); err != nil {
					t.Error(err)
				}
			}
			// Everyone races for one new label; exactly one may win.
			_, err := b.GenerateKey(ctx, "t/race/v1", backend.Ed25519)
			switch {
			case err == nil:
				created.Add(1)
			case !errors.Is(err, backend.ErrExists):
				t.Errorf("racing GenerateKey: %v", err)
			}
			if _, err := b.GenerateKey(ctx, fmt.Sprintf("t/g%d/v1", g), backend.ECDSAP256); err != nil {
				t.Errorf("GenerateKey of a fresh label: %v", err)
			}
		})
	}
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Fatalf("%d goroutines created t/race/v1, want exactly 1", n)
	}
}

// TestSharedDirectory checks that two backends on one directory (two
// processes, say) cannot overwrite each other's keys.
func TestSharedDirectory(t *testing.T) {
	c := testConfig(t)
	a := mustOpen(t, c)
	b := mustOpen(t, c)
	pub := mustGenerate(t, a, "t/ed/v1", backend.Ed25519)
	if _, err := b.GenerateKey(ctx, "t/ed/v1", backend.Ed25519); !errors.Is(err, backend.ErrExists) {
		t.Fatalf("second backend overwrote a key: %v", err)
	}
	// Bypass the existence check to reach the link: the file must survive.
	b.slow.Lock()
	err := b.store("t/ed/v1", backend.Ed25519, make([]byte, 32))
	b.slow.Unlock()
	if !errors.Is(err, backend.ErrExists) {
		t.Fatalf("store over an existing file: %v, want ErrExists", err)
	}
	signAndVerify(t, b, "t/ed/v1", pub, []byte("m"))
}

func TestNameAndInterfaces(t *testing.T) {
	b := mustOpen(t, Config{Amnesia: true})
	if b.Name() != "sealed-file" {
		t.Errorf("Name() = %q", b.Name())
	}
	if _, ok := any(b).(backend.Attester); ok {
		t.Error("a sealed file has nothing to attest; Backend must not be an Attester")
	}
}

func TestReadSealedBounded(t *testing.T) {
	c := testConfig(t)
	b := mustOpen(t, c)
	big := bytes.Repeat([]byte("x"), 1<<20)
	if err := os.WriteFile(filepath.Join(c.Dir, "t~big~v1.sealed"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Signer(ctx, "t/big/v1"); !errors.Is(err, ErrUnseal) {
		t.Fatalf("oversized file: %v", err)
	}
}
