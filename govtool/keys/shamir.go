package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
)

// Shamir's secret sharing of the 32-byte Ed25519 seed, byte by byte, over
// GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1. Arithmetic is table-free
// and branch-free on secret values, so it does not leak through timing or
// cache. It is written here (about 60 lines) rather than imported: the
// maintained packages are either parts of very large modules (Vault,
// OpenBao) or use lookup tables; circl's secretsharing splits group scalars,
// not byte strings.

// gfMul multiplies in GF(2^8) in constant time.
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 8; i++ {
		p ^= a & -(b & 1)
		b >>= 1
		a = a<<1 ^ 0x1b&-(a>>7)
	}
	return p
}

// gfInv is a^254 = a^-1 (and 0 for 0), by a fixed chain of squarings.
func gfInv(a byte) byte {
	// 254 = 0b11111110: a^2 · a^4 · … · a^128.
	sq := gfMul(a, a) // a^2
	r := sq
	for i := 0; i < 6; i++ {
		sq = gfMul(sq, sq) // a^4 … a^128
		r = gfMul(r, sq)
	}
	return r
}

// splitBytes shares secret among n holders so that any t recover it. The
// holders' x-coordinates are 1..n; share i is out[i-1].
func splitBytes(secret []byte, n, t int) ([][]byte, error) {
	coef := make([]byte, t-1)
	defer clear(coef)
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, len(secret))
	}
	for j, s := range secret {
		if _, err := rand.Read(coef); err != nil {
			return nil, err
		}
		for i := range n {
			x := byte(i + 1)
			// Horner: ((c[t-2]·x + c[t-3])·x + … + c[0])·x + s.
			var y byte
			for k := t - 2; k >= 0; k-- {
				y = gfMul(y, x) ^ coef[k]
			}
			out[i][j] = gfMul(y, x) ^ s
		}
	}
	return out, nil
}

// combineBytes interpolates at 0 the points (xs[i], ys[i]). The xs must be
// distinct and non-zero; they are public, the ys secret.
func combineBytes(xs []byte, ys [][]byte) []byte {
	out := make([]byte, len(ys[0]))
	for i, xi := range xs {
		// Lagrange basis at 0: Π_{j≠i} x_j / (x_j - x_i); minus is xor.
		num, den := byte(1), byte(1)
		for j, xj := range xs {
			if j != i {
				num = gfMul(num, xj)
				den = gfMul(den, xj^xi)
			}
		}
		l := gfMul(num, gfInv(den))
		for k := range out {
			out[k] ^= gfMul(l, ys[i][k])
		}
	}
	return out
}

// Split shares the seed of priv among n holders so that any t of them can
// rebuild the key and fewer than t learn nothing about it. It requires
// 2 <= t <= n <= 255. Each share carries the set id (the first 16 hex digits
// of the key id), so shares of different keys cannot be mixed by mistake and
// a rebuilt key is checked.
func Split(priv ed25519.PrivateKey, n, t int) ([]Share, error) {
	if err := checkPrivateKey(priv); err != nil {
		return nil, err
	}
	switch {
	case t < 2:
		return nil, fmt.Errorf("keys: share threshold %d: want at least 2 (a threshold of 1 is a copy of the key)", t)
	case t > n:
		return nil, fmt.Errorf("keys: share threshold %d is above the number of shares %d", t, n)
	case n > maxShares:
		return nil, fmt.Errorf("keys: %d shares: at most %d", n, maxShares)
	}
	seed := priv.Seed()
	defer clear(seed)
	vals, err := splitBytes(seed, n, t)
	if err != nil {
		return nil, fmt.Errorf("keys: splitting the key: %w", err)
	}
	set := setIDOf(priv.Public().(ed25519.PublicKey))
	shares := make([]Share, n)
	for i, v := range vals {
		shares[i] = Share{Threshold: t, Index: i + 1, SetID: set, value: v}
	}
	return shares, nil
}

// Combine rebuilds the key from shares. All shares must be of one split
// (same threshold and set id), with at least Threshold distinct indices; a
// share given twice counts once. The rebuilt key is checked against the set
// id and, when expected is not nil, against expected. Every share given is
// used, so a wrong one among more than enough is detected, not ignored.
func Combine(shares []Share, expected ed25519.PublicKey) (ed25519.PrivateKey, error) {
	if len(shares) == 0 {
		return nil, &NotEnoughSharesError{Got: 0}
	}
	t, set := shares[0].Threshold, shares[0].SetID
	var (
		xs []byte
		ys [][]byte
	)
	for _, s := range shares {
		if err := s.check(); err != nil {
			return nil, err
		}
		if s.Threshold != t || s.SetID != set {
			return nil, ErrMixedShares
		}
		dup := false
		for i, x := range xs {
			if int(x) == s.Index {
				if subtle.ConstantTimeCompare(ys[i], s.value) != 1 {
					return nil, fmt.Errorf("keys: two different shares have index %d: one of them is wrong", s.Index)
				}
				dup = true
			}
		}
		if !dup {
			xs = append(xs, byte(s.Index))
			ys = append(ys, s.value)
		}
	}
	if len(xs) < t {
		return nil, &NotEnoughSharesError{Got: len(xs), Want: t}
	}
	seed := combineBytes(xs, ys)
	defer clear(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if setIDOf(pub) != set {
		clear(priv)
		return nil, ErrSharesDoNotMatch
	}
	if expected != nil && subtle.ConstantTimeCompare(pub, expected) != 1 {
		clear(priv)
		return nil, fmt.Errorf("%w: the shares rebuild key %s", ErrKeyMismatch, shortID(pub))
	}
	return priv, nil
}
