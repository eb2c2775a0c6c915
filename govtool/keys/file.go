package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/crypto/ssh"
)

// maxKeyFile bounds what is read from a key or secret file.
const maxKeyFile = 64 << 10

// Generate makes a new Ed25519 key from rand (nil means crypto/rand).
func Generate(random io.Reader) (ed25519.PrivateKey, error) {
	if random == nil {
		random = rand.Reader
	}
	_, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return nil, fmt.Errorf("keys: generating a key: %w", err)
	}
	return priv, nil
}

// WriteOption changes how a key is written.
type WriteOption func(*writeConfig)

type writeConfig struct{ allowUnencrypted bool }

// AllowUnencryptedUnsafe lets an empty passphrase write the key in clear.
// Anyone who reads the file can then sign as its holder: meant for throw-away
// test keys only.
func AllowUnencryptedUnsafe() WriteOption {
	return func(c *writeConfig) { c.allowUnencrypted = true }
}

// WriteOpenSSH writes priv to w as an OpenSSH private key file, encrypted
// with passphrase (bcrypt KDF, aes256-ctr, as ssh-keygen does). An empty
// passphrase is refused unless AllowUnencryptedUnsafe is given. The comment
// is stored in the file and must be one line of printable text.
func WriteOpenSSH(w io.Writer, priv ed25519.PrivateKey, comment string, passphrase []byte, opts ...WriteOption) error {
	data, err := marshalOpenSSH(priv, comment, passphrase, opts)
	if err != nil {
		return err
	}
	defer clear(data)
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("keys: writing the key: %w", err)
	}
	return nil
}

func marshalOpenSSH(priv ed25519.PrivateKey, comment string, passphrase []byte, opts []WriteOption) ([]byte, error) {
	var cfg writeConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkPrivateKey(priv); err != nil {
		return nil, err
	}
	if err := checkComment(comment); err != nil {
		return nil, err
	}
	var (
		block *pem.Block
		err   error
	)
	if len(passphrase) == 0 {
		if !cfg.allowUnencrypted {
			return nil, errors.New("keys: refusing to write a key without a passphrase (only throw-away test keys may be written in clear, with AllowUnencryptedUnsafe)")
		}
		block, err = ssh.MarshalPrivateKey(priv, comment)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, comment, passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: encoding the key: %w", err)
	}
	data := pem.EncodeToMemory(block)
	clear(block.Bytes)
	return data, nil
}

// AuthorizedKey returns the public key as one OpenSSH line
// ("ssh-ed25519 AAAA… comment\n"), the content of the .pub file.
func AuthorizedKey(pub ed25519.PublicKey, comment string) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("keys: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if err := checkComment(comment); err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding the public key: %w", err)
	}
	line := bytes.TrimSuffix(ssh.MarshalAuthorizedKey(sshPub), []byte("\n"))
	if comment != "" {
		line = append(line, ' ')
		line = append(line, comment...)
	}
	return append(line, '\n'), nil
}

// WriteKeyFiles writes priv as an OpenSSH private key file at path (mode
// 0600) and its public line at path+".pub" (mode 0644). It never overwrites:
// when either file exists it returns an error wrapping fs.ErrExist and writes
// nothing. Passphrase rules are those of WriteOpenSSH.
func WriteKeyFiles(path string, priv ed25519.PrivateKey, comment string, passphrase []byte, opts ...WriteOption) error {
	data, err := marshalOpenSSH(priv, comment, passphrase, opts)
	if err != nil {
		return err
	}
	defer clear(data)
	pubLine, err := AuthorizedKey(priv.Public().(ed25519.PublicKey), comment)
	if err != nil {
		return err
	}
	pubPath := path + ".pub"
	for _, p := range []string{path, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("keys: %s already exists; keys are never overwritten: choose another path: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keys: %w", err)
		}
	}
	if err := createFile(path, data, 0o600); err != nil {
		return err
	}
	if err := createFile(pubPath, pubLine, 0o644); err != nil {
		os.Remove(path)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// createFile writes a new file, failing if it exists, and syncs it. On any
// failure after creating it the file is removed.
func createFile(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keys: %s already exists; keys are never overwritten: choose another path: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("keys: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("keys: writing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
}

func checkComment(c string) error {
	if len(c) > 256 {
		return errors.New("keys: key comment longer than 256 bytes")
	}
	for _, r := range c {
		if !unicode.IsPrint(r) {
			return errors.New("keys: key comment must be one line of printable text")
		}
	}
	return nil
}

// checkPrivateKey rejects a private key whose stored public half is not the
// one its seed gives. Signing with such a key would publish signatures under
// a wrong public key, and an attacker who controls that half can extract
// the seed from two of them.
func checkPrivateKey(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("keys: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	rebuilt := ed25519.NewKeyFromSeed(priv.Seed())
	defer clear(rebuilt)
	if !bytes.Equal(rebuilt[32:], priv[32:]) {
		return errors.New("keys: the private key's public half does not match its seed: the key is corrupt")
	}
	return nil
}

// loadFile opens a key file and returns a Signer for it.
func loadFile(ctx context.Context, path string, opts LoadOptions) (Signer, error) {
	if priv, ok := strings.CutSuffix(path, ".pub"); ok {
		// Read, a .pub file (mode 0644) would be refused as a secret others
		// may read, which hides the mix-up.
		return nil, fmt.Errorf("keys: %s is a public key file: name the private key file (%s) instead", path, priv)
	}
	data, err := ReadSecretFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	passphrase := func() ([]byte, error) {
		if opts.PassphraseFile != "" {
			return ReadPassphraseFile(opts.PassphraseFile)
		}
		p, err := opts.prompt()(ctx, fmt.Sprintf("passphrase for key file %s: ", path))
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, errors.New("keys: empty passphrase")
		}
		return p, nil
	}
	priv, err := ParsePrivateKey(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return newMemorySigner(priv, "key file "+path), nil
}

// ParsePrivateKey decodes an Ed25519 private key from an OpenSSH or PKCS#8
// PEM file. passphrase is called only when the file is encrypted; the slice
// it returns is zeroed after use. A wrong passphrase gives ErrWrongPassphrase,
// another key type ErrNotEd25519.
func ParsePrivateKey(data []byte, passphrase func() ([]byte, error)) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("keys: not a PEM key file (want an OpenSSH or PKCS#8 private key)")
	}
	defer clear(block.Bytes)
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("keys: data after the key block: a key file holds one key")
	}
	if _, legacy := block.Headers["Proc-Type"]; legacy || len(block.Headers) != 0 {
		return nil, errors.New("keys: legacy PEM encryption is not supported: convert the key with ssh-keygen -p")
	}
	var (
		raw any
		err error
	)
	switch block.Type {
	case "OPENSSH PRIVATE KEY":
		raw, err = ssh.ParseRawPrivateKey(data)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			if missing.PublicKey != nil && missing.PublicKey.Type() != ssh.KeyAlgoED25519 {
				return nil, fmt.Errorf("%w: the file holds a %s key", ErrNotEd25519, missing.PublicKey.Type())
			}
			var p []byte
			if p, err = passphrase(); err != nil {
				return nil, err
			}
			raw, err = ssh.ParseRawPrivateKeyWithPassphrase(data, p)
			clear(p)
			if errors.Is(err, x509.IncorrectPasswordError) {
				return nil, ErrWrongPassphrase
			}
		}
	case "PRIVATE KEY":
		raw, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		var p []byte
		if p, err = passphrase(); err != nil {
			return nil, err
		}
		raw, err = cryptoutils.UnmarshalPEMToPrivateKey(data, func(bool) ([]byte, error) { return p, nil })
		clear(p)
		if err != nil {
			// PKCS#8 PBES2 cannot tell a wrong passphrase from a damaged
			// file; the wrong passphrase is by far the likelier.
			return nil, fmt.Errorf("%w (or the file is damaged)", ErrWrongPassphrase)
		}
	default:
		return nil, fmt.Errorf("keys: unsupported key file type %q (want an OpenSSH or PKCS#8 private key)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: reading the key: %w", err)
	}
	var priv ed25519.PrivateKey
	switch k := raw.(type) {
	case *ed25519.PrivateKey:
		priv = *k
	case ed25519.PrivateKey:
		priv = k
	default:
		return nil, fmt.Errorf("%w: the file holds a %T", ErrNotEd25519, raw)
	}
	if err := checkPrivateKey(priv); err != nil {
		clear(priv)
		return nil, err
	}
	return priv, nil
}

// memorySigner holds a private key in this process.
type memorySigner struct {
	mu    sync.RWMutex
	priv  ed25519.PrivateKey // nil after Close
	pub   ed25519.PublicKey
	where string
}

// newMemorySigner takes ownership of priv: Close zeroes it.
func newMemorySigner(priv ed25519.PrivateKey, where string) *memorySigner {
	pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
	copy(pub, priv[32:])
	return &memorySigner{priv: priv, pub: pub, where: where}
}

func (s *memorySigner) Public() crypto.PublicKey { return s.pub }

func (s *memorySigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSignOpts(opts); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.priv == nil {
		return nil, ErrClosed
	}
	return verified(s.where, s.pub, msg, ed25519.Sign(s.priv, msg))
}

func (s *memorySigner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.priv)
	s.priv = nil
	return nil
}

func (s *memorySigner) String() string {
	return fmt.Sprintf("ed25519 key %s (%s)", shortID(s.pub), s.where)
}

// Format prints String() for every verb, so no %d or %#v can dump the key.
func (s *memorySigner) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

var _ Signer = (*memorySigner)(nil)
