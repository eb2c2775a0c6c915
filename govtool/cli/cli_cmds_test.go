package cli

import (
	"os"
	"regexp"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestCmdScripts runs the scenarios of testdata/cmds: the signer's commands
// (keygen, key recover, init, propose, show, approve, execute, signer-set
// rotate, merge-signatures) over real Git repositories, with git itself
// running the merge driver.
func TestCmdScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/cmds",
		Setup: func(env *testscript.Env) error {
			if err := setupScript(env); err != nil {
				return err
			}
			env.Setenv("SSH_AUTH_SOCK", "")
			// A script that needs SoftHSM2 skips without it only outside CI.
			env.Setenv("CI", os.Getenv("CI"))
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exits":   cmdExits,
			"capture": cmdCapture,
		},
	})
}

// cmdCapture sets an environment variable from the last command's stdout:
//
//	capture VAR REGEXP
//
// VAR gets the first submatch of REGEXP (or the whole match when it has no
// group); no match fails the script.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture VAR REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("capture: no match for %q in stdout", args[1])
	}
	v := m[0]
	if len(m) > 1 {
		v = m[1]
	}
	ts.Setenv(args[0], v)
}
