package canon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The parser finds whether a document is in file form while it parses
// (parsed.form), and Document.Digest then hashes the file's bytes less
// their whitespace and signatures (canonicalOfFileForm) instead of
// encoding the tree. These tests hold both to the reference: encoding the
// tree (FileForm, Digest) and comparing.

// checkFormFound fails t unless, for data, the parser's verdict equals
// "data is FileForm(tree)" and, when it is, the digest from the bytes equals
// Digest(tree).
func checkFormFound(t *testing.T, data []byte) {
	t.Helper()
	d, err := ParseDocument(data)
	if err != nil {
		return
	}
	ff, err := FileForm(d.Value())
	if err != nil {
		t.Fatalf("%q: parsed value does not encode: %v", data, err)
	}
	if want := bytes.Equal(ff, data); d.form != want {
		t.Fatalf("parser says file form = %v for %q; FileForm is %q", d.form, data, ff)
	}
	if (d.CheckFileForm() == nil) != bytes.Equal(ff, data) {
		t.Fatalf("Document.CheckFileForm disagrees with FileForm for %q", data)
	}
	want, wantErr := Digest(d.Value())
	got, gotErr := d.Digest()
	if got != want || (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("digest of %q: %s (%v), want %s (%v)", data, got, gotErr, want, wantErr)
	}
}

// formCorpus is documents in file form: the known-answer seeds re-encoded,
// this repository's own governance files, and hand-made ones that reach
// the corners (signatures first, last, alone and nested; escapes; empty
// containers; long integers; keys that sort differently in UTF-16).
func formCorpus(t *testing.T) [][]byte {
	var out [][]byte
	add := func(v any) {
		ff, err := FileForm(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ff)
	}
	for _, s := range fuzzSeeds(t) {
		if v, err := ParseStrict(s); err == nil {
			add(v)
		}
	}
	for _, dir := range []string{"proposals", "signer-sets", "policy"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", dir, "*.json"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, data)
		}
	}
	for _, s := range []string{
		`{"signatures":[{"a":1}],"z":"x"}`,
		`{"a":1,"signatures":[]}`,
		`{"signatures":{}}`,
		`{"signatures":"s","t":{"signatures":[1,2]}}`,
		`{"a":{"signatures":1},"b":[{"signatures":2}],"signatures":[3],"z":[]}`,
		`{"e":"tab\there \"q\" back\\slash \u0001 \u001f nl\n cr\r ff\f bs\b del \u007f é ☃ 😀 / "}`,
		`{"a":[],"b":{},"c":[[],{}],"d":[{"x":[]}]}`,
		`{"big":9007199254740991,"neg":-9007199254740991,"zero":0,"n":-5}`,
		`{"\u20ac":1,"\ud83d\ude00":2,"\uff01":3,"a b":4,"":5}`,
		`["signatures",{"signatures":1}]`,
		`"just a string"`,
		`12`,
		`null`,
		`[true,false,null]`,
	} {
		v, err := ParseStrict([]byte(s))
		if err != nil {
			t.Fatalf("corpus entry %s: %v", s, err)
		}
		add(v)
	}
	if len(out) < 50 {
		t.Fatalf("only %d documents in the corpus", len(out))
	}
	return out
}

// TestFormFoundCorpus checks every document of the corpus, each of which
// the parser must find in file form.
func TestFormFoundCorpus(t *testing.T) {
	for _, data := range formCorpus(t) {
		d, err := ParseDocument(data)
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if !d.form {
			t.Fatalf("the parser does not find %q in file form", data)
		}
		checkFormFound(t, data)
	}
}

// TestFormFoundMutations changes each document of the corpus one byte at a
// time (delete, insert whitespace or a character, replace, swap) and by
// rewriting a token in another spelling, and holds the parser's verdict
// and the digest to the reference for every result.
func TestFormFoundMutations(t *testing.T) {
	n := 0
	for _, data := range formCorpus(t) {
		if len(data) > 4096 {
			data = data[:4096] // long files: their first 4 KB, mostly broken
		}
		for i := 0; i <= len(data); i++ {
			var muts [][]byte
			if i < len(data) {
				muts = append(muts, splice(data, i, 1, ""), splice(data, i, 1, "\t"), splice(data, i, 1, " "))
				if i+1 < len(data) {
					muts = append(muts, splice(data, i, 2, string([]byte{data[i+1], data[i]})))
				}
			}
			for _, ins := range []string{" ", "\n", "\r", "\t", "\n  ", ",", `\/`, `\u0041`} {
				muts = append(muts, splice(data, i, 0, ins))
			}
			for _, m := range muts {
				checkFormFound(t, m)
				n++
			}
		}
		for _, r := range [][2]string{
			{`/`, `\/`}, {`\n`, `\u000a`}, {`\u001f`, `\u001F`}, {`\u0001`, `\u0001`},
			{`é`, `\u00e9`}, {`"a"`, `"\u0061"`}, {"[]", "[ ]"}, {"{}", "{\n}"},
			{": ", ":"}, {": ", ":  "}, {"\n", "\r\n"}, {"  ", "\t"},
		} {
			if m := bytes.ReplaceAll(data, []byte(r[0]), []byte(r[1])); !bytes.Equal(m, data) {
				checkFormFound(t, m)
				n++
			}
		}
		checkFormFound(t, append(bytes.Clone(data), '\n'))
		checkFormFound(t, bytes.TrimSuffix(data, []byte("\n")))
		n += 2
	}
	t.Logf("%d mutations", n)
}

// TestFormFoundKeyOrder swaps two members of an object in file form: the
// same value, not in file form, and the digest is unchanged.
func TestFormFoundKeyOrder(t *testing.T) {
	for _, s := range []string{
		"{\n  \"b\": 1,\n  \"a\": 2\n}\n",
		"{\n  \"signatures\": [],\n  \"a\": 2\n}\n",
		"{\n  \"\uff01\": 1,\n  \"\U0001F600\": 2\n}\n", // UTF-16 puts the emoji (D83D DE00) first
	} {
		d, err := ParseDocument([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if d.form {
			t.Errorf("%q: members out of canonical order, yet found in file form", s)
		}
		checkFormFound(t, []byte(s))
	}
}

func splice(data []byte, at, del int, ins string) []byte {
	var b strings.Builder
	b.Write(data[:at])
	b.WriteString(ins)
	b.Write(data[at+del:])
	return []byte(b.String())
}

// FuzzFormFound holds the parser's verdict and the digest to the reference
// for any input.
func FuzzFormFound(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
		if v, err := ParseStrict(s); err == nil {
			if ff, err := FileForm(v); err == nil {
				f.Add(ff)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFormFound(t, data)
	})
}
