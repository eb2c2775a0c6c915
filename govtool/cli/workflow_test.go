package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

// moduleRoot is the repository root, seen from this package's directory.
const moduleRoot = "../.."

// lintWorkflow runs actionlint (its Go API: `make test` needs nothing else)
// on one workflow file. shellcheck, when installed, checks the run: scripts.
func lintWorkflow(t *testing.T, path string, content []byte) {
	t.Helper()
	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Logf("shellcheck not installed: the run: scripts of %s are not shellchecked (apt-get install shellcheck)", path)
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(path, content, nil)
	if err != nil {
		t.Fatalf("actionlint %s: %v", path, err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s:%d:%d: %s [%s]", path, e.Line, e.Column, e.Message, e.Kind)
	}
}

// TestWorkflowsLint lints every workflow of this repository and the
// template `govtool init` writes.
func TestWorkflowsLint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(moduleRoot, ".github", "workflows", "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lintWorkflow(t, f, data)
	}
	wf, err := governanceWorkflow("sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	lintWorkflow(t, "workflow.yml", wf)

	// The linter is able to fail: a broken workflow is reported.
	opts := &actionlint.LinterOptions{}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(wf, []byte("runs-on: ubuntu-latest"), []byte("runs-on: ubuntu-latest\n    permissions:\n      contents: bogus"), 1)
	if errs, err := l.Lint("bad.yml", bad, nil); err != nil || len(errs) == 0 {
		t.Fatalf("actionlint accepted a broken workflow (%v)", err)
	}
}

// TestWorkflowTemplate checks what the template promises: one variable,
// the verify and status steps, pinned actions, least privilege.
func TestWorkflowTemplate(t *testing.T) {
	if n := strings.Count(workflowTemplate, workflowRootPlaceholder); n != 1 {
		t.Fatalf("template holds %s %d times", workflowRootPlaceholder, n)
	}
	root := "sha256:" + strings.Repeat("0f", 32)
	wf, err := governanceWorkflow(root)
	if err != nil {
		t.Fatal(err)
	}
	s := string(wf)
	for _, want := range []string{
		"  GOVTOOL_ROOT_DIGEST: \"" + root + "\"\n",
		`verify --base "$BASE" --format github`,
		`status --format markdown`,
		"fetch-depth: 0",
		"persist-credentials: false",
		"\npermissions: {}\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("workflow lacks %q", want)
		}
	}
	if strings.Contains(s, workflowRootPlaceholder) {
		t.Error("placeholder left in the workflow")
	}
	uses := regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(\S+)`).FindAllStringSubmatch(s, -1)
	if len(uses) == 0 {
		t.Fatal("no actions found")
	}
	for _, u := range uses {
		if !regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`).MatchString(u[1]) {
			t.Errorf("action %s is not pinned to a commit", u[1])
		}
	}
	for _, bad := range []string{"sha256:", "sha256:00", "@ROOT_DIGEST@", "sha256:" + strings.Repeat("0F", 32)} {
		if _, err := governanceWorkflow(bad); err == nil {
			t.Errorf("governanceWorkflow(%q) accepted", bad)
		}
	}
}

// TestWorkflowPlaceholderFailsClosed: a workflow written without the
// substitution makes `govtool verify` refuse to run (usage, exit 2).
func TestWorkflowPlaceholderFailsClosed(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"verify", "-C", moduleRoot, "--root", workflowRootPlaceholder}, nil, &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), "pinned root") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// workflowSteps returns the run: script of every step named name, one per
// job that has it, by job id.
func workflowSteps(t *testing.T, wf []byte, name string) map[string]string {
	t.Helper()
	w, errs := actionlint.Parse(wf)
	if len(errs) > 0 {
		t.Fatalf("parsing the workflow: %v", errs[0])
	}
	out := map[string]string{}
	for id, job := range w.Jobs {
		for _, s := range job.Steps {
			if s.Name == nil || s.Name.Value != name {
				continue
			}
			run, ok := s.Exec.(*actionlint.ExecRun)
			if !ok || run.Run == nil {
				t.Fatalf("job %s: step %q runs no script", id, name)
			}
			out[id] = run.Run.Value
		}
	}
	return out
}

// runStep runs a step's script as GitHub runs a bash step, in dir with env
// added, and returns its output and exit code.
func runStep(t *testing.T, script, dir string, env ...string) (string, int) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", f)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// TestWorkflowBaseCheck: both jobs check that the base commit is in the
// clone before building govtool from it, and say why it is not as govtool
// does: a shallow clone is an environment error (exit 3) that says how to
// fetch the rest, a missing commit in a full clone a rewritten main (exit 1).
func TestWorkflowBaseCheck(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	gittest.SetEnv(t)
	wf, err := governanceWorkflow("sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	steps := workflowSteps(t, wf, "Check that the base commit is in the history")
	if len(steps) != 2 || steps["verify"] == "" || steps["verify"] != steps["status"] {
		t.Fatalf("want the same base check in the verify and status jobs, got %d: %q", len(steps), steps)
	}
	for id := range steps {
		// The check runs before anything uses the base commit.
		w, _ := actionlint.Parse(wf)
		for _, s := range w.Jobs[id].Steps {
			if s.Name != nil && s.Name.Value == "Check that the base commit is in the history" {
				break
			}
			if r, ok := s.Exec.(*actionlint.ExecRun); ok && strings.Contains(r.Run.Value, "$BASE") {
				t.Errorf("job %s: step %q uses $BASE before the check", id, s.Name.Value)
			}
		}
	}
	check := steps["verify"]

	dir := gittest.NewWorking(t, map[string][]byte{"a": []byte("1\n")})
	first := gittest.Git(t, dir, "rev-parse", "HEAD")
	gittest.Commit(t, dir, map[string][]byte{"a": []byte("2\n")}, "second")
	gittest.Commit(t, dir, map[string][]byte{"a": []byte("3\n")}, "third")
	shallow := filepath.Join(t.TempDir(), "shallow")
	gittest.Git(t, "", "clone", "-q", "--depth", "1", "file://"+filepath.ToSlash(dir), shallow)
	missing := strings.Repeat("ab", 20)

	for _, c := range []struct {
		name, dir, base string
		code            int
		says            []string
	}{
		{"base present", dir, first, 0, nil},
		{"no base (first push)", dir, "", 0, nil},
		{"zero base (new branch)", dir, strings.Repeat("0", 40), 0, nil},
		{"shallow clone", shallow, first, 3, []string{"::error title=shallow clone::", "git fetch --unshallow", "fetch-depth: 0"}},
		{"rewritten main", dir, missing, 1, []string{"::error title=not_fast_forward::", missing}},
	} {
		out, code := runStep(t, check, c.dir, "BASE="+c.base)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, c.code, out)
		}
		for _, s := range c.says {
			if !strings.Contains(out, s) {
				t.Errorf("%s: output %q lacks %q", c.name, out, s)
			}
		}
		if strings.Contains(out, "fatal:") {
			t.Errorf("%s: a raw git error reached the log: %q", c.name, out)
		}
	}
}

// TestWorkflowStatusStep: the status comment says "does not verify" only
// for govtool's exit 1; an environment error (exit 3, as in a shallow
// clone) fails the job with govtool's own message instead.
func TestWorkflowStatusStep(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	wf, err := governanceWorkflow("sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	steps := workflowSteps(t, wf, "govtool status")
	if len(steps) != 1 || steps["status"] == "" {
		t.Fatalf("want one govtool status step in the status job, got %q", steps)
	}
	for _, c := range []struct {
		code     int
		wantCode int
		summary  string // "" when the job stops before writing one
		log      string
	}{
		{0, 0, "### Governance status\nall well\n", ""},
		{1, 0, "The history does not verify", ""},
		{3, 3, "", "git fetch --unshallow"},
	} {
		tmp := t.TempDir()
		fake := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = status ] || exit 2\nprintf '### Governance status\\nall well\\n'\necho 'govtool: error: shallow clone: git fetch --unshallow' >&2\nexit %d\n", c.code)
		if err := os.WriteFile(filepath.Join(tmp, "govtool"), []byte(fake), 0o755); err != nil {
			t.Fatal(err)
		}
		summary := filepath.Join(tmp, "summary.md")
		out, code := runStep(t, steps["status"], tmp, "RUNNER_TEMP="+tmp, "GITHUB_STEP_SUMMARY="+summary)
		if code != c.wantCode {
			t.Errorf("govtool exit %d: step exit %d, want %d: %s", c.code, code, c.wantCode, out)
		}
		got, _ := os.ReadFile(summary)
		if c.summary == "" && len(got) != 0 || !strings.Contains(string(got), c.summary) {
			t.Errorf("govtool exit %d: summary %q, want %q", c.code, got, c.summary)
		}
		if !strings.Contains(out, c.log) {
			t.Errorf("govtool exit %d: log %q lacks %q", c.code, out, c.log)
		}
	}
}
