package sealedfile

import (
	"context"
	"crypto"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
)

var _ backend.Backend = (*Backend)(nil)

// ErrUnseal means a sealed file failed to open: the passphrase is wrong, or
// the file was altered, truncated, or copied under another key's name. The
// cases cannot be told apart, by design. It is a custodian fault.
var ErrUnseal = errors.New("sealedfile: wrong passphrase or corrupted sealed file")

var errClosed = errors.New("sealedfile: backend is closed")

const maxPassphrase = 1024

// Config configures Open.
type Config struct {
	// Dir holds the sealed files. Open creates it with mode 0700 if it is
	// missing and refuses one that group or others can access.
	Dir string
	// PassphraseFile names the file holding the passphrase (see the package
	// documentation). It must be mode 0600 or stricter and not empty.
	PassphraseFile string
	// Amnesia keeps everything in memory only: nothing is read from or
	// written to disk, Dir and PassphraseFile are ignored, and every key is
	// gone on Close. For demos and micronodes that want exactly that.
	Amnesia bool
	// Rand is the source of key material and nonces; nil means
	// crypto/rand.Reader. Reads from it are serialised.
	Rand io.Reader
	// Now stamps new sealed files; nil means time.Now.
	Now func() time.Time

	// scryptLogN overrides defaultLogN for new files; tests lower it.
	scryptLogN int
}

// Backend is the sealed-file key custodian. It is safe for concurrent use.
// It is not a backend.Attester: policy that requires attestation refuses
// sign on it.
type Backend struct {
	dir     string // "" in amnesia mode
	amnesia bool
	rand    io.Reader
	now     func() time.Time

	// slow serialises what may touch the disk or run scrypt: loading a key on
	// a cache miss, generating a key, and Close. It guards pass, keks and
	// write.
	slow  sync.Mutex
	pass  []byte
	keks  map[kdfParams]*[32]byte
	write kdfParams // scrypt parameters and salt for new files

	mu     sync.RWMutex // guards keys and closed, and the key bytes against Close
	keys   map[string]*key
	closed bool
}

// Open opens the sealed-file backend in c.Dir, creating the directory and the
// backend secret on first use, or an empty in-memory backend if c.Amnesia.
// It reads the passphrase and unseals the backend secret, so a wrong
// passphrase is reported here, as an error wrapping ErrUnseal.
func Open(ctx context.Context, c Config) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := &Backend{
		amnesia: c.Amnesia,
		rand:    c.Rand,
		now:     c.Now,
		keks:    make(map[kdfParams]*[32]byte),
		keys:    make(map[string]*key),
	}
	if b.rand == nil {
		b.rand = rand.Reader
	} else {
		b.rand = &lockedReader{r: c.Rand}
	}
	if b.now == nil {
		b.now = time.Now
	}
	if c.Amnesia {
		secret := make([]byte, secretSize)
		defer clear(secret)
		if _, err := io.ReadFull(b.rand, secret); err != nil {
			return nil, fmt.Errorf("sealedfile: reading random backend secret: %w", err)
		}
		k, _ := newKey(algSeed, secret)
		b.keys[seedLabel] = k
		return b, nil
	}

	b.write = kdfParams{logN: defaultLogN, r: defaultR, p: defaultP}
	if c.scryptLogN != 0 {
		b.write.logN = c.scryptLogN
	}
	if err := b.write.check(); err != nil {
		return nil, fmt.Errorf("sealedfile: %w", err)
	}
	pass, err := readPassphrase(c.PassphraseFile)
	if err != nil {
		return nil, err
	}
	b.pass = pass
	if err := prepareDir(c.Dir); err != nil {
		b.Close()
		return nil, err
	}
	b.dir = c.Dir
	if err := b.openSeed(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// openSeed unseals the backend secret, or creates it in a directory that
// holds no keys, and settles the salt for new files.
func (b *Backend) openSeed() error {
	b.slow.Lock()
	defer b.slow.Unlock()
	data, err := readSealed(b.path(seedLabel))
	if errors.Is(err, fs.ErrNotExist) {
		return b.createSeed()
	}
	if err != nil {
		return err
	}
	k, h, err := b.unseal(seedLabel, data)
	if err != nil {
		return err
	}
	b.keys[seedLabel] = k
	if h.kdf.logN == b.write.logN && h.kdf.r == b.write.r && h.kdf.p == b.write.p {
		b.write = h.kdf // reuse the derived KEK for new files
	} else if _, err := io.ReadFull(b.rand, b.write.salt[:]); err != nil {
		return fmt.Errorf("sealedfile: reading random salt: %w", err)
	}
	return nil
}

func (b *Backend) createSeed() error {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("sealedfile: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sealed") {
			return fmt.Errorf("sealedfile: %s holds sealed keys but no %s.sealed; restore it from a backup (a new backend secret would change every derived seed)", b.dir, seedLabel)
		}
	}
	if _, err := io.ReadFull(b.rand, b.write.salt[:]); err != nil {
		return fmt.Errorf("sealedfile: reading random salt: %w", err)
	}
	secret := make([]byte, secretSize)
	defer clear(secret)
	if _, err := io.ReadFull(b.rand, secret); err != nil {
		return fmt.Errorf("sealedfile: reading random backend secret: %w", err)
	}
	k, _ := newKey(algSeed, secret)
	if err := b.store(seedLabel, algSeed, secret); err != nil {
		k.zero()
		return err
	}
	b.keys[seedLabel] = k
	return nil
}

// Name returns "sealed-file".
func (b *Backend) Name() string { return "sealed-file" }

// GenerateKey makes a new key from Config.Rand and seals it to disk (unless
// in amnesia mode) before returning. It returns an error wrapping
// backend.ErrExists if the label is taken (including the reserved
// "seed-hmac"), backend.ErrUnsupported for an algorithm other than Ed25519,
// ECDSAP256 and AES256GCM. The public key is ed25519.PublicKey,
// *ecdsa.PublicKey, or nil for AES256GCM.
func (b *Backend) GenerateKey(ctx context.Context, label string, alg backend.Algorithm) (crypto.PublicKey, error) {
	if err := b.check(ctx, label); err != nil {
		return nil, err
	}
	switch alg {
	case backend.Ed25519, backend.ECDSAP256, backend.AES256GCM:
	default:
		return nil, fmt.Errorf("sealedfile: %w: %q", backend.ErrUnsupported, alg)
	}

	b.slow.Lock()
	defer b.slow.Unlock()
	b.mu.RLock()
	_, ok := b.keys[label]
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return nil, errClosed
	}
	if ok {
		return nil, fmt.Errorf("sealedfile: %q: %w", label, backend.ErrExists)
	}
	if !b.amnesia {
		if _, err := os.Lstat(b.path(label)); err == nil {
			return nil, fmt.Errorf("sealedfile: %q: %w", label, backend.ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sealedfile: %w", err)
		}
	}

	var secret []byte
	var err error
	if alg == backend.ECDSAP256 {
		secret, err = newScalar(b.rand)
	} else {
		secret = make([]byte, secretSize)
		_, err = io.ReadFull(b.rand, secret)
	}
	defer clear(secret)
	if err != nil {
		return nil, fmt.Errorf("sealedfile: reading random key: %w", err)
	}
	k, err := newKey(alg, secret)
	if err != nil {
		return nil, err
	}
	if !b.amnesia {
		if err := b.store(label, alg, secret); err != nil {
			k.zero()
			return nil, err
		}
	}
	b.mu.Lock()
	b.keys[label] = k
	b.mu.Unlock()
	return k.public(), nil
}

// PublicKey returns the public key and algorithm of a signing key. It
// returns an error wrapping backend.ErrNotFound for an unknown label and
// backend.ErrWrongAlgorithm for a key without a public half.
func (b *Backend) PublicKey(ctx context.Context, label string) (pub crypto.PublicKey, alg backend.Algorithm, err error) {
	err = b.withKey(ctx, label, func(k *key) error {
		if pub = k.public(); pub == nil {
			return fmt.Errorf("sealedfile: %q is not a signing key: %w", label, backend.ErrWrongAlgorithm)
		}
		alg = k.alg
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return pub, alg, nil
}

// Signer returns a crypto.Signer for label, whose Sign runs inside the
// backend and fails once the backend is closed. It returns an error wrapping
// backend.ErrNotFound for an unknown label and backend.ErrWrongAlgorithm for
// a key that does not sign.
func (b *Backend) Signer(ctx context.Context, label string) (crypto.Signer, error) {
	var s signer
	err := b.withKey(ctx, label, func(k *key) error {
		pub := k.public()
		if pub == nil {
			return fmt.Errorf("sealedfile: %q is not a signing key: %w", label, backend.ErrWrongAlgorithm)
		}
		s = signer{b: b, label: label, k: k, pub: pub}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

const gcmNonceSize = 12

// Wrap encrypts plaintext with AES-256-GCM under label, binding aad. The
// result is a random 12-byte nonce followed by the ciphertext and 16-byte
// tag. Random nonces bound a key to about 2^32 wraps; rotate to a new
// version long before. It returns an error wrapping backend.ErrNotFound or
// backend.ErrWrongAlgorithm as for Signer.
func (b *Backend) Wrap(ctx context.Context, label string, plaintext, aad []byte) ([]byte, error) {
	var out []byte
	err := b.withKey(ctx, label, func(k *key) error {
		if k.alg != backend.AES256GCM {
			return fmt.Errorf("sealedfile: %q is not an %s key: %w", label, backend.AES256GCM, backend.ErrWrongAlgorithm)
		}
		out = make([]byte, gcmNonceSize, gcmNonceSize+len(plaintext)+k.gcm.Overhead())
		if _, err := io.ReadFull(b.rand, out); err != nil {
			return fmt.Errorf("sealedfile: reading random nonce: %w", err)
		}
		out = k.gcm.Seal(out, out[:gcmNonceSize], plaintext, aad)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Unwrap reverses Wrap. A ciphertext or aad that fails authentication gives
// backend.ErrUnwrap; an unknown label or a key of another algorithm gives
// errors wrapping backend.ErrNotFound or backend.ErrWrongAlgorithm.
func (b *Backend) Unwrap(ctx context.Context, label string, ciphertext, aad []byte) ([]byte, error) {
	var out []byte
	err := b.withKey(ctx, label, func(k *key) error {
		if k.alg != backend.AES256GCM {
			return fmt.Errorf("sealedfile: %q is not an %s key: %w", label, backend.AES256GCM, backend.ErrWrongAlgorithm)
		}
		if len(ciphertext) < gcmNonceSize+k.gcm.Overhead() {
			return fmt.Errorf("sealedfile: %q: %w", label, backend.ErrUnwrap)
		}
		pt, err := k.gcm.Open(nil, ciphertext[:gcmNonceSize], ciphertext[gcmNonceSize:], aad)
		if err != nil {
			return fmt.Errorf("sealedfile: %q: %w", label, backend.ErrUnwrap)
		}
		out = pt
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeriveSeed returns HKDF-SHA256 of the backend secret with info (see the
// package documentation). It fails only when the backend is closed or ctx
// is done.
func (b *Backend) DeriveSeed(ctx context.Context, info []byte) ([32]byte, error) {
	var seed [32]byte
	if err := ctx.Err(); err != nil {
		return seed, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return seed, errClosed
	}
	out, err := hkdf.Key(sha256.New, b.keys[seedLabel].secret, nil, string(info), len(seed))
	if err != nil {
		return seed, fmt.Errorf("sealedfile: hkdf: %w", err)
	}
	copy(seed[:], out)
	clear(out)
	return seed, nil
}

// Close zeroes the keys, key-encryption keys and passphrase held in memory
// (see the package documentation for what cannot be reached). In amnesia
// mode the keys are then gone for good. Every later call fails, including
// Sign on signers already handed out. Close is idempotent.
func (b *Backend) Close() error {
	b.slow.Lock()
	defer b.slow.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, k := range b.keys {
		k.zero()
	}
	for _, kek := range b.keks {
		clear(kek[:])
	}
	clear(b.pass)
	b.keys, b.keks, b.pass = nil, nil, nil
	return nil
}

// String describes the backend without any secret.
func (b *Backend) String() string {
	if b.amnesia {
		return "sealedfile.Backend(amnesia)"
	}
	return fmt.Sprintf("sealedfile.Backend(%s)", b.dir)
}

// Format writes String for every verb, so that %#v cannot dump the fields.
func (b *Backend) Format(f fmt.State, _ rune) { io.WriteString(f, b.String()) }

// check validates what every keyed call starts with.
func (b *Backend) check(ctx context.Context, label string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := backend.CheckLabel(label); err != nil {
		return fmt.Errorf("sealedfile: %w", err)
	}
	return nil
}

// withKey runs f with the key for label, loading it on first use. f runs
// under the read lock, so Close cannot zero the key underneath it.
func (b *Backend) withKey(ctx context.Context, label string, f func(*key) error) error {
	if err := b.check(ctx, label); err != nil {
		return err
	}
	for loaded := false; ; loaded = true {
		b.mu.RLock()
		if b.closed {
			b.mu.RUnlock()
			return errClosed
		}
		if k, ok := b.keys[label]; ok {
			defer b.mu.RUnlock()
			return f(k)
		}
		b.mu.RUnlock()
		if loaded {
			return errClosed // only Close removes keys
		}
		if err := b.load(label); err != nil {
			return err
		}
	}
}

// load unseals label's file into the cache.
func (b *Backend) load(label string) error {
	b.slow.Lock()
	defer b.slow.Unlock()
	b.mu.RLock()
	_, ok := b.keys[label]
	closed := b.closed
	b.mu.RUnlock()
	if ok || closed {
		return nil // withKey looks again
	}
	notFound := fmt.Errorf("sealedfile: %q: %w", label, backend.ErrNotFound)
	if b.amnesia {
		return notFound
	}
	data, err := readSealed(b.path(label))
	if errors.Is(err, fs.ErrNotExist) {
		return notFound
	} else if err != nil {
		return err
	}
	k, _, err := b.unseal(label, data)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.keys[label] = k
	b.mu.Unlock()
	return nil
}

// unseal parses, authenticates and decrypts a sealed file that was looked
// up under label. Called with slow held.
func (b *Backend) unseal(label string, data []byte) (*key, *header, error) {
	name := filepath.Base(b.path(label))
	h, ad, body, err := parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s: %v)", ErrUnseal, name, err)
	}
	kek, err := b.kek(h.kdf)
	if err != nil {
		return nil, nil, err
	}
	secret, err := open(kek, ad, body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s: %v)", ErrUnseal, name, err)
	}
	defer clear(secret)
	if h.label != label {
		return nil, nil, fmt.Errorf("%w (%s: holds key %q)", ErrUnseal, name, h.label)
	}
	k, err := newKey(h.alg, secret)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%s: %v)", ErrUnseal, name, err)
	}
	return k, h, nil
}

// kek returns the key-encryption key for p, running scrypt on a cache miss.
// Called with slow held.
func (b *Backend) kek(p kdfParams) (*[32]byte, error) {
	if kek, ok := b.keks[p]; ok {
		return kek, nil
	}
	kek, err := deriveKEK(b.pass, p)
	if err != nil {
		return nil, err
	}
	b.keks[p] = kek
	return kek, nil
}

// store seals secret under label and writes it as a new file. Called with
// slow held.
func (b *Backend) store(label string, alg backend.Algorithm, secret []byte) error {
	kek, err := b.kek(b.write)
	if err != nil {
		return err
	}
	h := &header{kdf: b.write, label: label, alg: alg, created: b.now().UTC().Truncate(time.Second)}
	data, err := seal(kek, h, secret, b.rand)
	if err != nil {
		return err
	}
	if err := writeNew(b.dir, filepath.Base(b.path(label)), data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("sealedfile: %q: %w", label, backend.ErrExists)
		}
		return fmt.Errorf("sealedfile: writing %q: %w", label, err)
	}
	return nil
}

// path maps a checked label to its file: "/" becomes "~", which labels
// never contain.
func (b *Backend) path(label string) string {
	return filepath.Join(b.dir, strings.ReplaceAll(label, "/", "~")+".sealed")
}

// writeNew writes data to dir/name atomically and durably, failing with
// fs.ErrExist rather than replacing an existing file.
func writeNew(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, ".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readSealed reads a sealed file, refusing anything larger than a sealed
// file can be.
func readSealed(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("sealedfile: %w", err)
	}
	return data, nil
}

// prepareDir creates dir with mode 0700, or checks that an existing one is
// a directory that group and others cannot access.
func prepareDir(dir string) error {
	if dir == "" {
		return errors.New("sealedfile: no key directory configured (Config.Dir)")
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("sealedfile: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("sealedfile: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sealedfile: %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("sealedfile: key directory %s is accessible by group or others (mode %04o); run \"chmod 700 %s\"", dir, perm, dir)
	}
	return nil
}

// CheckPassphraseFile checks the passphrase file name by the rule Open
// applies to it (see the package documentation) and keeps nothing: the
// check to run before starting, so that a file Open would refuse is refused
// with the same reason. A passphrase that is only a line break is empty.
func CheckPassphraseFile(name string) error {
	p, err := readPassphrase(name)
	clear(p[:cap(p)])
	return err
}

// readPassphrase reads the passphrase file, which must be a regular file
// private to its owner (backend.CheckSecretFile) and not empty. One
// trailing "\n" or "\r\n" is dropped.
func readPassphrase(name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("sealedfile: no passphrase file configured (Config.PassphraseFile)")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("sealedfile: reading passphrase: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sealedfile: reading passphrase: %w", err)
	}
	if err := backend.CheckSecretFile(name, fi); err != nil {
		return nil, fmt.Errorf("sealedfile: passphrase file %w", err)
	}
	buf := make([]byte, maxPassphrase+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		clear(buf)
		return nil, fmt.Errorf("sealedfile: reading passphrase: %w", err)
	}
	if n > maxPassphrase {
		clear(buf)
		return nil, fmt.Errorf("sealedfile: passphrase file %s is longer than %d bytes", name, maxPassphrase)
	}
	p := buf[:n]
	if len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
		if len(p) > 0 && p[len(p)-1] == '\r' {
			p = p[:len(p)-1]
		}
	}
	if len(p) == 0 {
		clear(buf)
		return nil, fmt.Errorf("sealedfile: passphrase file %s is empty", name)
	}
	return p, nil
}

// lockedReader serialises reads from a caller's random source.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
