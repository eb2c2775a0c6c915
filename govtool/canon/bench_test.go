package canon

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// proposal4K is a proposal-shaped governance object of about 4 KiB in file
// form: a changeset of 20 operations, a rationale, the signer set it names
// and three signatures.
func proposal4K(tb testing.TB) []byte {
	var ops []string
	for i := 0; i < 20; i++ {
		ops = append(ops, fmt.Sprintf(`{"op": "set", "path": "/tenants/tenant-%02d/pq_mode", "value": "hybrid_and"}`, i))
	}
	hex64 := strings.Repeat("0123456789abcdef", 4)
	sig := strings.Repeat("QUJDRA", 14) + "QUJDRA=="
	var members, sigs []string
	for _, r := range []string{"policy-owner", "security-officer", "custodian"} {
		members = append(members, fmt.Sprintf(`{"role": %q, "key_id": %q}`, r, hex64))
		sigs = append(sigs, fmt.Sprintf(`{"role": %q, "key_id": %q, "sig": %q}`, r, hex64, sig))
	}
	src := fmt.Sprintf(`{"type": "proposal", "id": "20260301-pq-rollout-phase-2-3f9a2c", "author": "alice@example.com",
		"scope": "global", "rationale": %q, "changeset": [%s], "risk": "medium: clients must send composite signatures",
		"rollback": "set every tenant back to hybrid_or (takes effect within 60 s)", "quorum": {"class": "sensitive", "required": 2},
		"signer_set": {"version": 7, "digest": "sha256:%s", "threshold": 2, "members": [%s], "rotated_at": "2026-01-01T00:00:00Z"},
		"signatures": [%s], "created_at": "2026-03-01T09:00:00Z", "expires_at": "2026-03-02T09:00:00Z",
		"attachments": [{"name": "pq-rollout-phase2.md", "digest": "sha256:%s"}]}`,
		strings.Repeat("Phase 2 of the post-quantum rollout moves every tenant to hybrid_and. ", 12),
		strings.Join(ops, ", "), hex64, strings.Join(members, ", "), strings.Join(sigs, ", "), hex64)
	v, err := ParseStrict([]byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	ff, err := FileForm(v)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ff) < 3500 || len(ff) > 5000 {
		tb.Fatalf("object is %d bytes, want about 4 KiB", len(ff))
	}
	return ff
}

// BenchmarkCanonicalDigest measures DigestBytes (strict parse, JCS, SHA-256)
// of a 4 KiB file (MB/s) and, interleaved in the same run, a bare SHA-256 of
// the same bytes; x-sha256 is the ratio of their medians (a preempted
// iteration on a shared machine moves a median little).
func BenchmarkCanonicalDigest(b *testing.B) {
	data := proposal4K(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	bare := make([]time.Duration, 0, b.N)
	full := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sha256.Sum256(data)
		t1 := time.Now()
		if _, err := DigestBytes(data); err != nil {
			b.Fatal(err)
		}
		full = append(full, time.Since(t1))
		bare = append(bare, t1.Sub(t0))
	}
	med := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Nanoseconds())
	}
	mf := med(full)
	b.ReportMetric(mf/med(bare), "x-sha256")
	b.ReportMetric(float64(len(data))/mf*1e3, "MB/s-median")
}

// BenchmarkCanonical measures only the JCS encoding of a parsed value.
func BenchmarkCanonical(b *testing.B) {
	data := proposal4K(b)
	v, err := ParseStrict(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Canonical(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseStrict measures the strict decoder alone.
func BenchmarkParseStrict(b *testing.B) {
	data := proposal4K(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStrict(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchProposal has the fields of proposal4K, for BenchmarkUnmarshal.
type benchProposal struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Author    string `json:"author"`
	Scope     string `json:"scope"`
	Rationale string `json:"rationale"`
	Changeset []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value string `json:"value"`
	} `json:"changeset"`
	Risk     string `json:"risk"`
	Rollback string `json:"rollback"`
	Quorum   struct {
		Class    string `json:"class"`
		Required int    `json:"required"`
	} `json:"quorum"`
	SignerSet struct {
		Version   int    `json:"version"`
		Digest    string `json:"digest"`
		Threshold int    `json:"threshold"`
		Members   []struct {
			Role  string `json:"role"`
			KeyID string `json:"key_id"`
		} `json:"members"`
		RotatedAt string `json:"rotated_at"`
	} `json:"signer_set"`
	Signatures []struct {
		Role  string `json:"role"`
		KeyID string `json:"key_id"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
	CreatedAt   string `json:"created_at"`
	ExpiresAt   string `json:"expires_at"`
	Attachments []struct {
		Name   string `json:"name"`
		Digest string `json:"digest"`
	} `json:"attachments"`
}

// BenchmarkUnmarshal measures Unmarshal (strict parse, planned decode,
// round-trip check) of the 4 KiB proposal into its Go type, and
// reports it against a plain encoding/json Unmarshal of the same bytes
// measured in the same run ("x-json").
func BenchmarkUnmarshal(b *testing.B) {
	data := proposal4K(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var tj, tu time.Duration
	for b.Loop() {
		t0 := time.Now()
		var q benchProposal
		if err := json.Unmarshal(data, &q); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var p benchProposal
		if err := Unmarshal(data, &p); err != nil {
			b.Fatal(err)
		}
		tu += time.Since(t1)
		tj += t1.Sub(t0)
	}
	b.ReportMetric(float64(tu)/float64(tj), "x-json")
}

// BenchmarkDocument measures what a verifier does with each governance
// file: parse it, check its file form and digest it. "found" is the
// Document's way (the parser finds the file form, the digest hashes the
// bytes less their whitespace); "encoded" is the reference it replaced,
// measured in the same run: encode the tree twice, to compare and to hash.
func BenchmarkDocument(b *testing.B) {
	data := proposal4K(b)
	for _, mode := range []string{"found", "encoded"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := ParseDocument(data)
				if err != nil {
					b.Fatal(err)
				}
				if mode == "encoded" {
					d.form = false
				}
				if err := d.CheckFileForm(); err != nil {
					b.Fatal(err)
				}
				if _, err := d.Digest(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
