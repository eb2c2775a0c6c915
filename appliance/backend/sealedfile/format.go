package sealedfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

const (
	magic      = "ron-kms-sealed/v1"
	saltSize   = 16
	secretSize = 32
	// bodySize is nonce || ciphertext || tag for a 32-byte secret.
	bodySize = chacha20poly1305.NonceSizeX + secretSize + chacha20poly1305.Overhead
	// maxFileSize bounds what a reader will load; real files are ~200 bytes.
	maxFileSize = 1024

	defaultLogN = 15
	defaultR    = 8
	defaultP    = 1

	// algSeed marks the backend secret under seedLabel.
	algSeed   backend.Algorithm = "hkdf-sha256"
	seedLabel string            = "seed-hmac"
)

var b64 = base64.RawStdEncoding.Strict()

// kdfParams are the scrypt parameters and salt of a sealed file. They are
// comparable, so they key the cache of derived key-encryption keys.
type kdfParams struct {
	logN, r, p int
	salt       [saltSize]byte
}

func (k kdfParams) check() error {
	switch {
	case k.logN < 10 || k.logN > 22:
		return fmt.Errorf("scrypt logN %d out of range [10, 22]", k.logN)
	case k.r < 1 || k.r > 32:
		return fmt.Errorf("scrypt r %d out of range [1, 32]", k.r)
	case k.p < 1 || k.p > 16:
		return fmt.Errorf("scrypt p %d out of range [1, 16]", k.p)
	case k.r<<k.logN > 1<<23:
		return fmt.Errorf("scrypt r·N = %d·2^%d needs more than 1 GiB", k.r, k.logN)
	}
	return nil
}

// deriveKEK runs scrypt over the passphrase. It is slow by design.
func deriveKEK(passphrase []byte, k kdfParams) (*[32]byte, error) {
	salt := append([]byte(magic), k.salt[:]...)
	out, err := scrypt.Key(passphrase, salt, 1<<k.logN, k.r, k.p, 32)
	if err != nil {
		return nil, fmt.Errorf("sealedfile: scrypt: %w", err)
	}
	kek := new([32]byte)
	copy(kek[:], out)
	clear(out)
	return kek, nil
}

// header is the authenticated, unencrypted part of a sealed file.
type header struct {
	kdf     kdfParams
	label   string
	alg     backend.Algorithm
	created time.Time
}

// marshal returns the header exactly as stored; it is the AEAD's associated data.
func (h *header) marshal() []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s\n", magic)
	fmt.Fprintf(&buf, "scrypt %d %d %d %s\n", h.kdf.logN, h.kdf.r, h.kdf.p, b64.EncodeToString(h.kdf.salt[:]))
	fmt.Fprintf(&buf, "label %s\n", h.label)
	fmt.Fprintf(&buf, "alg %s\n", h.alg)
	fmt.Fprintf(&buf, "created %s\n", h.created.UTC().Format(time.RFC3339))
	buf.WriteString("---\n")
	return buf.Bytes()
}

// parse splits a sealed file into its header, the exact header bytes (the
// associated data) and the body. It checks form only; nothing is
// authenticated until open succeeds.
func parse(data []byte) (h *header, ad, body []byte, err error) {
	if len(data) > maxFileSize {
		return nil, nil, nil, errors.New("file too large")
	}
	rest := data
	line := func(prefix string) (string, error) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", errors.New("truncated header")
		}
		l := string(rest[:i])
		rest = rest[i+1:]
		v, ok := strings.CutPrefix(l, prefix)
		if !ok {
			return "", fmt.Errorf("malformed header line %q", l)
		}
		return v, nil
	}
	h = new(header)

	if v, err := line(magic); err != nil || v != "" {
		return nil, nil, nil, errors.New("not a ron-kms sealed file (bad magic line)")
	}

	v, err := line("scrypt ")
	if err != nil {
		return nil, nil, nil, err
	}
	f := strings.Split(v, " ")
	if len(f) != 4 {
		return nil, nil, nil, errors.New("malformed scrypt line")
	}
	for i, dst := range []*int{&h.kdf.logN, &h.kdf.r, &h.kdf.p} {
		if *dst, err = parseUint(f[i]); err != nil {
			return nil, nil, nil, fmt.Errorf("malformed scrypt line: %w", err)
		}
	}
	if err := h.kdf.check(); err != nil {
		return nil, nil, nil, err
	}
	salt, err := b64.DecodeString(f[3])
	if err != nil || len(salt) != saltSize || b64.EncodeToString(salt) != f[3] {
		return nil, nil, nil, errors.New("malformed scrypt salt")
	}
	copy(h.kdf.salt[:], salt)

	if h.label, err = line("label "); err != nil {
		return nil, nil, nil, err
	}
	if err := backend.CheckLabel(h.label); err != nil {
		return nil, nil, nil, err
	}

	alg, err := line("alg ")
	if err != nil {
		return nil, nil, nil, err
	}
	h.alg = backend.Algorithm(alg)
	switch h.alg {
	case backend.Ed25519, backend.ECDSAP256, backend.AES256GCM, algSeed:
	default:
		return nil, nil, nil, fmt.Errorf("unknown algorithm %q", alg)
	}
	if (h.label == seedLabel) != (h.alg == algSeed) {
		return nil, nil, nil, fmt.Errorf("algorithm %q not valid for label %q", h.alg, h.label)
	}

	created, err := line("created ")
	if err != nil {
		return nil, nil, nil, err
	}
	h.created, err = time.Parse(time.RFC3339, created)
	if err != nil || h.created.UTC().Format(time.RFC3339) != created {
		return nil, nil, nil, errors.New("malformed created time")
	}

	if v, err := line("---"); err != nil || v != "" {
		return nil, nil, nil, errors.New("malformed header end")
	}
	ad = data[:len(data)-len(rest)]
	if len(rest) != bodySize {
		return nil, nil, nil, fmt.Errorf("body is %d bytes, want %d", len(rest), bodySize)
	}
	return h, ad, rest, nil
}

// parseUint parses a canonical decimal: digits only, no leading zeros.
func parseUint(s string) (int, error) {
	if s == "" || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad number %q", s)
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// seal returns the sealed file for secret under kek.
func seal(kek *[32]byte, h *header, secret []byte, rand io.Reader) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return nil, err
	}
	ad := h.marshal()
	out := make([]byte, len(ad)+chacha20poly1305.NonceSizeX, len(ad)+bodySize)
	copy(out, ad)
	nonce := out[len(ad):]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("sealedfile: reading random nonce: %w", err)
	}
	return aead.Seal(out, nonce, secret, ad), nil
}

// open authenticates and decrypts a body parsed by parse.
func open(kek *[32]byte, ad, body []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(kek[:])
	if err != nil {
		return nil, err
	}
	nonce, ct := body[:chacha20poly1305.NonceSizeX], body[chacha20poly1305.NonceSizeX:]
	pt, err := aead.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, errors.New("authentication failed")
	}
	if len(pt) != secretSize {
		clear(pt)
		return nil, fmt.Errorf("secret is %d bytes, want %d", len(pt), secretSize)
	}
	return pt, nil
}

// newScalar reads a uniformly random P-256 private scalar from rand by
// rejection sampling (a 32-byte string is out of range with probability
// about 2^-32).
func newScalar(rand io.Reader) ([]byte, error) {
	b := make([]byte, secretSize)
	for range 64 {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, err
		}
		if _, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), b); err == nil {
			return b, nil
		}
	}
	clear(b)
	return nil, errors.New("random source keeps producing invalid P-256 scalars")
}
