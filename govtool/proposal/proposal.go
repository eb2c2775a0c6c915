// Package proposal is the proposal object of a ron-kms governance repository
// (proposals/<id>.json, DESIGN §2.3): parsing, digest, id, action class and
// execution against the policy.
//
// The package is pure. A proposal names the signer set it was written for
// (version, digest, threshold, members); the verifier tallies its
// signatures against the signer set in force when it executes, which must be
// that one.
package proposal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// Type is the "type" of a proposal (and of its signed message).
const Type = "proposal"

// Dir is the folder of proposals in the governance repository.
const Dir = "proposals/"

// DefaultLifetime is how long a proposal may wait for execution.
const DefaultLifetime = 24 * time.Hour

// MaxLifetime bounds expires_at - created_at.
const MaxLifetime = 30 * 24 * time.Hour

// ScopeGlobal is the scope of a proposal that may touch the whole policy;
// "tenant:<NAME>" limits a proposal to /tenants/<NAME> (and to capability
// revocations).
const ScopeGlobal = "global"

var (
	// IDRE is the shape of a proposal id: YYYYMMDD-<slug>-<6 hex>, as
	// schemas/defs.json writes it.
	IDRE       = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/proposal_id"))
	slugRE     = regexp.MustCompile(`[^a-z0-9]+`)
	attachName = regexp.MustCompile(schemas.MustPattern("proposal.schema.json#/properties/attachments/items/properties/name"))
)

// printableASCII is ^[\x20-\x7e]*$ (the author pattern of the schema,
// which also wants one character at least).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// MaxIDLen bounds an id.
const MaxIDLen = 80

// Proposal is proposals/<id>.json.
type Proposal struct {
	Type        string               `json:"type"`
	ID          string               `json:"id"`
	Author      string               `json:"author"`
	Scope       string               `json:"scope"`
	Rationale   string               `json:"rationale"`
	Changeset   []policy.Op          `json:"changeset"`
	Risk        string               `json:"risk"`
	Rollback    string               `json:"rollback"`
	Quorum      Quorum               `json:"quorum"`
	SignerSet   SignerSetRef         `json:"signer_set"`
	Signatures  []envelope.Signature `json:"signatures"`
	CreatedAt   string               `json:"created_at"`
	ExpiresAt   string               `json:"expires_at"`
	Attachments []Attachment         `json:"attachments"`
}

// Quorum is what the author declares the proposal needs; the verifier
// requires it to equal what Classify computes, so signers see what they
// sign for.
type Quorum struct {
	Class    policy.Class `json:"class"`
	Required int          `json:"required"` // the threshold for sensitive, 1 otherwise
}

// SignerSetRef is the signer set a proposal was written for.
type SignerSetRef struct {
	Version   int         `json:"version"`
	Digest    string      `json:"digest"`
	Threshold int         `json:"threshold"`
	Members   []MemberRef `json:"members"`
	RotatedAt string      `json:"rotated_at"`
}

// MemberRef is a signer-set member as a proposal lists it.
type MemberRef struct {
	Role  string `json:"role"`
	KeyID string `json:"key_id"`
}

// Attachment is a supporting document, named and pinned by the SHA-256 of
// its bytes ("sha256:<hex>").
type Attachment struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// RefOf returns the reference to set (whose digest is digest) that a
// proposal written against it carries.
func RefOf(set *quorum.SignerSet, digest string) SignerSetRef {
	r := SignerSetRef{Version: set.Version, Digest: digest, Threshold: set.Threshold, RotatedAt: set.RotatedAt, Members: []MemberRef{}}
	for _, m := range set.Members {
		r.Members = append(r.Members, MemberRef{Role: m.Role, KeyID: m.KeyID})
	}
	return r
}

// Names reports whether r is RefOf(set, digest), without building it.
func (r SignerSetRef) Names(set *quorum.SignerSet, digest string) bool {
	if r.Version != set.Version || r.Digest != digest || r.Threshold != set.Threshold ||
		r.RotatedAt != set.RotatedAt || len(r.Members) != len(set.Members) {
		return false
	}
	for i, m := range set.Members {
		if r.Members[i] != (MemberRef{Role: m.Role, KeyID: m.KeyID}) {
			return false
		}
	}
	return true
}

// Equal reports whether two references are the same.
func (r SignerSetRef) Equal(o SignerSetRef) bool {
	return r.Version == o.Version && r.Digest == o.Digest && r.Threshold == o.Threshold &&
		r.RotatedAt == o.RotatedAt && slices.Equal(r.Members, o.Members)
}

// Error is a proposal that breaks a rule of its own.
type Error struct {
	ID     string
	Field  string
	Reason string
}

func (e *Error) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	if e.Field == "" {
		return fmt.Sprintf("proposal %s: %s", id, e.Reason)
	}
	return fmt.Sprintf("proposal %s: %s: %s", id, e.Field, e.Reason)
}

// Parse decodes a proposal strictly (canon.Unmarshal: I-JSON, no unknown
// fields, round trip), checks it against schemas/proposal.schema.json and
// validates it. It does not check signatures.
func Parse(data []byte) (*Proposal, error) {
	doc, err := canon.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("proposal: %w", err)
	}
	return ParseDocument(doc)
}

// ParseDocument is Parse for bytes already parsed with canon.ParseDocument,
// so that a caller that also checks their form and digests them parses them
// once. doc.Digest() is then the proposal's digest.
func ParseDocument(doc *canon.Document) (*Proposal, error) {
	var p Proposal
	if err := doc.Unmarshal(&p); err != nil {
		return nil, fmt.Errorf("proposal: %w", err)
	}
	if err := schemas.ValidateDocument(Type, doc); err != nil {
		return nil, fmt.Errorf("proposal: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Digest is the proposal's digest (signatures left out): what signers sign.
func (p *Proposal) Digest() (string, error) { return canon.DigestOf(p) }

// File returns the proposal's file form (proposals/<id>.json).
func (p *Proposal) File() ([]byte, error) { return canon.MarshalFile(p) }

// FilePath is the repository path of the proposal with id.
func FilePath(id string) string { return Dir + id + ".json" }

// IDFromPath returns the id of a proposals/<id>.json path.
func IDFromPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, Dir)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, ".json")
	if !ok || !IDRE.MatchString(id) || len(id) > MaxIDLen {
		return "", false
	}
	return id, true
}

// NewID returns a fresh id YYYYMMDD-<slug>-<6 hex> from the creation time, a
// title (reduced to a slug) and 3 bytes read from random.
func NewID(created time.Time, title string, random io.Reader) (string, error) {
	slug := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	if slug == "" {
		slug = "change"
	}
	var b [3]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("proposal: reading randomness: %w", err)
	}
	return created.UTC().Format("20060102") + "-" + slug + "-" + hex.EncodeToString(b[:]), nil
}

// AttachmentDigest is the digest form of an attachment's bytes.
func AttachmentDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return canon.DigestPrefix + hex.EncodeToString(sum[:])
}

// Validate checks the rules a proposal keeps on its own: field shapes,
// times, scope, and every changeset entry well formed and inside the scope.
func (p *Proposal) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &Error{ID: p.ID, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if p.Type != Type {
		return bad("type", "is %q, want %q", p.Type, Type)
	}
	if !IDRE.MatchString(p.ID) || len(p.ID) > MaxIDLen {
		return bad("id", "%q is not YYYYMMDD-<slug>-<6 hex>", p.ID)
	}
	for _, f := range [...]struct{ name, v string }{{"author", p.Author}, {"rationale", p.Rationale}, {"risk", p.Risk}, {"rollback", p.Rollback}} {
		if strings.TrimSpace(f.v) == "" {
			return bad(f.name, "must not be empty")
		}
		if len(f.v) > 8192 {
			return bad(f.name, "longer than 8192 bytes")
		}
	}
	if len(p.Author) > 200 || !printableASCII(p.Author) {
		return bad("author", "must be at most 200 printable ASCII characters")
	}
	tenant := ""
	if p.Scope != ScopeGlobal {
		name, ok := strings.CutPrefix(p.Scope, "tenant:")
		if !ok || !policy.TenantRE.MatchString(name) {
			return bad("scope", "%q is not \"global\" or \"tenant:<NAME>\"", p.Scope)
		}
		tenant = name
	}
	if len(p.Changeset) == 0 {
		return bad("changeset", "empty")
	}
	if len(p.Changeset) > policy.MaxOps {
		return bad("changeset", "%d entries, limit %d", len(p.Changeset), policy.MaxOps)
	}
	for i, o := range p.Changeset {
		if err := policy.CheckOp(o); err != nil {
			return bad(fmt.Sprintf("changeset[%d]", i), "%v", err)
		}
		if tenant != "" {
			segs, _ := policy.SplitPointer(o.Path)
			inTenant := len(segs) >= 2 && segs[0] == "tenants" && segs[1] == tenant
			if !inTenant && o.Path != "/revocations/capabilities" {
				return bad(fmt.Sprintf("changeset[%d]", i), "%s is outside scope %s", o.Path, p.Scope)
			}
		}
	}
	switch p.Quorum.Class {
	case policy.Sensitive, policy.Parameter, policy.Revocation:
	default:
		return bad("quorum.class", "%q is not sensitive, parameter or revocation", p.Quorum.Class)
	}
	if p.Quorum.Required < 1 {
		return bad("quorum.required", "must be 1 or more")
	}
	r := p.SignerSet
	if r.Version < 1 || r.Threshold < 1 || len(r.Members) == 0 || r.Threshold > len(r.Members) {
		return bad("signer_set", "version, threshold and members are required (threshold within the member count)")
	}
	if _, err := canon.ParseDigest(r.Digest); err != nil {
		return bad("signer_set.digest", "%v", err)
	}
	if _, err := quorum.ParseTime(r.RotatedAt); err != nil {
		return bad("signer_set.rotated_at", "%v", err)
	}
	for i, m := range r.Members {
		if !slices.Contains(quorum.AllRoles, m.Role) || !envelope.IsKeyID(m.KeyID) {
			return bad(fmt.Sprintf("signer_set.members[%d]", i), "role or key_id malformed")
		}
	}
	if p.Signatures == nil {
		return bad("signatures", "missing (use [])")
	}
	for i, s := range p.Signatures {
		if err := s.Validate(); err != nil {
			return bad(fmt.Sprintf("signatures[%d]", i), "%v", err)
		}
	}
	created, err := quorum.ParseTime(p.CreatedAt)
	if err != nil {
		return bad("created_at", "%v", err)
	}
	expires, err := quorum.ParseTime(p.ExpiresAt)
	if err != nil {
		return bad("expires_at", "%v", err)
	}
	if !expires.After(created) {
		return bad("expires_at", "must be after created_at")
	}
	if expires.Sub(created) > MaxLifetime {
		return bad("expires_at", "more than %s after created_at", MaxLifetime)
	}
	if created.Format("20060102") != p.ID[:8] {
		return bad("id", "date %s does not match created_at %s", p.ID[:8], p.CreatedAt)
	}
	if p.Attachments == nil {
		return bad("attachments", "missing (use [])")
	}
	names := map[string]bool{}
	for i, a := range p.Attachments {
		if !attachName.MatchString(a.Name) || strings.Contains(a.Name, "..") {
			return bad(fmt.Sprintf("attachments[%d].name", i), "%q is not a relative file name", a.Name)
		}
		if names[a.Name] {
			return bad(fmt.Sprintf("attachments[%d].name", i), "%q listed twice", a.Name)
		}
		names[a.Name] = true
		if _, err := canon.ParseDigest(a.Digest); err != nil {
			return bad(fmt.Sprintf("attachments[%d].digest", i), "%v", err)
		}
	}
	return nil
}

// Expired reports whether p may no longer be executed at t.
func (p *Proposal) Expired(t time.Time) bool {
	exp, err := quorum.ParseTime(p.ExpiresAt)
	return err != nil || t.After(exp)
}

// Classify returns the action class of p against prev, the policy it would
// be executed on. An unclassifiable changeset is a *policy.ClassError: the
// proposal is denied (K-G8).
func Classify(prev *policy.Policy, p *Proposal) (policy.Class, policy.Requirement, error) {
	r, err := policy.Classify(prev, p.Changeset)
	if err != nil {
		return "", policy.Requirement{}, err
	}
	return r.Class, r, nil
}

// Execute returns the policy that executing p at executedAt makes from
// prev: policy.Apply with applied {p.ID, p's digest, executedAt}. It checks
// neither signatures nor class: that is the verifier's job.
func Execute(prev *policy.Policy, p *Proposal, executedAt time.Time) (*policy.Policy, error) {
	d, err := p.Digest()
	if err != nil {
		return nil, err
	}
	return policy.Apply(prev, p.Changeset, policy.Applied{Proposal: p.ID, Digest: d, ExecutedAt: quorum.FormatTime(executedAt)})
}

// Template is what New needs besides the changeset.
type Template struct {
	ID, Author, Scope, Rationale, Risk, Rollback string
	Created                                      time.Time
	Lifetime                                     time.Duration // DefaultLifetime when 0
	Attachments                                  []Attachment
}

// New builds an unsigned proposal against prev and the signer set in force
// (set, whose digest is setDigest), with the quorum that Classify computes.
func New(t Template, ops []policy.Op, prev *policy.Policy, set *quorum.SignerSet, setDigest string) (*Proposal, error) {
	life := t.Lifetime
	if life == 0 {
		life = DefaultLifetime
	}
	atts := t.Attachments
	if atts == nil {
		atts = []Attachment{}
	}
	p := &Proposal{
		Type: Type, ID: t.ID, Author: t.Author, Scope: t.Scope, Rationale: t.Rationale,
		Changeset: ops, Risk: t.Risk, Rollback: t.Rollback,
		SignerSet:   RefOf(set, setDigest),
		Signatures:  []envelope.Signature{},
		CreatedAt:   quorum.FormatTime(t.Created),
		ExpiresAt:   quorum.FormatTime(t.Created.Add(life)),
		Attachments: atts,
	}
	r, err := policy.Classify(prev, ops)
	if err != nil {
		return nil, err
	}
	p.Quorum = Quorum{Class: r.Class, Required: r.Required(set)}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if _, err := Execute(prev, p, t.Created); err != nil {
		return nil, fmt.Errorf("proposal: the changeset does not apply to policy version %d: %w", prev.Version, err)
	}
	// Round trip, so that what New returns is exactly what Parse accepts.
	data, err := p.File()
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// ExecutionFiles returns the files the commit that executes p at
// executedAt must write, by repository path: policy/policy.json (the
// replay) and, for each appliance whose entry changes, appliances/<id>.json
// (nil: delete the file). A rotation also adds the signed
// signer-sets/NNNN.json, which the caller holds; the verifier requires it in
// the same commit.
func ExecutionFiles(prev *policy.Policy, p *Proposal, executedAt time.Time) (map[string][]byte, error) {
	next, err := Execute(prev, p, executedAt)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	if files[policy.Path], err = next.File(); err != nil {
		return nil, err
	}
	for id, a := range next.Appliances {
		if old, ok := prev.Appliances[id]; ok && old == a {
			continue
		}
		if files[policy.EnrollmentPath(id)], err = policy.EnrollmentOf(id, a).File(); err != nil {
			return nil, err
		}
	}
	for id := range prev.Appliances {
		if _, ok := next.Appliances[id]; !ok {
			files[policy.EnrollmentPath(id)] = nil
		}
	}
	return files, nil
}
