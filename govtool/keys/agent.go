package keys

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// loadAgent connects to ssh-agent and picks the Ed25519 key that want names,
// or its only Ed25519 key.
func loadAgent(ctx context.Context, want expectation, opts LoadOptions) (Signer, error) {
	sock := opts.AgentSocket
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" {
		return nil, errors.New("keys: SSH_AUTH_SOCK is not set: start ssh-agent and ssh-add the key, or name a key file")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, fmt.Errorf("keys: connecting to ssh-agent: %w", err)
	}
	client := agent.NewClient(conn)
	list, err := client.List()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("keys: listing ssh-agent keys: %w", err)
	}
	var (
		found  []*agentSigner
		allIDs []string
		nEd    int
	)
	for _, k := range list {
		if k.Type() != ssh.KeyAlgoED25519 {
			continue
		}
		pub, err := agentEd25519(k)
		if err != nil {
			continue // the agent sent a key it cannot describe; not ours
		}
		nEd++
		allIDs = append(allIDs, envelope.KeyID(pub))
		if want.matches(pub) {
			found = append(found, &agentSigner{conn: conn, client: client, key: k, pub: pub})
		}
	}
	switch {
	case nEd == 0:
		conn.Close()
		return nil, errors.New("keys: ssh-agent holds no Ed25519 key: ssh-add one")
	case len(found) == 0:
		conn.Close()
		return nil, fmt.Errorf("%w: ssh-agent holds no key with id %s", ErrKeyMismatch, want.keyID)
	case len(found) > 1 && want.any():
		conn.Close()
		return nil, &AmbiguousKeyError{Where: "ssh-agent", KeyIDs: allIDs}
	}
	// Several entries with the requested id are one key added twice.
	return found[0], nil
}

// agentEd25519 returns the raw public key of an agent key of type
// ssh-ed25519.
func agentEd25519(k *agent.Key) (ed25519.PublicKey, error) {
	pk, err := ssh.ParsePublicKey(k.Blob)
	if err != nil {
		return nil, err
	}
	cpk, ok := pk.(ssh.CryptoPublicKey)
	if !ok {
		return nil, ErrNotEd25519
	}
	pub, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, ErrNotEd25519
	}
	return pub, nil
}

// agentSigner signs through ssh-agent. The agent client serialises
// requests on its one connection, so concurrent Sign calls are safe.
type agentSigner struct {
	mu     sync.RWMutex
	conn   net.Conn // nil after Close
	client agent.ExtendedAgent
	key    *agent.Key
	pub    ed25519.PublicKey
}

func (s *agentSigner) Public() crypto.PublicKey { return s.pub }

// Sign asks the agent to sign msg. For ssh-ed25519 the agent's signature
// blob is a plain RFC 8032 signature of msg (OpenSSH signs the data it is
// given, with no SSH framing): it is unwrapped, its format checked and
// verified before it is returned.
func (s *agentSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSignOpts(opts); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.conn == nil {
		return nil, ErrClosed
	}
	sig, err := s.client.Sign(s.key, msg)
	if err != nil {
		return nil, fmt.Errorf("keys: ssh-agent refused to sign with key %s: %w", shortID(s.pub), err)
	}
	if sig.Format != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("keys: ssh-agent answered with a %q signature, want %q", sig.Format, ssh.KeyAlgoED25519)
	}
	return verified("ssh-agent", s.pub, msg, sig.Blob)
}

func (s *agentSigner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

func (s *agentSigner) String() string {
	return fmt.Sprintf("ed25519 key %s (ssh-agent)", shortID(s.pub))
}

func (s *agentSigner) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

var _ Signer = (*agentSigner)(nil)
