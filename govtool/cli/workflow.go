package cli

import _ "embed"

// workflowTemplate is the GitHub Actions workflow of a governance repository:
// `govtool init` writes it to .github/workflows/governance.yml, and this
// project's own .github/workflows/governance.yml is the same text. It runs
// `govtool verify --base <base> --format github` with the root pinned in the
// repository variable GOVTOOL_ROOT_DIGEST (RootEnv).
//
//go:embed workflow.yml
var workflowTemplate string

// workflowPath is where the workflow lives in a governance repository.
const workflowPath = ".github/workflows/governance.yml"
