package cli

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// maxPubFile bounds what is read from a public key file.
const maxPubFile = 16 << 10

// parsePublicKey reads a signer's public key given as an OpenSSH public key
// line ("ssh-ed25519 AAAA… comment"), the path of a file holding one (a .pub
// file), or the raw base64 form of signer sets. Keys that are not Ed25519,
// not canonical or of small order are refused (envelope.DecodePublicKey).
func parsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("empty public key")
	case strings.HasPrefix(s, "ssh-"):
		return parseAuthorizedLine([]byte(s))
	}
	if fi, err := os.Stat(s); err == nil && fi.Mode().IsRegular() {
		f, err := os.Open(s)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxPubFile+1))
		if err != nil {
			return nil, err
		}
		if len(data) > maxPubFile {
			return nil, fmt.Errorf("%s is larger than %d bytes: not a public key file", s, maxPubFile)
		}
		pub, err := parseAuthorizedLine(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		return pub, nil
	}
	pub, err := envelope.DecodePublicKey(s)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a public key file, an ssh-ed25519 line nor the base64 of a 32-byte Ed25519 key: %w", abbreviate(s), err)
	}
	return pub, nil
}

func parseAuthorizedLine(data []byte) (ed25519.PublicKey, error) {
	k, _, _, rest, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("not an OpenSSH public key: %w", err)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("holds more than one public key")
	}
	if k.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("is a %s key; ron-kms signers use Ed25519 (ssh-ed25519)", k.Type())
	}
	ck, ok := k.(ssh.CryptoPublicKey)
	if !ok {
		return nil, errors.New("cannot read the Ed25519 key")
	}
	pub, ok := ck.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("cannot read the Ed25519 key")
	}
	// The same strict checks as a signer set's public_key field.
	return envelope.DecodePublicKey(envelope.EncodePublicKey(pub))
}

// parseSignerArg parses ROLE=PUBKEY into a signer-set member.
func parseSignerArg(arg string) (quorum.Member, error) {
	role, key, ok := strings.Cut(arg, "=")
	if !ok || role == "" || key == "" {
		return quorum.Member{}, fmt.Errorf("%q: want ROLE=PUBKEY (PUBKEY: a .pub file, an ssh-ed25519 line or base64)", abbreviate(arg))
	}
	if !slices.Contains(quorum.AllRoles, role) {
		return quorum.Member{}, fmt.Errorf("role %q: want one of %s", role, strings.Join(quorum.AllRoles, ", "))
	}
	pub, err := parsePublicKey(key)
	if err != nil {
		return quorum.Member{}, fmt.Errorf("%s: %w", role, err)
	}
	return memberOf(role, pub), nil
}

func memberOf(role string, pub ed25519.PublicKey) quorum.Member {
	return quorum.Member{Role: role, KeyID: envelope.KeyID(pub), PublicKey: envelope.EncodePublicKey(pub), Alg: quorum.AlgEd25519}
}

// parseKeyRef resolves a KEY_ID, or anything parsePublicKey reads, to a key id.
func parseKeyRef(s string) (string, error) {
	if len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
		return s, nil
	}
	pub, err := parsePublicKey(s)
	if err != nil {
		return "", err
	}
	return envelope.KeyID(pub), nil
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
