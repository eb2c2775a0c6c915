package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"govtool": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata",
		Setup: setupScript,
	})
}

// setupScript gives a script a home of its own, a fixed Git identity, and
// no pinned root from outside; the script's commands start from there.
func setupScript(env *testscript.Env) error {
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("GIT_AUTHOR_NAME", "Test Signer")
	env.Setenv("GIT_AUTHOR_EMAIL", "signer@example.org")
	env.Setenv("GIT_COMMITTER_NAME", "Test Signer")
	env.Setenv("GIT_COMMITTER_EMAIL", "signer@example.org")
	env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	env.Setenv(RootEnv, "")
	return nil
}

// TestEveryCommandHasExample holds the README's promise: every command's
// --help shows an example. Cobra's own help and completion are not ours,
// and a command with subcommands only names them.
func TestEveryCommandHasExample(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(sub)
		}
		if !c.Runnable() || c.HasSubCommands() {
			return
		}
		n++
		if !strings.Contains(c.Long, "Example") {
			t.Errorf("%s --help shows no example", c.CommandPath())
		}
	}
	walk(newRoot(&env{}))
	if n < 15 {
		t.Errorf("walked %d commands; want every govtool command", n)
	}
}
