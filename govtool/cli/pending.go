package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// Pending objects.
//
// Two governance objects collect signatures before the commit that puts them
// in place, because the verifier accepts them only complete: the genesis
// (signer set 1 and policy 1, each signed by a threshold of set 1) and the
// next signer set of a rotation (signed by a threshold of the old set and of
// the new set, added by the commit that executes the rotation proposal).
// They wait under pending/<name>/<governance path>, which the verifier
// ignores: pending/genesis/signer-sets/0001.json and
// pending/genesis/policy/policy.json, and
// pending/<proposal id>/signer-sets/NNNN.json. `govtool approve` adds
// signatures to them (signature merges on parallel branches go through the
// merge driver like proposals), and `govtool execute` moves them into place
// in the commit the verifier checks. A pending file proves nothing by itself.
const pendingDir = "pending/"

// genesisName is the name of the pending genesis (approve genesis,
// execute genesis). It cannot be a proposal id (proposal.IDRE).
const genesisName = "genesis"

func pendingPath(name, govPath string) string { return pendingDir + name + "/" + govPath }

var (
	genesisSetPath    = pendingPath(genesisName, verify.SignerSetPath(1))
	genesisPolicyPath = pendingPath(genesisName, policy.Path)
)

// rotationTarget returns the signer-set version and digest a proposal's
// changeset sets /signer_set to, if it does.
func rotationTarget(p *proposal.Proposal) (policy.SignerSetRef, bool) {
	for _, o := range p.Changeset {
		if o.Op == policy.OpSet && o.Path == "/signer_set" {
			var ref policy.SignerSetRef
			if err := json.Unmarshal(o.Value, &ref); err != nil {
				return policy.SignerSetRef{}, false
			}
			return ref, true
		}
	}
	return policy.SignerSetRef{}, false
}

// rotationPath is where the next signer set of rotation proposal id waits.
func rotationPath(id string, version int) string {
	return pendingPath(id, verify.SignerSetPath(version))
}

// pendingSet reads the pending signer set of rotation proposal p from the
// commit head and checks that it is the one p names. It returns the set,
// the file's path and its bytes.
func pendingSet(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash, p *proposal.Proposal, ref policy.SignerSetRef) (*quorum.SignerSet, string, error) {
	path := rotationPath(p.ID, ref.Version)
	data, err := readHead(ctx, repo, head, path)
	if err != nil {
		return nil, path, err
	}
	if data == nil {
		return nil, path, failed(fmt.Errorf("rotation proposal %s sets signer set version %d but %s is not committed: it was written by govtool signer-set rotate with the proposal", p.ID, ref.Version, path))
	}
	if err := canon.CheckFileForm(data); err != nil {
		return nil, path, failed(fmt.Errorf("%s: %w (govtool fmt rewrites it)", path, err))
	}
	set, err := quorum.Parse(data)
	if err != nil {
		return nil, path, failed(fmt.Errorf("%s: %w", path, err))
	}
	d, err := set.Digest()
	if err != nil {
		return nil, path, failed(fmt.Errorf("%s: %w", path, err))
	}
	if set.Version != ref.Version || d != ref.Digest {
		return nil, path, failed(fmt.Errorf("%s (version %d, %s) is not the signer set proposal %s names (version %d, %s)", path, set.Version, d, p.ID, ref.Version, ref.Digest))
	}
	return set, path, nil
}

// pendingGenesis reads the pending genesis at head.
func pendingGenesis(ctx context.Context, repo *gitrepo.Repo, head gitrepo.Hash) (*quorum.SignerSet, *policy.Policy, error) {
	setData, err := readHead(ctx, repo, head, genesisSetPath)
	if err != nil {
		return nil, nil, err
	}
	polData, err := readHead(ctx, repo, head, genesisPolicyPath)
	if err != nil {
		return nil, nil, err
	}
	if setData == nil || polData == nil {
		return nil, nil, failed(fmt.Errorf("no pending genesis at %s (%s and %s): govtool init writes it", head.Short(), genesisSetPath, genesisPolicyPath))
	}
	for path, data := range map[string][]byte{genesisSetPath: setData, genesisPolicyPath: polData} {
		if err := canon.CheckFileForm(data); err != nil {
			return nil, nil, failed(fmt.Errorf("%s: %w (govtool fmt rewrites it)", path, err))
		}
	}
	set, err := quorum.Parse(setData)
	if err != nil {
		return nil, nil, failed(fmt.Errorf("%s: %w", genesisSetPath, err))
	}
	pol, err := policy.Parse(polData)
	if err != nil {
		return nil, nil, failed(fmt.Errorf("%s: %w", genesisPolicyPath, err))
	}
	return set, pol, nil
}

// genesisState is a repository whose genesis is pending.
type genesisState struct {
	l      *loaded
	set    *quorum.SignerSet
	setD   string
	pol    *policy.Policy
	polD   string
	pinned bool
}

// loadGenesis reads the pending genesis at HEAD and verifies the history
// up to HEAD (which must hold no governance commit yet) with the root pinned
// to the pending set's digest. When a root is pinned (--root or
// $GOVTOOL_ROOT_DIGEST) the pending set must be that root.
func (f *repoFlags) loadGenesis(ctx context.Context, e *env) (*genesisState, error) {
	a, err := openRepo(e, f, "HEAD")
	if err != nil {
		return nil, err
	}
	repo, head := a.repo, a.head
	if done, err := readHead(ctx, repo, head, verify.SignerSetPath(1)); err != nil {
		return nil, err
	} else if done != nil {
		return nil, failed(fmt.Errorf("the genesis was executed already (%s is committed)", verify.SignerSetPath(1)))
	}
	set, pol, err := pendingGenesis(ctx, repo, head)
	if err != nil {
		return nil, err
	}
	setD, err := set.Digest()
	if err != nil {
		return nil, failed(err)
	}
	polD, err := pol.Digest()
	if err != nil {
		return nil, failed(err)
	}
	if pol.SignerSet != (policy.SignerSetRef{Version: 1, Digest: setD}) {
		return nil, failed(fmt.Errorf("%s names signer set %d %s, not the pending root %s", genesisPolicyPath, pol.SignerSet.Version, pol.SignerSet.Digest, setD))
	}
	if a.pinned && a.root != setD {
		return nil, failed(fmt.Errorf("the pending root %s is not the pinned root %s: do not sign it; ask the initiator which is right", setD, a.root))
	}
	g := *f
	g.root = setD
	l, err := g.load(ctx, e)
	if err != nil {
		return nil, err
	}
	return &genesisState{l: l, set: set, setD: setD, pol: pol, polD: polD, pinned: a.pinned}, nil
}
