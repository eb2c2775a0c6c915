package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"runtime"
	"testing"
	"weak"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/backend/sealedfile"
	"github.com/ron-kms/ron-kms/appliance/pq"
)

var cacheTestSeed = sha256.Sum256([]byte("engine mldsa cache test"))

func mldsaSign(t *testing.T, priv *mldsa65.PrivateKey, msg []byte) []byte {
	t.Helper()
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(priv, msg, nil, false, sig); err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestMLDSAPublicForCacheSharesNoMemory: the public key the engine caches
// shares no memory with the private key derived alongside it. The private
// key is wiped, and the cached key still verifies its signatures, while
// NewKeyFromSeed's own public key, which the engine cached before, does not.
func TestMLDSAPublicForCacheSharesNoMemory(t *testing.T) {
	msg := []byte("m")
	pub, priv := pq.KeyFromSeed(cacheTestSeed)
	want := pub.Bytes()
	sig := mldsaSign(t, priv, msg)
	cached, err := mldsaPublicForCache(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(new(mldsa65.PrivateKey)) {
		t.Error("the private key was not wiped")
	}
	if !bytes.Equal(cached.Bytes(), want) {
		t.Fatal("the cached public key is not the key pair's")
	}
	if !mldsa65.Verify(cached, msg, nil, sig) {
		t.Error("with the private key wiped, a signature by it no longer verifies under the cached public key")
	}
	// Control: if this stops failing, circl's public key no longer points
	// into its private key, or wiping does not show it.
	if mldsa65.Verify(pub, msg, nil, sig) {
		t.Error("control: NewKeyFromSeed's public key still verifies with its private key wiped")
	}
}

// keepsPrivate derives a key pair as the engine does, passes it to cache,
// and reports whether the private key is still reachable after a full
// collection while the public key cache returned is alive.
func keepsPrivate(t *testing.T, cache func(*mldsa65.PublicKey, *mldsa65.PrivateKey) *mldsa65.PublicKey) bool {
	t.Helper()
	// The pair lives only in this closure's frame, gone when it returns.
	cached, priv := func() (*mldsa65.PublicKey, weak.Pointer[mldsa65.PrivateKey]) {
		pub, priv := pq.KeyFromSeed(cacheTestSeed)
		return cache(pub, priv), weak.Make(priv)
	}()
	runtime.GC()
	runtime.GC()
	reachable := priv.Value() != nil
	runtime.KeepAlive(cached)
	return reachable
}

// TestMLDSAPublicForCacheKeepsNoPrivateKey: the cached public key does not
// keep the private key reachable, so it can be collected while the cache
// lives; NewKeyFromSeed's own public key does.
func TestMLDSAPublicForCacheKeepsNoPrivateKey(t *testing.T) {
	if keepsPrivate(t, func(pub *mldsa65.PublicKey, priv *mldsa65.PrivateKey) *mldsa65.PublicKey {
		c, err := mldsaPublicForCache(pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}) {
		t.Error("the cached ML-DSA-65 public key keeps its private key reachable")
	}
	if !keepsPrivate(t, func(pub *mldsa65.PublicKey, _ *mldsa65.PrivateKey) *mldsa65.PublicKey { return pub }) {
		t.Error("control: NewKeyFromSeed's public key no longer keeps its private key reachable, or this check cannot tell")
	}
}

// TestCachedMLDSAPublicKey: the key the engine loads and caches is the
// version's ML-DSA-65 public key, and what the engine signs with the key
// verifies under it.
func TestCachedMLDSAPublicKey(t *testing.T) {
	ctx := context.Background()
	b, err := sealedfile.Open(ctx, sealedfile.Config{Amnesia: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	const label = "acme/pay/v1"
	if _, err := b.GenerateKey(ctx, label, backend.Ed25519); err != nil {
		t.Fatal(err)
	}
	e := &Engine{b: b}
	kp, rej := e.pub(ctx, label, backend.Ed25519)
	if rej != nil {
		t.Fatal(rej)
	}
	seed, err := b.DeriveSeed(ctx, MLDSAInfo(label))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := pq.KeyFromSeed(seed)
	if !bytes.Equal(kp.mldsa.Bytes(), want.Bytes()) || !bytes.Equal(kp.mldsaBytes, want.Bytes()) {
		t.Fatal("the cached ML-DSA-65 public key is not the version's")
	}
	s, rej := e.signerFor(ctx, kp, label)
	if rej != nil {
		t.Fatal(rej)
	}
	ml, rej := e.mldsaSigningKey(ctx, kp, label)
	if rej != nil {
		t.Fatal(rej)
	}
	msg := []byte("m")
	// pq checks each signature under ml.Public, the cached key, before
	// returning it.
	sig, err := pq.Sign(kp.compAlg, ml, s, msg, nil)
	if err != nil {
		t.Fatalf("composite signing: %v", err)
	}
	if err := pq.Verify(kp.compAlg, kp.composite, msg, nil, sig); err != nil {
		t.Errorf("composite signature: %v", err)
	}
	mlsig, err := pq.SignForMode(pq.ModePQOnly, kp.compAlg, ml, nil, msg, nil)
	if err != nil {
		t.Fatalf("ML-DSA-65 signing: %v", err)
	}
	if !mldsa65.Verify(want, msg, nil, mlsig) || !mldsa65.Verify(kp.mldsa, msg, nil, mlsig) {
		t.Error("the ML-DSA-65 signature does not verify")
	}
}
