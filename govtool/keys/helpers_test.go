package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// inCI reports whether the tests run under .ci/run, where a missing backend
// is a failure and not a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// requireTool returns the path of a program the test needs. Outside CI a
// missing program skips the test; under CI=true it fails it.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is not installed (Debian package %s): .ci/run must install it", name, pkg)
		}
		t.Skipf("%s is not installed (Debian package %s); skipped outside CI only", name, pkg)
	}
	return p
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// writeSecret writes a file readable only by its owner.
func writeSecret(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSigns signs a governance message with s through envelope.Sign and
// verifies it independently, with crypto/ed25519 and envelope.Verify.
func checkSigns(t *testing.T, s Signer) {
	t.Helper()
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok {
		t.Fatalf("Public() is %T, want ed25519.PublicKey", s.Public())
	}
	digest, err := canon.DigestBytes([]byte(`{"type":"proposal","id":"p-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	entry, err := envelope.Sign(s, "custodian", "proposal", digest)
	if err != nil {
		t.Fatalf("envelope.Sign: %v", err)
	}
	if err := envelope.Verify(pub, "proposal", digest, entry); err != nil {
		t.Fatalf("envelope.Verify: %v", err)
	}
	msg := []byte("ron-kms/v1 keys-test " + hex.EncodeToString([]byte(t.Name())))
	sig, err := s.Sign(nil, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		t.Fatal("signature does not verify with crypto/ed25519")
	}
	if ed25519.Verify(pub, append(msg, '!'), sig) {
		t.Fatal("signature verifies over another message")
	}
}

func load(t *testing.T, spec string, opts LoadOptions) Signer {
	t.Helper()
	s, err := LoadSigner(context.Background(), spec, opts)
	if err != nil {
		t.Fatalf("LoadSigner(%s): %v", spec, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustECDSA(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signConcurrently signs from several goroutines at once with s, each a run
// of distinct messages, and checks every signature against pub.
func signConcurrently(t *testing.T, s Signer, pub ed25519.PublicKey, goroutines, messages int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range messages {
				msg := fmt.Appendf(nil, "ron-kms/v1 proposal goroutine %d message %d", g, i)
				sig, err := s.Sign(nil, msg, nil)
				if err == nil && !ed25519.Verify(pub, msg, sig) {
					err = fmt.Errorf("goroutine %d message %d: signature does not verify", g, i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
