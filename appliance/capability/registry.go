package capability

import (
	"sync"
	"time"
)

// mintWindow is the window of the per-tenant mint rate (Limits.MintPerMinute).
const mintWindow = time.Minute

// Limits are one tenant's minting limits, as policy sets them. A zero or
// negative field permits nothing: no capability is minted for a tenant whose
// limits are unset (K-G3, K-G8).
type Limits struct {
	// MaxActive is the most capabilities the tenant may hold at once that
	// are neither expired nor revoked.
	MaxActive int
	// MintPerMinute is the most capabilities minted for the tenant in any
	// sliding window of one minute.
	MintPerMinute int
	// MaxTTL is the longest lifetime of a capability.
	MaxTTL time.Duration
}

// Registry is the in-memory record of the capabilities this appliance has
// minted: which are active per tenant (for Limits.MaxActive), when each
// tenant last minted (for Limits.MintPerMinute) and which ids are revoked.
// It implements Revocations for the Checker.
//
// It is not persistent. Revocations are governance decisions recorded in
// policy; whoever applies policy must call Revoke for every revoked id after
// a restart, before serving checks. Safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	tenants map[string]*tenantState
	owner   map[string]string // active id → tenant
	revoked map[string]struct{}
}

type tenantState struct {
	active map[string]time.Time // id → exp
	mints  []time.Time          // mint times within the last mintWindow, oldest first
}

var _ Revocations = (*Registry)(nil)

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{
		tenants: make(map[string]*tenantState),
		owner:   make(map[string]string),
		revoked: make(map[string]struct{}),
	}
}

// reserve records a mint of capability id for tenant, expiring at exp, if
// limits allow it at now; otherwise it records nothing and returns an
// *Error with ReasonMintRate (with RetryAfter) or ReasonMintCeiling.
func (r *Registry) reserve(tenant, id string, exp time.Time, limits Limits, now time.Time) *Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tenants[tenant]
	if t == nil {
		t = &tenantState{active: make(map[string]time.Time)}
		r.tenants[tenant] = t
	}
	r.pruneLocked(t, now)
	if limits.MintPerMinute < 1 {
		return errorf(ReasonMintRate, "policy allows tenant %s no mints", quote(tenant))
	}
	if n := len(t.mints); n >= limits.MintPerMinute {
		e := errorf(ReasonMintRate, "tenant %s minted %d capabilities in the last minute, policy allows %d", quote(tenant), n, limits.MintPerMinute)
		e.RetryAfter = t.mints[n-limits.MintPerMinute].Add(mintWindow).Sub(now)
		return e
	}
	if n := len(t.active); n >= limits.MaxActive {
		return errorf(ReasonMintCeiling, "tenant %s holds %d active capabilities, policy allows %d; revoke one or wait for one to expire", quote(tenant), n, max(limits.MaxActive, 0))
	}
	t.mints = append(t.mints, now)
	t.active[id] = exp
	r.owner[id] = tenant
	return nil
}

// pruneLocked forgets t's expired capabilities and mints older than the window.
func (r *Registry) pruneLocked(t *tenantState, now time.Time) {
	for id, exp := range t.active {
		if !exp.After(now) {
			delete(t.active, id)
			delete(r.owner, id)
		}
	}
	i := 0
	for i < len(t.mints) && !t.mints[i].Add(mintWindow).After(now) {
		i++
	}
	t.mints = append(t.mints[:0], t.mints[i:]...)
}

// Revoke marks id revoked: Revoked reports it from now on, and it no longer
// counts toward its tenant's MaxActive. Revoking an unknown or already
// revoked id is not an error (it may have been minted before a restart).
func (r *Registry) Revoke(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked[id] = struct{}{}
	if tenant, ok := r.owner[id]; ok {
		delete(r.tenants[tenant].active, id)
		delete(r.owner, id)
	}
}

// Revoked implements Revocations.
func (r *Registry) Revoked(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.revoked[id]
	return ok
}

// Active returns how many capabilities tenant holds that are neither
// expired at now nor revoked.
func (r *Registry) Active(tenant string, now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tenants[tenant]
	if t == nil {
		return 0
	}
	r.pruneLocked(t, now)
	return len(t.active)
}
