package schemas

import (
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/govtool/canon"
)

// TestAuditRecordContract: a record as appliance/audit writes it (the
// fields its log sets, the rest as the engine fills them, absent ones
// empty) is valid against audit_record.schema.json, and a rejected one
// must carry its reason. If this fails, the record type and the schema
// have drifted apart: change both together.
func TestAuditRecordContract(t *testing.T) {
	now := time.Date(2026, 3, 1, 11, 0, 0, 125_000_000, time.UTC)
	base := audit.Record{
		Type: "audit_record", Index: 0, Prev: "0000000000000000000000000000000000000000000000000000000000000000",
		Time: now.Format(time.RFC3339Nano), ApplianceID: "hsm-eu-1",
		PolicyVersion: 2, GovernanceCommit: "2f3e4d5c6b7a8998a7b6c5d4e3f2a1b0c9d8e7f6",
	}
	ok := base
	ok.Event, ok.Outcome = "sign", audit.OutcomeOK
	ok.Tenant, ok.Key, ok.KeyVersion, ok.Alg = "acme", "acme/payments-2026/v3", 3, "ed25519"
	ok.Digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	rejected := base
	rejected.Event, rejected.Outcome, rejected.Reason = "request", audit.OutcomeRejected, "malformed"
	sync := base
	sync.Event, sync.Outcome, sync.GovernanceCommit, sync.PolicyVersion = "sync", audit.OutcomeError, "", 0
	sync.Reason, sync.Detail = "unavailable", "fetch failed"
	for name, r := range map[string]audit.Record{"ok": ok, "rejected": rejected, "sync error": sync} {
		body, err := canon.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate("audit_record", body); err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
		}
	}
	noReason := rejected
	noReason.Reason = ""
	body, _ := canon.Marshal(noReason)
	if err := Validate("audit_record", body); err == nil {
		t.Error("rejected record without a reason is valid")
	}
}
