package testvectors

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// load decodes a committed vector file strictly: the files are governance
// JSON themselves (file form, no unknown fields).
func load(t *testing.T, name string, v any) {
	t.Helper()
	if *update {
		t.Skip("-update: the embedded files are the old ones; run the tests again")
	}
	data, err := FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := canon.CheckFileForm(data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := canon.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestCanonicalVectors(t *testing.T) {
	var f Canonical
	load(t, CanonicalFile, &f)
	if len(f.Vectors) < 40 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			out, reason, err := canonicalOf(v)
			if err != nil {
				t.Fatal(err)
			}
			if v.Expect != "" {
				if string(reason) != v.Expect || out != nil {
					t.Fatalf("got %q (reason %q), want rejection %q", out, reason, v.Expect)
				}
				if v.Canonical != "" || v.CanonicalHex != "" {
					t.Fatal("negative vector carries an output")
				}
				return
			}
			if reason != "" {
				t.Fatalf("rejected (%s), want %s", reason, v.Canonical)
			}
			if string(out) != v.Canonical || hex.EncodeToString(out) != v.CanonicalHex {
				t.Fatalf("got %s\nwant %s", out, v.Canonical)
			}
			if v.Mode != "number" {
				// Canonical output is a fixed point.
				again := v
				again.Input, again.InputBase64 = v.Canonical, ""
				if out2, _, _ := canonicalOf(again); !bytes.Equal(out, out2) {
					t.Fatalf("canonical form is not a fixed point: %q", out2)
				}
			}
		})
	}
}

func keysByID(t *testing.T) map[string]Key {
	var f Signatures
	load(t, SignaturesFile, &f)
	m := map[string]Key{}
	for _, k := range f.Keys {
		m[k.KeyID] = k
	}
	return m
}

func pubOf(t *testing.T, k Key) ed25519.PublicKey {
	t.Helper()
	pub, err := envelope.DecodePublicKey(k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestDigestVectors(t *testing.T) {
	var f Digests
	load(t, DigestsFile, &f)
	keys := keysByID(t)
	var types []string
	for _, v := range f.Vectors {
		types = append(types, v.Type)
		t.Run(v.Name, func(t *testing.T) {
			if err := canon.CheckFileForm([]byte(v.File)); err != nil {
				t.Fatalf("file: %v", err)
			}
			tree, err := canon.ParseStrict([]byte(v.File))
			if err != nil {
				t.Fatal(err)
			}
			obj := tree.(canon.Object)
			if obj["type"] != v.Type {
				t.Fatalf("type field %v, vector says %s", obj["type"], v.Type)
			}
			sigs, signed := obj["signatures"].([]any)
			delete(obj, "signatures")
			c, err := canon.Canonical(obj)
			if err != nil {
				t.Fatal(err)
			}
			if string(c) != v.Canonical {
				t.Fatalf("canonical bytes:\n got %s\nwant %s", c, v.Canonical)
			}
			sum := sha256.Sum256(c)
			if d := "sha256:" + hex.EncodeToString(sum[:]); d != v.Digest {
				t.Fatalf("digest %s, want %s", d, v.Digest)
			}
			if d, err := canon.DigestBytes([]byte(v.File)); err != nil || d != v.Digest {
				t.Fatalf("DigestBytes: %s %v", d, err)
			}
			msg, err := envelope.Message(v.Type, v.Digest)
			if err != nil || string(msg) != v.Message {
				t.Fatalf("message %q (%v), want %q", msg, err, v.Message)
			}
			if v.Type == "audit_record" {
				leaf := tlog.RecordHash(c)
				if got := hex.EncodeToString(leaf[:]); got != v.LeafHash {
					t.Fatalf("leaf hash %s, want %s", got, v.LeafHash)
				}
			} else if v.LeafHash != "" {
				t.Fatal("leaf_hash on a type that is no log leaf")
			}
			if err := schemas.Validate(v.Type, []byte(v.File)); err != nil {
				t.Fatalf("schema: %v", err)
			}
			if signed && len(sigs) == 0 {
				t.Fatal("a signed type with no signature: the vector would not show that signatures are left out of the digest")
			}
			for _, s := range sigs {
				raw, _ := canon.Canonical(s)
				e, err := envelope.ParseSignature(raw)
				if err != nil {
					t.Fatal(err)
				}
				k, ok := keys[e.KeyID]
				if !ok {
					t.Fatalf("signature by unknown key %s", e.KeyID)
				}
				if err := envelope.Verify(pubOf(t, k), v.Type, v.Digest, e); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	for _, want := range []string{"signer_set", "proposal", "policy", "dispute", "mint_request", "capability", "audit_record", "checkpoint"} {
		if !slices.Contains(types, want) {
			t.Errorf("no vector of type %s", want)
		}
	}
}

// TestCheckpointNote opens the checkpoint's note with the audit key and
// checks it states the checkpoint's origin, size and root.
func TestCheckpointNote(t *testing.T) {
	var f Digests
	load(t, DigestsFile, &f)
	var s Signatures
	load(t, SignaturesFile, &s)
	var cp struct {
		Origin   string `json:"origin"`
		TreeSize int64  `json:"tree_size"`
		RootHash string `json:"root_hash"`
		Note     string `json:"note"`
	}
	var audit DigestVector
	for _, v := range f.Vectors {
		switch v.Type {
		case "checkpoint":
			tree, _ := canon.ParseStrict([]byte(v.File))
			o := tree.(canon.Object)
			cp.Origin, cp.RootHash, cp.Note = o["origin"].(string), o["root_hash"].(string), o["note"].(string)
			n, _ := o["tree_size"].(canon.Number).Int64()
			cp.TreeSize = n
		case "audit_record":
			audit = v
		}
	}
	var key Key
	for _, k := range s.Keys {
		if k.Name == "audit-log-1" {
			key = k
		}
	}
	vk, err := note.NewEd25519VerifierKey(cp.Origin, pubOf(t, key))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vk)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note does not verify: %v", err)
	}
	root, err := hex.DecodeString(cp.RootHash)
	if err != nil || len(root) != 32 {
		t.Fatalf("root_hash %q", cp.RootHash)
	}
	want := fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.TreeSize, base64.StdEncoding.EncodeToString(root))
	if n.Text != want {
		t.Fatalf("note text %q, want %q", n.Text, want)
	}
	if cp.TreeSize != 1 || cp.RootHash != audit.LeafHash {
		t.Fatalf("a one-leaf tree's root must be the leaf hash: %s vs %s", cp.RootHash, audit.LeafHash)
	}
}

func TestSignatureVectors(t *testing.T) {
	var f Signatures
	load(t, SignaturesFile, &f)
	keys := map[string]ed25519.PublicKey{}
	for _, k := range f.Keys {
		t.Run("key/"+k.Name, func(t *testing.T) {
			seed, err := hex.DecodeString(k.SeedHex)
			if err != nil || len(seed) != ed25519.SeedSize {
				t.Fatalf("seed: %v", err)
			}
			priv := ed25519.NewKeyFromSeed(seed)
			pub := priv.Public().(ed25519.PublicKey)
			if hex.EncodeToString(pub) != k.PublicKeyHex || envelope.EncodePublicKey(pub) != k.PublicKey || envelope.KeyID(pub) != k.KeyID {
				t.Fatal("public key or key id does not follow from the seed")
			}
			if k.RFC8032Signature != "" {
				msg, _ := hex.DecodeString(k.RFC8032Message)
				sig, _ := hex.DecodeString(k.RFC8032Signature)
				if !ed25519.Verify(pub, msg, sig) || !bytes.Equal(ed25519.Sign(priv, msg), sig) {
					t.Fatal("RFC 8032 signature does not match")
				}
			}
			keys[k.Name] = pub
		})
	}
	sets := map[string]*quorum.SignerSet{}
	digests := map[string]string{}
	for _, s := range f.SignerSets {
		set, err := quorum.Parse([]byte(s.File))
		if err != nil {
			t.Fatalf("signer set %s: %v", s.Name, err)
		}
		if err := schemas.Validate("signer_set", []byte(s.File)); err != nil {
			t.Fatalf("signer set %s: %v", s.Name, err)
		}
		if d, _ := set.Digest(); d != s.Digest {
			t.Fatalf("signer set %s: digest %s, want %s", s.Name, d, s.Digest)
		}
		sets[s.Name], digests[s.Name] = set, s.Digest
	}
	for _, v := range append(slices.Clone(f.Valid), f.Invalid...) {
		t.Run(v.Check+"/"+v.Name, func(t *testing.T) {
			got := runSignatureVector(t, v, keys, sets, digests)
			if got != v.Expect {
				t.Fatalf("outcome %q, want %q", got, v.Expect)
			}
		})
	}
}

func toSig(e Entry) envelope.Signature {
	return envelope.Signature{Role: e.Role, KeyID: e.KeyID, Sig: e.Sig}
}

// runSignatureVector performs v's check with our code and returns the
// outcome: "" for success, else the reason.
func runSignatureVector(t *testing.T, v SignatureVector, keys map[string]ed25519.PublicKey, sets map[string]*quorum.SignerSet, digests map[string]string) string {
	reason := func(err error) string {
		var ee *envelope.EntryError
		var te *quorum.ThresholdError
		switch {
		case err == nil:
			return ""
		case errors.As(err, &ee):
			return string(ee.Reason)
		case errors.As(err, &te):
			return ExpectThresholdNotMet
		}
		t.Fatalf("untyped error: %v", err)
		return ""
	}
	if v.Message != "" {
		msg, err := envelope.Message(v.Type, v.Digest)
		if err != nil || string(msg) != v.Message {
			t.Fatalf("message %q, want %q", msg, v.Message)
		}
	}
	switch v.Check {
	case "entry":
		pub, ok := keys[v.Key]
		if !ok || v.Entry == nil {
			t.Fatal("entry vector without key or entry")
		}
		return reason(envelope.Verify(pub, v.Type, v.Digest, toSig(*v.Entry)))
	case "parse":
		s, err := envelope.ParseSignature([]byte(v.EntryJSON))
		if err == nil {
			// Accepted entries re-encode to the same bytes.
			if b, _ := canon.Marshal(s); string(b) != v.EntryJSON {
				t.Fatalf("accepted entry re-encodes as %s", b)
			}
		}
		return reason(err)
	case "public_key":
		if _, err := envelope.DecodePublicKey(v.PublicKey); err != nil {
			return ExpectBadPublicKey
		}
		return ""
	case "tally":
		set := sets[v.SignerSet]
		if set == nil || v.Counted == nil {
			t.Fatal("tally vector without signer set or count")
		}
		var sigs []envelope.Signature
		for _, e := range v.Entries {
			sigs = append(sigs, toSig(e))
		}
		tl := set.Tally(v.Type, v.Digest, sigs)
		if len(tl.Counted) != *v.Counted {
			t.Errorf("counted %d, want %d", len(tl.Counted), *v.Counted)
		}
		var rejected []string
		for _, r := range tl.Rejected {
			rejected = append(rejected, string(r.Reason))
		}
		if !slices.Equal(rejected, v.Rejected) {
			t.Errorf("rejected %q, want %q", rejected, v.Rejected)
		}
		return reason(tl.Err())
	case "rotation":
		prev, next := sets[v.Previous], sets[v.SignerSet]
		if prev == nil || next == nil {
			t.Fatal("rotation vector without both sets")
		}
		err := quorum.VerifyNext(prev, digests[v.Previous], next)
		if v.FailedSet != "" {
			// Say which side failed without reading error text.
			oldMet := prev.Tally(quorum.TypeSignerSet, digests[v.SignerSet], next.Signatures).Met()
			newMet := next.Tally(quorum.TypeSignerSet, digests[v.SignerSet], next.Signatures).Met()
			if failed := map[bool]string{true: "new", false: "old"}[oldMet]; failed != v.FailedSet || (oldMet && newMet) {
				t.Errorf("failed set %s (old met %v, new met %v), want %s", failed, oldMet, newMet, v.FailedSet)
			}
		}
		return reason(err)
	}
	t.Fatalf("unknown check %q", v.Check)
	return ""
}
