package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// Real examples, one per kind this file owns. The keys are RFC 8032 §7.1
// TEST 1, 2 and 3; the signature is TEST 3's over "af82" (shape only: the
// schema does not verify signatures).
var examples = map[string]string{
	"signer_set": `{
  "type": "signer_set",
  "version": 1,
  "members": [
    {"role": "policy-owner", "key_id": "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9", "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "alg": "ed25519"},
    {"role": "security-officer", "key_id": "39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f", "public_key": "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=", "alg": "ed25519"},
    {"role": "custodian", "key_id": "dac073e0123bdea59dd9b3bda9cf6037f63aca82627d7abcd5c4ac29dd74003e", "public_key": "/FHNjmIYoaONpH7QAjDwWAgW7RO6MwOsXeuRFUiQgCU=", "alg": "ed25519"}
  ],
  "threshold": 2,
  "rotated_at": "2026-01-01T00:00:00Z",
  "expires_at": "2026-04-03T00:00:00Z",
  "previous": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "signatures": [
    {"role": "custodian", "key_id": "dac073e0123bdea59dd9b3bda9cf6037f63aca82627d7abcd5c4ac29dd74003e", "sig": "YpHWV97sJAJIJ+acOr4BowzlSKKEdDpEXjaA19taw6wY/5tTjRbykK5n92CYTcZZSnwV6XFu0o3AJ77O6h7ECg=="}
  ]
}`,
	"capability": `{
  "type": "capability",
  "id": "4f1d2c3b4a5968778695a4b3c2d1e0f1",
  "tenant": "acme",
  "scope": ["sign", "verify"],
  "alg": ["ed25519", "mldsa65-ed25519"],
  "key": "acme/payments-*",
  "exp": "2026-03-01T12:00:00Z",
  "rps": 50,
  "nonce": "00112233445566778899aabbccddeeff",
  "issued_at": "2026-03-01T11:00:00Z"
}`,
	"mint_request": `{
  "type": "mint_request",
  "tenant": "acme",
  "scope": ["sign"],
  "alg": ["ed25519"],
  "key": "acme/pay*",
  "ttl_seconds": 600,
  "rps": 10,
  "single_use": false,
  "issued_at": "2026-03-01T12:00:00Z",
  "nonce": "00112233445566778899aabbccddeeff",
  "signatures": [
    {"role": "minter", "key_id": "dac073e0123bdea59dd9b3bda9cf6037f63aca82627d7abcd5c4ac29dd74003e", "sig": "YpHWV97sJAJIJ+acOr4BowzlSKKEdDpEXjaA19taw6wY/5tTjRbykK5n92CYTcZZSnwV6XFu0o3AJ77O6h7ECg=="}
  ]
}`,
	"audit_record": `{
  "type": "audit_record",
  "index": 41,
  "prev": "5f0c4b5a3e1d2c8b7a69584736251403f2e1d0c9b8a79685746352413021f0e1",
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
  "policy_version": 7,
  "governance_commit": "2f3e4d5c6b7a8998a7b6c5d4e3f2a1b0c9d8e7f6",
  "detail": ""
}`,
	"checkpoint": `{
  "type": "checkpoint",
  "appliance_id": "hsm-eu-1",
  "origin": "ron-kms/hsm-eu-1/audit",
  "tree_size": 42,
  "root_hash": "3e1d2c8b7a69584736251403f2e1d0c9b8a796857463524130215f0c4b5a0f0e",
  "previous_size": 40,
  "previous_root_hash": "c9b8a79685746352413021f0e15f0c4b5a3e1d2c8b7a69584736251403f2e1d0",
  "consistency": [
    "0c9b8a79685746352413021f0e15f0c4b5a3e1d2c8b7a69584736251403f2e1d",
    "1d2c8b7a69584736251403f2e1d0c9b8a79685746352413021f0e15f0c4b5a3e"
  ],
  "governance_commit": "2f3e4d5c6b7a8998a7b6c5d4e3f2a1b0c9d8e7f6",
  "policy_version": 7,
  "time": "2026-03-01T11:00:05Z",
  "note": "ron-kms/hsm-eu-1/audit\n42\nPh0si3ppWEc2JRQD8uHQybinlodGNSQTAhXwxLWg8O4=\n\n\u2014 ron-kms/hsm-eu-1/audit Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
}`,
}

func TestEverySchemaCompiles(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(files, "*"+suffix)
	if err != nil {
		t.Fatal(err)
	}
	kinds := Kinds()
	if len(kinds) != len(names) || len(kinds) == 0 {
		t.Fatalf("kinds %v for files %v", kinds, names)
	}
	for _, want := range []string{"audit_record", "capability", "checkpoint", "mint_request", "signer_set"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("kind %s missing from %v", want, kinds)
		}
	}
	// Each schema's "type" property is the constant of its kind, so that
	// Validate(obj.type, data) checks an object against the right schema.
	for _, k := range kinds {
		data, _ := fs.ReadFile(files, k+suffix)
		var doc struct {
			Properties struct {
				Type struct {
					Const *string `json:"const"`
				} `json:"type"`
			} `json:"properties"`
			AdditionalProperties *bool `json:"additionalProperties"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		if c := doc.Properties.Type.Const; c == nil || *c != k {
			t.Errorf("%s%s: properties.type must be {\"const\": %q}", k, suffix, k)
		}
		if a := doc.AdditionalProperties; a == nil || *a {
			t.Errorf("%s%s: top level must say additionalProperties: false", k, suffix)
		}
	}
}

func TestSchemaFilesAreStrictJSON(t *testing.T) {
	names, _ := fs.Glob(files, "*.json")
	for _, n := range names {
		data, _ := fs.ReadFile(files, n)
		if _, err := canon.Parse(data); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

func TestExamplesValid(t *testing.T) {
	for kind, ex := range examples {
		if err := Validate(kind, []byte(ex)); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

// mutate parses the example of kind, applies f and returns the canonical
// bytes.
func mutate(t *testing.T, kind string, f func(o canon.Object)) []byte {
	t.Helper()
	v, err := canon.ParseStrict([]byte(examples[kind]))
	if err != nil {
		t.Fatal(err)
	}
	f(v.(canon.Object))
	out, err := canon.Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func set(key string, val any) func(canon.Object) {
	return func(o canon.Object) { o[key] = val }
}

func del(key string) func(canon.Object) {
	return func(o canon.Object) { delete(o, key) }
}

func elem(key string, i int, f func(canon.Object)) func(canon.Object) {
	return func(o canon.Object) { f(o[key].([]any)[i].(canon.Object)) }
}

func TestRejects(t *testing.T) {
	const badSig = "YpHWV97sJAJIJ+acOr4BowzlSKKEdDpEXjaA19taw6wY/5tTjRbykK5n92CYTcZZSnwV6XFu0o3AJ77O6h7ECh==" // padding bits set
	for _, tc := range []struct {
		kind, name string
		f          func(canon.Object)
		path, kw   string
	}{
		{"signer_set", "unknown field", set("comment", "hi"), "$", "additionalProperties"},
		{"signer_set", "missing threshold", del("threshold"), "$", "required"},
		{"signer_set", "wrong type", set("type", "proposal"), "$.type", "const"},
		{"signer_set", "version 0", set("version", canon.Number("0")), "$.version", "minimum"},
		{"signer_set", "threshold a string", set("threshold", "2"), "$.threshold", "type"},
		{"signer_set", "no members", set("members", []any{}), "$.members", "minItems"},
		{"signer_set", "upper-case key id", elem("members", 0, set("key_id", "21FE31DFA154A261626BF854046FD2271B7BED4B6ABE45AA58877EF47F9721B9")), "$.members[0].key_id", "pattern"},
		{"signer_set", "short key id", elem("members", 1, set("key_id", "39f713d0")), "$.members[1].key_id", "pattern"},
		{"signer_set", "unknown role", elem("members", 2, set("role", "admin")), "$.members[2].role", "enum"},
		{"signer_set", "alg", elem("members", 0, set("alg", "rsa")), "$.members[0].alg", "const"},
		{"signer_set", "public key padding bits", elem("members", 0, set("public_key", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=")), "$.members[0].public_key", "pattern"},
		{"signer_set", "public key url-safe base64", elem("members", 2, set("public_key", "_FHNjmIYoaONpH7QAjDwWAgW7RO6MwOsXeuRFUiQgCU=")), "$.members[2].public_key", "pattern"},
		{"signer_set", "member extra field", elem("members", 0, set("name", "alice")), "$.members[0]", "additionalProperties"},
		{"signer_set", "digest upper-case", set("previous", "sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000"), "$.previous", "pattern"},
		{"signer_set", "digest other algorithm", set("previous", "sha512:0000000000000000000000000000000000000000000000000000000000000000"), "$.previous", "pattern"},
		{"signer_set", "time with offset", set("rotated_at", "2026-01-01T01:00:00+01:00"), "$.rotated_at", "pattern"},
		{"signer_set", "time with fraction", set("rotated_at", "2026-01-01T00:00:00.5Z"), "$.rotated_at", "pattern"},
		{"signer_set", "impossible date", set("expires_at", "2026-02-30T00:00:00Z"), "$.expires_at", "format"},
		{"signer_set", "sig padding bits", elem("signatures", 0, set("sig", badSig)), "$.signatures[0].sig", "pattern"},
		{"signer_set", "sig with line break", elem("signatures", 0, set("sig", "YpHWV97sJAJIJ+acOr4BowzlSKKEdDpEXjaA19taw6wY/5tTjRbykK5n92CYTcZZSnwV6XFu0o3AJ77O6h7E\nCg==")), "$.signatures[0].sig", "pattern"},
		{"signer_set", "sig truncated", elem("signatures", 0, set("sig", "YpHWV97sJAJIJ+acOr4BowzlSKKEdDpEXjaA19taw6wY/5tTjRbykK5n92CYTcZZSnwV6XFu0o3AJ77O6h7E")), "$.signatures[0].sig", "pattern"},
		{"signer_set", "signature role not a role", elem("signatures", 0, set("role", "minter")), "$.signatures[0].role", "enum"},
		{"capability", "scope empty", set("scope", []any{}), "$.scope", "minItems"},
		{"capability", "scope repeated", set("scope", []any{"sign", "sign"}), "$.scope", "uniqueItems"},
		{"capability", "scope unknown op", set("scope", []any{"export"}), "$.scope[0]", "enum"},
		{"capability", "alg unknown", set("alg", []any{"rsa-2048"}), "$.alg[0]", "enum"},
		{"capability", "rps zero", set("rps", canon.Number("0")), "$.rps", "minimum"},
		{"capability", "rps above cap", set("rps", canon.Number("1000001")), "$.rps", "maximum"},
		{"capability", "id short", set("id", "4f1d"), "$.id", "pattern"},
		{"capability", "key of no tenant", set("key", "*"), "$.key", "pattern"},
		{"capability", "missing exp", del("exp"), "$", "required"},
		{"capability", "tenant upper-case", set("tenant", "ACME"), "$.tenant", "pattern"},
		{"capability", "signatures", set("signatures", []any{}), "$", "additionalProperties"},
		{"capability", "token", set("token", "AgE..."), "$", "additionalProperties"},
		{"mint_request", "no signature", set("signatures", []any{}), "$.signatures", "minItems"},
		{"mint_request", "signature by another role", elem("signatures", 0, set("role", "custodian")), "$.signatures[0].role", "const"},
		{"mint_request", "ttl zero", set("ttl_seconds", canon.Number("0")), "$.ttl_seconds", "minimum"},
		{"mint_request", "rps zero (absent is the way to say none)", set("rps", canon.Number("0")), "$.rps", "minimum"},
		{"mint_request", "empty alg list", set("alg", []any{}), "$.alg", "minItems"},
		{"mint_request", "empty key", set("key", ""), "$.key", "pattern"},
		{"mint_request", "missing nonce", del("nonce"), "$", "required"},
		{"mint_request", "single_use as string", set("single_use", "no"), "$.single_use", "type"},
		{"mint_request", "issued_at with offset", set("issued_at", "2026-03-01T13:00:00+01:00"), "$.issued_at", "pattern"},
		{"audit_record", "rejected without reason", set("reason", ""), "$.reason", "minLength"},
		{"audit_record", "ok with reason", set("outcome", "ok"), "$.reason", "const"},
		{"audit_record", "unknown outcome", set("outcome", "denied"), "$.outcome", "enum"},
		{"audit_record", "unknown event", set("event", "export"), "$.event", "enum"},
		{"audit_record", "negative index", set("index", canon.Number("-1")), "$.index", "minimum"},
		{"audit_record", "prev with digest prefix", set("prev", "sha256:5f0c4b5a3e1d2c8b7a69584736251403f2e1d0c9b8a79685746352413021f0e1"), "$.prev", "pattern"},
		{"audit_record", "time trailing zero", set("time", "2026-03-01T11:00:00.120Z"), "$.time", "pattern"},
		{"audit_record", "time with offset", set("time", "2026-03-01T12:00:00+01:00"), "$.time", "pattern"},
		{"audit_record", "plaintext field", set("plaintext", "aGVsbG8="), "$", "additionalProperties"},
		{"audit_record", "field left out", del("detail"), "$", "required"},
		{"audit_record", "tenant upper-case", set("tenant", "ACME"), "$.tenant", "pattern"},
		{"audit_record", "key without its tenant", set("key", "payments-2026"), "$.key", "pattern"},
		{"audit_record", "key version 0", set("key", "acme/payments-2026/v0"), "$.key", "pattern"},
		{"audit_record", "key version of 10 digits", set("key", "acme/payments-2026/v1234567890"), "$.key", "pattern"},
		{"audit_record", "key with a third segment", set("key", "acme/payments/2026"), "$.key", "pattern"},
		{"audit_record", "digest truncated", set("digest", "sha256:ab"), "$.digest", "pattern"},
		{"audit_record", "alg unknown", set("alg", "rsa"), "$.alg", "enum"},
		{"audit_record", "commit short", set("governance_commit", "2f3e4d5"), "$.governance_commit", "pattern"},
		{"checkpoint", "wrong origin", set("origin", "example.com/log"), "$.origin", "pattern"},
		{"checkpoint", "commit short", set("governance_commit", "2f3e4d5"), "$.governance_commit", "pattern"},
		{"checkpoint", "proof hash base64", set("consistency", []any{"Ph0si3ppWEc2JRQD8uHQybinlodGNSQTAhXwxLWg8O4="}), "$.consistency[0]", "pattern"},
		{"checkpoint", "root hash upper-case", set("root_hash", "3E1D2C8B7A69584736251403F2E1D0C9B8A796857463524130215F0C4B5A0F0E"), "$.root_hash", "pattern"},
		{"checkpoint", "note unsigned", set("note", "ron-kms/hsm-eu-1/audit\n42\nPh0si3ppWEc2JRQD8uHQybinlodGNSQTAhXwxLWg8O4=\n"), "$.note", "pattern"},
		{"checkpoint", "missing previous_root_hash", del("previous_root_hash"), "$", "required"},
	} {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			data := mutate(t, tc.kind, tc.f)
			err := Validate(tc.kind, data)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *schemas.Error", err)
			}
			if se.Path != tc.path || se.Keyword != tc.kw {
				t.Errorf("got %s %s, want %s %s (%v)", se.Path, se.Keyword, tc.path, tc.kw, err)
			}
			if se.Kind != tc.kind || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("message %q does not name kind and path", err)
			}
		})
	}
}

func TestValidateRejectsNonIJSON(t *testing.T) {
	ex := []byte(examples["signer_set"])
	for name, tc := range map[string]struct {
		data   []byte
		reason canon.Reason
	}{
		"duplicate key":     {bytes.Replace(ex, []byte(`"threshold": 2,`), []byte(`"threshold": 2, "threshold": 3,`), 1), canon.ReasonDuplicateKey},
		"non-canonical 2.0": {bytes.Replace(ex, []byte(`"threshold": 2,`), []byte(`"threshold": 2.0,`), 1), canon.ReasonNonCanonicalNumber},
		"integer beyond":    {bytes.Replace(ex, []byte(`"version": 1,`), []byte(`"version": 9007199254740993,`), 1), canon.ReasonNumberRange},
		"invalid utf-8":     {bytes.Replace(ex, []byte(`"custodian"`), []byte("\"cust\xffodian\""), 1), canon.ReasonInvalidUTF8},
	} {
		err := Validate("signer_set", tc.data)
		var ce *canon.Error
		if !errors.As(err, &ce) || ce.Reason != tc.reason {
			t.Errorf("%s: got %v, want canon reason %q", name, err, tc.reason)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	if err := Validate("no_such_kind", []byte(`{}`)); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("got %v", err)
	}
}

// TestLoaderFetchesNothing: a schema that refers outside the embedded files
// fails to compile instead of reaching the network or the file system.
func TestLoaderFetchesNothing(t *testing.T) {
	for _, ref := range []string{"https://example.com/x.json", "file:///etc/passwd", "missing.json"} {
		fsys := mapFS(map[string]string{
			"x.schema.json": `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "` + ref + `"}`,
		})
		if c := compile(fsys, nil); c.err == nil {
			t.Errorf("ref %s compiled", ref)
		}
	}
}

func mapFS(m map[string]string) fs.FS {
	fsys := fstest.MapFS{}
	for name, data := range m {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// TestIntegerBounds checks the schemas' own bounds, below canon's: a
// number canon would refuse never reaches them through Validate, but the
// files are also read by other implementations.
func TestIntegerBounds(t *testing.T) {
	s := load().schemas["signer_set"]
	v, err := decode([]byte(examples["signer_set"]), true)
	if err != nil {
		t.Fatal(err)
	}
	obj := v.(map[string]any)
	for lit, ok := range map[string]bool{"9007199254740991": true, "9007199254740992": false, "1.5": false} {
		obj["version"] = json.Number(lit)
		if err := s.Validate(obj); (err == nil) != ok {
			t.Errorf("version %s: valid=%v, want %v", lit, err == nil, ok)
		}
	}
}

// TestConvertLeavesNoCanonNumber: the validator never sees a canon.Number
// (it would not know its type), the input tree is left as it was, and
// containers without numbers are shared rather than copied.
func TestConvertLeavesNoCanonNumber(t *testing.T) {
	in := `{"a":[{"b":"x"},{"c":[1,{"d":2}]}],"e":{"f":"g"},"h":3,"i":[]}`
	tree, err := canon.ParseStrict([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, changed := convert(tree)
	if !changed {
		t.Fatal("numbers not reported")
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case canon.Number:
			t.Errorf("canon.Number %s left in the instance", x)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(out)
	if c, _ := canon.Canonical(tree); string(c) != in {
		t.Errorf("input changed: %s", c)
	}
	if _, ok := out.(map[string]any)["h"].(json.Number); !ok {
		t.Error("h is not a json.Number")
	}
	e1, e2 := tree.(canon.Object)["e"], out.(map[string]any)["e"]
	if fmt.Sprintf("%p", e1) != fmt.Sprintf("%p", e2) {
		t.Error("an object without numbers was copied")
	}
}
