package verifytest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// Files returns the files a Git commit of changes writes, by path: each
// change's After, or nil (which gitrepo's CommitFiles and CommitToBranch
// take as a deletion) when the change deletes the file — Deleted set or
// After nil, as verify reads a change.
func Files(changes []verify.Change) map[string][]byte {
	files := make(map[string][]byte, len(changes))
	for _, ch := range changes {
		if ch.Deleted || ch.After == nil {
			files[ch.Path] = nil
		} else {
			files[ch.Path] = ch.After
		}
	}
	return files
}

// CommitTo writes c into r as one commit on its checked-out branch with
// gitrepo's CommitFiles: c's changes (Files), message msg, and author and
// committer "Signer <signer@example.org>" at c.Time, so that the history
// read back from Git has the times the verifier saw in memory. c's hash and
// parents are not used: the commit goes on top of the branch. It returns the
// new commit's hash and fails tb on any error.
func CommitTo(tb testing.TB, r *gitrepo.Repo, c verify.Commit, msg string) gitrepo.Hash {
	tb.Helper()
	sig := gitrepo.Signature{Name: "Signer", Email: "signer@example.org", When: c.Time}
	h, err := r.CommitFiles(context.Background(), gitrepo.CommitRequest{Files: Files(c.Changes), Message: msg, Author: sig, Committer: sig})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// Remote is a governance repository on a bare remote, written by the
// signers of H: a working repository (Work, branch main, remote origin)
// that pushes to a real bare repository (Bare, at URL), which the code
// under test clones or fetches.
type Remote struct {
	T    testing.TB
	Bare string        // the bare repository's directory
	URL  string        // its file:// URL
	Work *gitrepo.Repo // the signers' working repository
	H    *History
}

// NewRemote isolates Git for tb (gittest.SetEnv, so not in parallel
// tests), creates an empty bare repository and a working repository on
// branch main whose origin is it, and starts a History of profile (New).
// Nothing is committed: write the genesis with Commit, then Push.
func NewRemote(tb testing.TB, profile string) *Remote {
	tb.Helper()
	gittest.SetEnv(tb)
	bare, url := gittest.NewBare(tb)
	work, err := gitrepo.Init(filepath.Join(tb.TempDir(), "work"), "main")
	if err != nil {
		tb.Fatal(err)
	}
	if err := work.AddRemote("origin", url); err != nil {
		tb.Fatal(err)
	}
	return &Remote{T: tb, Bare: bare, URL: url, Work: work, H: New(tb, profile)}
}

// Commit writes c into the working repository (CommitTo) and returns its
// hash.
func (r *Remote) Commit(c verify.Commit, msg string) gitrepo.Hash {
	r.T.Helper()
	return CommitTo(r.T, r.Work, c, msg)
}

// Push pushes main to the bare repository.
func (r *Remote) Push() {
	r.T.Helper()
	if err := r.Work.Push(context.Background(), "origin", "refs/heads/main"); err != nil {
		r.T.Fatal(err)
	}
}
