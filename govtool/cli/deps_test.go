package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestGovtoolDoesNotLinkEngine: the govtool binary does not link the
// appliance's signing engine. It checks continuity proofs with
// appliance/continuity, the proof format and its offline checker; importing
// appliance/engine for that again would put the whole engine (backends,
// capabilities, audit, metrics) into a governance tool.
func TestGovtoolDoesNotLinkEngine(t *testing.T) {
	const main = "../../cmd/govtool"
	const forbidden = "github.com/ron-kms/ron-kms/appliance/engine"
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH (go test puts it there)")
	}
	cmd := exec.Command(gocmd, "list", "-deps", "-json=ImportPath,Imports", main)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	imports := map[string][]string{}
	var root string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		imports[p.ImportPath] = p.Imports
		root = p.ImportPath // -deps lists the named package last
	}
	if !strings.HasSuffix(root, "/cmd/govtool") {
		t.Fatalf("go list -deps %s ended with %q, want the govtool main package", main, root)
	}
	// Breadth first from the main package, so a failure names the shortest
	// import chain that brings the engine in.
	via := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == forbidden || strings.HasPrefix(p, forbidden+"/") {
			chain := []string{p}
			for q := via[p]; q != ""; q = via[q] {
				chain = append([]string{q}, chain...)
			}
			t.Fatalf("govtool links %s: %s\n(check continuity proofs with appliance/continuity, not the engine)", p, strings.Join(chain, " → "))
		}
		for _, q := range imports[p] {
			if _, seen := via[q]; !seen {
				via[q] = p
				queue = append(queue, q)
			}
		}
	}
	if _, ok := imports["github.com/ron-kms/ron-kms/appliance/continuity"]; !ok {
		t.Errorf("govtool does not link appliance/continuity: has verify-continuity moved? update this test")
	}
}
