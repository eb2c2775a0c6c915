package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/schemas"
)

// The hand-written checks are held to the patterns they replace: the
// schemas' own, read from the schema files, and for a type the envelope's
// rule, which no schema writes as a pattern.
var (
	typeRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	roleRE   = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/signature/properties/role"))
	keyIDRE  = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/key_id"))
	digestRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/digest"))
	sigRE    = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/ed25519_signature"))
	pubRE    = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/public_key"))
)

// referenceVerify is Verify as it was before Key: every step done afresh,
// the signature checked by sigstore's ED25519 verifier.
func referenceVerify(pub ed25519.PublicKey, objType, digest string, s Signature) error {
	if !roleRE.MatchString(s.Role) {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: fmt.Sprintf("role %q is not a role name", s.Role)}
	}
	if !keyIDRE.MatchString(s.KeyID) {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "key_id must be 64 lower-case hex digits"}
	}
	raw, err := decodeB64(s.Sig)
	if err != nil {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "sig: " + err.Error()}
	}
	if len(raw) != ed25519.SignatureSize {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: fmt.Sprintf("sig is %d bytes, want %d", len(raw), ed25519.SignatureSize)}
	}
	if len(pub) != ed25519.PublicKeySize {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: "public key is not 32 bytes"}
	}
	if KeyID(pub) != s.KeyID {
		return &EntryError{Entry: s, Reason: ReasonKeyMismatch}
	}
	if !typeRE.MatchString(objType) {
		return fmt.Errorf("envelope: malformed object type %q", objType)
	}
	if _, err := canon.ParseDigest(digest); err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	msg := []byte(Domain + " " + objType + " " + digest[len(canon.DigestPrefix):])
	v, err := signature.LoadED25519Verifier(pub)
	if err != nil {
		return &EntryError{Entry: s, Reason: ReasonMalformed, Detail: err.Error()}
	}
	if err := v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(msg)); err != nil {
		return &EntryError{Entry: s, Reason: ReasonBadSignature, Detail: fmt.Sprintf("over %q", strings.SplitN(string(msg), " ", 3)[1]+" "+digest[:len(canon.DigestPrefix)+12]+"…")}
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T %v", err, err)
}

// TestVerifyMatchesReference checks Verify and Key.Verify against
// referenceVerify on entries, keys, types and digests that are each wrong
// in one way: same outcome, same error text.
func TestVerifyMatchesReference(t *testing.T) {
	a, b := testKey(t, "a"), testKey(t, "b")
	pubA, pubB := a.Public().(ed25519.PublicKey), b.Public().(ed25519.PublicKey)
	good, err := Sign(a, "custodian", "proposal", digestA)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Sign(b, "custodian", "proposal", digestA)
	sigs := map[string]Signature{"good": good}
	mut := func(name string, f func(*Signature)) {
		c := good
		f(&c)
		sigs[name] = c
	}
	mut("other sig", func(c *Signature) { c.Sig = other.Sig })
	mut("other key id", func(c *Signature) { c.KeyID = other.KeyID })
	mut("no padding", func(c *Signature) { c.Sig = strings.TrimRight(c.Sig, "=") })
	mut("newline", func(c *Signature) { c.Sig = c.Sig[:40] + "\n" + c.Sig[40:] })
	mut("newline, short", func(c *Signature) { c.Sig = c.Sig[:40] + "\n" + c.Sig[41:] })
	mut("stray bits", func(c *Signature) { c.Sig = c.Sig[:85] + "B==" })
	mut("65 bytes", func(c *Signature) { c.Sig = base64.StdEncoding.EncodeToString(append(make([]byte, 64), 1)) })
	mut("63 bytes", func(c *Signature) { c.Sig = base64.StdEncoding.EncodeToString(make([]byte, 63)) })
	mut("url base64", func(c *Signature) { c.Sig = base64.URLEncoding.EncodeToString(make([]byte, 64)) + "" })
	mut("88 bytes, 66 decoded", func(c *Signature) { c.Sig = base64.RawStdEncoding.EncodeToString(make([]byte, 66)) })
	mut("empty sig", func(c *Signature) { c.Sig = "" })
	mut("upper key id", func(c *Signature) { c.KeyID = strings.ToUpper(c.KeyID) })
	mut("short key id", func(c *Signature) { c.KeyID = c.KeyID[:63] })
	mut("role upper", func(c *Signature) { c.Role = "Custodian" })
	mut("role long", func(c *Signature) { c.Role = strings.Repeat("a", 33) })
	mut("role 32", func(c *Signature) { c.Role = strings.Repeat("a", 32) })
	mut("role digit first", func(c *Signature) { c.Role = "1custodian" })
	mut("role underscore", func(c *Signature) { c.Role = "cus_todian" })
	mut("role empty", func(c *Signature) { c.Role = "" })
	mut("flipped sig", func(c *Signature) {
		raw, _ := base64.StdEncoding.DecodeString(c.Sig)
		raw[10] ^= 1
		c.Sig = base64.StdEncoding.EncodeToString(raw)
	})
	types := []string{"proposal", "signer_set", "Proposal", "proposal x", "", "p-x", strings.Repeat("a", 32), strings.Repeat("a", 33), "a_1"}
	digests := []string{digestA, digestB, strings.ToUpper(digestA), digestA[7:], "sha512:" + digestA[7:], digestA + "00", digestA[:70], "sha256:" + strings.Repeat("g", 64)}
	pubs := map[string]ed25519.PublicKey{"a": pubA, "b": pubB, "short": pubA[:31], "nil": nil}
	for sn, s := range sigs {
		for pn, pub := range pubs {
			for _, typ := range types {
				for _, d := range digests {
					want := errText(referenceVerify(pub, typ, d, s))
					if got := errText(Verify(pub, typ, d, s)); got != want {
						t.Errorf("Verify(%s, %q, %q, %s) = %s, want %s", pn, typ, d, sn, got, want)
					}
					if len(pub) != ed25519.PublicKeySize {
						continue
					}
					k, err := ParseKey(EncodePublicKey(pub))
					if err != nil {
						t.Fatal(err)
					}
					if got := errText(k.Verify(typ, d, s)); got != want {
						t.Errorf("ParseKey(%s).Verify(%q, %q, %s) = %s, want %s", pn, typ, d, sn, got, want)
					}
				}
			}
		}
	}
}

// TestKeyCache: a cached Key is the key it was made from, whatever the
// caller later does with its slice, and a bad key is never cached as good.
func TestKeyCache(t *testing.T) {
	a, b := testKey(t, "cache a"), testKey(t, "cache b")
	sa, _ := Sign(a, "custodian", "proposal", digestA)
	sb, _ := Sign(b, "custodian", "proposal", digestA)
	buf := append([]byte(nil), a.Public().(ed25519.PublicKey)...)
	if err := Verify(buf, "proposal", digestA, sa); err != nil {
		t.Fatal(err)
	}
	copy(buf, b.Public().(ed25519.PublicKey)) // the same slice, now key b
	if err := Verify(buf, "proposal", digestA, sb); err != nil {
		t.Fatalf("key b after key a in the same slice: %v", err)
	}
	if err := Verify(buf, "proposal", digestA, sa); reasonOf(err) != ReasonKeyMismatch {
		t.Fatalf("key a's entry under key b: %v", err)
	}
	k, err := ParseKey(EncodePublicKey(a.Public().(ed25519.PublicKey)))
	if err != nil || k.ID() != sa.KeyID {
		t.Fatalf("ParseKey: %v, id %s", err, k.ID())
	}
	weak := base64.StdEncoding.EncodeToString(make([]byte, 32)) // small order
	for range 2 {
		if _, err := ParseKey(weak); err == nil {
			t.Fatal("weak key accepted")
		}
	}
	if _, err := ParseKey("not base64"); err == nil {
		t.Fatal("malformed key accepted")
	}
}

// TestKeyConcurrent verifies from many goroutines (run with -race), also
// while the caches fill past their bound and start again.
func TestKeyConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				k := testKey(t, fmt.Sprintf("conc %d %d", g, i%8))
				pub := k.Public().(ed25519.PublicKey)
				s, err := Sign(k, "custodian", "proposal", digestA)
				if err != nil {
					t.Error(err)
					return
				}
				pk, err := ParseKey(EncodePublicKey(pub))
				if err != nil || pk.Verify("proposal", digestA, s) != nil || Verify(pub, "proposal", digestA, s) != nil {
					t.Errorf("goroutine %d entry %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzPatterns holds the hand-written checks to the schemas' patterns and
// decodeSig to decodeB64.
func FuzzPatterns(f *testing.F) {
	good, _ := Sign(testKey(f, "fuzz"), "custodian", "proposal", digestA)
	pub := EncodePublicKey(testKey(f, "fuzz").Public().(ed25519.PublicKey))
	for _, s := range []string{"proposal", "policy-owner", "a_b", "A", "", good.KeyID, good.Sig, good.Sig[:87] + "\n", good.Sig[:85] + "B==", strings.Repeat("a", 32), digestA, digestA[7:], pub, pub[:42] + "B="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isType(s) != typeRE.MatchString(s) {
			t.Fatalf("isType(%q) = %v", s, isType(s))
		}
		if isRole(s) != roleRE.MatchString(s) {
			t.Fatalf("isRole(%q) = %v, the schema's role pattern says otherwise", s, isRole(s))
		}
		if IsKeyID(s) != keyIDRE.MatchString(s) {
			t.Fatalf("IsKeyID(%q) = %v, the schema's key_id pattern says otherwise", s, IsKeyID(s))
		}
		_, err := canon.ParseDigest(s)
		hexPart, ok := strings.CutPrefix(s, canon.DigestPrefix)
		if want := digestRE.MatchString(s); (err == nil) != want || (ok && isLowerHex(hexPart, 64)) != want {
			t.Fatalf("digest %q: ParseDigest %v, message's check %v, the schema's digest pattern %v", s, err, ok && isLowerHex(hexPart, 64), want)
		}
		var raw [ed25519.SignatureSize]byte
		ok = decodeSig(&raw, s)
		want, err := decodeB64(s)
		if wantOK := err == nil && len(want) == ed25519.SignatureSize; ok != wantOK || ok && !bytes.Equal(raw[:], want) {
			t.Fatalf("decodeSig(%q) = %v %x, decodeB64: %x %v", s, ok, raw, want, err)
		}
		if ok != sigRE.MatchString(s) {
			t.Fatalf("decodeSig(%q) = %v, the schema's ed25519_signature pattern says otherwise", s, ok)
		}
		if ok := err == nil && len(want) == ed25519.PublicKeySize; ok != pubRE.MatchString(s) {
			t.Fatalf("decodeB64(%q) is a 32-byte key: %v, the schema's public_key pattern says otherwise", s, ok)
		}
	})
}

// TestKindsAreTypes: every kind of object the schemas define can be signed.
func TestKindsAreTypes(t *testing.T) {
	for _, k := range schemas.Kinds() {
		if !isType(k) {
			t.Errorf("schema kind %q is not an object type Message accepts", k)
		}
	}
}

func TestPatterns(t *testing.T) {
	// The seeds of FuzzPatterns run as a test; this names the edge cases.
	for _, s := range []string{"a", "z9_", "a-", strings.Repeat("b", 32), strings.Repeat("b", 33), "0a", "é"} {
		if isType(s) != typeRE.MatchString(s) || isRole(s) != roleRE.MatchString(s) {
			t.Errorf("%q: isType %v isRole %v", s, isType(s), isRole(s))
		}
	}
}
