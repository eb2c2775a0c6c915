package testvectors

// The generator: it builds every vector file from its inputs (the lists
// below) with ron-kms's own code, and checks the RFC cases against the
// outputs the RFCs print. `go test ./testvectors -update` rewrites the
// files; without -update the tests compare the committed files to a fresh
// generation byte for byte.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"filippo.io/edwards25519"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

var update = flag.Bool("update", false, "rewrite the vector files from their inputs")

// ---- keys ----

type testKey struct {
	Key
	priv ed25519.PrivateKey
}

// rfc8032Keys are RFC 8032 §7.1 TEST 1, 2 and 3, with the RFC's messages
// and signatures.
var rfc8032Keys = []struct{ name, seed, msg, sig string }{
	{"rfc8032-test1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"rfc8032-test2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"rfc8032-test3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
}

// derivedKeys are further keys whose seed is SHA-256("ron-kms test vector
// key " + name).
var derivedKeys = []string{"operator-1", "auditor-1", "minter-1", "audit-log-1", "next-policy-owner", "next-security-officer", "next-custodian"}

func makeKeys(t testing.TB) map[string]*testKey {
	keys := map[string]*testKey{}
	add := func(name, source string, seed []byte) *testKey {
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		k := &testKey{Key: Key{Name: name, Source: source, SeedHex: hex.EncodeToString(seed),
			PublicKey: envelope.EncodePublicKey(pub), PublicKeyHex: hex.EncodeToString(pub), KeyID: envelope.KeyID(pub)}, priv: priv}
		keys[name] = k
		return k
	}
	for i, r := range rfc8032Keys {
		seed, _ := hex.DecodeString(r.seed)
		k := add(r.name, fmt.Sprintf("RFC 8032 §7.1 TEST %d", i+1), seed)
		msg, _ := hex.DecodeString(r.msg)
		got := hex.EncodeToString(ed25519.Sign(k.priv, msg))
		if got != r.sig {
			t.Fatalf("%s: signature of %q is %s, the RFC says %s: the key is wrong", r.name, r.msg, got, r.sig)
		}
		k.RFC8032Message, k.RFC8032Signature = r.msg, r.sig
	}
	for _, name := range derivedKeys {
		seed := sha256.Sum256([]byte("ron-kms test vector key " + name))
		add(name, fmt.Sprintf("seed = SHA-256(%q)", "ron-kms test vector key "+name), seed[:])
	}
	return keys
}

func keyList(keys map[string]*testKey) []Key {
	var out []Key
	for _, r := range rfc8032Keys {
		out = append(out, keys[r.name].Key)
	}
	for _, n := range derivedKeys {
		out = append(out, keys[n].Key)
	}
	return out
}

func (k *testKey) member(role string) quorum.Member {
	return quorum.Member{Role: role, KeyID: k.KeyID, PublicKey: k.PublicKey, Alg: quorum.AlgEd25519}
}

func (k *testKey) sign(t testing.TB, role, typ, digest string) envelope.Signature {
	s, err := envelope.Sign(k.priv, role, typ, digest)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func entry(s envelope.Signature) Entry { return Entry{Role: s.Role, KeyID: s.KeyID, Sig: s.Sig} }

// ---- objects ----

type world struct {
	keys          map[string]*testKey
	v1, v2, v2new *quorum.SignerSet
	d1, d2, d2new string
	objects       []DigestVector // in digests.json order
}

func mustDigest(t testing.TB, v any) string {
	d, err := canon.DigestOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func signerSet(version int, prev, rotated, expires string, threshold int, ms ...quorum.Member) *quorum.SignerSet {
	return &quorum.SignerSet{Type: quorum.TypeSignerSet, Version: version, Members: ms, Threshold: threshold,
		RotatedAt: rotated, ExpiresAt: expires, Previous: prev, Signatures: []envelope.Signature{}}
}

// signObject digests obj (a canon.Object), appends signatures by the given
// keys and roles, and returns the digest.
func signObject(t testing.TB, obj canon.Object, signers ...func(typ, digest string) envelope.Signature) string {
	d, err := canon.Digest(obj)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := obj["signatures"]; has && len(signers) > 0 {
		sigs := []any{}
		for _, s := range signers {
			e := s(obj["type"].(string), d)
			sigs = append(sigs, canon.Object{"role": e.Role, "key_id": e.KeyID, "sig": e.Sig})
		}
		obj["signatures"] = sigs
	}
	return d
}

func by(t testing.TB, k *testKey, role string) func(typ, digest string) envelope.Signature {
	return func(typ, digest string) envelope.Signature { return k.sign(t, role, typ, digest) }
}

func parseObj(t testing.TB, s string) canon.Object {
	v, err := canon.ParseStrict([]byte(s))
	if err != nil {
		t.Fatalf("vector object: %v\n%s", err, s)
	}
	return v.(canon.Object)
}

func build(t testing.TB) *world {
	w := &world{keys: makeKeys(t)}
	k := w.keys
	k1, k2, k3 := k["rfc8032-test1"], k["rfc8032-test2"], k["rfc8032-test3"]

	// Signer set version 1: the three RFC keys hold the quorum roles, with
	// an operator and an auditor that never count. Self-signed by all three.
	w.v1 = signerSet(1, quorum.GenesisPrevious, "2026-01-01T00:00:00Z", "2026-04-03T00:00:00Z", 2,
		k1.member(quorum.RolePolicyOwner), k2.member(quorum.RoleSecurityOfficer), k3.member(quorum.RoleCustodian),
		k["operator-1"].member(quorum.RoleOperator), k["auditor-1"].member(quorum.RoleAuditor))
	w.d1 = mustDigest(t, w.v1)
	w.v1.Signatures = []envelope.Signature{
		k1.sign(t, quorum.RolePolicyOwner, quorum.TypeSignerSet, w.d1),
		k2.sign(t, quorum.RoleSecurityOfficer, quorum.TypeSignerSet, w.d1),
		k3.sign(t, quorum.RoleCustodian, quorum.TypeSignerSet, w.d1),
	}
	// Version 2 replaces the custodian; signed by two old and the new one.
	w.v2 = signerSet(2, w.d1, "2026-03-15T00:00:00Z", "2026-06-15T00:00:00Z", 2,
		k1.member(quorum.RolePolicyOwner), k2.member(quorum.RoleSecurityOfficer), k["next-custodian"].member(quorum.RoleCustodian),
		k["operator-1"].member(quorum.RoleOperator), k["auditor-1"].member(quorum.RoleAuditor))
	w.d2 = mustDigest(t, w.v2)
	w.v2.Signatures = []envelope.Signature{
		k1.sign(t, quorum.RolePolicyOwner, quorum.TypeSignerSet, w.d2),
		k2.sign(t, quorum.RoleSecurityOfficer, quorum.TypeSignerSet, w.d2),
		k["next-custodian"].sign(t, quorum.RoleCustodian, quorum.TypeSignerSet, w.d2),
	}
	if err := quorum.VerifyNext(w.v1, w.d1, w.v2); err != nil {
		t.Fatalf("valid rotation does not verify: %v", err)
	}
	// A version 2 whose members are all new, signed only by them.
	w.v2new = signerSet(2, w.d1, "2026-03-15T00:00:00Z", "2026-06-15T00:00:00Z", 2,
		k["next-policy-owner"].member(quorum.RolePolicyOwner), k["next-security-officer"].member(quorum.RoleSecurityOfficer),
		k["next-custodian"].member(quorum.RoleCustodian))
	w.d2new = mustDigest(t, w.v2new)
	w.v2new.Signatures = []envelope.Signature{
		k["next-policy-owner"].sign(t, quorum.RolePolicyOwner, quorum.TypeSignerSet, w.d2new),
		k["next-security-officer"].sign(t, quorum.RoleSecurityOfficer, quorum.TypeSignerSet, w.d2new),
	}

	tree, err := canon.ToTree(w.v1)
	if err != nil {
		t.Fatal(err)
	}
	w.add(t, "signer set version 1 (genesis)", "DESIGN §2.2", tree.(canon.Object), "")

	proposal := parseObj(t, `{
		"type": "proposal",
		"id": "20260301-acme-hybrid-and-3f9a2c",
		"author": "alice@example.com",
		"scope": "tenant:acme",
		"rationale": "Move tenant acme from hybrid_or to hybrid_and (phase 2 of the PQ rollout).",
		"changeset": [{"op": "set", "path": "/tenants/acme/pq_mode", "value": "hybrid_and"}],
		"risk": "low: both components are deployed; clients already send composite signatures",
		"rollback": "set /tenants/acme/pq_mode to hybrid_or (takes effect within 60 s)",
		"quorum": {"class": "sensitive", "required": 2},
		"signer_set": {"version": 1, "digest": "`+w.d1+`", "threshold": 2,
			"members": [{"role": "policy-owner", "key_id": "`+k1.KeyID+`"}, {"role": "security-officer", "key_id": "`+k2.KeyID+`"}, {"role": "custodian", "key_id": "`+k3.KeyID+`"}],
			"rotated_at": "2026-01-01T00:00:00Z"},
		"signatures": [],
		"created_at": "2026-03-01T09:00:00Z",
		"expires_at": "2026-03-02T09:00:00Z",
		"attachments": [{"name": "pq-rollout-phase2.md", "digest": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}]
	}`)
	w.add(t, "proposal signed by policy-owner and custodian", "DESIGN §2.3 fields, plain JSON", proposal, "",
		by(t, k1, quorum.RolePolicyOwner), by(t, k3, quorum.RoleCustodian))
	proposalDigest := w.objects[len(w.objects)-1].Digest

	minter := k["minter-1"]
	backend := `{"kind": "pkcs11", "slot": "pkcs11:token=ron-kms-eu-1;object=audit"}`
	w.add(t, "policy version 2", "DESIGN §2.5; schemas/policy.schema.json (policy is derived, so unsigned)", parseObj(t, `{
		"type": "policy",
		"version": 2,
		"previous": "sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730",
		"applied": {"proposal": "20260301-acme-hybrid-and-3f9a2c", "digest": "`+proposalDigest+`", "executed_at": "2026-03-01T10:00:00Z"},
		"profile": "production",
		"signer_set": {"version": 1, "digest": "`+w.d1+`"},
		"backend": `+backend+`,
		"attestation": {"required": true},
		"pq": {"default_mode": "hybrid_and"},
		"tenants": {"acme": {
			"pq_mode": "hybrid_and",
			"mint": {"max_active": 1000, "rate_per_minute": 60, "max_ttl_seconds": 86400},
			"minters": [{"key_id": "`+minter.KeyID+`", "public_key": "`+minter.PublicKey+`"}],
			"keys": {"payments-2026": {"alg": "ed25519", "version": 3, "max_age_days": 365, "revoked": false}}
		}},
		"limits": {"inflight_cap": 256, "cache_ttl_seconds": 300, "cache_size": 10000},
		"baseline": {"inflight_cap": 256, "cache_ttl_seconds": 300, "cache_size": 10000, "mint_rate_per_minute": 60},
		"revocations": {"capabilities": []},
		"appliances": {"hsm-eu-1": {"backend": `+backend+`, "audit_public_key": "`+noteVerifierKey(auditOrigin, k["audit-log-1"].priv.Public().(ed25519.PublicKey))+`"}},
		"revocation_webhooks": []
	}`), "")
	policyDigest := w.objects[len(w.objects)-1].Digest

	w.add(t, "dispute opened by an auditor", "DESIGN §7; schemas/dispute.schema.json; non-ASCII text", parseObj(t, `{
		"type": "dispute",
		"id": "2026-0007",
		"opened_by": {"kind": "auditor", "name": "auditor-1"},
		"opened_at": "2026-03-02T10:00:00Z",
		"tenant": "acme",
		"reason": "Signatures for the Zürich office after the key's \"retirement\" \u2014 see ticket №42 \ud83d\udd0f",
		"capability_ids": ["4f1d2c3b4a5968778695a4b3c2d1e0f1"],
		"request_ids": ["8e7d6c5b4a3928171615141312111009"],
		"policy_refs": [{"version": 2, "digest": "`+policyDigest+`"}],
		"status": "open",
		"signatures": []
	}`), "", by(t, k["auditor-1"], quorum.RoleAuditor))

	w.add(t, "mint request by the tenant's minter key", "DESIGN §3; schemas/mint_request.schema.json", parseObj(t, `{
		"type": "mint_request",
		"tenant": "acme",
		"scope": ["sign", "verify"],
		"alg": ["ed25519", "mldsa65-ed25519"],
		"key": "acme/payments-*",
		"ttl_seconds": 3600,
		"rps": 50,
		"single_use": true,
		"issued_at": "2026-03-01T11:00:00Z",
		"nonce": "00112233445566778899aabbccddeeff",
		"signatures": []
	}`), "", by(t, minter, "minter"))

	w.add(t, "capability minted for that request", "DESIGN §3 caveats; schemas/capability.schema.json (unsigned: the macaroon's HMAC authenticates the token)", parseObj(t, `{
		"type": "capability",
		"id": "4f1d2c3b4a5968778695a4b3c2d1e0f1",
		"tenant": "acme",
		"scope": ["sign", "verify"],
		"alg": ["ed25519", "mldsa65-ed25519"],
		"key": "acme/payments-*",
		"exp": "2026-03-01T12:00:00Z",
		"rps": 50,
		"nonce": "7a1f0c3e9b2d4c5a8e6f1b0d2c3a4e5f",
		"issued_at": "2026-03-01T11:00:00Z"
	}`), "")

	record := parseObj(t, `{
		"type": "audit_record",
		"index": 0,
		"prev": "0000000000000000000000000000000000000000000000000000000000000000",
		"time": "2026-03-01T11:00:00.125Z",
		"appliance_id": "hsm-eu-1",
		"event": "sign",
		"outcome": "rejected",
		"reason": "scope_denied",
		"request_id": "8e7d6c5b4a3928171615141312111009",
		"tenant": "acme",
		"key": "acme/payments-2026/v3",
		"key_version": 3,
		"alg": "ed25519",
		"capability_id": "4f1d2c3b4a5968778695a4b3c2d1e0f1",
		"digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"policy_version": 2,
		"governance_commit": "2f3e4d5c6b7a8998a7b6c5d4e3f2a1b0c9d8e7f6",
		"detail": "scope of the capability is verify"
	}`)
	recordBytes, err := canon.Canonical(record)
	if err != nil {
		t.Fatal(err)
	}
	leaf := tlog.RecordHash(recordBytes)
	w.add(t, "audit record, first leaf of its log", "DESIGN §3; appliance/audit.Record; schemas/audit_record.schema.json", record, hex.EncodeToString(leaf[:]))

	// The checkpoint after that one record: tree size 1, root = the leaf
	// hash, signed as a C2SP note by the appliance's audit key.
	const origin = auditOrigin
	text := fmt.Sprintf("%s\n1\n%s\n", origin, base64.StdEncoding.EncodeToString(leaf[:]))
	signer, err := note.NewSigner(noteSecretKey(origin, k["audit-log-1"].priv))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	w.add(t, "checkpoint over that record", "DESIGN §3; C2SP signed note; schemas/checkpoint.schema.json", parseObj(t, `{
		"type": "checkpoint",
		"appliance_id": "hsm-eu-1",
		"origin": "`+origin+`",
		"tree_size": 1,
		"root_hash": "`+hex.EncodeToString(leaf[:])+`",
		"previous_size": 0,
		"previous_root_hash": "`+hex.EncodeToString(empty[:])+`",
		"consistency": [],
		"governance_commit": "2f3e4d5c6b7a8998a7b6c5d4e3f2a1b0c9d8e7f6",
		"policy_version": 2,
		"time": "2026-03-01T11:00:05Z",
		"note": `+strconv.Quote(string(signed))+`
	}`), "")
	return w
}

// auditOrigin is the checkpoint origin (and note key name) of the vectors'
// appliance.
const auditOrigin = "ron-kms/hsm-eu-1/audit"

// noteSecretKey writes an Ed25519 key in x/mod/sumdb/note's private key
// format (what note.GenerateKey returns), for a fixed test key.
func noteSecretKey(name string, priv ed25519.PrivateKey) string {
	pub := append([]byte{1}, priv.Public().(ed25519.PublicKey)...)
	h := sha256.Sum256(append([]byte(name+"\n"), pub...))
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
}

func noteVerifierKey(name string, pub ed25519.PublicKey) string {
	vk, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		panic(err)
	}
	return vk
}

func (w *world) add(t testing.TB, name, source string, obj canon.Object, leafHash string, signers ...func(typ, digest string) envelope.Signature) {
	d := signObject(t, obj, signers...)
	file, err := canon.FileForm(obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := canon.Digest(obj) // recomputed: signatures must not matter
	if err != nil || c != d {
		t.Fatalf("%s: digest changed after signing: %s vs %s (%v)", name, c, d, err)
	}
	trimmed := canon.Object{}
	for k, v := range obj {
		if k != "signatures" {
			trimmed[k] = v
		}
	}
	cb, err := canon.Canonical(trimmed)
	if err != nil {
		t.Fatal(err)
	}
	typ := obj["type"].(string)
	msg, err := envelope.Message(typ, d)
	if err != nil {
		t.Fatal(err)
	}
	w.objects = append(w.objects, DigestVector{Name: name, Type: typ, Source: source, File: string(file),
		Canonical: string(cb), Digest: d, Message: string(msg), LeafHash: leafHash})
}

func (w *world) object(typ string) DigestVector {
	for _, o := range w.objects {
		if o.Type == typ {
			return o
		}
	}
	panic("no object of type " + typ)
}

// ---- canonical.json ----

type canonCase struct {
	name, source, mode string
	input              string // raw bytes of the input
	want               string // expected canonical bytes, when known in advance (RFC cases)
	expect             canon.Reason
}

const (
	rfcPrimitives = `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	rfcSorting = `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`
)

var canonCases = []canonCase{
	{name: "RFC 8785 primitive data types", source: "RFC 8785 §3.2.2", mode: "ijson", input: rfcPrimitives,
		want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
	{name: "RFC 8785 sorting of properties", source: "RFC 8785 §3.2.3", mode: "ijson", input: rfcSorting,
		want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
	{name: "RFC 8785 UTF-8 generation (no Unicode normalisation)", source: "RFC 8785 §3.2.4", mode: "ijson",
		input: "{\n  \"Unnormalized Unicode\":\"A\\u030a\"\n}", want: "{\"Unnormalized Unicode\":\"A\u030a\"}"},

	{name: "whitespace and empty containers", source: "ron-kms", mode: "ijson", input: " \t\r\n{ \"b\" : [ 1 , { } , [ ] ] , \"a\" : \"\" }\n", want: `{"a":"","b":[1,{},[]]}`},
	{name: "top-level scalars: string", source: "ron-kms", mode: "ijson", input: `"x"`, want: `"x"`},
	{name: "top-level scalars: null", source: "ron-kms", mode: "ijson", input: ` null `, want: `null`},
	{name: "string escapes: short forms, \\u00XX for other controls, DEL and U+2028 raw, \\/ unescaped", source: "ron-kms (RFC 8785 §3.2.2.2)", mode: "ijson",
		input: `"\u0000\u001f\u007f\u2028\/\b\f\n\r\t\"\\\u0041"`, want: "\"\\u0000\\u001f\x7f\u2028/\\b\\f\\n\\r\\t\\\"\\\\A\""},
	{name: "escaped non-ASCII becomes raw UTF-8; a surrogate pair becomes one 4-byte character", source: "ron-kms", mode: "ijson",
		input: `["\u00e9", "\ud83d\udd0f", "é"]`, want: "[\"é\",\"\U0001F50F\",\"é\"]"},
	{name: "key order is by UTF-16 code units, not bytes or code points", source: "ron-kms", mode: "ijson",
		input: `{"aa":1,"a":2,"A":3,"":4,"\uffff":5,"\ud800\udc00":6}`, want: "{\"\":4,\"A\":3,\"a\":2,\"aa\":1,\"\U00010000\":6,\"\uffff\":5}"},
	{name: "numbers in I-JSON mode", source: "ron-kms (RFC 8785 §3.2.2.3)", mode: "ijson",
		input: `[-0, 1.0, 1e2, 0.1, 1e-7, 1e21, 123e-20, 9007199254740991, -9007199254740991, 4.5e15]`,
		want:  `[0,1,100,0.1,1e-7,1e+21,1.23e-18,9007199254740991,-9007199254740991,4500000000000000]`},
	{name: "governance object", source: "ron-kms", mode: "governance",
		input: `{"version": 12, "threshold": 2, "n": [0, -1, 9007199254740991, -9007199254740991], "ok": true, "none": null}`,
		want:  `{"n":[0,-1,9007199254740991,-9007199254740991],"none":null,"ok":true,"threshold":2,"version":12}`},

	{name: "duplicate key", source: "I-JSON (RFC 7493 §2.3)", mode: "ijson", input: `{"a":1,"a":2}`, expect: canon.ReasonDuplicateKey},
	{name: "duplicate key spelt with an escape", source: "I-JSON (RFC 7493 §2.3)", mode: "ijson", input: `{"a":1,"\u0061":2}`, expect: canon.ReasonDuplicateKey},
	{name: "duplicate key in a nested object", source: "I-JSON (RFC 7493 §2.3)", mode: "governance", input: `{"m":[{"k":"x","k":"x"}]}`, expect: canon.ReasonDuplicateKey},
	{name: "invalid UTF-8 byte", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: "{\"a\":\"\xff\"}", expect: canon.ReasonInvalidUTF8},
	{name: "overlong UTF-8 encoding of '/'", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: "\"\xc0\xaf\"", expect: canon.ReasonInvalidUTF8},
	{name: "UTF-8 encoded surrogate (CESU-8)", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: "\"\xed\xa0\x80\"", expect: canon.ReasonInvalidUTF8},
	{name: "truncated UTF-8 sequence", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: "[\"\xe2\x82\"]", expect: canon.ReasonInvalidUTF8},
	{name: "lone high surrogate", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: `["\ud800"]`, expect: canon.ReasonLoneSurrogate},
	{name: "lone low surrogate", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: `{"k":"\udc00"}`, expect: canon.ReasonLoneSurrogate},
	{name: "high surrogate followed by a non-surrogate escape", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: `"\ud800\u0041"`, expect: canon.ReasonLoneSurrogate},
	{name: "surrogates in the wrong order", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: `"\udc00\ud800"`, expect: canon.ReasonLoneSurrogate},
	{name: "lone surrogate in a key", source: "I-JSON (RFC 7493 §2.1)", mode: "ijson", input: `{"\ud83d":1}`, expect: canon.ReasonLoneSurrogate},
	{name: "integer 2^53", source: "I-JSON (RFC 7493 §2.2)", mode: "ijson", input: `9007199254740992`, expect: canon.ReasonNumberRange},
	{name: "integer 2^53+1 (a double rounds it)", source: "I-JSON (RFC 7493 §2.2)", mode: "governance", input: `{"version":9007199254740993}`, expect: canon.ReasonNumberRange},
	{name: "integer -2^53", source: "I-JSON (RFC 7493 §2.2)", mode: "ijson", input: `[-9007199254740992]`, expect: canon.ReasonNumberRange},
	{name: "integer 2^64", source: "I-JSON (RFC 7493 §2.2)", mode: "ijson", input: `18446744073709551616`, expect: canon.ReasonNumberRange},
	{name: "integer beyond 2^53-1 written as a float (its canonical form would be the integer)", source: "ron-kms", mode: "ijson", input: `[1e20]`, expect: canon.ReasonNumberRange},
	{name: "number beyond the double range", source: "I-JSON (RFC 7493 §2.2)", mode: "ijson", input: `[1e400]`, expect: canon.ReasonNumberRange},
	{name: "fraction in a governance object", source: "ron-kms", mode: "governance", input: `{"threshold":1.0}`, expect: canon.ReasonNonCanonicalNumber},
	{name: "exponent in a governance object", source: "ron-kms", mode: "governance", input: `{"threshold":1e2}`, expect: canon.ReasonNonCanonicalNumber},
	{name: "minus zero in a governance object", source: "ron-kms", mode: "governance", input: `{"index":-0}`, expect: canon.ReasonNonCanonicalNumber},
	{name: "non-integer in a governance object", source: "ron-kms", mode: "governance", input: `[0.5]`, expect: canon.ReasonNonCanonicalNumber},
	{name: "leading zero", source: "RFC 8259 §6", mode: "ijson", input: `[01]`, expect: canon.ReasonSyntax},
	{name: "plus sign", source: "RFC 8259 §6", mode: "ijson", input: `[+1]`, expect: canon.ReasonSyntax},
	{name: "NaN literal", source: "RFC 8259 §6", mode: "ijson", input: `[NaN]`, expect: canon.ReasonSyntax},
	{name: "trailing comma", source: "RFC 8259", mode: "ijson", input: `{"a":1,}`, expect: canon.ReasonSyntax},
	{name: "single quotes", source: "RFC 8259", mode: "ijson", input: `{'a':1}`, expect: canon.ReasonSyntax},
	{name: "unescaped control character in a string", source: "RFC 8259 §7", mode: "ijson", input: "[\"a\tb\"]", expect: canon.ReasonSyntax},
	{name: "byte order mark", source: "RFC 8259 §8.1 (a BOM is not JSON text)", mode: "ijson", input: "\ufeff{}", expect: canon.ReasonSyntax},
	{name: "empty input", source: "RFC 8259", mode: "ijson", input: "", expect: canon.ReasonSyntax},
	{name: "two values", source: "RFC 8259", mode: "ijson", input: `{} {}`, expect: canon.ReasonTrailingData},
	{name: "nesting deeper than 64", source: "ron-kms (canon.MaxDepth)", mode: "ijson", input: strings.Repeat("[", 66) + strings.Repeat("]", 66), expect: canon.ReasonTooDeep},
}

// rfc8785Numbers is RFC 8785 Appendix B: IEEE 754 bits and the serialisation
// the RFC prints ("" where the RFC says the value must be rejected).
var rfc8785Numbers = []struct{ bits, want string }{
	{"0000000000000000", "0"},
	{"8000000000000000", "0"},
	{"0000000000000001", "5e-324"},
	{"8000000000000001", "-5e-324"},
	{"7fefffffffffffff", "1.7976931348623157e+308"},
	{"ffefffffffffffff", "-1.7976931348623157e+308"},
	{"4340000000000000", "9007199254740992"},
	{"c340000000000000", "-9007199254740992"},
	{"4430000000000000", "295147905179352830000"},
	{"7fffffffffffffff", ""},
	{"7ff0000000000000", ""},
	{"44b52d02c7e14af5", "9.999999999999997e+22"},
	{"44b52d02c7e14af6", "1e+23"},
	{"44b52d02c7e14af7", "1.0000000000000001e+23"},
	{"444b1ae4d6e2ef4e", "999999999999999700000"},
	{"444b1ae4d6e2ef4f", "999999999999999900000"},
	{"444b1ae4d6e2ef50", "1e+21"},
	{"3eb0c6f7a0b5ed8c", "9.999999999999997e-7"},
	{"3eb0c6f7a0b5ed8d", "0.000001"},
	{"41b3de4355555553", "333333333.3333332"},
	{"41b3de4355555554", "333333333.33333325"},
	{"41b3de4355555555", "333333333.3333333"},
	{"41b3de4355555556", "333333333.3333334"},
	{"41b3de4355555557", "333333333.33333343"},
	{"becbf647612f3696", "-0.0000033333333333333333"},
	{"43143ff3c1cb0959", "1424953923781206.2"},
}

// canonicalOf runs our code on one canonical.json vector's input and
// returns the canonical bytes or the canon reason.
func canonicalOf(v CanonicalVector) ([]byte, canon.Reason, error) {
	var out []byte
	var err error
	switch v.Mode {
	case "number":
		bits, perr := strconv.ParseUint(v.IEEE754, 16, 64)
		if perr != nil || len(v.IEEE754) != 16 {
			return nil, "", fmt.Errorf("bad ieee754 %q", v.IEEE754)
		}
		f := math.Float64frombits(bits)
		out, err = canon.Canonical(canon.Number(strconv.FormatFloat(f, 'e', -1, 64)))
	case "ijson", "governance":
		in := []byte(v.Input)
		if v.InputBase64 != "" {
			if in, err = base64.StdEncoding.DecodeString(v.InputBase64); err != nil {
				return nil, "", err
			}
		}
		parse := canon.Parse
		if v.Mode == "governance" {
			parse = canon.ParseStrict
		}
		var tree any
		if tree, err = parse(in); err == nil {
			out, err = canon.Canonical(tree)
		}
	default:
		return nil, "", fmt.Errorf("unknown mode %q", v.Mode)
	}
	if err != nil {
		ce, ok := err.(*canon.Error)
		if !ok {
			return nil, "", err
		}
		return nil, ce.Reason, nil
	}
	return out, "", nil
}

func genCanonical(t testing.TB) Canonical {
	f := Canonical{Description: "RFC 8785 (JCS) canonical form and the I-JSON input rules of ron-kms (DESIGN §2.1). See README.md."}
	for _, c := range canonCases {
		v := CanonicalVector{Name: c.name, Source: c.source, Mode: c.mode}
		if isText(c.input) {
			v.Input = c.input
		} else {
			v.InputBase64 = base64.StdEncoding.EncodeToString([]byte(c.input))
		}
		out, reason, err := canonicalOf(v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		switch {
		case c.expect != "":
			if reason != c.expect {
				t.Fatalf("%s: got %q %q, want reason %q", c.name, out, reason, c.expect)
			}
			v.Expect = string(c.expect)
			v.Path = errorPath(c.mode, []byte(c.input))
		default:
			if reason != "" {
				t.Fatalf("%s: rejected: %s", c.name, reason)
			}
			if c.want != "" && string(out) != c.want {
				t.Fatalf("%s: got %s, the source says %s", c.name, out, c.want)
			}
			v.Canonical, v.CanonicalHex = string(out), hex.EncodeToString(out)
		}
		f.Vectors = append(f.Vectors, v)
	}
	for _, n := range rfc8785Numbers {
		v := CanonicalVector{Name: "IEEE 754 " + n.bits, Source: "RFC 8785 Appendix B", Mode: "number", IEEE754: n.bits}
		out, reason, err := canonicalOf(v)
		if err != nil {
			t.Fatal(err)
		}
		if n.want == "" {
			if reason != canon.ReasonNumberRange {
				t.Fatalf("%s: got %q %q, want rejection", n.bits, out, reason)
			}
			v.Expect = string(reason)
		} else {
			if string(out) != n.want {
				t.Fatalf("%s: got %s %s, RFC 8785 says %s", n.bits, out, reason, n.want)
			}
			v.Canonical, v.CanonicalHex = string(out), hex.EncodeToString(out)
		}
		f.Vectors = append(f.Vectors, v)
	}
	return f
}

// errorPath is where our parser rejects in (informative in the file).
func errorPath(mode string, in []byte) string {
	parse := canon.Parse
	if mode == "governance" {
		parse = canon.ParseStrict
	}
	_, err := parse(in)
	if ce, ok := err.(*canon.Error); ok {
		return ce.Path
	}
	return ""
}

// isText reports whether s can travel as a JSON string in the vector file
// without ambiguity: valid UTF-8 (control characters are escaped by the
// file's encoder and decode back exactly).
func isText(s string) bool { return strings.ToValidUTF8(s, "\ufffd") == s }

// ---- digests.json and signatures.json ----

func genDigests(w *world) Digests {
	return Digests{
		Description: "Canonical bytes, digest and signed message of one realistic object of each type (DESIGN §2.1). See README.md.",
		Vectors:     w.objects,
	}
}

func intp(n int) *int { return &n }

func genSignatures(t testing.TB, w *world) Signatures {
	k := w.keys
	k1, k2, k3 := k["rfc8032-test1"], k["rfc8032-test2"], k["rfc8032-test3"]
	file := func(s *quorum.SignerSet) string {
		b, err := canon.MarshalFile(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	f := Signatures{
		Description: "Ed25519 signature entries over ron-kms signed messages, made with the RFC 8032 §7.1 test keys and keys derived from fixed seeds; valid cases and negatives with their expected outcome. See README.md.",
		Keys:        keyList(k),
		SignerSets: []NamedSignerSet{
			{Name: "v1", Digest: w.d1, File: file(w.v1)},
			{Name: "v2", Digest: w.d2, File: file(w.v2)},
			{Name: "v2-new-members-only", Digest: w.d2new, File: file(w.v2new)},
		},
	}
	roles := map[string]string{k1.Name: quorum.RolePolicyOwner, k2.Name: quorum.RoleSecurityOfficer, k3.Name: quorum.RoleCustodian}
	for _, o := range w.objects {
		for _, key := range []*testKey{k1, k2, k3} {
			e := entry(key.sign(t, roles[key.Name], o.Type, o.Digest))
			f.Valid = append(f.Valid, SignatureVector{Name: fmt.Sprintf("%s signed by %s", o.Type, key.Name), Check: "entry",
				Type: o.Type, Digest: o.Digest, Message: o.Message, Key: key.Name, Entry: &e})
		}
	}
	prop := w.object("proposal")
	sig := func(key *testKey, role, typ string) Entry { return entry(key.sign(t, role, typ, prop.Digest)) }
	po := sig(k1, quorum.RolePolicyOwner, "proposal")
	cu := sig(k3, quorum.RoleCustodian, "proposal")
	f.Valid = append(f.Valid,
		SignatureVector{Name: "proposal: threshold 2 met by policy-owner and custodian", Check: "tally", Type: "proposal", Digest: prop.Digest,
			SignerSet: "v1", Entries: []Entry{po, cu}, Counted: intp(2)},
		SignatureVector{Name: "rotation v1 to v2: threshold of the old set and of the new set", Check: "rotation", Previous: "v1", SignerSet: "v2"},
	)

	overSignerSet := sig(k1, quorum.RolePolicyOwner, "signer_set") // over the proposal's digest, with the signer_set prefix
	wrongID := po
	wrongID.KeyID = k2.KeyID
	unknown := entry(k["next-policy-owner"].sign(t, quorum.RolePolicyOwner, "proposal", prop.Digest))
	asOperator := sig(k3, quorum.RoleOperator, "proposal")
	asAdmin := sig(k3, "admin", "proposal")
	operator := entry(k["operator-1"].sign(t, quorum.RoleOperator, "proposal", prop.Digest))

	rawSig, _ := base64.StdEncoding.DecodeString(po.Sig)
	b64 := po.Sig
	// The last character before "==" carries 4 padding bits; flip one.
	padBits := b64[:85] + string(rune(b64[85]+1)) + "=="
	lineBreak := b64[:76] + "\n" + b64[76:]
	truncated := base64.StdEncoding.EncodeToString(rawSig[:63])
	unpadded := strings.TrimRight(b64, "=")
	urlSafe := base64.URLEncoding.EncodeToString(rawSig)
	if urlSafe == b64 {
		t.Fatal("url-safe base64 equals standard base64 for this signature; pick another")
	}
	entryJSON := func(role, keyID, s string) string {
		b, err := canon.Canonical(canon.Object{"role": role, "key_id": keyID, "sig": s})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	f.Valid = append(f.Valid, SignatureVector{Name: "entry in canonical JSON", Check: "parse", EntryJSON: entryJSON(po.Role, po.KeyID, po.Sig)})
	for _, key := range keyList(k) {
		f.Valid = append(f.Valid, SignatureVector{Name: "public key of " + key.Name, Check: "public_key", PublicKey: key.PublicKey})
	}

	goodY, badY := smallY(t)
	sPlusL := po
	sPlusL.Sig = base64.StdEncoding.EncodeToString(addL(t, rawSig))
	enc := base64.StdEncoding.EncodeToString
	f.Invalid = []SignatureVector{
		{Name: "signature over the proposal's digest with the signer_set prefix, checked as a proposal", Check: "entry",
			Type: "proposal", Digest: prop.Digest, Message: prop.Message, Key: k1.Name, Entry: &overSignerSet, Expect: ExpectBadSignature},
		{Name: "signature over the proposal checked as a signer set with the same digest", Check: "entry",
			Type: "signer_set", Digest: prop.Digest, Message: "ron-kms/v1 signer_set " + strings.TrimPrefix(prop.Digest, "sha256:"), Key: k1.Name, Entry: &po, Expect: ExpectBadSignature},
		{Name: "non-canonical S (S + L): the same signature to a lenient verifier", Check: "entry",
			Type: "proposal", Digest: prop.Digest, Message: prop.Message, Key: k1.Name, Entry: &sPlusL, Expect: ExpectBadSignature,
			Note: "RFC 8032 §5.1.7 requires S < L; crypto/ed25519 and ed25519-dalek 2 refuse it"},
		{Name: "key_id names another key than the one that signed", Check: "entry",
			Type: "proposal", Digest: prop.Digest, Message: prop.Message, Key: k1.Name, Entry: &wrongID, Expect: ExpectKeyMismatch},
		{Name: "signature over another object's digest", Check: "entry",
			Type: "proposal", Digest: w.object("policy").Digest, Message: "ron-kms/v1 proposal " + strings.TrimPrefix(w.object("policy").Digest, "sha256:"), Key: k1.Name, Entry: &po, Expect: ExpectBadSignature},
		{Name: "key counted twice toward the threshold", Check: "tally", Type: "proposal", Digest: prop.Digest, SignerSet: "v1",
			Entries: []Entry{po, po}, Counted: intp(1), Rejected: []string{ExpectDuplicate}, Expect: ExpectThresholdNotMet},
		{Name: "key_id not in the signer set", Check: "tally", Type: "proposal", Digest: prop.Digest, SignerSet: "v1",
			Entries: []Entry{po, unknown}, Counted: intp(1), Rejected: []string{ExpectUnknownKey}, Expect: ExpectThresholdNotMet},
		{Name: "role other than the member's (custodian signs as operator)", Check: "tally", Type: "proposal", Digest: prop.Digest, SignerSet: "v1",
			Entries: []Entry{po, asOperator}, Counted: intp(1), Rejected: []string{ExpectRoleMismatch}, Expect: ExpectThresholdNotMet},
		{Name: "role that is no role of the signer set", Check: "tally", Type: "proposal", Digest: prop.Digest, SignerSet: "v1",
			Entries: []Entry{asAdmin, po}, Counted: intp(1), Rejected: []string{ExpectRoleMismatch}, Expect: ExpectThresholdNotMet},
		{Name: "operator signature never counts toward quorum", Check: "tally", Type: "proposal", Digest: prop.Digest, SignerSet: "v1",
			Entries: []Entry{operator, cu}, Counted: intp(1), Rejected: []string{ExpectNotQuorum}, Expect: ExpectThresholdNotMet},
		{Name: "signature over another type prefix does not count", Check: "tally", Type: "proposal", Digest: prop.Digest, SignerSet: "v1",
			Entries: []Entry{overSignerSet, cu}, Counted: intp(1), Rejected: []string{ExpectBadSignature}, Expect: ExpectThresholdNotMet},
		{Name: "rotation signed only by the new set", Check: "rotation", Previous: "v1", SignerSet: "v2-new-members-only",
			FailedSet: "old", Expect: ExpectThresholdNotMet, Note: "the new set's threshold is met (2 of 3); the old set's is not (0 of 2)"},
		{Name: "sig is non-canonical base64 (padding bits set)", Check: "parse", EntryJSON: entryJSON(po.Role, po.KeyID, padBits), Expect: ExpectMalformedEntry,
			Note: "decodes to the same 64 bytes in a lenient decoder"},
		{Name: "sig has a line break", Check: "parse", EntryJSON: entryJSON(po.Role, po.KeyID, lineBreak), Expect: ExpectMalformedEntry},
		{Name: "sig without padding", Check: "parse", EntryJSON: entryJSON(po.Role, po.KeyID, unpadded), Expect: ExpectMalformedEntry},
		{Name: "sig in URL-safe base64", Check: "parse", EntryJSON: entryJSON(po.Role, po.KeyID, urlSafe), Expect: ExpectMalformedEntry},
		{Name: "truncated signature (63 bytes)", Check: "parse", EntryJSON: entryJSON(po.Role, po.KeyID, truncated), Expect: ExpectMalformedEntry},
		{Name: "key_id in upper case", Check: "parse", EntryJSON: entryJSON(po.Role, strings.ToUpper(po.KeyID), po.Sig), Expect: ExpectMalformedEntry},
		{Name: "unknown field", Check: "parse", EntryJSON: `{"key_id":"` + po.KeyID + `","note":"x","role":"policy-owner","sig":"` + po.Sig + `"}`, Expect: ExpectMalformedEntry},
		{Name: "missing role", Check: "parse", EntryJSON: `{"key_id":"` + po.KeyID + `","sig":"` + po.Sig + `"}`, Expect: ExpectMalformedEntry},
		{Name: "field name in another case", Check: "parse", EntryJSON: `{"Key_id":"` + po.KeyID + `","role":"policy-owner","sig":"` + po.Sig + `"}`, Expect: ExpectMalformedEntry},
		{Name: "public key: the identity (small order; (R = B, S = 1) verifies for every message)", Check: "public_key", PublicKey: enc(yBytes(1)), Expect: ExpectBadPublicKey},
		{Name: "public key: a point of order 8", Check: "public_key", PublicKey: enc(mustHex(t, "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")), Expect: ExpectBadPublicKey},
		{Name: "public key: a point of order 4 (y = 0)", Check: "public_key", PublicKey: enc(yBytes(0)), Expect: ExpectBadPublicKey},
		{Name: "public key: the identity encoded as y = p + 1", Check: "public_key", PublicKey: enc(plusP(yBytes(1))), Expect: ExpectBadPublicKey},
		{Name: fmt.Sprintf("public key: y = %d + p, a non-canonical encoding of a point of large order", goodY), Check: "public_key", PublicKey: enc(plusP(yBytes(goodY))), Expect: ExpectBadPublicKey},
		{Name: fmt.Sprintf("public key: y = %d, not on the curve", badY), Check: "public_key", PublicKey: enc(yBytes(badY)), Expect: ExpectBadPublicKey},
		{Name: "public key: padding bits set", Check: "public_key", PublicKey: k1.PublicKey[:42] + string(rune(k1.PublicKey[42]+1)) + "=", Expect: ExpectBadPublicKey},
		{Name: "public key: 31 bytes", Check: "public_key", PublicKey: enc(mustHex(t, k1.PublicKeyHex)[:31]), Expect: ExpectBadPublicKey},
		{Name: "duplicate field", Check: "parse", EntryJSON: `{"key_id":"` + po.KeyID + `","role":"policy-owner","role":"custodian","sig":"` + po.Sig + `"}`, Expect: ExpectMalformedEntry},
	}
	return f
}

// addL returns the signature with L (the group order) added to its S half:
// a non-canonical S that a verifier must refuse.
func addL(t testing.TB, sig []byte) []byte {
	l := mustHex(t, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	out := append([]byte(nil), sig...)
	carry := 0
	for i := 0; i < 32; i++ {
		v := int(sig[32+i]) + int(l[i]) + carry
		out[32+i], carry = byte(v), v>>8
	}
	if carry != 0 {
		t.Fatal("S + L overflows")
	}
	return out
}

// yBytes is the 32-byte little-endian encoding of a small y, sign bit clear.
func yBytes(y uint64) []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint64(b, y)
	return b
}

// plusP adds p = 2^255-19 to the encoding of a y below 19: the
// non-canonical alias of the same point.
func plusP(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[0] += 0xed
	for i := 1; i < 31; i++ {
		out[i] = 0xff
	}
	out[31] = 0x7f
	return out
}

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallY returns the smallest y in 2..18 that is a point of large order
// and the smallest that is not a point at all.
func smallY(t testing.TB) (good, bad uint64) {
	for y := uint64(2); y < 19; y++ {
		p, err := new(edwards25519.Point).SetBytes(yBytes(y))
		switch {
		case err != nil && bad == 0:
			bad = y
		case err == nil && good == 0 && new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 0:
			good = y
		}
	}
	if good == 0 || bad == 0 {
		t.Fatal("no small y of each kind")
	}
	return good, bad
}

// ---- writing ----

func marshalFile(t testing.TB, v any) []byte {
	b, err := canon.MarshalFile(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// generate returns every vector file's bytes, by name.
func generate(t testing.TB) map[string][]byte {
	w := build(t)
	return map[string][]byte{
		CanonicalFile:  marshalFile(t, genCanonical(t)),
		DigestsFile:    marshalFile(t, genDigests(w)),
		SignaturesFile: marshalFile(t, genSignatures(t, w)),
	}
}
