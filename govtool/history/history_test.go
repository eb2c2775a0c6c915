package history

import (
	"context"
	"errors"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
	"github.com/ron-kms/ron-kms/govtool/verify"
	"github.com/ron-kms/ron-kms/govtool/verify/verifytest"
)

func TestVerifyRealRepoIncrementalAndRewrite(t *testing.T) {
	gittest.SetEnv(t)
	ctx := context.Background()
	r, err := gitrepo.Init(t.TempDir(), "main")
	if err != nil {
		t.Fatal(err)
	}
	h := verifytest.New(t, "production")
	g := verifytest.CommitTo(t, r, h.Next(h.Genesis()...), "genesis")
	p := h.Approve(h.Proposal("acme", "tenant:acme", h.Change("tenant:acme", "create_tenant")...), "po", "so")
	c1 := verifytest.CommitTo(t, r, h.Next(h.Execute(p)...), "create tenant ACME")

	v := verify.New(h.Pin(), verify.Options{})
	steps, err := Verify(ctx, r, v, c1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || v.State().Commit != c1.String() || v.State().Policy.Version != 2 {
		t.Fatalf("steps %d, state at %s v%d", len(steps), v.State().Commit, v.State().Policy.Version)
	}

	// Incremental: only the new commit is verified.
	p2 := h.Approve(h.Proposal("pq", "tenant:acme", h.Change("tenant:acme", "pq_mode=hybrid_or")...), "po", "cust")
	c2 := verifytest.CommitTo(t, r, h.Next(h.Execute(p2)...), "acme hybrid_or")
	steps, err = Verify(ctx, r, v, c2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || v.State().Policy.Version != 3 {
		t.Fatalf("incremental: %d steps, policy v%d", len(steps), v.State().Policy.Version)
	}

	// A pin that is not the root fails at genesis.
	if _, err := Verify(ctx, r, verify.New("sha256:0000000000000000000000000000000000000000000000000000000000000001", verify.Options{}), c2, Options{}); err == nil {
		t.Fatal("wrong pin accepted")
	}

	// A head that does not descend from the verified one (a rewrite) is refused
	// and leaves the state alone.
	if _, err := Verify(ctx, r, v, g, Options{}); !errors.As(err, new(*gitrepo.NotDescendantError)) {
		t.Fatalf("rollback to genesis: %v", err)
	}
	if v.State().Commit != c2.String() {
		t.Fatal("state moved on a refused head")
	}
}
