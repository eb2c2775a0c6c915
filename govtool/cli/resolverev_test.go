package cli

import (
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

func TestResolveRev(t *testing.T) {
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, map[string][]byte{"a": []byte("1")})
	c1 := gittest.Git(t, dir, "rev-parse", "HEAD")
	c2 := gittest.Commit(t, dir, map[string][]byte{"a": []byte("2")}, "two")
	c3 := gittest.Commit(t, dir, map[string][]byte{"a": []byte("3")}, "three")
	repo, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for rev, want := range map[string]string{
		"HEAD": c3, "main": c3, "HEAD~0": c3, "HEAD^": c2, "HEAD~": c2, "HEAD~1": c2,
		"HEAD~2": c1, "HEAD^^": c1, "main~1^": c1, c3 + "~2": c1,
	} {
		h, err := resolveRev(repo, rev)
		if err != nil {
			t.Errorf("%s: %v", rev, err)
			continue
		}
		if h.String() != trimNL(want) {
			t.Errorf("%s = %s, want %s", rev, h, trimNL(want))
		}
	}
	for _, bad := range []string{"HEAD~3", "HEAD~x", "HEAD@{1}", "nope~1"} {
		if _, err := resolveRev(repo, bad); err == nil {
			t.Errorf("%s resolved", bad)
		}
	}
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
