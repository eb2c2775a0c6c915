package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/verify"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

var updateVerifyScripts = flag.Bool("update-verify-scripts", false, "rewrite the expected outputs of testdata/verify scripts (cmp) from what the commands print")

// TestVerifyScripts runs the scenarios of testdata/verify: governance
// histories written into real Git repositories by the `gov` command, then
// checked with `govtool verify`, `status`, `diff` and `log`.
func TestVerifyScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/verify",
		UpdateScripts: *updateVerifyScripts,
		Setup: func(env *testscript.Env) error {
			if err := setupScript(env); err != nil {
				return err
			}
			env.Setenv("GITHUB_STEP_SUMMARY", "")
			env.Values[govKey{}] = &govScript{props: map[string]*proposal.Proposal{}}
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"gov":   cmdGov,
			"exits": cmdExits,
		},
	})
}

type govKey struct{}

// govScript is the history a script is writing: verifytest's in-memory
// history (fixed keys: po, so, cust, op, aud, and any other name) whose every
// commit is also written into the Git repository in the script's directory,
// with the history's clock as author and committer time.
type govScript struct {
	h     *vt.History
	repo  *gitrepo.Repo
	props map[string]*proposal.Proposal
}

// scriptTB lets verifytest fail a script instead of a test. verifytest
// calls only Helper and Fatal; the embedded nil TB is never reached.
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (s scriptTB) Helper()                      {}
func (s scriptTB) Fatal(args ...any)            { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(f string, args ...any) { s.ts.Fatalf(f, args...) }

// cmdGov writes governance history into the repository in the current
// directory:
//
//	gov init [production|micronode]        genesis; sets $ROOT (the pin)
//	gov propose NAME SCOPE CHANGE...       an unsigned proposal; sets $NAME to its id
//	gov approve NAME KEY...                adds signatures by the named keys
//	gov execute NAME                       executes it (whether approved or not)
//	gov withdraw NAME                      deletes its file
//	gov tamper NAME SCOPE CHANGE           rewrites its changeset, keeping the signatures
//	gov rotate -members ROLE=KEY,... -threshold N -old KEY,... -new KEY,... -approve KEY,...
//	gov forge-policy SCOPE CHANGE          edits policy/policy.json without a proposal
//	gov reformat PATH                      rewrites a file as compact JSON (not file form)
//	gov note PATH TEXT                     a commit outside the governance folders
//	gov tick DURATION                      advances the clock
//	gov head VAR                           sets $VAR to the HEAD commit
//
// After each, $NOW is the clock (the time of the next commit).
func cmdGov(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("gov does not fail on purpose")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: gov SUBCOMMAND ...")
	}
	g := ts.Value(govKey{}).(*govScript)
	tb := scriptTB{ts: ts}
	ctx := context.Background()
	need := func(n int) {
		if len(args)-1 < n {
			ts.Fatalf("gov %s: want at least %d arguments", args[0], n)
		}
	}
	prop := func(name string) *proposal.Proposal {
		p, ok := g.props[name]
		if !ok {
			ts.Fatalf("gov: no proposal named %s", name)
		}
		return p
	}
	started := func() {
		if g.h == nil {
			ts.Fatalf("gov %s: run gov init first", args[0])
		}
	}
	commit := func(msg string, changes ...verify.Change) {
		c := g.h.Next(changes...)
		sig := gitrepo.Signature{Name: "Test Signer", Email: "signer@example.org", When: c.Time}
		_, err := g.repo.CommitFiles(ctx, gitrepo.CommitRequest{Files: vt.Files(c.Changes), Message: msg, Author: sig, Committer: sig})
		ts.Check(err)
	}
	switch args[0] {
	case "init":
		profile := policy.ProfileProduction
		if len(args) > 1 {
			profile = args[1]
		}
		dir := ts.MkAbs(".")
		var err error
		if g.repo, err = gitrepo.Open(dir); err != nil {
			g.repo, err = gitrepo.Init(dir, "main")
			ts.Check(err)
		}
		g.h = vt.New(tb, profile)
		commit("genesis", g.h.Genesis()...)
		ts.Setenv("ROOT", g.h.Pin())
	case "propose":
		need(3)
		started()
		var ops []policy.Op
		for _, c := range args[3:] {
			ops = append(ops, g.h.Change(args[2], c)...)
		}
		p := g.h.Proposal(args[1], args[2], ops...)
		g.props[args[1]] = p
		commit("propose "+p.ID, vt.ProposalChange(tb, p))
		ts.Setenv(args[1], p.ID)
	case "approve":
		need(2)
		started()
		p := g.h.Approve(prop(args[1]), args[2:]...)
		commit("approve "+p.ID, vt.ProposalChange(tb, p))
	case "execute":
		need(1)
		started()
		p := prop(args[1])
		commit("execute "+p.ID, g.h.Execute(p)...)
	case "withdraw":
		need(1)
		started()
		p := prop(args[1])
		commit("withdraw "+p.ID, verify.Change{Path: proposal.FilePath(p.ID), Deleted: true})
	case "tamper":
		need(3)
		started()
		p := prop(args[1])
		p.Changeset = g.h.Change(args[2], args[3])
		commit("edit "+p.ID, vt.ProposalChange(tb, p))
	case "rotate":
		started()
		fs := flag.NewFlagSet("gov rotate", flag.ContinueOnError)
		members := fs.String("members", "", "ROLE=KEY,...")
		threshold := fs.Int("threshold", 2, "")
		old := fs.String("old", "", "")
		nw := fs.String("new", "", "")
		approve := fs.String("approve", "", "")
		ts.Check(fs.Parse(args[1:]))
		var ms vt.Members
		for _, m := range list(*members) {
			role, name, ok := strings.Cut(m, "=")
			if !ok {
				ts.Fatalf("gov rotate: member %q: want ROLE=KEY", m)
			}
			ms = append(ms, [2]string{role, name})
		}
		commit(fmt.Sprintf("rotate to a %d-of-%d signer set", *threshold, len(ms)),
			g.h.Rotate(ms, *threshold, list(*old), list(*nw), list(*approve))...)
	case "forge-policy":
		need(2)
		started()
		next, err := policy.Apply(g.h.Policy, g.h.Change(args[1], args[2]), policy.Applied{
			Proposal: "20260302-hand-edit-0000aa", Digest: "sha256:" + strings.Repeat("0", 64), ExecutedAt: utc3339(g.h.Clock)})
		ts.Check(err)
		commit("edit the policy by hand", verify.Change{Path: policy.Path, After: vt.File(tb, next)})
	case "reformat":
		need(1)
		started()
		head, err := g.repo.Resolve("HEAD")
		ts.Check(err)
		data, err := g.repo.ReadFile(ctx, head, args[1])
		ts.Check(err)
		var v any
		ts.Check(json.Unmarshal(data, &v))
		compact, err := json.Marshal(v)
		ts.Check(err)
		commit("reformat "+args[1], verify.Change{Path: args[1], After: append(compact, '\n')})
	case "note":
		need(2)
		started()
		commit("note", verify.Change{Path: args[1], After: []byte(strings.Join(args[2:], " ") + "\n")})
	case "tick":
		need(1)
		started()
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		g.h.Clock = g.h.Clock.Add(d)
	case "head":
		need(1)
		repo := g.repo
		if repo == nil {
			var err error
			repo, err = gitrepo.Open(ts.MkAbs("."))
			ts.Check(err)
		}
		h, err := repo.Resolve("HEAD")
		ts.Check(err)
		ts.Setenv(args[1], h.String())
	default:
		ts.Fatalf("gov: unknown subcommand %q", args[0])
	}
	if g.h != nil {
		ts.Setenv("NOW", utc3339(g.h.Clock))
	}
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// cmdExits runs a program and requires its exit code:
//
//	exits CODE PROG ARGS...
//
// Its stdout and stderr are those of the program, for later stdout/stderr
// assertions.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
