package engine_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/schemas"
)

// TestIDFormatsMatchSchema: the engine accepts a request id, a mint
// request's nonce and a snapshot's commit exactly when schemas/defs.json's
// id128 and git_commit do, on ids at the edges of those formats.
func TestIDFormatsMatchSchema(t *testing.T) {
	v, tok := standard(t, policy.PQOff)
	hex := strings.Repeat("0123456789abcdef", 4)

	id128 := regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/id128"))
	for _, id := range []string{
		hex[:32], hex[32:], strings.Repeat("f", 32),
		hex[:31], hex[:33], hex[:40], hex, strings.ToUpper(hex[:32]), hex[:31] + "g",
		hex[:31] + "\n", " " + hex[:31], hex[:30] + "é", "urn:uuid:" + hex[:32], "0x" + hex[:30],
	} {
		want := id128.MatchString(id)
		_, err := v.Engine.Sign(v.Ctx, tok, engine.SignRequest{Tenant: "acme", Key: "pay", Message: []byte("m"), RequestID: id})
		if (err == nil) != want {
			t.Errorf("request_id %q: schema says %v, Sign: %v", id, want, err)
		}
		r := v.MintRequest("acme", "minter-acme", allOps, func(r *engine.MintRequest) { r.Nonce = id })
		body, err := canon.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := engine.ParseMintRequest(body); (err == nil) != want {
			t.Errorf("nonce %q: schema says %v, ParseMintRequest: %v", id, want, err)
		}
	}

	commit := regexp.MustCompile(schemas.MustPattern("defs.json#/$defs/git_commit"))
	inForce := v.Policy
	for _, c := range []string{
		hex[:40], hex, strings.Repeat("0", 40),
		hex[:39], hex[:41], hex[:63], hex + "0", hex[:52], hex[:32],
		strings.ToUpper(hex[:40]), hex[:39] + "g", hex[:40] + "\n", "main", "refs/heads/main", "",
	} {
		s := v.Snapshot(inForce)
		s.Commit = c
		_, err := v.Engine.Apply(v.Ctx, s)
		if want := commit.MatchString(c); (err == nil) != want {
			t.Errorf("commit %q: schema says %v, Apply: %v", c, want, err)
		}
	}
}
