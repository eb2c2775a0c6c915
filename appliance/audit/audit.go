// Package audit is the appliance's one audit interface (K-G5): every
// sign/verify/wrap/unwrap outcome, every mint and revocation, every policy
// applied or refused becomes a Record before the response it describes is
// released.
//
// Records carry metadata only — digests, ids, outcome, reason, time, the
// policy version and governance commit in force — never key material or
// plaintext. Each record names the hash of the one before it, and records
// are the leaves of an RFC 6962 Merkle tree (golang.org/x/mod/sumdb/tlog),
// so any later change to the log is detectable from its tree head.
package audit

import (
	"context"
	"time"
)

// Outcome of an audited event.
const (
	OutcomeOK       = "ok"
	OutcomeRejected = "rejected"
	OutcomeError    = "error"
)

// Record is one audit entry. Index, Prev and Time are set by the log.
type Record struct {
	Type             string `json:"type"` // always "audit_record"
	Index            int64  `json:"index"`
	Prev             string `json:"prev"` // leaf hash of record Index-1, hex; zeros for the first
	Time             string `json:"time"`
	ApplianceID      string `json:"appliance_id"`
	Event            string `json:"event"`
	Outcome          string `json:"outcome"`
	Reason           string `json:"reason"`
	RequestID        string `json:"request_id"`
	Tenant           string `json:"tenant"`
	Key              string `json:"key"` // the key version's label "tenant/name/vN" (defs.json key_name), not the name alone; empty if none
	KeyVersion       int    `json:"key_version"`
	Alg              string `json:"alg"`
	CapabilityID     string `json:"capability_id"`
	Digest           string `json:"digest"` // sha256 of the message or payload, never the payload
	PolicyVersion    int    `json:"policy_version"`
	GovernanceCommit string `json:"governance_commit"`
	Detail           string `json:"detail"`
}

// Receipt tells a client where its record sits in the log.
type Receipt struct {
	Index    int64  `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

// Logger is where the appliance sends every decision.
//
// Append returns only once the record is durable (written and fsynced); an
// error means it is not, and the caller must fail the request it describes
// (fail closed). Implementations are safe for concurrent use.
type Logger interface {
	Append(ctx context.Context, r Record) (Receipt, error)
}

// Clock is the time source of a log.
type Clock func() time.Time
