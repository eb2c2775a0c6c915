// Package gittest makes real Git repositories for tests: bare remotes over
// file:// and over loopback HTTP (git http-backend behind net/http/cgi), and
// working repositories with commits. It drives the system git binary, never
// gitrepo, so that tests of gitrepo and of its users check go-git against
// what Git itself writes.
package gittest

import (
	"bytes"
	"maps"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The identity SetEnv and Git use.
const (
	Name  = "Test Signer"
	Email = "signer@example.test"
)

// SetEnv isolates Git for the calling test and the code it calls: HOME (and
// XDG_CONFIG_HOME) point to a fresh directory whose .gitconfig names Name and
// Email and sets init.defaultBranch=main; GIT_AUTHOR_* and GIT_COMMITTER_*
// name the same identity; GIT_CONFIG_NOSYSTEM=1 and GIT_TERMINAL_PROMPT=0; and
// variables that would redirect Git (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE,
// …) are unset. It uses t.Setenv, so it cannot be used in parallel tests.
func SetEnv(t testing.TB) string {
	t.Helper()
	home := t.TempDir()
	cfg := "[user]\n\tname = " + Name + "\n\temail = " + Email + "\n" +
		"[init]\n\tdefaultBranch = main\n" +
		"[protocol \"file\"]\n\tallow = always\n" +
		"[commit]\n\tgpgsign = false\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range map[string]string{
		"HOME":                home,
		"XDG_CONFIG_HOME":     filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_TERMINAL_PROMPT": "0",
		"GIT_AUTHOR_NAME":     Name,
		"GIT_AUTHOR_EMAIL":    Email,
		"GIT_COMMITTER_NAME":  Name,
		"GIT_COMMITTER_EMAIL": Email,
	} {
		t.Setenv(k, v)
	}
	return home
}

// gitEnv is the environment of every git process gittest starts: the
// caller's, without GIT_* variables, with no system or global configuration
// and a fixed identity.
func gitEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env, append([]string{
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=" + Name,
		"GIT_AUTHOR_EMAIL=" + Email,
		"GIT_COMMITTER_NAME=" + Name,
		"GIT_COMMITTER_EMAIL=" + Email,
	}, extra...)...)
}

// Git runs git with args in dir (the current directory when empty) and
// returns its standard output without the trailing newline. A failure fails
// t with git's standard error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := run(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// GitErr is Git that returns the failure instead of failing t.
func GitErr(dir string, args ...string) (string, error) { return run(dir, args...) }

// GitStdin is Git with stdin as the process's standard input (for
// fast-import, hash-object --stdin, mktree).
func GitStdin(t testing.TB, dir string, stdin []byte, args ...string) string {
	t.Helper()
	out, err := runInput(dir, stdin, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func run(dir string, args ...string) (string, error) { return runInput(dir, nil, args...) }

func runInput(dir string, stdin []byte, args ...string) (string, error) {
	base := []string{"-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", &gitError{err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return strings.TrimRight(stdout.String(), "\n"), nil
}

type gitError struct {
	err    error
	stderr string
}

func (e *gitError) Error() string { return e.err.Error() + ": " + e.stderr }

// NewBare creates an empty bare repository whose HEAD names main, and returns
// its directory and its file:// URL. An empty repository cannot be cloned:
// push a first commit to it.
func NewBare(t testing.TB) (dir, url string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "remote.git")
	Git(t, "", "init", "-q", "--bare", "-b", "main", dir)
	return dir, "file://" + filepath.ToSlash(dir)
}

// NewWorking creates a repository with a worktree on branch main and, when
// files is not empty, one commit holding them. It returns the directory.
func NewWorking(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	Git(t, "", "init", "-q", "-b", "main", dir)
	if len(files) > 0 {
		Commit(t, dir, files, "initial commit")
	}
	return dir
}

// Commit writes files into the worktree at dir (a nil value deletes the
// file), stages exactly those paths and commits them on the current branch.
// It returns the new commit's hash.
func Commit(t testing.TB, dir string, files map[string][]byte, msg string) string {
	t.Helper()
	paths := slices.Sorted(maps.Keys(files))
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if files[p] == nil {
			if err := os.Remove(full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, dir, append([]string{"add", "-A", "--"}, paths...)...)
	Git(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

var (
	execPathOnce sync.Once
	execPath     string
	execPathErr  error
)

// Serve serves the bare repository at bareDir over smart HTTP on a loopback
// httptest.Server, with the real git http-backend (found through
// git --exec-path) run as CGI, receive-pack enabled. It returns the
// repository's http:// URL; the server stops when the test ends.
func Serve(t testing.TB, bareDir string) string {
	t.Helper()
	execPathOnce.Do(func() { execPath, execPathErr = run("", "--exec-path") })
	if execPathErr != nil {
		t.Fatalf("gittest: locating git http-backend: %v", execPathErr)
	}
	backend := filepath.Join(execPath, "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("gittest: git http-backend: %v", err)
	}
	abs, err := filepath.Abs(bareDir)
	if err != nil {
		t.Fatal(err)
	}
	Git(t, abs, "config", "http.receivepack", "true")
	h := &cgi.Handler{
		Path: backend,
		Env: gitEnv(
			"GIT_PROJECT_ROOT="+filepath.Dir(abs),
			"GIT_HTTP_EXPORT_ALL=1",
		),
		Stderr: logWriter{t},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(abs)
}

// logWriter sends the backend's standard error (hook output, errors) to the
// test log instead of the process's.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("git http-backend: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
