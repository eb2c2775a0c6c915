package schemas

import (
	"slices"
	"strings"
	"testing"
)

func TestPattern(t *testing.T) {
	for _, c := range []struct{ ref, want string }{
		{"defs.json#/$defs/key_id", `^[0-9a-f]{64}$`},
		{"defs.json#/$defs/signature/properties/role", `^[a-z][a-z0-9-]{0,31}$`},
		{"defs.json#/$defs/signature/properties/key_id", `^[0-9a-f]{64}$`},                         // a $ref in the same file
		{"proposal.schema.json#/properties/signer_set/properties/digest", `^sha256:[0-9a-f]{64}$`}, // a $ref to defs.json
	} {
		got, err := Pattern(c.ref)
		if err != nil || got != c.want {
			t.Errorf("Pattern(%s) = %q, %v; want %q", c.ref, got, err, c.want)
		}
	}
	for _, c := range []struct{ ref, want string }{
		{"defs.json#/$defs/role", "has no pattern"}, // an enum
		{"defs.json#/$defs/nope", `no "nope"`},
		{"nope.json#/x", "nope.json"},
		{"defs.json#$defs", "not a JSON pointer"},
		{"defs.json#/$defs/key_id/pattern", "not a schema object"},
	} {
		if _, err := Pattern(c.ref); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Pattern(%s): error %v, want one that says %q", c.ref, err, c.want)
		}
	}
}

func TestEnum(t *testing.T) {
	got, err := Enum("policy.schema.json#/$defs/tenant/properties/pq_mode") // a $ref in the same file
	if want := []string{"off", "hybrid_or", "hybrid_and", "pq_only"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Enum(pq_mode) = %q, %v; want %q", got, err, want)
	}
	if _, err := Enum("defs.json#/$defs/key_id"); err == nil || !strings.Contains(err.Error(), "has no enum") {
		t.Errorf("Enum of a pattern: error %v", err)
	}
}

// TestComposedPatterns: a pattern that contains another format (a tenant
// name inside a key name, a digest that may be empty) cannot refer to it,
// so it is held here to the pattern it contains: change a format in
// defs.json and this names every pattern to change with it.
func TestComposedPatterns(t *testing.T) {
	pattern := func(ref string) string {
		p, err := Pattern(ref)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	bare := func(ref string) string { return strings.TrimSuffix(strings.TrimPrefix(pattern(ref), "^"), "$") }
	tenant := bare("defs.json#/$defs/tenant")
	for _, c := range []struct{ ref, want string }{
		{"defs.json#/$defs/key_name", "^" + tenant + "/" + bare("policy.schema.json#/$defs/tenant/properties/keys/propertyNames") + "(/v[1-9][0-9]{0,8})?$"},
		{"defs.json#/$defs/key_pattern", "^" + tenant + "/[a-z0-9._*?-]{1,63}$"},
		{"proposal.schema.json#/properties/scope", "^(global|tenant:" + tenant + ")$"},
		{"audit_record.schema.json#/properties/tenant", "^(" + tenant + ")?$"},
		{"audit_record.schema.json#/properties/key", "^(" + bare("defs.json#/$defs/key_name") + ")?$"},
		{"audit_record.schema.json#/properties/digest", "^(" + bare("defs.json#/$defs/digest") + ")?$"},
		{"audit_record.schema.json#/properties/governance_commit", "^(" + bare("defs.json#/$defs/git_commit") + ")?$"},
		{"checkpoint.schema.json#/properties/origin", "^ron-kms/" + bare("defs.json#/$defs/appliance_id") + "/audit$"},
	} {
		if got := pattern(c.ref); got != c.want {
			t.Errorf("%s is %q, want %q (built from the formats it contains)", c.ref, got, c.want)
		}
	}
}
