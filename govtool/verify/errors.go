package verify

import (
	"fmt"
)

// Reason is why verification rejected a commit. The list is closed (see
// Reasons); it is the label an appliance exports and the key a CLI or a test
// branches on.
type Reason string

const (
	// ReasonMalformed: input that is not strict I-JSON, a commit without a
	// hash, a governance path of the wrong shape, a change listed twice.
	ReasonMalformed Reason = "malformed"
	// ReasonNotFileForm: a governance file not in canonical file form.
	ReasonNotFileForm Reason = "not_file_form"
	// ReasonSchema: an object that breaks its JSON Schema or its own rules.
	ReasonSchema Reason = "schema"
	// ReasonDigest: a digest that does not name the object it claims to.
	ReasonDigest Reason = "digest"
	// ReasonBadSignature: a signature entry that does not verify (e.g. the
	// object changed after it was signed) or claims the wrong role.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonUnknownSigner: a signature by a key not in the signer set.
	ReasonUnknownSigner Reason = "unknown_signer"
	// ReasonThreshold: not enough distinct authorised keys signed.
	ReasonThreshold Reason = "threshold"
	// ReasonClass: an unclassifiable change (denied, K-G8) or a declared
	// quorum that differs from the computed one.
	ReasonClass Reason = "class"
	// ReasonParamBounds: a change declared "parameter" that moves a
	// parameter beyond ±20 % of its baseline.
	ReasonParamBounds Reason = "param_bounds"
	// ReasonExpired: a proposal executed (or, for new commits, signed)
	// after its expires_at.
	ReasonExpired Reason = "expired"
	// ReasonSignerSetChain: a signer set that does not follow the previous
	// one, a rewritten signer set, or a rotation not matched by policy.
	ReasonSignerSetChain Reason = "signer_set_chain"
	// ReasonSignerSetMismatch: a proposal executed under another signer set
	// than the one it was written for (re-create it against the set in force).
	ReasonSignerSetMismatch Reason = "signer_set_mismatch"
	// ReasonSignerSetExpired: the signer set in force was past expires_at.
	ReasonSignerSetExpired Reason = "signer_set_expired"
	// ReasonReplayMismatch: policy/policy.json differs from the replay of
	// its proposal on the previous policy, or the changeset does not apply.
	ReasonReplayMismatch Reason = "replay_mismatch"
	// ReasonPolicyVersion: a policy version that is not previous + 1.
	ReasonPolicyVersion Reason = "policy_version"
	// ReasonUnexplainedChange: a change to policy/, signer-sets/ or
	// appliances/ that no executed proposal explains.
	ReasonUnexplainedChange Reason = "unexplained_change"
	// ReasonExecutedChanged: an executed proposal changed or removed.
	ReasonExecutedChanged Reason = "executed_changed"
	// ReasonAlreadyExecuted: a proposal executed a second time.
	ReasonAlreadyExecuted Reason = "already_executed"
	// ReasonPinnedRoot: signer set version 1 is not the pinned root.
	ReasonPinnedRoot Reason = "pinned_root"
	// ReasonNotFastForward: a commit that does not descend (first parent)
	// from the last verified one.
	ReasonNotFastForward Reason = "not_fast_forward"
	// ReasonClock: times that disagree: a commit and its executed_at more
	// than the skew apart, an execution before creation, before the previous
	// execution, or in the future.
	ReasonClock Reason = "clock"
	// ReasonRotationOverdue: a micronode whose secondary signer was not
	// rotated within a week.
	ReasonRotationOverdue Reason = "rotation_overdue"
	// ReasonApplianceMismatch: appliances/<id>.json that does not equal
	// the policy's entry for <id>.
	ReasonApplianceMismatch Reason = "appliance_mismatch"
)

// Reasons is the closed list of reasons.
var Reasons = []Reason{
	ReasonMalformed, ReasonNotFileForm, ReasonSchema, ReasonDigest, ReasonBadSignature,
	ReasonUnknownSigner, ReasonThreshold, ReasonClass, ReasonParamBounds, ReasonExpired,
	ReasonSignerSetChain, ReasonSignerSetMismatch, ReasonSignerSetExpired, ReasonReplayMismatch,
	ReasonPolicyVersion, ReasonUnexplainedChange, ReasonExecutedChanged, ReasonAlreadyExecuted,
	ReasonPinnedRoot, ReasonNotFastForward, ReasonClock, ReasonRotationOverdue, ReasonApplianceMismatch,
}

// Error is a rejected commit: why (Reason), where (the governance Path,
// "" for the commit as a whole), in which Commit, and what to do (Msg).
// Err is the underlying error, if any.
type Error struct {
	Reason Reason
	Path   string
	Commit string
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	c := e.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	s := fmt.Sprintf("verify: commit %s", c)
	if e.Path != "" {
		s += ": " + e.Path
	}
	s += ": " + string(e.Reason) + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }
