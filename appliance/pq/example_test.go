package pq_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/ron-kms/ron-kms/appliance/pq"
)

func Example() {
	// In the appliance the seed comes from Backend.DeriveSeed and the
	// Ed25519 signer from Backend.Signer; fixed values keep the example short.
	mlPub, mlKey := pq.KeyFromSeed([32]byte{1})
	edKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

	pub, err := pq.PublicKey(pq.MLDSA65Ed25519, mlPub, edKey.Public())
	if err != nil {
		panic(err)
	}
	msg, ctx := []byte("release v1.2.3"), []byte("ron-kms/tenant-a")
	sig, err := pq.SignForMode(pq.DefaultMode, pq.MLDSA65Ed25519, &pq.MLDSAKey{Public: mlPub, Private: mlKey}, edKey, msg, ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(pub), len(sig))

	res, err := pq.VerifyForMode(pq.ModeHybridAnd, pq.MLDSA65Ed25519, pub, msg, ctx, sig)
	fmt.Printf("%+v %v\n", res, err)

	// Spoil the Ed25519 half: hybrid_and rejects, naming the component;
	// hybrid_or accepts and says so.
	sig[len(sig)-1] ^= 1
	_, err = pq.VerifyForMode(pq.ModeHybridAnd, pq.MLDSA65Ed25519, pub, msg, ctx, sig)
	var ce *pq.ComponentError
	fmt.Println(errors.As(err, &ce) && ce.Has(pq.ComponentTraditional), errors.Is(err, pq.ErrInvalidSignature))
	res, err = pq.VerifyForMode(pq.ModeHybridOr, pq.MLDSA65Ed25519, pub, msg, ctx, sig)
	fmt.Printf("%+v %v\n", res, err)
	// Output:
	// 1984 3373
	// {Mode:hybrid_and Alg:id-MLDSA65-Ed25519-SHA512 MLDSA:true Traditional:true NonStandard:false} <nil>
	// true true
	// {Mode:hybrid_or Alg:id-MLDSA65-Ed25519-SHA512 MLDSA:true Traditional:false NonStandard:true} <nil>
}

func ExampleClassifyTransition() {
	for _, to := range []pq.Mode{pq.ModeHybridOr, pq.ModePQOnly} {
		t, _ := pq.ClassifyTransition(pq.ModeHybridAnd, to)
		fmt.Printf("%s -> %s sensitive=%v: %s\n", t.From, t.To, t.Sensitive, t.Reason)
	}
	t, _ := pq.ClassifyTransition(pq.ModeHybridOr, pq.ModeHybridAnd)
	fmt.Printf("%s -> %s sensitive=%v\n", t.From, t.To, t.Sensitive)
	// Output:
	// hybrid_and -> hybrid_or sensitive=true: leaving hybrid_and for hybrid_or lets a traditional signature alone pass
	// hybrid_and -> pq_only sensitive=true: moving to pq_only drops the traditional component; verifiers without ML-DSA-65 stop accepting
	// hybrid_or -> hybrid_and sensitive=false
}
