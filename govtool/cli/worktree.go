package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// This file holds what the writing commands (init, propose, approve,
// execute, signer-set rotate) share: a commit is checked by the one verifier,
// on a clone of the verified state, before it is made.

// uncommittedHash names the would-be commit given to the verifier before the
// real one exists.
const uncommittedHash = "0000000000000000000000000000000000000000"

// identity returns the author Git would use from the environment
// (GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL, as git itself honours them), or a
// signature with only When set, for which gitrepo takes the name and email
// from Git configuration.
func (e *env) identity(when time.Time) (author, committer gitrepo.Signature) {
	author = gitrepo.Signature{When: when}
	if n, m := e.getenv("GIT_AUTHOR_NAME"), e.getenv("GIT_AUTHOR_EMAIL"); n != "" && m != "" {
		author.Name, author.Email = n, m
	}
	committer = author
	if n, m := e.getenv("GIT_COMMITTER_NAME"), e.getenv("GIT_COMMITTER_EMAIL"); n != "" && m != "" {
		committer = gitrepo.Signature{Name: n, Email: m, When: when}
	}
	return author, committer
}

// authorFlagHelp is the help of the --author flag, whose default
// authorName finds.
const authorFlagHelp = "'Name <email>' (default: $GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL>, else git config user.name and user.email)"

// authorName is who a proposal names as its author: --author, else
// GIT_AUTHOR_NAME <GIT_AUTHOR_EMAIL>, else the repository's Git identity
// (user.name and user.email), as git commit finds it.
func (e *env) authorName(flag string, repo *gitrepo.Repo) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if n, m := e.getenv("GIT_AUTHOR_NAME"), e.getenv("GIT_AUTHOR_EMAIL"); n != "" && m != "" {
		return n + " <" + m + ">", nil
	}
	if repo != nil {
		if id, err := repo.Identity(); err == nil {
			return id.Name + " <" + id.Email + ">", nil
		}
	}
	return "", usage("say who is proposing: --author 'Name <email>', or git config user.name and user.email (or GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL)")
}

// readWorktree returns the content of a repo-relative path in the working
// tree, or nil when it does not exist.
func readWorktree(repo *gitrepo.Repo, rel string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(repo.Dir(), filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, envErr(err)
	}
	return data, nil
}

// readHead returns the content of path at commit head, or nil when absent.
func readHead(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash, path string) ([]byte, error) {
	if head.IsZero() {
		return nil, nil
	}
	data, err := repo.ReadFile(ctx, head, path)
	if errors.Is(err, gitrepo.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, envErr(err)
	}
	return data, nil
}

// checkClean refuses to overwrite a path whose working-tree content differs
// from the commit it would be committed on: an uncommitted edit would be
// lost or, worse, committed unseen.
func checkClean(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash, paths []string) error {
	for _, p := range paths {
		wt, err := readWorktree(repo, p)
		if err != nil {
			return err
		}
		at, err := readHead(ctx, repo, head, p)
		if err != nil {
			return err
		}
		if !bytes.Equal(wt, at) {
			return failed(fmt.Errorf("%s has uncommitted changes: commit or restore it first (git status)", p))
		}
	}
	return nil
}

// commit checks files (repo-relative path → content, nil deletes) as the
// next commit on the verified head with the one verifier — on a clone, as a
// new commit judged at l.now — and only when it is accepted commits them on
// the checked-out branch. It returns the new commit and the verifier's
// report of it.
func (l *loaded) commit(ctx context.Context, e *env, files map[string][]byte, msg string) (gitrepo.Hash, *verify.Report, error) {
	paths := sortedPaths(files)
	var check []string
	for _, p := range paths {
		// A working-tree file that already holds exactly what is written
		// (an attachment the author named) loses nothing.
		if wt, err := readWorktree(l.repo, p); err != nil {
			return gitrepo.Hash{}, nil, err
		} else if wt == nil || files[p] == nil || !bytes.Equal(wt, files[p]) {
			check = append(check, p)
		}
	}
	if err := checkClean(ctx, l.repo, l.head, check); err != nil {
		return gitrepo.Hash{}, nil, err
	}
	when := l.now.Truncate(time.Second)
	c := verify.Commit{Hash: uncommittedHash, Time: when, Author: "govtool"}
	if !l.head.IsZero() {
		c.Parents = []string{l.head.String()}
	}
	for _, p := range paths {
		before, err := readHead(ctx, l.repo, l.head, p)
		if err != nil {
			return gitrepo.Hash{}, nil, err
		}
		after := files[p]
		if after == nil && before == nil {
			continue
		}
		c.Changes = append(c.Changes, verify.Change{Path: p, Before: before, After: after, Deleted: after == nil})
	}
	rep, err := l.v.Clone().ApplyNew(c)
	if err != nil {
		return gitrepo.Hash{}, nil, failed(fmt.Errorf("refusing to commit what verification would reject: %w", err))
	}
	author, committer := e.identity(when)
	h, err := l.repo.CommitFiles(ctx, gitrepo.CommitRequest{Files: files, Message: msg, Author: author, Committer: committer})
	if err != nil {
		if errors.Is(err, gitrepo.ErrNoIdentity) {
			return gitrepo.Hash{}, nil, envErr(err)
		}
		return gitrepo.Hash{}, nil, envErr(fmt.Errorf("committing: %w", err))
	}
	return h, rep, nil
}

func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// parseLifetime parses a duration as time.ParseDuration does, plus whole
// days ("92d").
func parseLifetime(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 3650 {
			return 0, fmt.Errorf("%q: want a whole number of days (1d to 3650d) or a Go duration such as 36h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive duration such as 24h, 90m or 7d", s)
	}
	return d, nil
}

// timeLeft says how long until t, or how long ago it passed.
func timeLeft(t, now time.Time) string {
	d := t.Sub(now).Truncate(time.Second)
	if d < 0 {
		return "expired " + roundDuration(-d) + " ago"
	}
	return roundDuration(d) + " left"
}

func roundDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return d.Truncate(time.Minute).String()
	default:
		return d.String()
	}
}

// shortKey is the first 12 hex digits of a key id, as messages show it.
func shortKey(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
