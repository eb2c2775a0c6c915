// Package testvectors holds ron-kms's known-answer files (README.md says
// how to use them): canonical JSON, object digests and signed messages,
// and Ed25519 signature entries with their expected outcomes. They are
// data for other implementations as much as for this one; the types below
// decode them.
//
// The package imports nothing of ron-kms, so that the packages it checks
// can use the vectors in their own tests.
package testvectors

import "embed"

// Names of the vector files in FS.
const (
	CanonicalFile  = "canonical.json"
	DigestsFile    = "digests.json"
	SignaturesFile = "signatures.json"
)

// FS holds the vector files, as committed.
//
//go:embed *.json README.md
var FS embed.FS

// Expected outcomes ("expect") of negative vectors. The canonical.json
// values are the reasons of govtool/canon; the signatures.json values are
// the reasons of govtool/envelope and the threshold failure of
// govtool/quorum.
const (
	ExpectSyntax             = "syntax error"
	ExpectDuplicateKey       = "duplicate key"
	ExpectInvalidUTF8        = "invalid utf-8"
	ExpectLoneSurrogate      = "lone surrogate"
	ExpectNumberRange        = "number out of range"
	ExpectNonCanonicalNumber = "non-canonical number"
	ExpectTrailingData       = "trailing data"
	ExpectTooDeep            = "nesting too deep"

	ExpectMalformedEntry  = "malformed signature entry"
	ExpectBadSignature    = "signature does not verify"
	ExpectKeyMismatch     = "key_id does not match the public key"
	ExpectUnknownKey      = "key not in signer set"
	ExpectRoleMismatch    = "role does not match the signer set"
	ExpectDuplicate       = "key counted once"
	ExpectNotQuorum       = "role does not count toward quorum"
	ExpectThresholdNotMet = "threshold not met"
	ExpectBadPublicKey    = "invalid public key"
)

// Canonical is canonical.json.
type Canonical struct {
	Description string            `json:"description"`
	Vectors     []CanonicalVector `json:"vectors"`
}

// CanonicalVector is one case of canonical.json. Exactly one of Input,
// InputBase64 and IEEE754 is set. A positive vector has Canonical and
// CanonicalHex; a negative one has Expect (and Path, informative).
type CanonicalVector struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Mode is "ijson" (any I-JSON value; RFC 8785 applies as written),
	// "governance" (also: every number an integer written canonically) or
	// "number" (IEEE754 is the 16 hex digits of a double's bits; Canonical
	// is its RFC 8785 serialisation).
	Mode         string `json:"mode"`
	Input        string `json:"input,omitempty"`
	InputBase64  string `json:"input_base64,omitempty"`
	IEEE754      string `json:"ieee754,omitempty"`
	Canonical    string `json:"canonical,omitempty"`
	CanonicalHex string `json:"canonical_hex,omitempty"`
	Expect       string `json:"expect,omitempty"`
	Path         string `json:"path,omitempty"`
}

// Digests is digests.json.
type Digests struct {
	Description string         `json:"description"`
	Vectors     []DigestVector `json:"vectors"`
}

// DigestVector is one object: File is the file as it is committed (file
// form, with its signatures), Canonical the RFC 8785 bytes of the object
// without its top-level "signatures", Digest "sha256:" and the hex SHA-256
// of Canonical, Message the text an Ed25519 signature covers. LeafHash,
// for audit records only, is the RFC 6962 leaf hash SHA-256(0x00 ||
// Canonical) in hex, as the audit log writes it.
type DigestVector struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Source    string `json:"source"`
	File      string `json:"file"`
	Canonical string `json:"canonical"`
	Digest    string `json:"digest"`
	Message   string `json:"message"`
	LeafHash  string `json:"leaf_hash,omitempty"`
}

// Signatures is signatures.json.
type Signatures struct {
	Description string            `json:"description"`
	Keys        []Key             `json:"keys"`
	SignerSets  []NamedSignerSet  `json:"signer_sets"`
	Valid       []SignatureVector `json:"valid"`
	Invalid     []SignatureVector `json:"invalid"`
}

// Key is a test key. Seed is the 32-byte RFC 8032 secret key in hex: these
// keys are public test data and must never hold authority.
type Key struct {
	Name         string `json:"name"`
	Source       string `json:"source"`
	SeedHex      string `json:"seed_hex"`
	PublicKey    string `json:"public_key"`
	PublicKeyHex string `json:"public_key_hex"`
	KeyID        string `json:"key_id"`
	// RFC8032Message and RFC8032Signature, for the RFC's own keys, are the
	// RFC's test message and signature (hex), to prove the key is right.
	RFC8032Message   string `json:"rfc8032_message_hex,omitempty"`
	RFC8032Signature string `json:"rfc8032_signature_hex,omitempty"`
}

// NamedSignerSet is a signer set file (file form, with signatures).
type NamedSignerSet struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	File   string `json:"file"`
}

// Entry is a signature entry.
type Entry struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
	Sig   string `json:"sig"`
}

// SignatureVector is one case of signatures.json; Check says which fields
// it uses:
//
//   - "entry": verify Entry with the public key of Key over Message (built
//     from Type and Digest).
//   - "parse": decode EntryJSON as a signature entry, strictly.
//   - "public_key": decode PublicKey as a signer-set public key, strictly.
//   - "tally": count Entries over (Type, Digest) against SignerSet; Counted
//     is how many count toward its threshold, Rejected the reasons of the
//     entries that do not, in order.
//   - "rotation": SignerSet may follow Previous (DESIGN §2.2).
//
// Expect is empty for a valid vector and the expected outcome otherwise.
type SignatureVector struct {
	Name      string   `json:"name"`
	Check     string   `json:"check"`
	Type      string   `json:"type,omitempty"`
	Digest    string   `json:"digest,omitempty"`
	Message   string   `json:"message,omitempty"`
	Key       string   `json:"key,omitempty"`
	Entry     *Entry   `json:"entry,omitempty"`
	EntryJSON string   `json:"entry_json,omitempty"`
	PublicKey string   `json:"public_key,omitempty"`
	Entries   []Entry  `json:"entries,omitempty"`
	SignerSet string   `json:"signer_set,omitempty"`
	Previous  string   `json:"previous,omitempty"`
	Counted   *int     `json:"counted,omitempty"`
	Rejected  []string `json:"rejected,omitempty"`
	FailedSet string   `json:"failed_set,omitempty"`
	Expect    string   `json:"expect,omitempty"`
	Note      string   `json:"note,omitempty"`
}
