package quorum

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/schemas"
)

// signedSet is a valid genesis signer set signed by two of its three quorum
// members.
func signedSet(t testing.TB) *SignerSet {
	t.Helper()
	a, b, c := key("a"), key("b"), key("c")
	s := set(1, 2, GenesisPrevious, member(RolePolicyOwner, a), member(RoleSecurityOfficer, b), member(RoleCustodian, c))
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s.Signatures = []envelope.Signature{sign(t, a, RolePolicyOwner, TypeSignerSet, d), sign(t, b, RoleSecurityOfficer, TypeSignerSet, d)}
	return s
}

func fileOf(t testing.TB, s *SignerSet) []byte {
	t.Helper()
	data, err := canon.MarshalFile(s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestParseAcceptsValidSet: a valid, signed set parses to itself.
func TestParseAcceptsValidSet(t *testing.T) {
	s := signedSet(t)
	got, err := Parse(fileOf(t, s))
	if err != nil {
		t.Fatalf("valid signer set refused: %v", err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("Parse returned %+v, want %+v", got, s)
	}
}

// TestParseRefusesWhatTheSchemaRefuses: signer sets that keep every rule of
// Validate but break schemas/signer_set.schema.json are refused by Parse
// with the schema's reason (where and which keyword), as the verifier
// refuses them, so that no govtool command reads or signs a set the
// verifier will not accept.
func TestParseRefusesWhatTheSchemaRefuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mutate   func(*SignerSet)
		path     string
		keywords []string // the keyword reported is one of these
	}{
		{"65 members", func(s *SignerSet) {
			s.Members = nil
			for i := range 65 {
				s.Members = append(s.Members, member(RoleCustodian, key(fmt.Sprint("member ", i))))
			}
		}, "$.members", []string{"maxItems"}},
		{"65 signatures", func(s *SignerSet) {
			for len(s.Signatures) < 65 {
				s.Signatures = append(s.Signatures, s.Signatures[0])
			}
		}, "$.signatures", []string{"maxItems"}},
		{"signature role too long", func(s *SignerSet) {
			s.Signatures[0].Role = "policy-owner-" + strings.Repeat("x", 40)
		}, "$.signatures[0].role", []string{"pattern", "enum"}},
		{"signature key_id upper case", func(s *SignerSet) {
			s.Signatures[1].KeyID = strings.ToUpper(s.Signatures[1].KeyID)
		}, "$.signatures[1].key_id", []string{"pattern"}},
		{"signature key_id short", func(s *SignerSet) {
			s.Signatures[0].KeyID = s.Signatures[0].KeyID[:12]
		}, "$.signatures[0].key_id", []string{"pattern"}},
		{"signature not base64", func(s *SignerSet) {
			s.Signatures[0].Sig = "not a signature"
		}, "$.signatures[0].sig", []string{"pattern"}},
		{"rotated_at with a fraction", func(s *SignerSet) {
			s.RotatedAt = "2026-01-01T00:00:00.5Z"
		}, "$.rotated_at", []string{"pattern"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := signedSet(t)
			tc.mutate(s)
			// The case is one only the schema catches.
			if err := s.Validate(); err != nil {
				t.Fatalf("Validate refuses it already (%v): not a schema case", err)
			}
			_, err := Parse(fileOf(t, s))
			if err == nil {
				t.Fatal("Parse accepted a signer set the schema refuses")
			}
			var se *schemas.Error
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *schemas.Error: %v", err)
			}
			if se.Kind != TypeSignerSet || se.Path != tc.path || !slices.Contains(tc.keywords, se.Keyword) {
				t.Errorf("got %s %s at %s, want %v at %s", se.Kind, se.Keyword, se.Path, tc.keywords, tc.path)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "quorum: signer set version 1: ") || !strings.Contains(msg, tc.path) {
				t.Errorf("message %q does not name the signer set version and the field", msg)
			}
		})
	}
}

// TestParseDocumentIsParse: ParseDocument over a parsed document decides
// as Parse does over its bytes.
func TestParseDocumentIsParse(t *testing.T) {
	good := signedSet(t)
	bad := signedSet(t)
	bad.Signatures[0].Role = strings.Repeat("r", 33)
	for name, data := range map[string][]byte{"valid": fileOf(t, good), "schema-invalid": fileOf(t, bad)} {
		doc, err := canon.ParseDocument(data)
		if err != nil {
			t.Fatal(err)
		}
		s1, err1 := Parse(data)
		s2, err2 := ParseDocument(doc)
		if !reflect.DeepEqual(s1, s2) || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Errorf("%s: Parse gave %v, %v; ParseDocument %v, %v", name, s1, err1, s2, err2)
		}
	}
}

// FuzzParse: whatever Parse accepts satisfies the signer set schema on its
// own (as the verifier checks it) and Validate, and re-encodes to the same
// canonical bytes.
func FuzzParse(f *testing.F) {
	s := signedSet(f)
	f.Add(fileOf(f, s))
	s.Signatures[0].Role = strings.Repeat("r", 33)
	f.Add(fileOf(f, s))
	f.Add([]byte(`{"type":"signer_set"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if err := schemas.Validate(TypeSignerSet, data); err != nil {
			t.Fatalf("Parse accepted what the schema refuses: %v", err)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid set: %v", err)
		}
		c1, err := canon.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		tree, _ := canon.ParseStrict(data)
		c2, _ := canon.Canonical(tree)
		if string(c1) != string(c2) {
			t.Fatal("parsed signer set does not round-trip")
		}
	})
}
