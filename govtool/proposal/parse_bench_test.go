package proposal_test

import (
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	vt "github.com/ron-kms/ron-kms/govtool/verify/verifytest"
	"github.com/ron-kms/ron-kms/schemas"
)

// benchFile is a sensitive proposal signed by the three production quorum
// members, in file form: the unit of work of a full `govtool verify`.
func benchFile(b *testing.B) []byte {
	h := vt.New(b, policy.ProfileProduction)
	h.Next(h.Genesis()...)
	p := h.Approve(h.Proposal("bench", proposal.ScopeGlobal, h.Change(proposal.ScopeGlobal, "pq_default=hybrid_or")...), "po", "so", "cust")
	f, err := p.File()
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkParseProposal splits what reading one proposal file costs:
// strict parse, decode into the Go type (with its round-trip check), schema
// validation, and all of ParseDocument. Compare runs with benchstat.
func BenchmarkParseProposal(b *testing.B) {
	f := benchFile(b)
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := canon.ParseDocument(f); err != nil {
				b.Fatal(err)
			}
		}
	})
	doc, _ := canon.ParseDocument(f)
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			var p proposal.Proposal
			if err := doc.Unmarshal(&p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("schema", func(b *testing.B) {
		for b.Loop() {
			if err := schemas.ValidateDocument(proposal.Type, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			d, _ := canon.ParseDocument(f)
			if _, err := proposal.ParseDocument(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
