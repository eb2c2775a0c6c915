// Package cli is the govtool command line: a thin layer of flags over the
// govtool library packages. Main is all cmd/govtool calls.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes. Scripts and CI branch on them.
const (
	ExitOK = 0
	// ExitFailed: verification failed, or a request was refused (an expired
	// proposal, a key not in the signer set …). The message says why.
	ExitFailed = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitEnv: the environment is wrong — no repository, unreadable file,
	// a token or agent that cannot be reached.
	ExitEnv = 3
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the exit code err calls for: the one it carries, or
// ExitUsage for cobra's own errors, which are flag and argument mistakes.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

// failed wraps err as a verification failure / refusal (exit 1).
func failed(err error) error { return &exitError{ExitFailed, err} }

// envErr wraps err as an environment error (exit 3).
func envErr(err error) error { return &exitError{ExitEnv, err} }

// usage wraps a usage error (exit 2).
func usage(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// Main runs govtool with args (without the program name) and returns the
// exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(&env{stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "govtool: error: %v\n", err)
	if code == ExitUsage {
		fmt.Fprintln(stderr, "govtool: hint: run 'govtool --help' or 'govtool <command> --help'")
	}
	return code
}

// env is what commands read and write through, so tests need no globals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (e *env) getenv(k string) string { return os.Getenv(k) }

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "govtool",
		Short: "govtool — ron-kms governance: propose, approve, verify, execute, audit",
		Long: `govtool manages a ron-kms governance repository: signer sets, proposals with
threshold Ed25519 signatures, and the policy they produce. Signers use it to
write and approve proposals, CI uses it to verify quorum before a merge, and
auditors use it to read and check history. It works offline on a clone.

Exit codes: 0 ok, 1 verification failed or request refused, 2 usage error,
3 environment error (no repository, unreadable key, unreachable token).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newDigestCmd(e),
		newFmtCmd(e),
	)
	for _, add := range extraCommands {
		root.AddCommand(add(e))
	}
	return root
}

// extraCommands lets each command file register itself.
var extraCommands []func(*env) *cobra.Command
