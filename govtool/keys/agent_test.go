package keys

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// startAgent runs a real ssh-agent on a fresh socket for the test and
// returns the socket path.
func startAgent(t *testing.T) string {
	t.Helper()
	bin := requireTool(t, "ssh-agent", "openssh-client")
	// Unix socket paths are short (108 bytes): use a short directory.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	cmd := exec.Command(bin, "-D", "-a", sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// ssh-agent binds its socket before it prints its environment, so the
	// first line means it is ready.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SSH_AUTH_SOCK=") {
		t.Fatalf("ssh-agent did not start: %q %v", line, err)
	}
	return sock
}

// sshAdd writes priv unencrypted (the agent test needs no prompt) and adds
// it to the agent with the real ssh-add.
func sshAdd(t *testing.T, sock string, key any) {
	t.Helper()
	bin := requireTool(t, "ssh-add", "openssh-client")
	block, err := ssh.MarshalPrivateKey(key, "agent-test")
	if err != nil {
		t.Fatal(err)
	}
	p := writeSecret(t, t.TempDir(), "k", string(pem.EncodeToMemory(block)))
	run(t, []string{"SSH_AUTH_SOCK=" + sock}, bin, "-q", p)
}

func TestAgentSigner(t *testing.T) {
	sock := startAgent(t)
	ctx := context.Background()

	if _, err := LoadSigner(ctx, SpecAgent, LoadOptions{AgentSocket: sock}); err == nil || !strings.Contains(err.Error(), "no Ed25519 key") {
		t.Fatalf("empty agent: got %v", err)
	}
	// Keys of other types are passed over.
	sshAdd(t, sock, mustECDSA(t))
	if _, err := LoadSigner(ctx, SpecAgent, LoadOptions{AgentSocket: sock}); err == nil || !strings.Contains(err.Error(), "no Ed25519 key") {
		t.Fatalf("agent with an ECDSA key only: got %v", err)
	}

	a, _ := Generate(nil)
	sshAdd(t, sock, a)
	aPub := a.Public().(ed25519.PublicKey)
	s := load(t, SpecAgent, LoadOptions{AgentSocket: sock})
	if !aPub.Equal(s.Public()) {
		t.Fatal("agent signer has another key")
	}
	checkSigns(t, s)

	// SSH_AUTH_SOCK is the default.
	t.Setenv("SSH_AUTH_SOCK", sock)
	checkSigns(t, load(t, SpecAgent, LoadOptions{}))

	// Two Ed25519 keys: one must be chosen.
	b, _ := Generate(nil)
	sshAdd(t, sock, b)
	bPub := b.Public().(ed25519.PublicKey)
	_, err := LoadSigner(ctx, SpecAgent, LoadOptions{AgentSocket: sock})
	var amb *AmbiguousKeyError
	if !errors.As(err, &amb) || len(amb.KeyIDs) != 2 {
		t.Fatalf("two keys, none chosen: got %v", err)
	}
	if !strings.Contains(err.Error(), envelope.KeyID(bPub)) {
		t.Errorf("message does not list the candidates: %v", err)
	}
	sb := load(t, SpecAgent, LoadOptions{AgentSocket: sock, KeyID: envelope.KeyID(bPub)})
	if !bPub.Equal(sb.Public()) {
		t.Fatal("KeyID picked the wrong agent key")
	}
	checkSigns(t, sb)
	sa := load(t, SpecAgent, LoadOptions{AgentSocket: sock, PublicKey: aPub})
	if !aPub.Equal(sa.Public()) {
		t.Fatal("PublicKey picked the wrong agent key")
	}
	c, _ := Generate(nil)
	if _, err := LoadSigner(ctx, SpecAgent, LoadOptions{AgentSocket: sock, PublicKey: c.Public().(ed25519.PublicKey)}); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("key not in agent: got %v", err)
	}

	// Concurrent signing over the one connection.
	signConcurrently(t, sb, bPub, 8, 10)

	sb.Close()
	if _, err := sb.Sign(nil, []byte("m"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v", err)
	}
}

func TestAgentNoSocket(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := LoadSigner(context.Background(), SpecAgent, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Fatalf("got %v", err)
	}
}
