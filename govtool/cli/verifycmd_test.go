package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestVerifyProgress: progress goes to stderr every progressEvery commits
// with --progress, and not at all when stderr is not a terminal without it.
func TestVerifyProgress(t *testing.T) {
	old := progressEvery
	progressEvery = 20
	defer func() { progressEvery = old }()

	var out, errb bytes.Buffer
	if code := Main([]string{"verify", "-C", moduleRoot, "--root", exampleRoot, "--progress"}, nil, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := regexp.MustCompile(`(?m)^govtool: history: verified (\d+)/(\d+) commits \([0-9a-f]{12}\)$`).FindAllStringSubmatch(errb.String(), -1)
	if len(lines) < 2 || lines[0][1] != "20" || lines[1][1] != "40" {
		t.Fatalf("progress lines: %q", errb.String())
	}
	if last := lines[len(lines)-1]; last[1] != last[2] {
		t.Errorf("no final progress line: %q", last[0])
	}

	out.Reset()
	errb.Reset()
	if code := Main([]string{"verify", "-C", moduleRoot, "--root", exampleRoot}, nil, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("progress without --progress on a non-terminal: %q", errb.String())
	}
}

// FuzzGitHubEscape: no repository content can end a workflow command early
// or start another (a newline), nor break out of a property (, and :).
func FuzzGitHubEscape(f *testing.F) {
	f.Add("proposals/x.json\n::add-mask::secret")
	f.Add("a,b:c%0A\r\n%")
	f.Fuzz(func(t *testing.T, s string) {
		d, p := ghData(s), ghProp(s)
		if strings.ContainsAny(d, "\r\n") {
			t.Fatalf("data %q keeps a line break", d)
		}
		if strings.ContainsAny(p, "\r\n,:") {
			t.Fatalf("property %q keeps a separator", p)
		}
		// Escaping is reversible: nothing is lost or confused.
		unescape := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
		if unescape.Replace(d) != s || unescape.Replace(p) != s {
			t.Fatalf("escaping %q is not reversible: %q, %q", s, d, p)
		}
	})
}

// FuzzMarkdownText: text from the repository stays one line of plain text
// in a PR comment: no table break, no HTML, no link, no mention.
func FuzzMarkdownText(f *testing.F) {
	f.Add("@octocat <img src=x> [a](http://x) | b\n# h")
	f.Add("`code` *em* _u_ \\")
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		m := mdText(s)
		if strings.ContainsAny(m, "\r\n\t") {
			t.Fatalf("%q keeps a line break", m)
		}
		for i, r := range m {
			if strings.ContainsRune("\\`*_{}[]<>()#+!|~&", r) {
				// Every special character is escaped by one backslash that
				// is not itself escaped.
				n := 0
				for j := i - 1; j >= 0 && m[j] == '\\'; j-- {
					n++
				}
				if r != '\\' && n%2 != 1 {
					t.Fatalf("%q: %q at %d is not escaped", m, r, i)
				}
			}
			if r == '@' && !strings.HasPrefix(m[i+1:], "\u2060") {
				t.Fatalf("%q: a bare @ can mention", m)
			}
		}
	})
}
