package envelope_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// Sign an object with the RFC 8032 §7.1 TEST 1 key. Ed25519 is
// deterministic, so the output is a known answer.
func ExampleSign() {
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	key := ed25519.NewKeyFromSeed(seed)

	obj := []byte(`{"type": "proposal", "id": "20260301-example-000001", "signatures": []}`)
	digest, err := canon.DigestBytes(obj)
	if err != nil {
		panic(err)
	}
	msg, _ := envelope.Message("proposal", digest)
	sig, err := envelope.Sign(key, "policy-owner", "proposal", digest)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(msg))
	fmt.Println(sig.KeyID)
	fmt.Println(sig.Sig)
	fmt.Println(envelope.Verify(key.Public().(ed25519.PublicKey), "proposal", digest, sig))
	// Output:
	// ron-kms/v1 proposal 8929ea1827267c6ad90500758abf37313a84e40e119e3bfc2f9e516d532ea94d
	// 21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9
	// 2mto6dxlZo8lOtQMV+dpt00tobcsDECPpjG+kr+99ebcFPyquFq1ZNqI0uVvTxsPBW3rSIVwg2jfHSvgerLECw==
	// <nil>
}
