package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// exampleRoot is the root of trust of this repository's own governance
// history (signer-sets/0001.json, written by scripts/make-example-history.sh).
// .github/workflows/governance.yml pins the same digest.
const exampleRoot = "sha256:680b1ccf4195af81b2cf96c90abed84098a9c754fa47660530c146f33eac18e1"

// TestThisRepositoryGovernance verifies this repository's committed
// governance history with `govtool verify`, pinned to its root, as its CI
// does. It needs the whole Git history (not a shallow clone).
func TestThisRepositoryGovernance(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"verify", "-C", moduleRoot, "--root", exampleRoot, "--format", "json"}, nil, &out, &errb)
	if code != ExitOK {
		t.Fatalf("govtool verify of this repository exited %d (a shallow clone needs: git fetch --unshallow):\n%s\n%s", code, out.String(), errb.String())
	}
	var res verifyJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	st := res.State
	if !res.OK || !st.Pinned || st.Root != exampleRoot || st.Policy == nil || st.SignerSet == nil {
		t.Fatalf("result: %s", out.String())
	}
	// The history holds the genesis, executions and a rotation: it can only
	// grow from here.
	if st.Policy.Version < 6 || st.SignerSet.Version < 2 {
		t.Errorf("policy v%d, signer set v%d: want at least v6 and v2", st.Policy.Version, st.SignerSet.Version)
	}

	// The same history under another pin is refused at its genesis.
	out.Reset()
	errb.Reset()
	other := "sha256:" + string(bytes.Repeat([]byte("0"), 63)) + "1"
	if code := Main([]string{"verify", "-C", moduleRoot, "--root", other, "--format", "json"}, nil, &out, &errb); code != ExitFailed {
		t.Fatalf("another pin: exit %d, want %d", code, ExitFailed)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Reason != "pinned_root" {
		t.Fatalf("another pin: reason %q (%v)", res.Reason, err)
	}
}

// TestRepoWorkflowIsTemplate: this repository's workflow is the template
// `govtool init` writes, with this repository's root.
func TestRepoWorkflowIsTemplate(t *testing.T) {
	got, err := os.ReadFile(filepath.Join(moduleRoot, filepath.FromSlash(workflowPath)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := governanceWorkflow(exampleRoot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the template (govtool/cli/workflow.yml) rendered with root %s: copy the template over it, with that root", workflowPath, exampleRoot)
	}
}
