package proposal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func key(n string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("proposal test " + n))
	return ed25519.NewKeyFromSeed(s[:])
}

func member(role, n string) quorum.Member {
	pub := key(n).Public().(ed25519.PublicKey)
	return quorum.Member{Role: role, KeyID: envelope.KeyID(pub), PublicKey: envelope.EncodePublicKey(pub), Alg: quorum.AlgEd25519}
}

func fixture(t testing.TB) (*policy.Policy, *quorum.SignerSet, string) {
	t.Helper()
	set := &quorum.SignerSet{Type: quorum.TypeSignerSet, Version: 1, Threshold: 2, RotatedAt: "2026-03-01T00:00:00Z", ExpiresAt: "2026-06-01T00:00:00Z",
		Previous: quorum.GenesisPrevious, Signatures: []envelope.Signature{},
		Members: []quorum.Member{member("policy-owner", "po"), member("security-officer", "so"), member("custodian", "cu"), member("operator", "op")}}
	d, err := set.Digest()
	if err != nil {
		t.Fatal(err)
	}
	c := policy.DefaultConfig(policy.ProfileProduction)
	c.SignerSetDigest = d
	p, err := policy.Genesis(c)
	if err != nil {
		t.Fatal(err)
	}
	return p, set, d
}

func build(t testing.TB, prev *policy.Policy, set *quorum.SignerSet, setD, scope string, specs ...string) (*Proposal, error) {
	var ops []policy.Op
	for _, s := range specs {
		o, err := ParseChange(prev, scope, s, t0)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
	}
	id, err := NewID(t0, specs[0], bytes.NewReader([]byte{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	return New(Template{ID: id, Author: "Ada", Scope: scope, Rationale: "r", Risk: "low", Rollback: "revert", Created: t0}, ops, prev, set, setD)
}

func TestNewParseRoundTrip(t *testing.T) {
	prev, set, setD := fixture(t)
	p, err := build(t, prev, set, setD, "tenant:acme", "create_tenant")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "20260302-create-tenant-010203" || p.ExpiresAt != "2026-03-03T09:00:00Z" || p.Quorum != (Quorum{Class: policy.Sensitive, Required: 2}) {
		t.Fatalf("%+v", p)
	}
	s, err := envelope.Sign(key("po"), "policy-owner", Type, mustDigest(t, p))
	if err != nil {
		t.Fatal(err)
	}
	p.Signatures = append(p.Signatures, s)
	b, err := p.File()
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate(Type, b); err != nil {
		t.Fatalf("schema: %v", err)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, q) != mustDigest(t, p) {
		t.Fatal("digest changed in the round trip")
	}
	// Signatures are not part of the digest.
	q.Signatures = nil
	if mustDigest(t, q) != mustDigest(t, p) {
		t.Fatal("digest covers signatures")
	}
	if id, ok := IDFromPath(FilePath(p.ID)); !ok || id != p.ID {
		t.Fatal("path")
	}
	next, err := Execute(prev, p, t0.Add(time.Hour))
	if err != nil || next.Tenants["acme"] == nil || next.Applied.Digest != mustDigest(t, p) {
		t.Fatalf("execute: %v", err)
	}
}

func mustDigest(t testing.TB, p *Proposal) string {
	d, err := p.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestValidateRejects(t *testing.T) {
	prev, set, setD := fixture(t)
	good, err := build(t, prev, set, setD, "global", "inflight_cap=70")
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(p *Proposal){
		"date mismatch":   func(p *Proposal) { p.CreatedAt = "2026-03-03T09:00:00Z"; p.ExpiresAt = "2026-03-04T09:00:00Z" },
		"expires first":   func(p *Proposal) { p.ExpiresAt = p.CreatedAt },
		"lives too long":  func(p *Proposal) { p.ExpiresAt = "2026-05-02T09:00:00Z" },
		"local time":      func(p *Proposal) { p.CreatedAt = "2026-03-02T09:00:00+01:00" },
		"bad id":          func(p *Proposal) { p.ID = "Change-1" },
		"empty rationale": func(p *Proposal) { p.Rationale = " " },
		"bad scope":       func(p *Proposal) { p.Scope = "tenant:ACME" },
		"out of scope":    func(p *Proposal) { p.Scope = "tenant:acme" },
		"empty changeset": func(p *Proposal) { p.Changeset = nil },
		"protected path":  func(p *Proposal) { p.Changeset[0].Path = "/version" },
		"unknown class":   func(p *Proposal) { p.Quorum.Class = "urgent" },
		"zero required":   func(p *Proposal) { p.Quorum.Required = 0 },
		"nil signatures":  func(p *Proposal) { p.Signatures = nil },
		"bad attachment":  func(p *Proposal) { p.Attachments = []Attachment{{Name: "../x", Digest: AttachmentDigest(nil)}} },
		"twice attached": func(p *Proposal) {
			a := Attachment{Name: "a.pdf", Digest: AttachmentDigest(nil)}
			p.Attachments = []Attachment{a, a}
		},
		"threshold > count":     func(p *Proposal) { p.SignerSet.Threshold = 9 },
		"member key id not hex": func(p *Proposal) { p.SignerSet.Members[0].KeyID = strings.Repeat("z", 64) },
		"member role unknown":   func(p *Proposal) { p.SignerSet.Members[0].Role = "janitor" },
		"wrong type":            func(p *Proposal) { p.Type = "policy" },
	} {
		p := *good
		p.Changeset = append([]policy.Op(nil), good.Changeset...)
		p.SignerSet.Members = append([]MemberRef(nil), good.SignerSet.Members...)
		edit(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Unknown fields and non-canonical JSON never parse.
	b, _ := good.File()
	for name, bad := range map[string]string{
		"unknown field": strings.Replace(string(b), `"author"`, `"approved": true,`+"\n  "+`"author"`, 1),
		"upper case":    strings.Replace(string(b), `"author"`, `"Author"`, 1),
		"duplicate":     strings.Replace(string(b), `"risk": "low"`, `"risk": "low", "risk": "high"`, 1),
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestParseChange(t *testing.T) {
	prev, set, setD := fixture(t)
	p, err := build(t, prev, set, setD, "tenant:acme", "create_tenant")
	if err != nil {
		t.Fatal(err)
	}
	withAcme, err := Execute(prev, p, t0)
	if err != nil {
		t.Fatal(err)
	}
	withKey, err := policy.Apply(withAcme, mustOps(t, withAcme, "tenant:acme", "create_key=signing:ecdsa-p256"), policy.Applied{Proposal: p.ID, Digest: setD, ExecutedAt: "2026-03-02T09:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	pub := envelope.EncodePublicKey(key("minter").Public().(ed25519.PublicKey))
	for _, c := range []struct {
		pol          *policy.Policy
		scope, spec  string
		op, path     string
		class        policy.Class
		wantDescribe string
	}{
		{withAcme, "tenant:acme", "pq_mode=hybrid_or", "set", "/tenants/acme/pq_mode", policy.Sensitive, "tenant acme pq_mode hybrid_and→hybrid_or"},
		{withAcme, "tenant:acme", "create_key=signing:ed25519", "set", "/tenants/acme/keys/signing", policy.Sensitive, "tenant acme: create key signing (alg=ed25519 max_age_days=90 revoked=false version=1)"},
		{withKey, "tenant:acme", "rotate_key=signing", "set", "/tenants/acme/keys/signing/version", policy.Sensitive, "tenant acme: rotate key signing v1→v2"},
		{withKey, "tenant:acme", "revoke_key=signing", "set", "/tenants/acme/keys/signing/revoked", policy.Revocation, "tenant acme: REVOKE key signing"},
		{withAcme, "tenant:acme", "revoke_capability=cap-7", "add", "/revocations/capabilities", policy.Revocation, "REVOKE capability cap-7"},
		{withAcme, "tenant:acme", "mint.max_active=50", "set", "/tenants/acme/mint/max_active", policy.Sensitive, "tenant acme mint.max_active 100→50"},
		{withAcme, "tenant:acme", "mint.rate_per_minute=66", "set", "/tenants/acme/mint/rate_per_minute", policy.Parameter, "tenant acme mint.rate_per_minute 60→66 (baseline 60, within ±20%)"},
		{withAcme, "tenant:acme", "add_minter=" + pub, "add", "/tenants/acme/minters", policy.Sensitive, ""},
		{prev, "global", "pq_default=pq_only", "set", "/pq/default_mode", policy.Sensitive, "pq.default_mode hybrid_and→pq_only"},
		{prev, "global", "attestation=required", "set", "/attestation/required", policy.Sensitive, "attestation.required false→true"},
		{prev, "global", "backend=pkcs11:pkcs11:token=kms;object=k?pin-source=/run/pin", "set", "/backend", policy.Sensitive, ""},
		{prev, "global", "inflight_cap=60", "set", "/limits/inflight_cap", policy.Parameter, "limits.inflight_cap 64→60 (baseline 64, within ±20%)"},
		{prev, "global", "cache_ttl_seconds=900", "set", "/limits/cache_ttl_seconds", policy.Sensitive, ""},
		{prev, "global", "cache_size=1100", "set", "/limits/cache_size", policy.Parameter, ""},
		{prev, "global", "baseline.cache_size=2048", "set", "/baseline/cache_size", policy.Sensitive, ""},
		{prev, "global", "freeze=key compromise suspected", "set", "/freeze", policy.Sensitive, "EMERGENCY FREEZE reason=key compromise suspected until=2026-03-02T10:00:00Z"},
		{prev, "global", "enroll_appliance=edge-1:tpm:edge-1+0a0b0c0d+Zm9v:0x81000001", "set", "/appliances/edge-1", policy.Sensitive, "enroll appliance edge-1 (audit_public_key=edge-1+0a0b0c0d+Zm9v backend=(kind=tpm slot=0x81000001))"},
		{prev, "global", "signer_set=2:sha256:" + strings.Repeat("ab", 32), "set", "/signer_set", policy.Sensitive, ""},
		{prev, "global", "add_webhook=https://hooks.example.com/revoked", "add", "/revocation_webhooks", policy.Sensitive, ""},
	} {
		ops, err := ParseChange(c.pol, c.scope, c.spec, t0)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if len(ops) != 1 || ops[0].Op != c.op || ops[0].Path != c.path {
			t.Errorf("%s: got %+v", c.spec, ops)
			continue
		}
		r, err := policy.Classify(c.pol, ops)
		if err != nil || r.Class != c.class {
			t.Errorf("%s: class %s %v, want %s", c.spec, r.Class, err, c.class)
		}
		if _, err := policy.Apply(c.pol, ops, policy.Applied{Proposal: p.ID, Digest: setD, ExecutedAt: "2026-03-02T09:00:00Z"}); err != nil {
			t.Errorf("%s: does not apply: %v", c.spec, err)
		}
		if c.wantDescribe != "" {
			if got := policy.Describe(c.pol, ops)[0]; got != c.wantDescribe {
				t.Errorf("%s: described %q, want %q", c.spec, got, c.wantDescribe)
			}
		}
	}
	// A micronode freeze lasts 30 minutes.
	micro := policy.DefaultConfig(policy.ProfileMicronode)
	micro.SignerSetDigest = setD
	mp, _ := policy.Genesis(micro)
	ops, err := ParseChange(mp, "global", "freeze=x", t0)
	if err != nil || !strings.Contains(string(ops[0].Value), "2026-03-02T09:30:00Z") {
		t.Errorf("micronode freeze: %v %s", err, ops[0].Value)
	}
	for _, c := range []struct {
		pol         *policy.Policy
		scope, spec string
	}{
		{prev, "global", "pq_mode=off"},              // tenant change in global scope
		{prev, "tenant:acme", "pq_mode=off"},         // tenant missing
		{prev, "tenant:acme", "inflight_cap=5"},      // global change in tenant scope
		{withAcme, "tenant:acme", "create_tenant"},   // exists
		{withAcme, "tenant:acme", "rotate_key=nope"}, // no such key
		{withAcme, "tenant:acme", "create_key=Bad:ed25519"},
		{prev, "global", "pq_default=hybrid"},
		{prev, "global", "inflight_cap=-1"},
		{prev, "global", "inflight_cap=07"},
		{prev, "global", "attestation=maybe"},
		{prev, "global", "backend=usb:1"},
		{prev, "global", "unfreeze"}, // nothing to unfreeze
		{prev, "global", "signer_set=3:sha256:" + strings.Repeat("ab", 32)},
		{prev, "global", "remove_appliance=nope"},
		{prev, "global", "frobnicate=1"},
		{prev, "tenant:ACME", "create_tenant"},
	} {
		if _, err := ParseChange(c.pol, c.scope, c.spec, t0); err == nil {
			t.Errorf("%s %s: accepted", c.scope, c.spec)
		}
	}
}

func mustOps(t *testing.T, pol *policy.Policy, scope, spec string) []policy.Op {
	ops, err := ParseChange(pol, scope, spec, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func TestDescribeRotation(t *testing.T) {
	_, set, _ := fixture(t)
	next := *set
	next.Version = 2
	next.Threshold = 3
	next.Members = append([]quorum.Member{}, set.Members...)
	next.Members[2] = member("custodian", "cu2")
	got := DescribeRotation(set, &next)
	if !strings.Contains(got, "threshold 2→3") || !strings.Contains(got, "+custodian "+next.Members[2].KeyID[:12]) || !strings.Contains(got, "−custodian "+set.Members[2].KeyID[:12]) {
		t.Fatalf("%q", got)
	}
}

func FuzzParse(f *testing.F) {
	prev, set, setD := fixture(f)
	p, err := build(f, prev, set, setD, "global", "inflight_cap=70")
	if err != nil {
		f.Fatal(err)
	}
	b, _ := p.File()
	f.Add(b)
	f.Add([]byte(`{"type":"proposal"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		if _, err := p.Digest(); err != nil {
			t.Fatal(err)
		}
		// Classification never panics, whatever the changeset.
		_, _, _ = Classify(prev, p)
	})
}

func FuzzParseChange(f *testing.F) {
	prev, _, _ := fixture(f)
	for _, s := range []string{"pq_default=off", "freeze=x", "create_tenant", "enroll_appliance=a:b:c:d", "signer_set=2:sha256:00"} {
		f.Add("global", s)
	}
	f.Add("tenant:acme", "create_tenant")
	f.Fuzz(func(t *testing.T, scope, spec string) {
		ops, err := ParseChange(prev, scope, spec, t0)
		if err != nil {
			return
		}
		for _, o := range ops {
			if err := policy.CheckOp(o); err != nil {
				t.Fatalf("%q made a malformed op: %v", spec, err)
			}
		}
		_ = policy.Describe(prev, ops)
	})
}

// TestRefNames holds SignerSetRef.Names to Equal(RefOf(...)) for the
// reference of the set itself and for one change to each of its fields.
func TestRefNames(t *testing.T) {
	_, set, d := fixture(t)
	ref := RefOf(set, d)
	muts := map[string]func(r *SignerSetRef){
		"same":      func(r *SignerSetRef) {},
		"version":   func(r *SignerSetRef) { r.Version++ },
		"digest":    func(r *SignerSetRef) { r.Digest = "sha256:" + strings.Repeat("0", 64) },
		"threshold": func(r *SignerSetRef) { r.Threshold-- },
		"rotated":   func(r *SignerSetRef) { r.RotatedAt = "2026-03-02T00:00:00Z" },
		"fewer":     func(r *SignerSetRef) { r.Members = r.Members[1:] },
		"more":      func(r *SignerSetRef) { r.Members = append(r.Members, r.Members[0]) },
		"role":      func(r *SignerSetRef) { r.Members[1].Role = "custodian" },
		"key":       func(r *SignerSetRef) { r.Members[2].KeyID = r.Members[0].KeyID },
		"order":     func(r *SignerSetRef) { r.Members[0], r.Members[1] = r.Members[1], r.Members[0] },
	}
	for name, mut := range muts {
		r := ref
		r.Members = slices.Clone(ref.Members)
		mut(&r)
		want := r.Equal(RefOf(set, d))
		if got := r.Names(set, d); got != want || want != (name == "same") {
			t.Errorf("%s: Names = %v, Equal(RefOf) = %v", name, got, want)
		}
	}
}
