package envelope

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// Key is an Ed25519 public key made ready to verify entries: its key id
// computed once, not once per signature. A Key is immutable and safe for
// concurrent use.
type Key struct {
	id  string
	pub ed25519.PublicKey
}

// keys caches Keys: by raw public key for Verify, by the public_key string
// for ParseKey. A Key is a function of the public key alone, so a cached
// one is never stale. The maps are bounded and hold only public data.
var keys struct {
	sync.Mutex
	byRaw map[[ed25519.PublicKeySize]byte]*Key
	byB64 map[string]*Key
}

const maxKeys = 1024

// ParseKey is DecodePublicKey (which it calls for a string it has not seen)
// returning a Key. Signer-set members verify many entries each: quorum.Tally
// parses a member's key once per signature, and this makes that a lookup.
func ParseKey(s string) (*Key, error) {
	keys.Lock()
	k := keys.byB64[s]
	keys.Unlock()
	if k != nil {
		return k, nil
	}
	pub, err := DecodePublicKey(s)
	if err != nil {
		return nil, err
	}
	k = keyFor(pub)
	keys.Lock()
	if keys.byB64 == nil || len(keys.byB64) >= maxKeys {
		keys.byB64 = make(map[string]*Key)
	}
	keys.byB64[s] = k
	keys.Unlock()
	return k, nil
}

// keyFor returns the Key of a 32-byte public key.
func keyFor(pub ed25519.PublicKey) *Key {
	raw := [ed25519.PublicKeySize]byte(pub)
	keys.Lock()
	k := keys.byRaw[raw]
	keys.Unlock()
	if k != nil {
		return k
	}
	own := ed25519.PublicKey(raw[:]) // a copy: the caller may reuse pub
	k = &Key{id: KeyID(own), pub: own}
	keys.Lock()
	if keys.byRaw == nil || len(keys.byRaw) >= maxKeys {
		keys.byRaw = make(map[[ed25519.PublicKeySize]byte]*Key)
	}
	keys.byRaw[raw] = k
	keys.Unlock()
	return k
}

// ID is the key's key id (KeyID).
func (k *Key) ID() string { return k.id }

// Verify is Verify with k's public key.
func (k *Key) Verify(objType, digest string, s Signature) error {
	raw, err := s.validate()
	if err != nil {
		return err
	}
	return k.verify(objType, digest, s, &raw)
}

// verify checks an entry whose shape validate has accepted (raw is its
// signature): key id, then message, then the signature, in Verify's order.
func (k *Key) verify(objType, digest string, s Signature, raw *[ed25519.SignatureSize]byte) error {
	if k.id != s.KeyID {
		return &EntryError{Entry: s, Reason: ReasonKeyMismatch}
	}
	msg, err := message(objType, digest)
	if err != nil {
		return err
	}
	// Pure Ed25519 (RFC 8032) over the message itself: the check
	// sigstore's ED25519Verifier makes, without its readers and copies.
	if !ed25519.Verify(k.pub, msg, raw[:]) {
		return &EntryError{Entry: s, Reason: ReasonBadSignature, Detail: fmt.Sprintf("over %q", objType+" "+digest[:len(canon.DigestPrefix)+12]+"…")}
	}
	return nil
}

// message is Message without its parse of the digest: for a well-formed
// digest ("sha256:" and 64 lower-case hex digits) the hex in the message
// is the digest's own. Anything else goes to Message for its error.
func message(objType, digest string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(digest, canon.DigestPrefix)
	if !isType(objType) || !ok || !isLowerHex(hexPart, 64) {
		return Message(objType, digest)
	}
	msg := make([]byte, 0, len(Domain)+len(objType)+len(hexPart)+2)
	msg = append(msg, Domain...)
	msg = append(msg, ' ')
	msg = append(msg, objType...)
	msg = append(msg, ' ')
	return append(msg, hexPart...), nil
}

// isType is ^[a-z][a-z0-9_]{0,31}$, the envelope's own rule for a type
// (every schema kind must pass it: TestKindsAreTypes).
func isType(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// isRole is schemas/defs.json#/$defs/signature/properties/role
// (TestPatternsMatchSchemas holds it there).
func isRole(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// IsKeyID reports whether s is written as a key id: 64 lower-case hex
// digits (schemas/defs.json#/$defs/key_id). It says nothing of whose key.
func IsKeyID(s string) bool { return isLowerHex(s, 64) }

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// sigB64Len is the length of a 64-byte signature in padded base64.
const sigB64Len = 88

// decodeSig decodes s into raw if it is the canonical standard base64 of
// exactly 64 bytes, without allocating, and reports whether it was.
func decodeSig(raw *[ed25519.SignatureSize]byte, s string) bool {
	if len(s) != sigB64Len {
		return false
	}
	var in, again [sigB64Len]byte
	copy(in[:], s)
	var out [ed25519.SignatureSize + 2]byte
	n, err := base64.StdEncoding.Strict().Decode(out[:], in[:])
	if err != nil || n != ed25519.SignatureSize {
		return false
	}
	// As decodeB64: only the one encoding of these bytes (Decode skips
	// line breaks, so re-encode and compare).
	base64.StdEncoding.Encode(again[:], out[:n])
	if again != in {
		return false
	}
	copy(raw[:], out[:n])
	return true
}
