package proposal

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// Changes is the list of high-level changes ParseChange understands, for
// help text. Tenant-scoped ones need --scope tenant:<NAME>.
var Changes = []string{
	"tenant scope:",
	"  create_tenant                 new tenant with the policy's PQ default and baseline mint rate",
	"  pq_mode=<off|hybrid_or|hybrid_and|pq_only>",
	"  create_key=<name>:<alg>       new tenant key (alg: ed25519, ecdsa-p256, aes-256-gcm)",
	"  rotate_key=<name>             key version +1",
	"  revoke_key=<name>",
	"  mint.max_active=<n>  mint.rate_per_minute=<n>  mint.max_ttl_seconds=<n>",
	"  add_minter=<ed25519 public key: base64, ssh-ed25519 line or .pub file>   remove_minter=<key id>",
	"  revoke_capability=<id>",
	"global scope:",
	"  pq_default=<mode>  attestation=<required|optional>  backend=<kind>:<slot>",
	"  inflight_cap=<n>  cache_ttl_seconds=<n>  cache_size=<n>",
	"  baseline.<inflight_cap|cache_ttl_seconds|cache_size|mint_rate_per_minute>=<n>",
	"  freeze=<reason>               until now + 60 min (production) / 30 min (micronode)",
	"  unfreeze",
	"  enroll_appliance=<id>:<kind>:<audit public key>:<slot>   remove_appliance=<id>",
	"  signer_set=<version>:<sha256:digest of signer-sets/NNNN.json>",
	"  add_webhook=<https url>  remove_webhook=<https url>",
	"  revoke_capability=<id>",
}

// DefaultKeyMaxAgeDays is the max_age_days of a key made by create_key.
const DefaultKeyMaxAgeDays = 90

// ParseChange turns one high-level change "key=value" (or a bare "key")
// into changeset entries on prev. scope is "global" or "tenant:<NAME>"; now
// is the proposal's creation time (a freeze runs from it).
func ParseChange(prev *policy.Policy, scope, spec string, now time.Time) ([]policy.Op, error) {
	key, val, hasVal := strings.Cut(spec, "=")
	key = strings.TrimSpace(key)
	fail := func(format string, args ...any) ([]policy.Op, error) {
		return nil, fmt.Errorf("proposal: change %q: %s", spec, fmt.Sprintf(format, args...))
	}
	needVal := func() bool { return hasVal && val != "" }
	tenant, isTenant := strings.CutPrefix(scope, "tenant:")
	if scope != ScopeGlobal && (!isTenant || !policy.TenantRE.MatchString(tenant)) {
		return fail("scope %q is not global or tenant:<NAME>", scope)
	}
	set := func(path string, v any) ([]policy.Op, error) {
		raw, err := rawValue(v)
		if err != nil {
			return nil, err
		}
		return []policy.Op{{Op: policy.OpSet, Path: path, Value: raw}}, nil
	}
	arrOp := func(op, path string, v any) ([]policy.Op, error) {
		raw, err := rawValue(v)
		if err != nil {
			return nil, err
		}
		return []policy.Op{{Op: op, Path: path, Value: raw}}, nil
	}
	posInt := func() (int, bool) {
		n, err := strconv.Atoi(val)
		return n, err == nil && n >= 1 && n <= canon.MaxSafeInteger && strconv.Itoa(n) == val
	}
	tenantOnly := map[string]bool{"create_tenant": true, "pq_mode": true, "create_key": true, "rotate_key": true, "revoke_key": true,
		"mint.max_active": true, "mint.rate_per_minute": true, "mint.max_ttl_seconds": true, "add_minter": true, "remove_minter": true}
	if tenantOnly[key] {
		if !isTenant {
			return fail("needs --scope tenant:<NAME>")
		}
		if _, ok := prev.Tenants[tenant]; !ok && key != "create_tenant" {
			return fail("tenant %q does not exist (create_tenant first)", tenant)
		}
	} else if isTenant && key != "revoke_capability" {
		return fail("is a global change; use --scope global")
	}
	tp := func(segs ...string) string { return policy.Pointer(append([]string{"tenants", tenant}, segs...)...) }
	switch key {
	case "create_tenant":
		if _, ok := prev.Tenants[tenant]; ok {
			return fail("tenant %q exists", tenant)
		}
		return set(tp(), policy.Tenant{
			PQMode:  prev.PQ.DefaultMode,
			Mint:    policy.Mint{MaxActive: 100, RatePerMinute: prev.Baseline.MintRatePerMinute, MaxTTLSeconds: 3600},
			Minters: []policy.Minter{}, Keys: map[string]policy.Key{},
		})
	case "pq_mode", "pq_default":
		if !slices.Contains(policy.PQModes, val) {
			return fail("mode must be one of %s", strings.Join(policy.PQModes, ", "))
		}
		if key == "pq_mode" {
			return set(tp("pq_mode"), val)
		}
		return set("/pq/default_mode", val)
	case "create_key":
		name, alg, ok := strings.Cut(val, ":")
		if !ok || !policy.KeyNameRE.MatchString(name) || !slices.Contains(policy.KeyAlgs, alg) {
			return fail("want create_key=<name>:<alg> (alg: %s)", strings.Join(policy.KeyAlgs, ", "))
		}
		if _, ok := prev.Tenants[tenant].Keys[name]; ok {
			return fail("key %q exists; rotate_key makes a new version", name)
		}
		return set(tp("keys", name), policy.Key{Alg: alg, Version: 1, MaxAgeDays: DefaultKeyMaxAgeDays})
	case "rotate_key", "revoke_key":
		k, ok := prev.Tenants[tenant].Keys[val]
		if !ok {
			return fail("tenant %q has no key %q", tenant, val)
		}
		if k.Revoked {
			return fail("key %q is revoked", val)
		}
		if key == "rotate_key" {
			return set(tp("keys", val, "version"), k.Version+1)
		}
		return set(tp("keys", val, "revoked"), true)
	case "mint.max_active", "mint.rate_per_minute", "mint.max_ttl_seconds":
		n, ok := posInt()
		if !ok {
			return fail("value must be a positive integer")
		}
		return set(tp("mint", strings.TrimPrefix(key, "mint.")), n)
	case "add_minter":
		pub, err := envelope.DecodePublicKey(val)
		if err != nil {
			return fail("%v", err)
		}
		return arrOp(policy.OpAdd, tp("minters"), policy.Minter{KeyID: envelope.KeyID(pub), PublicKey: val})
	case "remove_minter":
		for _, m := range prev.Tenants[tenant].Minters {
			if m.KeyID == val {
				return arrOp(policy.OpRemove, tp("minters"), m)
			}
		}
		return fail("tenant %q has no minter with key id %q", tenant, val)
	case "revoke_capability":
		if !policy.CapabilityIDRE.MatchString(val) {
			return fail("%q is not a capability id", val)
		}
		return arrOp(policy.OpAdd, "/revocations/capabilities", val)
	case "attestation":
		switch val {
		case "required", "optional":
			return set("/attestation/required", val == "required")
		}
		return fail("want attestation=required or attestation=optional")
	case "backend":
		kind, slot, ok := strings.Cut(val, ":")
		if !ok || !slices.Contains(policy.BackendKinds, kind) || slot == "" {
			return fail("want backend=<kind>:<slot> (kind: %s)", strings.Join(policy.BackendKinds, ", "))
		}
		return set("/backend", policy.Backend{Kind: kind, Slot: slot})
	case "inflight_cap", "cache_ttl_seconds", "cache_size":
		n, ok := posInt()
		if !ok {
			return fail("value must be a positive integer")
		}
		return set("/limits/"+key, n)
	case "baseline.inflight_cap", "baseline.cache_ttl_seconds", "baseline.cache_size", "baseline.mint_rate_per_minute":
		n, ok := posInt()
		if !ok {
			return fail("value must be a positive integer")
		}
		return set("/baseline/"+strings.TrimPrefix(key, "baseline."), n)
	case "freeze":
		if !needVal() {
			return fail("want freeze=<reason>")
		}
		return set("/freeze", policy.Freeze{Reason: val, Until: quorum.FormatTime(now.Add(policy.MaxFreeze[prev.Profile]))})
	case "unfreeze":
		if hasVal {
			return fail("unfreeze takes no value")
		}
		if prev.Freeze == nil {
			return fail("no freeze is in the policy")
		}
		return []policy.Op{{Op: policy.OpUnset, Path: "/freeze"}}, nil
	case "enroll_appliance":
		parts := strings.SplitN(val, ":", 4)
		if len(parts) != 4 || !policy.ApplianceRE.MatchString(parts[0]) {
			return fail("want enroll_appliance=<id>:<kind>:<audit public key>:<slot>")
		}
		return set(policy.Pointer("appliances", parts[0]), policy.Appliance{Backend: policy.Backend{Kind: parts[1], Slot: parts[3]}, AuditPublicKey: parts[2]})
	case "remove_appliance":
		if _, ok := prev.Appliances[val]; !ok {
			return fail("no appliance %q is enrolled", val)
		}
		return []policy.Op{{Op: policy.OpUnset, Path: policy.Pointer("appliances", val)}}, nil
	case "signer_set":
		v, d, ok := strings.Cut(val, ":")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			return fail("want signer_set=<version>:<digest>")
		}
		if _, err := canon.ParseDigest(d); err != nil {
			return fail("%v", err)
		}
		if n != prev.SignerSet.Version+1 {
			return fail("the next signer set is version %d", prev.SignerSet.Version+1)
		}
		return set("/signer_set", policy.SignerSetRef{Version: n, Digest: d})
	case "add_webhook", "remove_webhook":
		if !needVal() {
			return fail("want %s=<https url>", key)
		}
		op := policy.OpAdd
		if key == "remove_webhook" {
			op = policy.OpRemove
		}
		return arrOp(op, "/revocation_webhooks", val)
	}
	return fail("unknown change %q; known changes:\n%s", key, strings.Join(Changes, "\n"))
}

func rawValue(v any) (json.RawMessage, error) {
	b, err := canon.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// DescribeChange states each changeset entry of p in words against prev,
// e.g. "tenant ACME pq_mode hybrid_or→hybrid_and".
func DescribeChange(prev *policy.Policy, p *Proposal) []string {
	return policy.Describe(prev, p.Changeset)
}

// DescribeRotation states a signer-set rotation in words: "signer set
// v1→v2: threshold 2→3, +custodian 3fa1…, −custodian 9b2c…".
func DescribeRotation(prev, next *quorum.SignerSet) string {
	parts := []string{}
	if prev.Threshold != next.Threshold {
		parts = append(parts, fmt.Sprintf("threshold %d→%d", prev.Threshold, next.Threshold))
	}
	for _, m := range next.Members {
		if o, ok := prev.Member(m.KeyID); !ok {
			parts = append(parts, fmt.Sprintf("+%s %s…", m.Role, m.KeyID[:12]))
		} else if o.Role != m.Role {
			parts = append(parts, fmt.Sprintf("%s…: %s→%s", m.KeyID[:12], o.Role, m.Role))
		}
	}
	for _, m := range prev.Members {
		if _, ok := next.Member(m.KeyID); !ok {
			parts = append(parts, fmt.Sprintf("−%s %s…", m.Role, m.KeyID[:12]))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "same members")
	}
	return fmt.Sprintf("signer set v%d→v%d: %s (expires %s)", prev.Version, next.Version, strings.Join(parts, ", "), next.ExpiresAt)
}
