package cli

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

// mergeObject is a signed object as the merge driver sees it.
type mergeObject struct {
	Type       string               `json:"type"`
	Body       string               `json:"body"`
	Signatures []envelope.Signature `json:"signatures"`
}

func (o mergeObject) with(t *testing.T, signers ...string) []byte {
	t.Helper()
	b, err := o.signed(signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signed returns o in file form with signature entries by the named test
// keys appended.
func (o mergeObject) signed(signers ...string) ([]byte, error) {
	d, err := canon.DigestOf(o)
	if err != nil {
		return nil, err
	}
	o.Signatures = slices.Clone(o.Signatures)
	for _, n := range signers {
		s, err := envelope.Sign(vt.Key(n), "custodian", o.Type, d)
		if err != nil {
			return nil, err
		}
		o.Signatures = append(o.Signatures, s)
	}
	return canon.MarshalFile(o)
}

func testKeys(names ...string) keyring {
	m := keyring{}
	for _, n := range names {
		pub := vt.Key(n).Public().(ed25519.PublicKey)
		m[envelope.KeyID(pub)] = knownKey{pub: pub, roles: []string{"custodian"}}
	}
	return m
}

func signerIDs(t *testing.T, data []byte) []string {
	t.Helper()
	var o mergeObject
	if err := canon.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range o.Signatures {
		ids = append(ids, s.KeyID)
	}
	return ids
}

func TestMergeSignatures(t *testing.T) {
	keys := testKeys("a", "b", "c")
	id := func(n string) string { return envelope.KeyID(vt.Key(n).Public().(ed25519.PublicKey)) }
	base := mergeObject{Type: "proposal", Body: "raise the cap", Signatures: []envelope.Signature{}}

	out, err := mergeSignatures(base.with(t, "a"), base.with(t, "b"), keys)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := signerIDs(t, out), []string{id("a"), id("b")}; !slices.Equal(got, want) {
		t.Errorf("union = %v, want %v (ours first)", got, want)
	}
	if err := canon.CheckFileForm(out); err != nil {
		t.Errorf("result not in file form: %v", err)
	}

	// Both sides holding one entry: it is kept once.
	out, err = mergeSignatures(base.with(t, "a", "c"), base.with(t, "c", "b"), keys)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := signerIDs(t, out), []string{id("a"), id("c"), id("b")}; !slices.Equal(got, want) {
		t.Errorf("union = %v, want %v", got, want)
	}

	conflicts := map[string]struct {
		ours, theirs []byte
		keys         keyring
		want         string
	}{
		"changed body": {base.with(t, "a"), mergeObject{Type: "proposal", Body: "raise it more", Signatures: []envelope.Signature{}}.with(t, "b"), keys, "differ in more than their signatures"},
		"unknown key":  {base.with(t, "a"), base.with(t, "mallory"), keys, "in no signer set"},
		"bad signature": {base.with(t, "a"), mergeObject{Type: "proposal", Body: base.Body,
			Signatures: []envelope.Signature{{Role: "custodian", KeyID: id("b"), Sig: strings.Repeat("A", 86) + "=="}}}.with(t), keys, "does not verify"},
		"another type's signature": {base.with(t, "a"), func() []byte {
			o := mergeObject{Type: "signer_set_x", Body: base.Body, Signatures: []envelope.Signature{}}
			b := o.with(t, "b")
			return []byte(strings.Replace(string(b), `"signer_set_x"`, `"proposal"`, 1))
		}(), keys, "does not verify"},
		"wrong role": {base.with(t, "a"), func() []byte {
			o := mergeObject{Type: "proposal", Body: base.Body}
			d, _ := canon.DigestOf(o)
			sig, err := envelope.Sign(vt.Key("b"), "policy-owner", "proposal", d)
			if err != nil {
				t.Fatal(err)
			}
			o.Signatures = []envelope.Signature{sig}
			b, _ := canon.MarshalFile(o)
			return b
		}(), keys, "claims role policy-owner; the key is custodian"},
		"one key, two roles": {base.with(t, "a"), func() []byte {
			o := mergeObject{Type: "proposal", Body: base.Body}
			d, _ := canon.DigestOf(o)
			sig, err := envelope.Sign(vt.Key("a"), "policy-owner", "proposal", d)
			if err != nil {
				t.Fatal(err)
			}
			o.Signatures = []envelope.Signature{sig}
			b, _ := canon.MarshalFile(o)
			return b
		}(), func() keyring {
			k := testKeys("a", "b")
			a := k[id("a")]
			a.roles = append(a.roles, "policy-owner")
			k[id("a")] = a
			return k
		}(), "signed as custodian and as policy-owner"},
		"not I-JSON":  {base.with(t, "a"), []byte(`{"type":"proposal","type":"proposal"}`), keys, "not strict I-JSON"},
		"not objects": {[]byte(`[1]`), []byte(`[2]`), keys, "not JSON objects"},
		"no type":     {[]byte(`{"a":1,"signatures":[]}`), []byte(`{"a":1}`), keys, "has no type"},
		"bad entry":   {base.with(t, "a"), []byte(`{"body":"raise the cap","signatures":[{"role":"custodian"}],"type":"proposal"}`), keys, "signatures[0]"},
	}
	for name, c := range conflicts {
		t.Run(name, func(t *testing.T) {
			_, err := mergeSignatures(c.ours, c.theirs, c.keys)
			var mc *mergeConflict
			if !errors.As(err, &mc) {
				t.Fatalf("err = %v, want a conflict", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

// A signer set being merged is checked against its own members too: a
// joining member's signature on the next set is known only from the set.
func TestMergeSignaturesSignerSetMembers(t *testing.T) {
	set := &quorum.SignerSet{Type: quorum.TypeSignerSet, Version: 2, Threshold: 1,
		Members:   []quorum.Member{vt.Member(quorum.RoleOwner, "a"), vt.Member(quorum.RoleSecurityOfficer, "new")},
		RotatedAt: "2026-03-02T09:00:00Z", ExpiresAt: "2026-04-01T09:00:00Z",
		Previous: "sha256:" + strings.Repeat("1", 64), Signatures: []envelope.Signature{}}
	d, err := set.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sign := func(name, role string) []byte {
		s := *set
		sig, err := envelope.Sign(vt.Key(name), role, quorum.TypeSignerSet, d)
		if err != nil {
			t.Fatal(err)
		}
		s.Signatures = []envelope.Signature{sig}
		b, err := canon.MarshalFile(&s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, err := mergeSignatures(sign("a", quorum.RoleOwner), sign("new", quorum.RoleSecurityOfficer), testKeys("a"))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := quorum.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Signatures) != 2 {
		t.Fatalf("merged %d signatures, want 2", len(merged.Signatures))
	}
	if tl := merged.Tally(quorum.TypeSignerSet, d, merged.Signatures); len(tl.Counted) != 2 {
		t.Errorf("tally counts %d, want 2", len(tl.Counted))
	}
}

func FuzzMergeSignatures(f *testing.F) {
	keys := testKeys("a", "b")
	base := mergeObject{Type: "proposal", Body: "x", Signatures: []envelope.Signature{}}
	for _, pair := range [][2][]string{{{"a"}, {"b"}}, {{"a"}, {"a", "b"}}} {
		ours, err1 := base.signed(pair[0]...)
		theirs, err2 := base.signed(pair[1]...)
		if err1 != nil || err2 != nil {
			f.Fatal(err1, err2)
		}
		f.Add(ours, theirs)
	}
	f.Add([]byte(`{"type":"proposal","signatures":[]}`), []byte(`{"signatures":[],"type":"proposal"}`))
	f.Add([]byte(`{}`), []byte(`{"type":1}`))
	f.Fuzz(func(t *testing.T, ours, theirs []byte) {
		out, err := mergeSignatures(ours, theirs, keys)
		if err != nil {
			var mc *mergeConflict
			if !errors.As(err, &mc) {
				t.Fatalf("error that is not a conflict: %v", err)
			}
			return
		}
		if string(out) == string(ours) {
			return
		}
		// A merge changes nothing but the signatures, and every entry it
		// writes verifies.
		if err := canon.CheckFileForm(out); err != nil {
			t.Fatalf("result not in file form: %v", err)
		}
		dOut, err := canon.DigestBytes(out)
		if err != nil {
			t.Fatal(err)
		}
		dOurs, err := canon.DigestBytes(ours)
		if err != nil || dOut != dOurs {
			t.Fatalf("merge changed the object: %s vs %s (%v)", dOut, dOurs, err)
		}
		tree, _ := canon.ParseStrict(out)
		o := tree.(canon.Object)
		es, err := entries(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range es {
			if envelope.Verify(keys[s.KeyID].pub, o["type"].(string), dOut, s) != nil {
				t.Fatalf("merged an entry that does not verify: %+v", s)
			}
		}
	})
}
