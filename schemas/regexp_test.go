package schemas

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// adversarialPatterns exercise what the schemas' patterns do not: search
// without anchors, empty matches, $ before ^, case folding, assertions the
// DFA leaves to Go's regexp, non-ASCII in the pattern and a DFA too large
// to build.
var adversarialPatterns = []string{
	``, `a`, `a*`, `^`, `$`, `^$`, `$^`, `^a|b$`, `a$|^b`, `x*$`, `^x*`,
	`(?i)^[a-k]+z$`, `(?i)k`, `(?s)^.+$`, `^.+$`, `[^\n]`, `^\n*$`,
	`\bword\b`, `(?m)^a$`, `\Bb`, `(?U)^a+?$`, `^(a|ab)(c|bcd)(d*)$`,
	`^(?:a{0,3}){2,4}$`, `^a{2,}b{0,1}$`, `(a|b)*a(a|b){14}`, `^—+$`, `é|a`,
	`^[\x00-\x7f]*$`, `^\x00$`, `^(|a)+$`, `(?:^|,)x(?:,|$)`, `^a\z`, `\Aa$`,
}

func testPatterns(t testing.TB) []string {
	return append(schemaPatterns(t), adversarialPatterns...)
}

// texts returns strings to match against: the corpus, each cut, extended
// and with one byte changed, random strings over the bytes that matter to
// the patterns, and a few with bytes ≥ 0x80.
func texts(t testing.TB, patterns []string) []string {
	out := corpusStrings(t)
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "\n\x00 -./0123456789:=AEQZ_abcdefgkswxz~+—é\u212a"
	for _, p := range patterns {
		alphabet += p
	}
	n := len(out)
	for _, s := range out[:n] {
		out = append(out, s+"\n", s+"a", "a"+s)
		for _, i := range []int{0, len(s) / 2, len(s) - 1} {
			if i < 0 || i >= len(s) {
				continue
			}
			out = append(out, s[:i], s[:i]+s[i+1:])
			for _, c := range []byte{'0', 'f', 'g', 'A', '/', '-', '\n', 0xc3} {
				b := []byte(s)
				b[i] = c
				out = append(out, string(b))
			}
		}
	}
	for range 3000 {
		b := make([]byte, rng.IntN(90))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		out = append(out, string(b))
	}
	return out
}

// TestRegexpAgrees: the DFA answers as Go's regexp on every pattern of the
// schemas and the adversarial ones, over the corpus and its mutations.
func TestRegexpAgrees(t *testing.T) {
	patterns := testPatterns(t)
	in := texts(t, patterns)
	built := 0
	for _, p := range patterns {
		want := regexp.MustCompile(p)
		r, err := compileRegexp(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if r.String() != p {
			t.Errorf("String() = %q, want %q", r.String(), p)
		}
		for _, s := range in {
			if got, exp := r.MatchString(s), want.MatchString(s); got != exp {
				t.Errorf("%q on %q: %v, regexp says %v", p, s, got, exp)
			}
		}
		if r.(*dfaRegexp).d != nil {
			built++
		}
	}
	// Every schema pattern gets a DFA (or the speed-up is lost quietly).
	for _, p := range schemaPatterns(t) {
		if newDFA(p) == nil {
			t.Errorf("no DFA for schema pattern %q", p)
		}
	}
	t.Logf("%d patterns, %d with a DFA, %d texts", len(patterns), built, len(in))
}

// TestRegexpFallback: patterns outside the DFA's reach are still answered,
// by Go's regexp.
func TestRegexpFallback(t *testing.T) {
	for _, p := range []string{`\bword\b`, `(?m)^a$`, `\Bb`, `(a|b)*a(a|b){14}`} {
		if newDFA(p) != nil {
			t.Errorf("%q: a DFA was built", p)
		}
	}
	r, _ := compileRegexp(`(a|b)*a(a|b){14}`)
	if !r.MatchString(strings.Repeat("b", 20) + "a" + strings.Repeat("ab", 7)) {
		t.Error("fallback does not match")
	}
	if _, err := compileRegexp(`a(`); err == nil {
		t.Error("a syntax error compiled")
	}
}

// FuzzRegexp compares the DFA with Go's regexp on the schema and
// adversarial patterns.
func FuzzRegexp(f *testing.F) {
	patterns := testPatterns(f)
	compiled := make([]*regexp.Regexp, len(patterns))
	ours := make([]*dfaRegexp, len(patterns))
	for i, p := range patterns {
		compiled[i] = regexp.MustCompile(p)
		r, _ := compileRegexp(p)
		ours[i] = r.(*dfaRegexp)
	}
	for i, s := range corpusStrings(f) {
		f.Add(uint16(i), s)
	}
	f.Fuzz(func(t *testing.T, i uint16, s string) {
		k := int(i) % len(patterns)
		if got, want := ours[k].MatchString(s), compiled[k].MatchString(s); got != want {
			t.Fatalf("%q on %q: %v, regexp says %v", patterns[k], s, got, want)
		}
	})
}

// FuzzRegexpPattern compares them on patterns the fuzzer writes.
func FuzzRegexpPattern(f *testing.F) {
	for _, p := range testPatterns(f) {
		f.Add(p, "2026-01-02T15:04:05Z")
		f.Add(p, "sha256:00")
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		want, err := regexp.Compile(p)
		if err != nil {
			return
		}
		r, err := compileRegexp(p)
		if err != nil {
			t.Fatalf("%q: regexp compiles it, compileRegexp says %v", p, err)
		}
		if got, exp := r.MatchString(s), want.MatchString(s); got != exp {
			t.Fatalf("%q on %q: %v, regexp says %v", p, s, got, exp)
		}
	})
}

// BenchmarkRegexp matches the longest schema patterns on a matching text:
// Go's regexp against the DFA.
func BenchmarkRegexp(b *testing.B) {
	for _, tc := range []struct{ name, expr, text string }{
		{"key_id", `^[0-9a-f]{64}$`, "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"},
		{"signature", `^[A-Za-z0-9+/]{85}[AQgw]==$`, "YpHWV97sJAJIJ+acOr4BowzlSKKEdDpEXjaA19taw6wY/5tTjRbykK5n92CYTcZZSnwV6XFu0o3AJ77O6h7ECg=="},
		{"time", `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$`, "2026-01-01T00:00:00Z"},
	} {
		re := regexp.MustCompile(tc.expr)
		b.Run(tc.name+"/regexp", func(b *testing.B) {
			for b.Loop() {
				if !re.MatchString(tc.text) {
					b.Fatal("no match")
				}
			}
		})
		r, _ := compileRegexp(tc.expr)
		b.Run(tc.name+"/dfa", func(b *testing.B) {
			for b.Loop() {
				if !r.MatchString(tc.text) {
					b.Fatal("no match")
				}
			}
		})
	}
}
