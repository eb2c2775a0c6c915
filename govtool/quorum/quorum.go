// Package quorum holds signer sets and the rules that count signatures
// toward a threshold (DESIGN §2.2): each public key and each member counts at
// most once, only quorum roles count, and a new signer set needs a threshold
// of the old set and a threshold of itself.
package quorum

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/schemas"
)

// TypeSignerSet is the "type" of a signer set object.
const TypeSignerSet = "signer_set"

// GenesisPrevious is the "previous" digest of signer set version 1.
const GenesisPrevious = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Roles. Only QuorumRoles count toward a threshold.
const (
	RolePolicyOwner     = "policy-owner"
	RoleSecurityOfficer = "security-officer"
	RoleCustodian       = "custodian"
	RoleOwner           = "owner" // micronode profile
	RoleOperator        = "operator"
	RoleAuditor         = "auditor"
	RoleExternalAuditor = "external-auditor"
)

// QuorumRoles are the roles whose signatures count toward a threshold.
var QuorumRoles = []string{RolePolicyOwner, RoleSecurityOfficer, RoleCustodian, RoleOwner}

// AllRoles are the roles a signer set may list.
var AllRoles = append(slices.Clone(QuorumRoles), RoleOperator, RoleAuditor, RoleExternalAuditor)

// IsQuorumRole reports whether role counts toward a threshold.
func IsQuorumRole(role string) bool { return slices.Contains(QuorumRoles, role) }

// AlgEd25519 is the only signer algorithm.
const AlgEd25519 = "ed25519"

// Member is one key of a signer set.
type Member struct {
	Role      string `json:"role"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	Alg       string `json:"alg"`
}

// SignerSet is one version of the signer set (signer-sets/NNNN.json).
type SignerSet struct {
	Type       string               `json:"type"`
	Version    int                  `json:"version"`
	Members    []Member             `json:"members"`
	Threshold  int                  `json:"threshold"`
	RotatedAt  string               `json:"rotated_at"`
	ExpiresAt  string               `json:"expires_at"`
	Previous   string               `json:"previous"`
	Signatures []envelope.Signature `json:"signatures"`
}

// DefaultLifetime is how long a signer set signs (quarterly).
const DefaultLifetime = 92 * 24 * time.Hour

// ThresholdError says a threshold was not met.
type ThresholdError struct {
	Got, Want int
	// Missing names the quorum roles that have not signed.
	Missing []string
}

func (e *ThresholdError) Error() string {
	msg := fmt.Sprintf("quorum: threshold not met: %d of %d", e.Got, e.Want)
	if len(e.Missing) > 0 {
		msg += " (not signed: " + strings.Join(e.Missing, ", ") + ")"
	}
	return msg
}

// SetError is a signer set that is malformed or breaks a rule.
type SetError struct {
	Version int
	Reason  string
}

func (e *SetError) Error() string {
	return fmt.Sprintf("quorum: signer set version %d: %s", e.Version, e.Reason)
}

// ErrExpired marks a signer set used past its expiry.
var ErrExpired = errors.New("quorum: signer set expired")

// Parse decodes a signer set strictly (canon.Unmarshal: I-JSON, no unknown
// fields, round trip), checks it against schemas/signer_set.schema.json and
// validates it, so that it refuses every file the verifier refuses on its
// own. It does not check signatures. A schema violation is a
// *schemas.Error, a broken rule a *SetError.
func Parse(data []byte) (*SignerSet, error) {
	doc, err := canon.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("quorum: signer set: %w", err)
	}
	return ParseDocument(doc)
}

// ParseDocument is Parse for bytes already parsed with canon.ParseDocument,
// so that a caller that also checks their form and digests them parses them
// once. doc.Digest() is then the signer set's digest.
func ParseDocument(doc *canon.Document) (*SignerSet, error) {
	var s SignerSet
	if err := doc.Unmarshal(&s); err != nil {
		return nil, fmt.Errorf("quorum: signer set: %w", err)
	}
	if err := schemas.ValidateDocument(TypeSignerSet, doc); err != nil {
		return nil, fmt.Errorf("quorum: signer set version %d: %w", s.Version, err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Digest is the signer set's digest (signatures left out).
func (s *SignerSet) Digest() (string, error) { return canon.DigestOf(s) }

// Validate checks the rules a signer set must keep on its own.
func (s *SignerSet) Validate() error {
	bad := func(format string, args ...any) error {
		return &SetError{Version: s.Version, Reason: fmt.Sprintf(format, args...)}
	}
	if s.Type != TypeSignerSet {
		return bad("type is %q, want %q", s.Type, TypeSignerSet)
	}
	if s.Version < 1 {
		return bad("version must be 1 or more")
	}
	if s.Version == 1 && s.Previous != GenesisPrevious {
		return bad("version 1 must have previous %s", GenesisPrevious)
	}
	if _, err := canon.ParseDigest(s.Previous); err != nil {
		return bad("previous: %v", err)
	}
	rot, err := ParseTime(s.RotatedAt)
	if err != nil {
		return bad("rotated_at: %v", err)
	}
	exp, err := ParseTime(s.ExpiresAt)
	if err != nil {
		return bad("expires_at: %v", err)
	}
	if !exp.After(rot) {
		return bad("expires_at must be after rotated_at")
	}
	if len(s.Members) == 0 {
		return bad("no members")
	}
	seen := map[string]bool{}
	quorumMembers := 0
	for i, m := range s.Members {
		if !slices.Contains(AllRoles, m.Role) {
			return bad("member %d: unknown role %q (roles: %s)", i, m.Role, strings.Join(AllRoles, ", "))
		}
		if m.Alg != AlgEd25519 {
			return bad("member %d: alg %q, want %q", i, m.Alg, AlgEd25519)
		}
		pub, err := envelope.DecodePublicKey(m.PublicKey)
		if err != nil {
			return bad("member %d: %v", i, err)
		}
		if envelope.KeyID(pub) != m.KeyID {
			return bad("member %d: key_id does not match public_key", i)
		}
		if seen[m.KeyID] {
			return bad("member %d: key %s listed twice (a key holds one role)", i, m.KeyID[:12])
		}
		seen[m.KeyID] = true
		if IsQuorumRole(m.Role) {
			quorumMembers++
		}
	}
	if s.Threshold < 1 {
		return bad("threshold must be 1 or more")
	}
	if s.Threshold > quorumMembers {
		return bad("threshold %d is more than the %d quorum members", s.Threshold, quorumMembers)
	}
	return nil
}

// Member returns the member with key id, if any.
func (s *SignerSet) Member(keyID string) (Member, bool) {
	for _, m := range s.Members {
		if m.KeyID == keyID {
			return m, true
		}
	}
	return Member{}, false
}

// Expired reports whether the set may no longer sign at time t.
func (s *SignerSet) Expired(t time.Time) bool {
	exp, err := ParseTime(s.ExpiresAt)
	return err != nil || !t.Before(exp)
}

// Tally is the outcome of checking an object's signatures against a set.
type Tally struct {
	// Counted are the entries that count toward the threshold: valid, by a
	// quorum-role member, first entry of each key.
	Counted []envelope.Signature
	// Valid are all entries that verify against a member with its role,
	// including non-quorum roles and duplicates.
	Valid []envelope.Signature
	// Rejected are the entries that do not count, each with its reason.
	Rejected []*envelope.EntryError
	// Want is the set's threshold.
	Want int
	// Missing are the quorum members (role and key id) that have not signed.
	Missing []Member
}

// Met reports whether the threshold is met.
func (t *Tally) Met() bool { return len(t.Counted) >= t.Want }

// Err returns a *ThresholdError when the threshold is not met.
func (t *Tally) Err() error {
	if t.Met() {
		return nil
	}
	roles := []string{}
	for _, m := range t.Missing {
		if !slices.Contains(roles, m.Role) {
			roles = append(roles, m.Role)
		}
	}
	return &ThresholdError{Got: len(t.Counted), Want: t.Want, Missing: roles}
}

// Tally checks every entry of sigs over the object (objType, digest). The
// set must have passed Validate.
func (s *SignerSet) Tally(objType, digest string, sigs []envelope.Signature) *Tally {
	t := &Tally{Want: s.Threshold}
	counted := map[string]bool{}
	for _, e := range sigs {
		m, ok := s.Member(e.KeyID)
		if !ok {
			t.Rejected = append(t.Rejected, &envelope.EntryError{Entry: e, Reason: envelope.ReasonUnknownKey})
			continue
		}
		if e.Role != m.Role {
			t.Rejected = append(t.Rejected, &envelope.EntryError{Entry: e, Reason: envelope.ReasonRoleMismatch,
				Detail: fmt.Sprintf("key is a %s", m.Role)})
			continue
		}
		// ParseKey is DecodePublicKey, made once per key rather than once
		// per signature (its key id computed once).
		k, err := envelope.ParseKey(m.PublicKey)
		if err != nil { // Validate excludes this
			t.Rejected = append(t.Rejected, &envelope.EntryError{Entry: e, Reason: envelope.ReasonMalformed, Detail: err.Error()})
			continue
		}
		if err := k.Verify(objType, digest, e); err != nil {
			var ee *envelope.EntryError
			if errors.As(err, &ee) {
				t.Rejected = append(t.Rejected, ee)
			} else {
				t.Rejected = append(t.Rejected, &envelope.EntryError{Entry: e, Reason: envelope.ReasonMalformed, Detail: err.Error()})
			}
			continue
		}
		t.Valid = append(t.Valid, e)
		switch {
		case !IsQuorumRole(m.Role):
			t.Rejected = append(t.Rejected, &envelope.EntryError{Entry: e, Reason: envelope.ReasonNotQuorum})
		case counted[m.KeyID]:
			t.Rejected = append(t.Rejected, &envelope.EntryError{Entry: e, Reason: envelope.ReasonDuplicate})
		default:
			counted[m.KeyID] = true
			t.Counted = append(t.Counted, e)
		}
	}
	for _, m := range s.Members {
		if IsQuorumRole(m.Role) && !counted[m.KeyID] {
			t.Missing = append(t.Missing, m)
		}
	}
	return t
}

// VerifyNext checks that next may follow prev (whose digest is prevDigest):
// version exactly +1, linked by digest, rotated while prev was in force, and
// signed by a threshold of prev and a threshold of next.
func VerifyNext(prev *SignerSet, prevDigest string, next *SignerSet) error {
	if err := next.Validate(); err != nil {
		return err
	}
	if next.Version != prev.Version+1 {
		return &SetError{Version: next.Version, Reason: fmt.Sprintf("version must be %d (previous + 1)", prev.Version+1)}
	}
	if next.Previous != prevDigest {
		return &SetError{Version: next.Version, Reason: "previous does not name the digest of version " + fmt.Sprint(prev.Version)}
	}
	rot, _ := ParseTime(next.RotatedAt)
	if prevRot, err := ParseTime(prev.RotatedAt); err != nil || rot.Before(prevRot) {
		return &SetError{Version: next.Version, Reason: fmt.Sprintf("rotated at %s, before version %d was (%s)", next.RotatedAt, prev.Version, prev.RotatedAt)}
	}
	if prev.Expired(rot) {
		return &SetError{Version: next.Version, Reason: fmt.Sprintf("rotated at %s, after version %d expired at %s (recover from the pinned root with a new genesis)", next.RotatedAt, prev.Version, prev.ExpiresAt)}
	}
	digest, err := next.Digest()
	if err != nil {
		return err
	}
	if err := prev.Tally(TypeSignerSet, digest, next.Signatures).Err(); err != nil {
		return fmt.Errorf("quorum: signer set version %d: old set (version %d): %w", next.Version, prev.Version, err)
	}
	if err := next.Tally(TypeSignerSet, digest, next.Signatures).Err(); err != nil {
		return fmt.Errorf("quorum: signer set version %d: new set: %w", next.Version, err)
	}
	return nil
}

// ParseTime parses an RFC 3339 time that must be in UTC ("Z").
func ParseTime(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, fmt.Errorf("time %q must be RFC 3339 in UTC (ending in Z)", s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not RFC 3339", s)
	}
	return t, nil
}

// FormatTime writes t as RFC 3339 UTC, whole seconds.
func FormatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// PublicKey returns a member's Ed25519 key.
func (m Member) PublicKeyBytes() (ed25519.PublicKey, error) {
	return envelope.DecodePublicKey(m.PublicKey)
}
