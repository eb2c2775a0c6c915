package cli

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// workflowTemplate is the GitHub Actions workflow of a governance repository:
// `govtool init` writes it to .github/workflows/governance.yml, and this
// project's own .github/workflows/governance.yml is the same text. It runs
// `govtool verify --base <base> --format github` with the root pinned in
// its env (RootEnv) and posts `govtool status --format markdown` on pull
// requests. Its one variable is workflowRootPlaceholder: write it with
// governanceWorkflow, never by hand.
//
//go:embed workflow.yml
var workflowTemplate string

// workflowPath is where the workflow lives in a governance repository.
const workflowPath = ".github/workflows/governance.yml"

// workflowRootPlaceholder stands for the pinned root digest in
// workflowTemplate. Left in place, `govtool verify --root` refuses it, so a
// workflow written without the substitution fails closed.
const workflowRootPlaceholder = "@ROOT_DIGEST@"

// governanceWorkflow returns the workflow file of a governance repository
// whose root of trust (the digest of signer-sets/0001.json) is rootDigest.
func governanceWorkflow(rootDigest string) ([]byte, error) {
	if _, err := canon.ParseDigest(rootDigest); err != nil {
		return nil, fmt.Errorf("workflow: root digest: %w", err)
	}
	if strings.Count(workflowTemplate, workflowRootPlaceholder) != 1 {
		return nil, fmt.Errorf("workflow: the template must hold %s exactly once", workflowRootPlaceholder)
	}
	return []byte(strings.Replace(workflowTemplate, workflowRootPlaceholder, rootDigest, 1)), nil
}
