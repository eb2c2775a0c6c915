package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// Describe states each entry of ops in words against prev, for `govtool
// diff` and review comments: "tenant ACME pq_mode hybrid_or→hybrid_and",
// "inflight_cap 64→70 (baseline 64, within ±20%)", "+capability revocation
// cap-1". Entries that do not apply are described as written.
//
// Each entry is described against the policy the entries before it leave
// (as Classify judges it), so "create tenant acme" followed by its PQ mode
// reads "tenant acme pq_mode hybrid_and→hybrid_or".
func Describe(prev *Policy, ops []Op) []string {
	cur := prev
	out := make([]string, 0, len(ops))
	for i, o := range ops {
		if i > 0 {
			if next, err := Apply(prev, ops[:i], Applied{Proposal: classifyDraftID, Digest: quorum.GenesisPrevious, ExecutedAt: "2000-01-01T00:00:00Z"}); err == nil {
				cur = next
			}
		}
		tree, _ := canon.ToTree(cur)
		out = append(out, describeOp(cur, tree, o))
	}
	return out
}

func describeOp(prev *Policy, tree any, o Op) string {
	segs, err := SplitPointer(o.Path)
	if err != nil {
		return fmt.Sprintf("%s %s (malformed path)", o.Op, o.Path)
	}
	var val any
	if o.Value != nil {
		val, _ = canon.ParseStrict(o.Value)
	}
	old, had := lookup(tree, segs)
	subject := strings.Join(segs, ".")
	if segs[0] == "tenants" && len(segs) >= 2 {
		subject = "tenant " + segs[1]
		if len(segs) > 2 {
			subject += " " + strings.Join(segs[2:], ".")
		}
	}
	switch {
	case segs[0] == "tenants" && len(segs) == 2 && o.Op == OpSet && !had:
		return fmt.Sprintf("create tenant %s (%s)", segs[1], short(val))
	case segs[0] == "tenants" && len(segs) == 4 && segs[2] == "keys" && o.Op == OpSet && !had:
		return fmt.Sprintf("tenant %s: create key %s (%s)", segs[1], segs[3], short(val))
	case len(segs) == 5 && segs[2] == "keys" && segs[4] == "version":
		return fmt.Sprintf("tenant %s: rotate key %s v%s→v%s", segs[1], segs[3], short(old), short(val))
	case len(segs) == 5 && segs[2] == "keys" && segs[4] == "revoked" && val == true:
		return fmt.Sprintf("tenant %s: REVOKE key %s", segs[1], segs[3])
	case o.Path == "/signer_set":
		return fmt.Sprintf("signer set %s→%s", short(old), short(val))
	case o.Path == "/freeze" && o.Op == OpSet:
		return fmt.Sprintf("EMERGENCY FREEZE %s", short(val))
	case o.Path == "/freeze" && o.Op == OpUnset:
		return "unfreeze"
	case segs[0] == "appliances" && len(segs) == 2 && o.Op == OpSet:
		return fmt.Sprintf("enroll appliance %s (%s)", segs[1], short(val))
	case segs[0] == "appliances" && len(segs) == 2 && o.Op == OpUnset:
		return fmt.Sprintf("remove appliance %s", segs[1])
	case o.Path == "/revocations/capabilities" && o.Op == OpAdd:
		return fmt.Sprintf("REVOKE capability %s", short(val))
	}
	switch o.Op {
	case OpSet:
		s := fmt.Sprintf("%s %s→%s", subject, short(old), short(val))
		if !had {
			s = fmt.Sprintf("%s (new) %s", subject, short(val))
		}
		if b, ok := boundNote(prev, o.Path, val); ok {
			s += " " + b
		}
		return s
	case OpUnset:
		return fmt.Sprintf("remove %s (was %s)", subject, short(old))
	case OpAdd:
		return fmt.Sprintf("%s +%s", subject, short(val))
	case OpRemove:
		return fmt.Sprintf("%s −%s", subject, short(val))
	}
	return fmt.Sprintf("%s %s", o.Op, o.Path)
}

func boundNote(prev *Policy, path string, val any) (string, bool) {
	n, ok := val.(canon.Number)
	if !ok {
		return "", false
	}
	v, ok := n.Int64()
	if !ok {
		return "", false
	}
	var base int
	switch {
	case paramPaths[path] != "":
		base = map[string]int{"inflight_cap": prev.Baseline.InflightCap, "cache_ttl_seconds": prev.Baseline.CacheTTLSeconds, "cache_size": prev.Baseline.CacheSize}[paramPaths[path]]
	case strings.HasPrefix(path, "/tenants/") && strings.HasSuffix(path, "/mint/rate_per_minute"):
		base = prev.Baseline.MintRatePerMinute
	default:
		return "", false
	}
	if withinBounds(int(v), base) {
		return fmt.Sprintf("(baseline %d, within ±%d%%)", base, BoundPercent), true
	}
	return fmt.Sprintf("(baseline %d, BEYOND ±%d%%: needs a threshold)", base, BoundPercent), true
}

func lookup(tree any, segs []string) (any, bool) {
	cur := tree
	for _, s := range segs {
		obj, ok := cur.(canon.Object)
		if !ok {
			return nil, false
		}
		cur, ok = obj[s]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// short renders a value compactly: scalars as themselves, a key id or
// digest shortened, objects as k=v pairs.
func short(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if strings.HasPrefix(x, canon.DigestPrefix) && len(x) > 19 {
			return x[:19] + "…"
		}
		if len(x) == 64 {
			return x[:12] + "…"
		}
		return x
	case canon.Number:
		return string(x)
	case bool:
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = short(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case canon.Object:
		if len(x) == 0 {
			return "{}"
		}
		parts := []string{}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if k == "public_key" {
				continue
			}
			if o, ok := x[k].(canon.Object); ok && len(o) > 0 {
				parts = append(parts, k+"=("+short(o)+")")
				continue
			}
			parts = append(parts, k+"="+short(x[k]))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}
