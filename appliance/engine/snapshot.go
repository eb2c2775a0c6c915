package engine

import (
	"slices"
	"time"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

// SnapshotOf returns the Snapshot of a verified governance state, with
// KeyIssued filled from its executed proposals: a key version was issued
// by the last executed proposal (in policy-version order) whose changeset
// sets the key's version — directly (/tenants/T/keys/K/version) or by
// setting an object that holds it (the key, the tenant's keys, the tenant).
// This is what the sync loop hands to Apply.
func SnapshotOf(st *verify.State) Snapshot {
	s := Snapshot{Policy: st.Policy, PolicyDigest: st.PolicyDigest, Commit: st.Commit, KeyIssued: map[string]time.Time{}}
	if st.Policy == nil {
		return s
	}
	type executed struct {
		version int
		at      time.Time
		ops     []policy.Op
	}
	var exs []executed
	for _, p := range st.Proposals {
		if p.Status == verify.StatusExecuted && p.Proposal != nil {
			exs = append(exs, executed{p.PolicyVersion, p.ExecutedAt, p.Proposal.Changeset})
		}
	}
	slices.SortFunc(exs, func(a, b executed) int { return a.version - b.version })
	for tname, t := range st.Policy.Tenants {
		for kname, k := range t.Keys {
			var at time.Time
			for _, ex := range exs {
				for _, o := range ex.ops {
					if setsKeyVersion(o, tname, kname) {
						at = ex.at
					}
				}
			}
			if !at.IsZero() {
				s.KeyIssued[versionLabel(tname, kname, k.Version)] = at
			}
		}
	}
	return s
}

// setsKeyVersion reports whether o sets the version of tenant's key name,
// itself or through an object that holds it.
func setsKeyVersion(o policy.Op, tenant, name string) bool {
	if o.Op != policy.OpSet {
		return false
	}
	segs, err := policy.SplitPointer(o.Path)
	full := []string{"tenants", tenant, "keys", name, "version"}
	return err == nil && len(segs) >= 2 && len(segs) <= len(full) && slices.Equal(segs, full[:len(segs)])
}
