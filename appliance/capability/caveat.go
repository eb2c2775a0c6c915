package capability

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/schemas"
)

// Caveat names. Every caveat is first-party and reads "<name> <value>": the
// name, exactly one space, and a value of printable ASCII without spaces.
const (
	CaveatTenant = "tenant"
	CaveatScope  = "scope"
	CaveatAlg    = "alg"
	CaveatExp    = "exp"
	CaveatRPS    = "rps"
	CaveatKey    = "key"
	CaveatNonce  = "nonce"
)

// Operations a capability can permit (values of the scope caveat and of
// Request.Op).
const (
	OpSign   = "sign"
	OpVerify = "verify"
	OpWrap   = "wrap"
	OpUnwrap = "unwrap"
)

var ops = []string{OpSign, OpVerify, OpWrap, OpUnwrap}

// algs is the closed list of algorithm names the alg caveat and Request.Alg
// accept: the backend key algorithms, plain ML-DSA-65 (pq_only) and the two
// composite ML-DSA hybrids (DESIGN §3).
var algs = []string{
	"ed25519",
	"ecdsa-p256",
	"aes-256-gcm",
	"mldsa65",
	"mldsa65-ed25519",
	"mldsa65-ecdsa-p256",
}

// Algs returns the algorithm names this package accepts, in a fixed order.
func Algs() []string { return append([]string(nil), algs...) }

const (
	// MaxRPS is the largest value an rps caveat may carry.
	MaxRPS = 1_000_000
	// maxCaveats bounds the work a single check does.
	maxCaveats = 32
	// expLayout is the only accepted exp form: RFC 3339, UTC, whole seconds.
	expLayout = "2006-01-02T15:04:05Z"
)

var (
	// A tenant name: exactly the tenant names policy accepts
	// (policy.TenantRE), so that a tenant policy creates can always be named
	// in a caveat, and a caveat can never name a tenant policy cannot have.
	tenantRE = policy.TenantRE
	// A key as a request names it: "tenant/name", optionally "/vN"; tenant
	// and name have policy's shapes (schemas' TestComposedPatterns holds
	// key_name to them).
	keyNameRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/key_name"))
	// A key pattern: a literal tenant, "/", and a glob over one name segment.
	keyPatternRE = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/key_pattern"))
	// A macaroon id or a nonce: 128 random bits in lower-case hex.
	idRE  = regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/id128"))
	rpsRE = regexp.MustCompile(`^[1-9][0-9]{0,6}$`)
)

// bitset is a set of indexes into ops or algs.
type bitset uint16

// caveats is the effective, validated content of a macaroon's caveats.
type caveats struct {
	tenant string
	scope  bitset    // 0: absent
	algs   bitset    // 0: absent (any alg)
	key    string    // "": absent (any key of the tenant)
	exp    time.Time // zero: absent
	rps    int       // 0: absent (no per-capability limit)
	nonce  string    // "": absent (multi-use)
}

// parseCaveats applies the caveat grammar and the repetition rules to conds
// in order, and requires tenant, scope and exp. It is the one parser used by
// both Mint and Check.
//
// Repetition rules (K-G8: anything else is a conflict):
//   - tenant and nonce appear at most once;
//   - exp may repeat only with a strictly earlier time;
//   - scope and alg may repeat only with a strict subset of the effective set;
//   - rps may repeat only with a strictly lower value;
//   - key may repeat only with a literal key name (no * or ?) that the
//     effective pattern matches and that differs from it.
//
// So a holder can attenuate a capability by appending caveats, and every
// repeated caveat is checked to narrow; the effective value is the last one.
func parseCaveats(conds []string) (*caveats, *Error) {
	if len(conds) > maxCaveats {
		return nil, errorf(ReasonMalformed, "%d caveats, at most %d allowed", len(conds), maxCaveats)
	}
	var c caveats
	for _, cond := range conds {
		if err := c.add(cond); err != nil {
			return nil, err
		}
	}
	switch {
	case c.tenant == "":
		return nil, errorf(ReasonMissingCaveat, "no tenant caveat")
	case c.scope == 0:
		return nil, errorf(ReasonMissingCaveat, "no scope caveat")
	case c.exp.IsZero():
		return nil, errorf(ReasonMissingCaveat, "no exp caveat")
	}
	if c.key != "" {
		if t, _, _ := strings.Cut(c.key, "/"); t != c.tenant {
			return nil, errorf(ReasonConflictingCaveat, "key pattern %s is outside tenant %s", quote(c.key), quote(c.tenant))
		}
	}
	return &c, nil
}

func (c *caveats) add(cond string) *Error {
	name, value, ok := strings.Cut(cond, " ")
	if !ok || name == "" || value == "" || !printable(name) || !printable(value) {
		return errorf(ReasonMalformed, "caveat %s is not \"<name> <value>\"", quote(cond))
	}
	switch name {
	case CaveatTenant:
		if !tenantRE.MatchString(value) {
			return malformedValue(cond)
		}
		if c.tenant != "" {
			return errorf(ReasonConflictingCaveat, "second tenant caveat %s", quote(cond))
		}
		c.tenant = value
	case CaveatScope, CaveatAlg:
		list, cur := ops, &c.scope
		if name == CaveatAlg {
			list, cur = algs, &c.algs
		}
		set, ok := parseList(value, list)
		if !ok {
			return malformedValue(cond)
		}
		if *cur != 0 && (set&^*cur != 0 || set == *cur) {
			return errorf(ReasonConflictingCaveat, "%s does not narrow the earlier %s caveat", quote(cond), name)
		}
		*cur = set
	case CaveatExp:
		t, err := time.Parse(expLayout, value)
		if err != nil || t.Format(expLayout) != value {
			return malformedValue(cond)
		}
		if !c.exp.IsZero() && !t.Before(c.exp) {
			return errorf(ReasonConflictingCaveat, "%s is not earlier than the earlier exp caveat", quote(cond))
		}
		c.exp = t
	case CaveatRPS:
		if !rpsRE.MatchString(value) {
			return malformedValue(cond)
		}
		n, _ := strconv.Atoi(value)
		if n > MaxRPS {
			return malformedValue(cond)
		}
		if c.rps != 0 && n >= c.rps {
			return errorf(ReasonConflictingCaveat, "%s is not lower than the earlier rps caveat", quote(cond))
		}
		c.rps = n
	case CaveatKey:
		if !keyPatternRE.MatchString(value) {
			return malformedValue(cond)
		}
		if c.key != "" {
			literal := !strings.ContainsAny(value, "*?")
			if m, _ := path.Match(c.key, value); !literal || !m || value == c.key {
				return errorf(ReasonConflictingCaveat, "%s does not narrow the earlier key caveat to one key", quote(cond))
			}
		}
		c.key = value
	case CaveatNonce:
		if !idRE.MatchString(value) {
			return malformedValue(cond)
		}
		if c.nonce != "" {
			return errorf(ReasonConflictingCaveat, "second nonce caveat %s", quote(cond))
		}
		c.nonce = value
	default:
		return errorf(ReasonUnknownCaveat, "unknown caveat %s", quote(name))
	}
	return nil
}

func malformedValue(cond string) *Error {
	return errorf(ReasonMalformed, "malformed caveat %s", quote(cond))
}

// printable reports whether s is non-empty printable ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// parseList parses a comma-separated list of distinct members of list.
func parseList(value string, list []string) (bitset, bool) {
	var set bitset
	for _, v := range strings.Split(value, ",") {
		i := indexOf(list, v)
		if i < 0 || set&(1<<i) != 0 {
			return 0, false
		}
		set |= 1 << i
	}
	return set, true
}

func indexOf(list []string, v string) int {
	for i, s := range list {
		if s == v {
			return i
		}
	}
	return -1
}

// formatList is the inverse of parseList, in list order.
func formatList(set bitset, list []string) []string {
	var out []string
	for i, s := range list {
		if set&(1<<i) != 0 {
			out = append(out, s)
		}
	}
	return out
}

// keyMatches reports whether key (a valid "tenant/name[/vN]") matches
// pattern (a valid key pattern): the version is ignored and the pattern is
// matched with path.Match against "tenant/name".
func keyMatches(pattern, key string) bool {
	if !keyNameRE.MatchString(key) {
		return false
	}
	// Neither tenant nor name has a '/': a second one starts the version.
	if i := strings.IndexByte(key, '/'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '/'); j >= 0 {
			key = key[:i+1+j]
		}
	}
	ok, err := path.Match(pattern, key)
	return err == nil && ok
}
