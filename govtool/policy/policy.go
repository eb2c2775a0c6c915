// Package policy is the effective policy of a ron-kms governance repository
// (policy/policy.json, DESIGN §2.5): its document, its validation, the
// changeset operations that proposals carry, and the action class of each
// change (DESIGN §2.4).
//
// The package is pure. Version 1 is built by Genesis and authorised by a
// threshold of signer set version 1 (its "signatures"); every later version
// is derived: Apply(prev, ops, applied) is the only way to make it, and the
// verifier requires the file in the repository to equal that replay byte for
// byte.
package policy

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// Type is the "type" of a policy document (and of the signed message of
// version 1).
const Type = "policy"

// Path is where the policy lives in the governance repository.
const Path = "policy/policy.json"

// Profiles.
const (
	ProfileProduction = "production"
	ProfileMicronode  = "micronode"
)

// Profiles lists the valid profiles.
var Profiles = []string{ProfileProduction, ProfileMicronode}

// PQ modes, weakest to strongest (DESIGN §3).
const (
	PQOff       = "off"
	PQHybridOr  = "hybrid_or"
	PQHybridAnd = "hybrid_and"
	PQOnly      = "pq_only"
)

// PQModes lists the valid PQ modes, weakest first.
var PQModes = []string{PQOff, PQHybridOr, PQHybridAnd, PQOnly}

// Backend kinds.
const (
	BackendSealedFile = "sealed-file"
	BackendPKCS11     = "pkcs11"
	BackendTPM        = "tpm"
)

// BackendKinds lists the valid backend kinds.
var BackendKinds = []string{BackendSealedFile, BackendPKCS11, BackendTPM}

// Key algorithms a tenant key may have (the names of appliance/backend).
var KeyAlgs = []string{"ed25519", "ecdsa-p256", "aes-256-gcm"}

// MaxFreeze is the longest an emergency freeze may last before it expires
// on its own, per profile (charter: 60 min production, 30 min micronode).
var MaxFreeze = map[string]time.Duration{
	ProfileProduction: 60 * time.Minute,
	ProfileMicronode:  30 * time.Minute,
}

// MicronodeRotation is how often a micronode must rotate its secondary
// signer (a new signer-set version at least this often).
const MicronodeRotation = 7 * 24 * time.Hour

// Name patterns, as the schemas write them (schemas/defs.json and
// schemas/policy.schema.json are where they are defined).
var (
	// TenantRE is the shape of a tenant name. It is lower case because a
	// tenant name is the first segment of a backend key label and the
	// tenant caveat of a capability: "ACME" and "acme" must never be two
	// tenants that share keys.
	TenantRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/tenant"))
	// KeyNameRE is the shape of a tenant key name; it is one segment of a
	// backend key label, hence lower case.
	KeyNameRE = regexp.MustCompile(schemas.MustPattern("policy.schema.json#/$defs/tenant/properties/keys/propertyNames"))
	// ApplianceRE is the shape of an appliance id: lower-case letters,
	// digits, '-' and '_', with no '.', so that every id is one valid
	// component of the Git branch audit/<id> its checkpoints go to.
	// appliance/config checks its own id with the same schema pattern.
	ApplianceRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/appliance_id"))
	// CapabilityIDRE is the shape of a revoked capability id.
	CapabilityIDRE = regexp.MustCompile(schemas.MustPattern("policy.schema.json#/properties/revocations/properties/capabilities/items"))
	printableRE    = regexp.MustCompile(`^[\x20-\x7e]*$`)
)

// Policy is policy/policy.json.
type Policy struct {
	Type     string `json:"type"`
	Version  int    `json:"version"`
	Previous string `json:"previous"`
	// Applied names the proposal whose execution made this version. It is
	// absent in version 1, which is authorised by Signatures instead.
	Applied     *Applied     `json:"applied,omitempty"`
	Profile     string       `json:"profile"`
	SignerSet   SignerSetRef `json:"signer_set"`
	Backend     Backend      `json:"backend"`
	Attestation Attestation  `json:"attestation"`
	// Freeze is present while (or after) an emergency freeze was declared;
	// it is in force until Until. Unfreeze removes it.
	Freeze             *Freeze              `json:"freeze,omitempty"`
	PQ                 PQ                   `json:"pq"`
	Tenants            map[string]*Tenant   `json:"tenants"`
	Limits             Limits               `json:"limits"`
	Baseline           Baseline             `json:"baseline"`
	Revocations        Revocations          `json:"revocations"`
	Appliances         map[string]Appliance `json:"appliances"`
	RevocationWebhooks []string             `json:"revocation_webhooks"`
	// Signatures is present in version 1 only: a threshold of signer set
	// version 1 over the policy's digest.
	Signatures []envelope.Signature `json:"signatures,omitempty"`
}

// Applied records the execution that produced a policy version.
type Applied struct {
	Proposal   string `json:"proposal"`    // proposal id
	Digest     string `json:"digest"`      // the proposal's digest
	ExecutedAt string `json:"executed_at"` // RFC 3339 UTC
}

// SignerSetRef names the signer set in force.
type SignerSetRef struct {
	Version int    `json:"version"`
	Digest  string `json:"digest"`
}

// Backend is the active key custodian and slot.
type Backend struct {
	Kind string `json:"kind"`
	Slot string `json:"slot"`
}

// Attestation is the attestation policy (K-G6).
type Attestation struct {
	Required bool `json:"required"`
}

// Freeze is an emergency freeze: no signing until Until.
type Freeze struct {
	Reason string `json:"reason"`
	Until  string `json:"until"`
}

// PQ is the PQ default; tenants.*.pq_mode are the per-tenant exceptions.
type PQ struct {
	DefaultMode string `json:"default_mode"`
}

// Tenant is one tenant's policy.
type Tenant struct {
	PQMode  string         `json:"pq_mode"`
	Mint    Mint           `json:"mint"`
	Minters []Minter       `json:"minters"`
	Keys    map[string]Key `json:"keys"`
}

// Mint are the capability mint ceilings of a tenant.
type Mint struct {
	MaxActive     int `json:"max_active"`
	RatePerMinute int `json:"rate_per_minute"`
	MaxTTLSeconds int `json:"max_ttl_seconds"`
}

// Minter is a key allowed to sign mint requests for a tenant.
type Minter struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
}

// Key is a tenant key; a version bump is a rotation, Revoked a revocation.
type Key struct {
	Alg        string `json:"alg"`
	Version    int    `json:"version"`
	MaxAgeDays int    `json:"max_age_days"`
	Revoked    bool   `json:"revoked"`
}

// Limits are the appliance parameters an operator may tune within bounds.
type Limits struct {
	InflightCap     int `json:"inflight_cap"`
	CacheTTLSeconds int `json:"cache_ttl_seconds"`
	CacheSize       int `json:"cache_size"`
}

// Baseline holds the reference values of the parameters: an operator may
// move a parameter within ±BoundPercent of its baseline; beyond that it is a
// threshold proposal. Only a threshold proposal changes the baseline.
type Baseline struct {
	InflightCap       int `json:"inflight_cap"`
	CacheTTLSeconds   int `json:"cache_ttl_seconds"`
	CacheSize         int `json:"cache_size"`
	MintRatePerMinute int `json:"mint_rate_per_minute"`
}

// Revocations lists revoked capabilities (key revocations live on the key).
type Revocations struct {
	Capabilities []string `json:"capabilities"`
}

// Appliance is an enrolled appliance (mirrored by appliances/<id>.json).
type Appliance struct {
	Backend        Backend `json:"backend"`
	AuditPublicKey string  `json:"audit_public_key"`
}

// Error is a policy that breaks a rule, or a change that cannot be made.
type Error struct {
	Path   string // JSON pointer into the policy, "" for the whole document
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "policy: " + e.Reason
	}
	return fmt.Sprintf("policy: %s: %s", e.Path, e.Reason)
}

func errAt(path, format string, args ...any) error {
	return &Error{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// Parse decodes a policy strictly (canon.Unmarshal), checks it against
// schemas/policy.schema.json and validates it.
func Parse(data []byte) (*Policy, error) {
	doc, err := canon.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var p Policy
	if err := doc.Unmarshal(&p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if err := schemas.ValidateDocument(Type, doc); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Digest is the policy's digest (signatures left out).
func (p *Policy) Digest() (string, error) { return canon.DigestOf(p) }

// File returns the policy's file form, the exact bytes of policy/policy.json.
func (p *Policy) File() ([]byte, error) { return canon.MarshalFile(p) }

// Clone returns a deep copy.
func (p *Policy) Clone() *Policy {
	data, err := canon.Marshal(p)
	if err != nil {
		panic("policy: clone: " + err.Error()) // a valid policy always encodes
	}
	var q Policy
	if err := canon.Unmarshal(data, &q); err != nil {
		panic("policy: clone: " + err.Error())
	}
	return &q
}

// Validate checks the rules a policy keeps on its own.
func (p *Policy) Validate() error {
	if p.Type != Type {
		return errAt("/type", "is %q, want %q", p.Type, Type)
	}
	if p.Version < 1 {
		return errAt("/version", "must be 1 or more")
	}
	if _, err := canon.ParseDigest(p.Previous); err != nil {
		return errAt("/previous", "%v", err)
	}
	if p.Version == 1 {
		if p.Previous != quorum.GenesisPrevious {
			return errAt("/previous", "version 1 must have previous %s", quorum.GenesisPrevious)
		}
		if p.Applied != nil {
			return errAt("/applied", "version 1 is not made by a proposal and has no applied")
		}
	} else {
		if p.Previous == quorum.GenesisPrevious {
			return errAt("/previous", "only version 1 has the genesis previous")
		}
		if p.Applied == nil {
			return errAt("/applied", "version %d must name the proposal that made it", p.Version)
		}
		if p.Signatures != nil {
			return errAt("/signatures", "only version 1 is signed; later versions are derived from proposals")
		}
		if p.Applied.Proposal == "" || !printableRE.MatchString(p.Applied.Proposal) {
			return errAt("/applied/proposal", "must be a proposal id")
		}
		if _, err := canon.ParseDigest(p.Applied.Digest); err != nil {
			return errAt("/applied/digest", "%v", err)
		}
		if _, err := quorum.ParseTime(p.Applied.ExecutedAt); err != nil {
			return errAt("/applied/executed_at", "%v", err)
		}
	}
	if !slices.Contains(Profiles, p.Profile) {
		return errAt("/profile", "%q is not one of %s", p.Profile, strings.Join(Profiles, ", "))
	}
	if p.SignerSet.Version < 1 {
		return errAt("/signer_set/version", "must be 1 or more")
	}
	if _, err := canon.ParseDigest(p.SignerSet.Digest); err != nil {
		return errAt("/signer_set/digest", "%v", err)
	}
	if err := p.Backend.validate("/backend"); err != nil {
		return err
	}
	if p.Freeze != nil {
		if p.Freeze.Reason == "" || len(p.Freeze.Reason) > 500 || !printableRE.MatchString(p.Freeze.Reason) {
			return errAt("/freeze/reason", "must be 1 to 500 printable ASCII characters")
		}
		if _, err := quorum.ParseTime(p.Freeze.Until); err != nil {
			return errAt("/freeze/until", "%v", err)
		}
	}
	if !slices.Contains(PQModes, p.PQ.DefaultMode) {
		return errAt("/pq/default_mode", "%q is not one of %s", p.PQ.DefaultMode, strings.Join(PQModes, ", "))
	}
	if p.Tenants == nil {
		return errAt("/tenants", "missing")
	}
	for _, name := range slices.Sorted(maps.Keys(p.Tenants)) {
		if err := p.Tenants[name].validate(name); err != nil {
			return err
		}
	}
	for field, v := range map[string]int{
		"/limits/inflight_cap": p.Limits.InflightCap, "/limits/cache_ttl_seconds": p.Limits.CacheTTLSeconds, "/limits/cache_size": p.Limits.CacheSize,
		"/baseline/inflight_cap": p.Baseline.InflightCap, "/baseline/cache_ttl_seconds": p.Baseline.CacheTTLSeconds,
		"/baseline/cache_size": p.Baseline.CacheSize, "/baseline/mint_rate_per_minute": p.Baseline.MintRatePerMinute,
	} {
		if v < 1 {
			return errAt(field, "must be 1 or more")
		}
	}
	if p.Revocations.Capabilities == nil {
		return errAt("/revocations/capabilities", "missing")
	}
	seen := map[string]bool{}
	for i, id := range p.Revocations.Capabilities {
		if !CapabilityIDRE.MatchString(id) {
			return errAt(fmt.Sprintf("/revocations/capabilities/%d", i), "%q is not a capability id", id)
		}
		if seen[id] {
			return errAt(fmt.Sprintf("/revocations/capabilities/%d", i), "%q listed twice", id)
		}
		seen[id] = true
	}
	if err := p.validateAppliances(); err != nil {
		return err
	}
	if p.RevocationWebhooks == nil {
		return errAt("/revocation_webhooks", "missing")
	}
	seen = map[string]bool{}
	for i, h := range p.RevocationWebhooks {
		at := fmt.Sprintf("/revocation_webhooks/%d", i)
		u, err := url.Parse(h)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || len(h) > 2048 || !printableRE.MatchString(h) {
			return errAt(at, "%q must be an https URL without credentials", h)
		}
		if seen[h] {
			return errAt(at, "%q listed twice", h)
		}
		seen[h] = true
	}
	return nil
}

func (p *Policy) validateAppliances() error {
	if p.Appliances == nil {
		return errAt("/appliances", "missing")
	}
	for _, id := range slices.Sorted(maps.Keys(p.Appliances)) {
		a := p.Appliances[id]
		at := "/appliances/" + id
		if !ApplianceRE.MatchString(id) {
			return errAt(at, "%q is not an appliance id (%s)", id, ApplianceRE)
		}
		if err := a.Backend.validate(at + "/backend"); err != nil {
			return err
		}
		if a.AuditPublicKey == "" || len(a.AuditPublicKey) > 512 || !printableRE.MatchString(a.AuditPublicKey) || strings.Contains(a.AuditPublicKey, " ") {
			return errAt(at+"/audit_public_key", "must be 1 to 512 printable ASCII characters without spaces")
		}
	}
	return nil
}

func (b Backend) validate(at string) error {
	if !slices.Contains(BackendKinds, b.Kind) {
		return errAt(at+"/kind", "%q is not one of %s", b.Kind, strings.Join(BackendKinds, ", "))
	}
	if b.Slot == "" || len(b.Slot) > 1024 || !printableRE.MatchString(b.Slot) {
		return errAt(at+"/slot", "must be 1 to 1024 printable ASCII characters")
	}
	if strings.Contains(strings.ToLower(b.Slot), "pin-value") {
		return errAt(at+"/slot", "a PIN never goes into policy; use pin-source")
	}
	return nil
}

func (t *Tenant) validate(name string) error {
	at := "/tenants/" + name
	if !TenantRE.MatchString(name) {
		return errAt(at, "%q is not a tenant name (%s)", name, TenantRE)
	}
	if t == nil {
		return errAt(at, "missing")
	}
	if !slices.Contains(PQModes, t.PQMode) {
		return errAt(at+"/pq_mode", "%q is not one of %s", t.PQMode, strings.Join(PQModes, ", "))
	}
	if t.Mint.MaxActive < 1 || t.Mint.RatePerMinute < 1 || t.Mint.MaxTTLSeconds < 1 {
		return errAt(at+"/mint", "max_active, rate_per_minute and max_ttl_seconds must be 1 or more")
	}
	if t.Minters == nil {
		return errAt(at+"/minters", "missing")
	}
	seen := map[string]bool{}
	for i, m := range t.Minters {
		mat := fmt.Sprintf("%s/minters/%d", at, i)
		pub, err := envelope.DecodePublicKey(m.PublicKey)
		if err != nil {
			return errAt(mat+"/public_key", "%v", err)
		}
		if envelope.KeyID(pub) != m.KeyID { // which also makes it a well-formed key id
			return errAt(mat+"/key_id", "does not match public_key")
		}
		if seen[m.KeyID] {
			return errAt(mat, "key %s listed twice", m.KeyID[:12])
		}
		seen[m.KeyID] = true
	}
	if t.Keys == nil {
		return errAt(at+"/keys", "missing")
	}
	for _, kn := range slices.Sorted(maps.Keys(t.Keys)) {
		k := t.Keys[kn]
		kat := at + "/keys/" + kn
		if !KeyNameRE.MatchString(kn) {
			return errAt(kat, "%q is not a key name (%s)", kn, KeyNameRE)
		}
		if !slices.Contains(KeyAlgs, k.Alg) {
			return errAt(kat+"/alg", "%q is not one of %s", k.Alg, strings.Join(KeyAlgs, ", "))
		}
		if k.Version < 1 {
			return errAt(kat+"/version", "must be 1 or more")
		}
		if k.MaxAgeDays < 1 {
			return errAt(kat+"/max_age_days", "must be 1 or more")
		}
	}
	return nil
}

// Frozen reports whether an emergency freeze is in force at t.
func (p *Policy) Frozen(t time.Time) bool {
	if p.Freeze == nil {
		return false
	}
	until, err := quorum.ParseTime(p.Freeze.Until)
	return err != nil || t.Before(until)
}

// TenantPQMode returns the PQ mode in force for tenant (its exception, or
// the default when the tenant is unknown).
func (p *Policy) TenantPQMode(tenant string) string {
	if t, ok := p.Tenants[tenant]; ok {
		return t.PQMode
	}
	return p.PQ.DefaultMode
}

// GenesisConfig is what `govtool init` asks for.
type GenesisConfig struct {
	Profile             string
	SignerSetDigest     string // digest of signer-sets/0001.json
	Backend             Backend
	AttestationRequired bool
	PQDefault           string
	Limits              Limits
	MintRatePerMinute   int // baseline of per-tenant mint rates
	RevocationWebhooks  []string
}

// DefaultConfig returns the defaults of a profile; the caller fills in
// SignerSetDigest.
func DefaultConfig(profile string) GenesisConfig {
	c := GenesisConfig{
		Profile:            profile,
		Backend:            Backend{Kind: BackendSealedFile, Slot: "default"},
		PQDefault:          PQHybridAnd,
		Limits:             Limits{InflightCap: 64, CacheTTLSeconds: 300, CacheSize: 1024},
		MintRatePerMinute:  60,
		RevocationWebhooks: []string{},
	}
	if profile == ProfileMicronode {
		c.Limits = Limits{InflightCap: 8, CacheTTLSeconds: 300, CacheSize: 128}
		c.MintRatePerMinute = 10
	}
	return c
}

// Genesis builds policy version 1 from c. It is unsigned: a threshold of
// signer set version 1 signs it (envelope.Sign with type Type over its
// Digest) before it is committed.
func Genesis(c GenesisConfig) (*Policy, error) {
	hooks := c.RevocationWebhooks
	if hooks == nil {
		hooks = []string{}
	}
	p := &Policy{
		Type:        Type,
		Version:     1,
		Previous:    quorum.GenesisPrevious,
		Profile:     c.Profile,
		SignerSet:   SignerSetRef{Version: 1, Digest: c.SignerSetDigest},
		Backend:     c.Backend,
		Attestation: Attestation{Required: c.AttestationRequired},
		PQ:          PQ{DefaultMode: c.PQDefault},
		Tenants:     map[string]*Tenant{},
		Limits:      c.Limits,
		Baseline: Baseline{InflightCap: c.Limits.InflightCap, CacheTTLSeconds: c.Limits.CacheTTLSeconds,
			CacheSize: c.Limits.CacheSize, MintRatePerMinute: c.MintRatePerMinute},
		Revocations:        Revocations{Capabilities: []string{}},
		Appliances:         map[string]Appliance{},
		RevocationWebhooks: slices.Clone(hooks),
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// Make sure what we built survives the strict round trip.
	data, err := p.File()
	if err != nil {
		return nil, err
	}
	q, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if b, _ := q.File(); !bytes.Equal(b, data) {
		return nil, errAt("", "genesis policy does not round-trip")
	}
	return q, nil
}
