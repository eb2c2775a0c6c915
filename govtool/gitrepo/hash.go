package gitrepo

import (
	"encoding/hex"
	"fmt"
)

// Hash is the SHA-1 name of a Git object. The zero Hash names no object.
//
// Only SHA-1 repositories are supported; go-git reads them with SHA-1
// collision detection (sha1cd), so an object crafted with a known collision
// attack is rejected rather than silently confused with another.
type Hash [20]byte

// ParseHash parses a full object name: exactly 40 lower-case hex digits.
// Abbreviations and upper case are rejected; use Repo.Resolve for those.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return Hash{}, fmt.Errorf("gitrepo: object name %q is not 40 hex digits", s)
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return Hash{}, fmt.Errorf("gitrepo: object name %q is not lower-case hex", s)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return Hash{}, fmt.Errorf("gitrepo: object name %q: %v", s, err)
	}
	return h, nil
}

// String returns the 40-digit lower-case hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, for messages.
func (h Hash) Short() string { return h.String()[:12] }

// IsZero reports whether h is the zero Hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseHash's rules.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
