package canon

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// The reference implementations below are the straightforward forms the
// fast paths replaced: every fast path is tested against one of them.

// compareUTF16Slow converts both strings to UTF-16 and compares the units
// (RFC 8785 §3.2.3 as written).
func compareUTF16Slow(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// writeStringSlow writes s rune by rune with the JCS escapes.
func writeStringSlow(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func sign(n int) int { return min(max(n, -1), 1) }

func checkCompare(t *testing.T, a, b string) {
	t.Helper()
	if !utf8.ValidString(a) || !utf8.ValidString(b) {
		return
	}
	if got, want := sign(compareUTF16(a, b)), sign(compareUTF16Slow(a, b)); got != want {
		t.Fatalf("compareUTF16(%+q, %+q) = %d, UTF-16 order says %d", a, b, got, want)
	}
}

// TestCompareUTF16 checks every pair of runes from the ranges where UTF-8
// byte order and UTF-16 order part (U+E000..U+FFFF against supplementary
// code points) and around them, alone and behind a shared prefix of every
// length 1..4 in UTF-8.
func TestCompareUTF16(t *testing.T) {
	runes := []rune{0, 0x1f, 'A', 'a', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xe001, 0xfb33, 0xfeff, 0xfffd, 0xffff,
		0x10000, 0x10001, 0x1f600, 0xfffff, 0x100000, 0x10ffff}
	prefixes := []string{"", "k", "\u00e9", "\u20ac", "\U0001F50F", "ab\U0001F50Fc"}
	for _, p := range prefixes {
		for _, x := range runes {
			for _, y := range runes {
				a, b := p+string(x), p+string(y)
				checkCompare(t, a, b)
				checkCompare(t, a+"z", b)
				checkCompare(t, a, b+string(x))
			}
		}
	}
	// The case plain byte order gets wrong, spelt out.
	if compareUTF16("\uffff", "\U00010000") <= 0 {
		t.Error("U+FFFF must sort after U+10000 in UTF-16 order")
	}
	if bytes.Compare([]byte("\uffff"), []byte("\U00010000")) >= 0 {
		t.Error("test premise: UTF-8 byte order puts U+FFFF first")
	}
}

func FuzzCompareUTF16(f *testing.F) {
	f.Add("\ue000", "\U00010000")
	f.Add("a\uffffb", "a\U0010ffff")
	f.Add("", "x")
	f.Add("\u20ac", "\u00f6")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkCompare(t, a, b)
		checkCompare(t, b, a)
		if utf8.ValidString(a) && compareUTF16(a, a) != 0 {
			t.Fatalf("%+q is not equal to itself", a)
		}
	})
}

func FuzzWriteString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é€\U0001F50F", "\u2028\u2029", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		var fast, slow bytes.Buffer
		writeString(&fast, s)
		writeStringSlow(&slow, s)
		if !bytes.Equal(fast.Bytes(), slow.Bytes()) {
			t.Fatalf("writeString(%+q) = %s, want %s", s, fast.Bytes(), slow.Bytes())
		}
	})
}

// FuzzNumber checks the two number fast paths: a literal the parser accepts
// without strconv is one the full check accepts, and a literal the encoder
// writes as it is (canonicalInteger) is what formatNumber writes.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "-1", "10", "999999999999999", "-999999999999999", "1000000000000000",
		"9007199254740991", "9007199254740992", "-9007199254740991", "01", "1.0", "1e2", "-", "+1", "1x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Number(s)
		if canonicalInteger(n) {
			got, err := formatNumber(n, func() string { return "$" })
			if err != nil || got != s {
				t.Fatalf("canonicalInteger(%q) but formatNumber gives %q, %v", s, got, err)
			}
		}
		for _, strict := range []bool{false, true} {
			r, err := parse([]byte(s), strict)
			if err != nil {
				continue
			}
			num, ok := r.tree.(Number)
			if !ok {
				continue
			}
			lit := strings.Trim(s, " \t\n\r")
			if string(num) != lit {
				t.Fatalf("parse(%q) = %q", s, num)
			}
			if strict && !canonicalInteger(num) && len(strings.TrimPrefix(lit, "-")) <= maxFastDigits {
				t.Fatalf("strict parse accepted %q, which is not a canonical integer", s)
			}
			if _, err := formatNumber(num, func() string { return "$" }); err != nil {
				t.Fatalf("parse accepted %q, which formatNumber refuses: %v", s, err)
			}
		}
	})
}

func TestNumberBounds(t *testing.T) {
	for _, tc := range []struct {
		in     string
		strict bool
		ok     bool
	}{
		{"999999999999999", true, true},  // 15 digits: fast path
		{"9007199254740991", true, true}, // 2^53-1: full check
		{"-9007199254740991", true, true},
		{"9007199254740992", true, false},
		{"-9007199254740992", false, false},
		{"-0", true, false},
		{"-0", false, true},
		{"0", true, true},
		{"-1", true, true},
		{"00", false, false},
		{"-01", false, false},
	} {
		_, err := parse([]byte(tc.in), tc.strict)
		if (err == nil) != tc.ok {
			t.Errorf("parse(%q, strict=%v): %v, want ok=%v", tc.in, tc.strict, err, tc.ok)
		}
	}
}

// FuzzEqual checks that equal, the round-trip check of Unmarshal, agrees
// with comparing canonical bytes for every pair of strictly parsed values.
func FuzzEqual(f *testing.F) {
	pairs := [][2]string{
		{`{"a":1,"b":[true,null,"x"]}`, `{"b":[true,null,"x"],"a":1}`},
		{`{"a":"\u0061"}`, `{"a":"a"}`},
		{`{"a":1}`, `{"a":"1"}`},
		{`[1,2]`, `[2,1]`},
		{`{"a":{}}`, `{"a":[]}`},
		{`{"a":null}`, `{}`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`9007199254740991`, `9007199254740991`},
		{`{"a":false}`, `{"a":0}`},
	}
	for _, p := range pairs {
		f.Add([]byte(p[0]), []byte(p[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		va, err := ParseStrict(a)
		if err != nil {
			return
		}
		ca, _ := Canonical(va)
		// A value equals the parse of its own canonical form.
		vc, err := ParseStrict(ca)
		if err != nil || !equal(va, vc) {
			t.Fatalf("%q is not equal to its canonical form %q (%v)", a, ca, err)
		}
		vb, err := ParseStrict(b)
		if err != nil {
			return
		}
		cb, _ := Canonical(vb)
		if got, want := equal(va, vb), bytes.Equal(ca, cb); got != want {
			t.Fatalf("equal(%q, %q) = %v, canonical forms equal: %v", a, b, got, want)
		}
	})
}

// TestDocument checks that a Document answers as the functions that parse
// their input each time do.
func TestDocument(t *testing.T) {
	data := proposal4K(t)
	d, err := ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckFileForm(); err != nil {
		t.Errorf("file form: %v", err)
	}
	want, err := DigestBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // computed, then remembered
		if got, err := d.Digest(); err != nil || got != want {
			t.Errorf("Digest = %s, %v; want %s", got, err, want)
		}
	}
	compact, _ := Canonical(d.Value())
	dc, err := ParseDocument(compact)
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.CheckFileForm(); err == nil || err.(*Error).Reason != ReasonNotFileForm {
		t.Errorf("compact form accepted as file form: %v", err)
	}
	var m map[string]any
	if err := d.Unmarshal(&m); err != nil {
		t.Errorf("into a map: %v", err)
	}
	type wrong struct {
		Type string `json:"type"`
	}
	var w wrong
	if err := d.Unmarshal(&w); err == nil {
		t.Error("a type without most fields accepted")
	}
	if _, err := ParseDocument([]byte(`{"a":1,"a":2}`)); err == nil {
		t.Error("duplicate key accepted")
	}
}

// TestPooledStateDoesNotLeak: parsers and scratch buffers are reused from
// pools. A parse that failed half-way, or a document of another shape,
// must leave nothing behind that the next parse, digest or file-form check
// sees — also when goroutines share the pools (run with -race).
func TestPooledStateDoesNotLeak(t *testing.T) {
	docs := []string{
		`{"a":[1,2,{"b":"c"}],"d":{"e":[],"f":{}}}`,
		`[{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17}]`,
		`{"s":"esc\"aped\u00e9\ud83d\ude00","signatures":[{"sig":"x"}]}`,
	}
	bad := []string{
		`{"a":[1,2,{"b":"c",`,
		`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":3}`,
		`["a","\ud800"]`,
		`{"x":[[[[[[1,2,3]]]]]],"y":"`,
	}
	type answer struct {
		canonical, digest string
		fileErr           error
	}
	want := make([]answer, len(docs))
	for i, d := range docs {
		v, err := ParseStrict([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := Canonical(v)
		dg, _ := Digest(v)
		want[i] = answer{string(c), dg, CheckFileForm([]byte(d))}
	}
	if want[0].digest == want[1].digest || want[0].digest == want[2].digest {
		t.Fatal("distinct documents share a digest")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				if _, err := ParseStrict([]byte(bad[(g+i)%len(bad)])); err == nil {
					errs <- fmt.Errorf("bad input %d accepted", (g+i)%len(bad))
					return
				}
				k := (g + i) % len(docs)
				doc, err := ParseDocument([]byte(docs[k]))
				if err != nil {
					errs <- err
					return
				}
				c, _ := Canonical(doc.Value())
				dg, _ := doc.Digest()
				fe := doc.CheckFileForm()
				if string(c) != want[k].canonical || dg != want[k].digest || (fe == nil) != (want[k].fileErr == nil) {
					errs <- fmt.Errorf("doc %d: got %s %s %v, want %+v", k, c, dg, fe, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
