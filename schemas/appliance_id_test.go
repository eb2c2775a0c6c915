package schemas

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// applianceIDSamples are ids near the edges of the appliance id pattern
// and of git check-ref-format's rules for one ref component, with whether
// the pattern accepts them. The pattern before it lost '.' accepted
// "a..b", "a.", "x.lock" and "a.lock": names Git refuses for a branch.
var applianceIDSamples = []struct {
	id   string
	want bool
}{
	{"hsm-eu-1", true},
	{"app_1", true},
	{"0", true},
	{"a-", true},
	{"a_", true},
	{"a--b", true},
	{"a__b", true},
	{"lock", true},
	{"a-lock", true},
	{"head", true},
	{strings.Repeat("a", 63), true},
	{"9" + strings.Repeat("-", 62), true},

	{"", false},
	{strings.Repeat("a", 64), false},
	{"-a", false},
	{"_a", false},
	{"a.b", false}, // a valid ref component, but no id has a '.'
	{"a..b", false},
	{"a.", false},
	{".a", false},
	{"x.lock", false},
	{"a.lock", false},
	{"A", false},
	{"App-1", false},
	{"HEAD", false},
	{"@", false},
	{"a@{1}", false},
	{"a/b", false},
	{"a//b", false},
	{"a b", false},
	{"a\tb", false},
	{"a~1", false},
	{"a^", false},
	{"a:b", false},
	{"a?", false},
	{"a*", false},
	{"a[b", false},
	{`a\b`, false},
	{"a\x7f", false},
	{"é", false},
	{"a\n", false},
}

// TestApplianceIDIsGitRefComponent: every id the appliance id pattern
// accepts names a valid branch audit/<id>, as the real git judges it.
func TestApplianceIDIsGitRefComponent(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed: .ci/run must install it")
		}
		t.Skip("git is not installed; skipped outside CI only")
	}
	re := regexp.MustCompile(MustPattern("defs.json#/$defs/appliance_id"))
	for _, s := range applianceIDSamples {
		if got := re.MatchString(s.id); got != s.want {
			t.Errorf("pattern %s on %q: %v, want %v", re, s.id, got, s.want)
		}
		ref := "refs/heads/audit/" + s.id
		err := exec.Command(git, "check-ref-format", ref).Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("git check-ref-format: %v", err)
		}
		if re.MatchString(s.id) && err != nil {
			t.Errorf("pattern %s accepts %q, but git check-ref-format refuses %q", re, s.id, ref)
		}
	}
}
