package keys

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// slowMul is GF(2^8) multiplication the schoolbook way: carry-less
// product, then reduction by x^8+x^4+x^3+x+1.
func slowMul(a, b byte) byte {
	var p uint16
	for i := 0; i < 8; i++ {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for i := 15; i >= 8; i-- {
		if p>>i&1 == 1 {
			p ^= 0x11b << (i - 8)
		}
	}
	return byte(p)
}

func TestGF256(t *testing.T) {
	// FIPS-197 §4.2: {57}·{83} = {c1}; {53} and {ca} are inverses.
	if got := gfMul(0x57, 0x83); got != 0xc1 {
		t.Fatalf("57·83 = %02x, want c1", got)
	}
	if got := gfInv(0x53); got != 0xca {
		t.Fatalf("inv(53) = %02x, want ca", got)
	}
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			if got, want := gfMul(byte(a), byte(b)), slowMul(byte(a), byte(b)); got != want {
				t.Fatalf("%02x·%02x = %02x, want %02x", a, b, got, want)
			}
		}
		if a != 0 && gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("%02x·inv(%02x) != 1", a, a)
		}
	}
	if gfInv(0) != 0 {
		t.Fatal("inv(0) != 0")
	}
}

// subsets calls f with every k-subset of 0..n-1.
func subsets(n, k int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			f(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func pick(shares []Share, idx []int) []Share {
	out := make([]Share, len(idx))
	for i, j := range idx {
		out[i] = shares[j]
	}
	return out
}

func TestSplitCombine(t *testing.T) {
	for _, c := range []struct{ n, t int }{{2, 2}, {3, 2}, {5, 3}, {6, 6}, {7, 4}} {
		t.Run(fmt.Sprintf("%d-of-%d", c.t, c.n), func(t *testing.T) {
			priv, _ := Generate(nil)
			pub := priv.Public().(ed25519.PublicKey)
			shares, err := Split(priv, c.n, c.t)
			if err != nil {
				t.Fatal(err)
			}
			if len(shares) != c.n {
				t.Fatalf("%d shares, want %d", len(shares), c.n)
			}
			for k := c.t; k <= c.n; k++ {
				subsets(c.n, k, func(idx []int) {
					got, err := Combine(pick(shares, idx), pub)
					if err != nil {
						t.Fatalf("shares %v: %v", idx, err)
					}
					if !bytes.Equal(got, priv) {
						t.Fatalf("shares %v rebuild another key", idx)
					}
				})
			}
			subsets(c.n, c.t-1, func(idx []int) {
				_, err := Combine(pick(shares, idx), pub)
				var ne *NotEnoughSharesError
				if !errors.As(err, &ne) || ne.Got != c.t-1 || ne.Want != c.t {
					t.Fatalf("t-1 shares %v: got %v", idx, err)
				}
			})
		})
	}
}

// t-1 shares carry no information about the seed: relabelled as a smaller
// threshold they interpolate to some other key, which the set id catches.
func TestFewerSharesRebuildNothing(t *testing.T) {
	priv, _ := Generate(nil)
	shares, _ := Split(priv, 4, 3)
	forged := pick(shares, []int{0, 1})
	for i := range forged {
		forged[i].Threshold = 2
	}
	if _, err := Combine(forged, nil); !errors.Is(err, ErrSharesDoNotMatch) {
		t.Fatalf("t-1 shares relabelled: got %v, want ErrSharesDoNotMatch", err)
	}
}

func TestCombineRejectsMixedAndWrong(t *testing.T) {
	a, _ := Generate(nil)
	b, _ := Generate(nil)
	aShares, _ := Split(a, 3, 2)
	aShares2, _ := Split(a, 3, 2) // a second backup of the same key
	aShares3, _ := Split(a, 4, 3) // with another threshold
	bShares, _ := Split(b, 3, 2)

	if _, err := Combine([]Share{aShares[0], bShares[1]}, nil); !errors.Is(err, ErrMixedShares) {
		t.Errorf("two keys: got %v", err)
	}
	if _, err := Combine([]Share{aShares[0], aShares3[1], aShares3[2]}, nil); !errors.Is(err, ErrMixedShares) {
		t.Errorf("two thresholds: got %v", err)
	}
	if _, err := Combine([]Share{aShares[0], aShares2[1]}, nil); !errors.Is(err, ErrSharesDoNotMatch) {
		t.Errorf("two backups of one key: got %v", err)
	}
	// A wrong share among more than enough is found, not outvoted.
	if _, err := Combine([]Share{aShares[0], aShares[1], aShares2[2]}, nil); !errors.Is(err, ErrSharesDoNotMatch) {
		t.Errorf("one wrong among three: got %v", err)
	}
	// The same share twice counts once.
	_, err := Combine([]Share{aShares[0], aShares[0]}, nil)
	var ne *NotEnoughSharesError
	if !errors.As(err, &ne) || ne.Got != 1 {
		t.Errorf("duplicate share: got %v", err)
	}
	if _, err := Combine([]Share{aShares[0], aShares2[0], aShares[1]}, nil); err == nil || !strings.Contains(err.Error(), "index 1") {
		t.Errorf("two different shares with one index: got %v", err)
	}
	if _, err := Combine(aShares[:2], b.Public().(ed25519.PublicKey)); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("expected another key: got %v", err)
	}
	if _, err := Combine(nil, nil); err == nil {
		t.Error("no shares accepted")
	}
	if _, err := Combine([]Share{{Threshold: 2, Index: 1, SetID: aShares[0].SetID}, aShares[1]}, nil); err == nil {
		t.Error("a share without a value accepted")
	}
}

func TestSplitArguments(t *testing.T) {
	priv, _ := Generate(nil)
	for _, c := range []struct{ n, t int }{{3, 1}, {3, 0}, {2, 3}, {256, 2}, {300, 200}} {
		if _, err := Split(priv, c.n, c.t); err == nil {
			t.Errorf("Split(n=%d, t=%d) accepted", c.n, c.t)
		}
	}
	if _, err := Split(priv[:32], 3, 2); err == nil {
		t.Error("a 32-byte key accepted")
	}
	shares, err := Split(priv, 255, 255)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Combine(shares, priv.Public().(ed25519.PublicKey))
	if err != nil || !bytes.Equal(got, priv) {
		t.Fatalf("255-of-255: %v", err)
	}
}

func TestShareEncoding(t *testing.T) {
	priv, _ := Generate(nil)
	shares, _ := Split(priv, 3, 2)
	var parsed []Share
	for _, s := range shares {
		line := s.Encode()
		fields := strings.Split(line, ":")
		if len(fields) != 6 || fields[0] != "ron-kms-share-v1" || fields[1] != "2" || fields[3] != s.SetID {
			t.Fatalf("line has the wrong shape: %d fields", len(fields))
		}
		p, err := ParseShare(line)
		if err != nil {
			t.Fatal(err)
		}
		if p.Encode() != line {
			t.Fatal("parse/encode does not round-trip")
		}
		parsed = append(parsed, p)
	}
	got, err := Combine(parsed[1:], priv.Public().(ed25519.PublicKey))
	if err != nil || !bytes.Equal(got, priv) {
		t.Fatalf("parsed shares: %v", err)
	}

	// Every one-character change to a line is caught.
	line := shares[0].Encode()
	for i := range line {
		for _, c := range []byte{'0', '7', 'a', 'f', 'A', ':', ' '} {
			if line[i] == c {
				continue
			}
			bad := line[:i] + string(c) + line[i+1:]
			if _, err := ParseShare(bad); err == nil {
				t.Fatalf("changing byte %d to %q went unnoticed", i, c)
			}
		}
	}
	// Swapped neighbours (a common typo) are caught too.
	for i := 0; i+1 < len(line); i++ {
		if line[i] == line[i+1] {
			continue
		}
		bad := line[:i] + string(line[i+1]) + string(line[i]) + line[i+2:]
		if _, err := ParseShare(bad); err == nil {
			t.Fatalf("swapping bytes %d and %d went unnoticed", i, i+1)
		}
	}
	// A hex typo in the value is reported as a checksum failure.
	j := strings.LastIndex(line, ":") - 1
	typo := line[:j] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", line[j])+1)%16]) + line[j+1:]
	if _, err := ParseShare(typo); !errors.Is(err, ErrShareChecksum) {
		t.Fatalf("typo in the value: got %v, want ErrShareChecksum", err)
	}
}

// withChecksum completes a share body with its right checksum, to test the
// field checks behind it.
func withChecksum(body string) string { return body + ":" + shareChecksum(body) }

func TestParseShareFields(t *testing.T) {
	v := strings.Repeat("ab", 32)
	set := "0123456789abcdef"
	ok := withChecksum("ron-kms-share-v1:2:1:" + set + ":" + v)
	if _, err := ParseShare(ok); err != nil {
		t.Fatalf("good share: %v", err)
	}
	for name, line := range map[string]string{
		"threshold 1":       withChecksum("ron-kms-share-v1:1:1:" + set + ":" + v),
		"threshold 256":     withChecksum("ron-kms-share-v1:256:1:" + set + ":" + v),
		"leading zero":      withChecksum("ron-kms-share-v1:02:1:" + set + ":" + v),
		"index 0":           withChecksum("ron-kms-share-v1:2:0:" + set + ":" + v),
		"sign":              withChecksum("ron-kms-share-v1:+2:1:" + set + ":" + v),
		"upper hex":         withChecksum("ron-kms-share-v1:2:1:" + set + ":" + strings.ToUpper(v)),
		"short value":       withChecksum("ron-kms-share-v1:2:1:" + set + ":" + v[2:]),
		"short set":         withChecksum("ron-kms-share-v1:2:1:" + set[1:] + ":" + v),
		"version":           withChecksum("ron-kms-share-v2:2:1:" + set + ":" + v),
		"extra field":       withChecksum("ron-kms-share-v1:2:1:x:" + set + ":" + v),
		"newline":           ok + "\n",
		"leading space":     " " + ok,
		"upper checksum":    ok[:len(ok)-8] + strings.ToUpper(ok[len(ok)-8:]),
		"no checksum field": "ron-kms-share-v1:2:1:" + set + ":" + v,
	} {
		if _, err := ParseShare(line); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), v) {
			t.Errorf("%s: error repeats the share value", name)
		}
	}
}

func TestShareRedacted(t *testing.T) {
	priv, _ := Generate(nil)
	shares, _ := Split(priv, 2, 2)
	s := shares[0]
	secret := hex.EncodeToString(s.value)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		out := fmt.Sprintf(verb, s)
		if strings.Contains(strings.ToLower(out), secret[:16]) || strings.Contains(out, strings.Trim(fmt.Sprint(s.value[:4]), "[]")) {
			t.Errorf("%s prints the share value: %s", verb, out)
		}
	}
	if out := fmt.Sprintf("%v", shares); strings.Contains(out, secret[:16]) {
		t.Errorf("a slice of shares prints a value: %s", out)
	}
	c := s // copies share the value
	s.Zero()
	if !isZero(c.value) {
		t.Error("Zero did not wipe a copy")
	}
}

func FuzzParseShare(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	shares, _ := Split(priv, 3, 2)
	for _, s := range shares {
		f.Add(s.Encode())
	}
	f.Add("ron-kms-share-v1:2:1::")
	f.Add(withChecksum("ron-kms-share-v1:2:1:0123456789abcdef:" + strings.Repeat("00", 32)))
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseShare(line)
		if err != nil {
			if s.value != nil || s.Threshold != 0 {
				t.Fatal("a rejected line returned a share")
			}
			return
		}
		if s.Encode() != line {
			t.Fatalf("accepted a non-canonical line %q", line)
		}
		if err := s.check(); err != nil {
			t.Fatalf("accepted a share that check refuses: %v", err)
		}
	})
}
