package sync

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Reason is why a governance head was refused. The list is closed (see
// Reasons); it is the reason label of kms_policy_rejects_total and the
// reason of the "policy_refused" audit record.
type Reason string

const (
	// ReasonNotDescendant: the head's first-parent history does not contain
	// the last verified commit (force-push, rollback, or a different
	// repository behind the same URL).
	ReasonNotDescendant Reason = "not_descendant"
	// ReasonPolicyRollback: the head's policy version is lower than the
	// version this appliance enforced.
	ReasonPolicyRollback Reason = "policy_rollback"
	// ReasonGovernanceInvalid: a commit failed verification; the detail
	// names the verifier's reason (verify.Reason), commit and path.
	ReasonGovernanceInvalid Reason = "governance_invalid"
	// ReasonApplyRefused: the verified state was refused by OnVerified
	// (the engine).
	ReasonApplyRefused Reason = "apply_refused"
)

// Reasons returns the closed list of refusal reasons. The caller owns the
// slice.
func Reasons() []Reason {
	return []Reason{ReasonNotDescendant, ReasonPolicyRollback, ReasonGovernanceInvalid, ReasonApplyRefused}
}

// RefusedError is returned by SyncOnce when a head was refused. The state
// in force, if any, is unchanged.
type RefusedError struct {
	Reason Reason
	// Head is the remote commit that was refused.
	Head string
	// Detail is machine-readable: space-separated key=value pairs, the
	// same text as the audit record's detail.
	Detail string
	// Msg says what happened and what to do, for a person.
	Msg string
	// Err is the underlying error (*gitrepo.NotDescendantError,
	// *verify.Error, the OnVerified error), if any.
	Err error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("sync: refused governance head %s: %s: %s", short(e.Head), e.Reason, e.Msg)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// NotReadyError is returned by SyncOnce when no verified policy could be
// loaded for a reason that is not a refusal: the repository is empty, the
// branch does not exist or holds no governance genesis yet.
type NotReadyError struct {
	Msg string
	Err error
}

func (e *NotReadyError) Error() string { return "sync: not ready: " + e.Msg }

func (e *NotReadyError) Unwrap() error { return e.Err }

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// RedactURL returns raw with any password or token in it replaced by
// "xxxxx", for logs, errors and printed configuration.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Unparseable: hide whatever precedes an '@'.
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			scheme, _, ok := strings.Cut(raw[:at], "://")
			if ok {
				return scheme + "://xxxxx" + raw[at:]
			}
			return "xxxxx" + raw[at:]
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	// A user name alone may be a token (https://TOKEN@host/…).
	u.User = url.User("xxxxx")
	return u.String()
}

// redacted is an error whose message had a secret-bearing URL replaced.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redactErr replaces raw (a URL that may carry credentials) in err's
// message by its redacted form, keeping err in the chain for errors.Is/As.
func redactErr(err error, raw string) error {
	if err == nil {
		return nil
	}
	safe := RedactURL(raw)
	if safe == raw || !strings.Contains(err.Error(), raw) {
		return err
	}
	var re *redacted
	if errors.As(err, &re) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), raw, safe), err: err}
}
