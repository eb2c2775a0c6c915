package engine

import (
	"sync"
	"time"

	"gopkg.in/macaroon.v2"

	"github.com/ron-kms/ron-kms/appliance/capability"
)

// maxDecoded bounds the decoded capabilities kept: tokens are at most
// capability.MaxTokenLen characters, so the cache holds a few MiB at most.
const maxDecoded = 1024

// decoded keeps capability tokens in decoded form, keyed by the whole
// token, so a client presenting the same token again skips the base64 and
// macaroon decoding (capability.Decode, a pure function of the token's
// bytes). It keeps structure only, and only of tokens that passed a full
// check once: every request still goes through Checker.CheckMacaroon —
// the HMAC chain under the root key, every caveat against this request,
// expiry, revocation, rps and nonce.
type decoded struct {
	mu sync.RWMutex
	m  map[string]*macaroon.Macaroon
}

func (d *decoded) get(token string) *macaroon.Macaroon {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.m[token]
}

func (d *decoded) put(token string, m *macaroon.Macaroon) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[string]*macaroon.Macaroon)
	}
	if len(d.m) >= maxDecoded {
		for k := range d.m { // an arbitrary one
			delete(d.m, k)
			break
		}
	}
	d.m[token] = m
}

// check is Checker.Check with the decoding cached.
func (e *Engine) check(token string, req capability.Request, now time.Time) (*capability.Verified, error) {
	m := e.decoded.get(token)
	cached := m != nil
	if !cached {
		var err error
		if m, err = capability.Decode(token); err != nil {
			return nil, err
		}
	}
	v, err := e.checker.CheckMacaroon(m, req, now)
	if err == nil && !cached {
		e.decoded.put(token, m)
	}
	return v, err
}
