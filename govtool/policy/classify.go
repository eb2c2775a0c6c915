package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// Class is an action class (DESIGN §2.4).
type Class string

const (
	// Sensitive changes need a threshold of the signer set in force.
	Sensitive Class = "sensitive"
	// Parameter changes (within ±BoundPercent of the baseline) need one
	// operator signature.
	Parameter Class = "parameter"
	// Revocation (of a capability or a key) needs one policy-owner or
	// security-officer signature.
	Revocation Class = "revocation"
)

// BoundPercent is how far an operator may move a parameter from its
// baseline without a threshold.
const BoundPercent = 20

// Requirement is who must sign a changeset.
type Requirement struct {
	Class Class
	// Roles are the roles of which one distinct key's valid signature
	// suffices; empty for Sensitive, which needs the threshold. A threshold
	// of quorum members always suffices too.
	Roles []string
	// OutOfBounds names the parameter paths that made the changeset
	// Sensitive by moving beyond ±BoundPercent of the baseline.
	OutOfBounds []string
}

// Required is the number a proposal's quorum.required must state: the
// threshold for Sensitive, 1 otherwise.
func (r Requirement) Required(set *quorum.SignerSet) int {
	if r.Class == Sensitive {
		return set.Threshold
	}
	return 1
}

// ClassError is a changeset that cannot be classified: it is denied (K-G8).
type ClassError struct {
	Path   string
	Reason string
}

func (e *ClassError) Error() string {
	return fmt.Sprintf("policy: cannot classify %s: %s (denied)", e.Path, e.Reason)
}

// RoleError says that no valid signature of a required role was found.
type RoleError struct {
	Class Class
	Roles []string
}

func (e *RoleError) Error() string {
	return fmt.Sprintf("policy: a %s change needs one valid signature by %s (or a threshold)", e.Class, strings.Join(e.Roles, " or "))
}

// classifyDraftID stands for the proposal while a changeset is classified.
const classifyDraftID = "20000101-classify-000000"

// Classify returns who must sign ops against prev. Every op must match a
// known path; anything else is a *ClassError. A changeset whose entries are
// not all of one class is Sensitive.
func Classify(prev *Policy, ops []Op) (Requirement, error) {
	if len(ops) == 0 {
		return Requirement{}, &ClassError{Path: "", Reason: "empty changeset"}
	}
	var classes []Class
	var oob []string
	cur := prev
	for i, o := range ops {
		if i > 0 {
			// Each op is judged against the policy the ops before it leave,
			// so a changeset can create a tenant and then its key. Mixing
			// classes makes the whole changeset sensitive, so this can only
			// make more changesets classifiable, never lower a class.
			next, err := Apply(prev, ops[:i], Applied{Proposal: classifyDraftID, Digest: quorum.GenesisPrevious, ExecutedAt: "2000-01-01T00:00:00Z"})
			if err != nil {
				return Requirement{}, &ClassError{Path: o.Path, Reason: "the changes before it do not apply: " + err.Error()}
			}
			cur = next
		}
		c, out, err := classifyOp(cur, o)
		if err != nil {
			return Requirement{}, err
		}
		classes = append(classes, c)
		if out {
			oob = append(oob, o.Path)
		}
	}
	c := classes[0]
	for _, x := range classes[1:] {
		if x != c {
			c = Sensitive
		}
	}
	r := Requirement{Class: c, OutOfBounds: oob}
	switch c {
	case Parameter:
		r.Roles = []string{quorum.RoleOperator}
	case Revocation:
		r.Roles = []string{quorum.RolePolicyOwner, quorum.RoleSecurityOfficer}
	}
	return r, nil
}

// paramPaths are the parameters and the baseline member each is bounded by.
var paramPaths = map[string]string{
	"/limits/inflight_cap":      "inflight_cap",
	"/limits/cache_ttl_seconds": "cache_ttl_seconds",
	"/limits/cache_size":        "cache_size",
}

func classifyOp(prev *Policy, o Op) (Class, bool, error) {
	if err := CheckOp(o); err != nil {
		return "", false, &ClassError{Path: o.Path, Reason: err.Error()}
	}
	segs, _ := SplitPointer(o.Path)
	deny := func(format string, args ...any) (Class, bool, error) {
		return "", false, &ClassError{Path: o.Path, Reason: fmt.Sprintf(format, args...)}
	}
	var val any
	if o.Value != nil {
		val, _ = canon.ParseStrict(o.Value)
	}
	intVal := func() (int, bool) {
		n, ok := val.(canon.Number)
		if !ok {
			return 0, false
		}
		i, ok := n.Int64()
		return int(i), ok
	}
	switch segs[0] {
	case "limits":
		base, ok := paramPaths[o.Path]
		if !ok || o.Op != OpSet {
			return deny("only set of %s is defined", strings.Join(slices.Sorted(maps.Keys(paramPaths)), ", "))
		}
		v, ok := intVal()
		if !ok {
			return deny("value must be an integer")
		}
		b := map[string]int{"inflight_cap": prev.Baseline.InflightCap, "cache_ttl_seconds": prev.Baseline.CacheTTLSeconds, "cache_size": prev.Baseline.CacheSize}[base]
		if withinBounds(v, b) {
			return Parameter, false, nil
		}
		return Sensitive, true, nil
	case "tenants":
		if len(segs) == 1 {
			return deny("the tenant map as a whole is not changed; name a tenant")
		}
		t, exists := prev.Tenants[segs[1]]
		if len(segs) == 2 {
			if o.Op == OpSet || o.Op == OpUnset {
				return Sensitive, false, nil // tenant creation, replacement or removal
			}
			return deny("%s on a tenant", o.Op)
		}
		if !exists {
			return deny("tenant %q does not exist", segs[1])
		}
		switch {
		case o.Path == Pointer("tenants", segs[1], "mint", "rate_per_minute") && o.Op == OpSet:
			v, ok := intVal()
			if !ok {
				return deny("value must be an integer")
			}
			if withinBounds(v, prev.Baseline.MintRatePerMinute) {
				return Parameter, false, nil
			}
			return Sensitive, true, nil
		case len(segs) == 5 && segs[2] == "keys" && segs[4] == "revoked" && o.Op == OpSet:
			if _, ok := t.Keys[segs[3]]; !ok {
				return deny("key %q of tenant %q does not exist", segs[3], segs[1])
			}
			if b, ok := val.(bool); ok && b {
				return Revocation, false, nil
			}
			return Sensitive, false, nil // un-revoking restores authority
		case len(segs) == 3 && segs[2] == "minters" && o.Op == OpRemove:
			return Revocation, false, nil // a minter key loses authority
		case len(segs) == 3 && segs[2] == "minters" && o.Op == OpAdd:
			return Sensitive, false, nil
		}
		if o.Op == OpAdd || o.Op == OpRemove {
			return deny("%s is only defined on minters", o.Op)
		}
		switch segs[2] {
		case "pq_mode", "mint", "keys":
			return Sensitive, false, nil
		}
		return deny("unknown tenant member %q", segs[2])
	case "revocations":
		if o.Path != "/revocations/capabilities" {
			return deny("only /revocations/capabilities is defined")
		}
		switch o.Op {
		case OpAdd:
			return Revocation, false, nil
		case OpRemove:
			return Sensitive, false, nil // un-revoking restores authority
		}
		return deny("the revocation list changes by add and remove only")
	case "revocation_webhooks":
		if len(segs) != 1 || (o.Op != OpAdd && o.Op != OpRemove) {
			return deny("webhooks change by add and remove only")
		}
		return Sensitive, false, nil
	case "signer_set", "backend", "attestation", "freeze", "pq", "baseline", "appliances":
		// Signer-set rotation, backend/slot, attestation, emergency freeze
		// and unfreeze, PQ defaults, the baseline and appliance enrollment.
		if o.Op == OpAdd || o.Op == OpRemove {
			return deny("%s on an object", o.Op)
		}
		if o.Op == OpUnset && segs[0] != "freeze" && !(segs[0] == "appliances" && len(segs) == 2) {
			return deny("only /freeze and /appliances/<id> can be unset")
		}
		return Sensitive, false, nil
	}
	return deny("unknown policy member %q", segs[0])
}

// withinBounds reports whether v is within ±BoundPercent of base, in exact
// integer arithmetic.
func withinBounds(v, base int) bool {
	return v >= 1 && 100*int64(v) >= int64(100-BoundPercent)*int64(base) && 100*int64(v) <= int64(100+BoundPercent)*int64(base)
}

// Check decides whether sigs over the object (objType, digest) meet r under
// set. It returns the tally (for status display) and nil, a
// *quorum.ThresholdError, or a *RoleError.
func (r Requirement) Check(set *quorum.SignerSet, objType, digest string, sigs []envelope.Signature) (*quorum.Tally, error) {
	t := set.Tally(objType, digest, sigs)
	return t, r.CheckTally(t)
}

// CheckTally decides whether a tally (quorum.SignerSet.Tally of the
// object's signatures) meets r:
//
// Sensitive: a threshold of distinct quorum-member keys (quorum.Tally).
// Parameter and Revocation: one valid signature by a member key holding one
// of r.Roles — or a threshold, which is never weaker.
func (r Requirement) CheckTally(t *quorum.Tally) error {
	if t.Met() {
		return nil
	}
	if r.Class == Sensitive {
		return t.Err()
	}
	for _, s := range t.Valid {
		// Tally verified each Valid entry against the member holding that
		// key id with that role, so s.Role is the member's role; one such
		// key is enough, so counting distinct keys is trivially met.
		if slices.Contains(r.Roles, s.Role) {
			return nil
		}
	}
	return &RoleError{Class: r.Class, Roles: r.Roles}
}
