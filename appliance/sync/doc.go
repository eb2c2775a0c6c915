// Package sync keeps an appliance's policy in step with its governance
// repository: pull, verify, apply (DESIGN §3 "Sync").
//
// The appliance trusts neither CI nor the Git server. A Syncer fetches the
// configured branch into a bare local clone, verifies the commits it has not
// verified yet with the one verifier (govtool/history feeding
// govtool/verify, from the pinned root), and hands the verified state to
// Options.OnVerified — the engine — only when the whole batch verifies and
// the engine accepts it. Anything less leaves the last verified state in
// force.
//
// # What is applied
//
// OnVerified receives a Verified: the verifier's State and, for the engine's
// key-age rule, when each key version was created (KeyIssued, rebuilt from
// the history). Once it accepts, the commit is recorded on disk, the
// metrics kms_policy_version, kms_proposals, kms_sync_total{outcome="ok"}
// and kms_last_verified_sync_timestamp_seconds are updated, and an audit
// record (event "policy_applied": policy version, commit, policy digest,
// number of commits verified, previous commit) is written.
//
// # What is refused
//
// A head is refused, with a Reason, a log line, the metrics
// kms_sync_total{outcome="refused"} and kms_policy_rejects_total{reason},
// and an audit record (event "policy_refused"), when:
//
//   - its first-parent history does not contain the last verified commit — the
//     branch was force-pushed or rolled back (ReasonNotDescendant);
//   - a commit between the last verified one and the head fails verification
//     (ReasonGovernanceInvalid; the verifier's reason is in the detail);
//   - its policy version is lower than the one this appliance enforced, even
//     across a restart (ReasonPolicyRollback);
//   - OnVerified refuses it (ReasonApplyRefused).
//
// The same refusal repeated on every pull is logged and counted in
// kms_sync_total each time, but audited and counted as a reject once per
// refused head.
//
// # On disk
//
// Under Config.Dir a Syncer keeps:
//
//	clone-<hash>.git   bare clone of the governance URL and branch (hash of both,
//	                   so a URL that embeds credentials is never a file name)
//	last-verified.json the last commit verified and applied: commit, policy
//	                   version and digest, root digest; written with fsync and
//	                   rename, so it is either the old or the new record
//
// Nothing of the repository's content is ever written as a file: the clone
// is bare. On start the Syncer re-verifies from the pinned root up to the
// recorded commit (cheap, and it does not trust its own cache) and refuses
// a remote head whose history does not contain that commit, before it
// verifies anything. If the head is refused but the recorded commit still
// verifies from the local clone, that state is applied: a restart never
// unloads the last verified policy because the remote was rewritten.
//
// To follow a different governance history on purpose (a new root, a
// migrated repository), stop the appliance and remove last-verified.json;
// a Syncer never forgets it by itself. A changed root digest in the
// configuration is refused until then.
//
// The verified commit is not kept alive by a ref in the clone once the
// remote moves away from it; go-git never prunes objects, but running
// `git gc` in the clone may. Then a rewritten remote leaves the appliance
// not ready after a restart, which is the safe side.
//
// # Triggers
//
// Run pulls on an interval (with up to 10 % jitter, so that many
// appliances do not pull in step) and whenever Trigger is called — the
// webhook path (POST /v1/sync). Triggers coalesce: any number arriving
// during a sync cause exactly one more.
package sync
