package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// TestFailureSorting: verify (fail) and the auditor's commands (auditErr)
// sort the errors of history.Verify alike, through verifyFailure: the same
// errors are verification failures (exit 1), the rest environment errors
// (exit 3).
func TestFailureSorting(t *testing.T) {
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, map[string][]byte{"README": []byte("x\n")})
	repo, err := gitrepo.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := repo.Resolve("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := gitrepo.ParseHash(strings.Repeat("ab", 20))
	wrap := func(err error) error { return fmt.Errorf("history: %w", err) }
	for _, c := range []struct {
		name   string
		err    error
		reason verify.Reason // "" for an environment error
		commit string
	}{
		{"verifier", wrap(&verify.Error{Reason: verify.ReasonThreshold, Commit: other.String(), Msg: "m"}), verify.ReasonThreshold, other.String()},
		{"not descendant", wrap(&gitrepo.NotDescendantError{From: other, To: head}), verify.ReasonNotFastForward, head.String()},
		{"tree entry", wrap(&gitrepo.TreeEntryError{Path: "policy/x", Reason: "a symbolic link"}), verify.ReasonMalformed, head.String()},
		{"too large", wrap(&gitrepo.FileTooLargeError{Path: "policy/x", Size: 2, Limit: 1}), verify.ReasonMalformed, head.String()},
		{"missing commit", wrap(fmt.Errorf("commit: %w", gitrepo.ErrNotFound)), "", ""},
		{"shallow", wrap(fmt.Errorf("commit: %w in this %w", gitrepo.ErrNotFound, gitrepo.ErrShallow)), "", ""},
		{"other", errors.New("disk on fire"), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := ExitFailed
			if c.reason == "" {
				want = ExitEnv
			}
			if got := exitCode(auditErr(head, c.err)); got != want {
				t.Errorf("auditErr: exit %d, want %d", got, want)
			}
			o := &verifyOutcome{repo: repo, v: verify.New("sha256:"+strings.Repeat("00", 32), verify.Options{}), head: head}
			ferr := o.fail(context.Background(), c.err, head)
			if c.reason == "" {
				if o.err != nil || exitCode(ferr) != ExitEnv {
					t.Fatalf("fail: recorded %v, returned %v; want an environment error", o.err, ferr)
				}
				return
			}
			if ferr != nil || o.err == nil {
				t.Fatalf("fail: recorded %v, returned %v; want a verification failure", o.err, ferr)
			}
			if o.err.Reason != c.reason || o.err.Commit != c.commit {
				t.Errorf("fail: %s in %s, want %s in %s", o.err.Reason, o.err.Commit, c.reason, c.commit)
			}
			if want := "HEAD " + head.Short() + " is not a fast-forward of the verified commit " + other.Short() + ": the history was rewritten"; c.reason == verify.ReasonNotFastForward && !strings.HasPrefix(o.err.Msg, want) {
				t.Errorf("fail: %q, want it to start %q", o.err.Msg, want)
			}
		})
	}
}
