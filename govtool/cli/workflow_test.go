package cli

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
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
