package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// checkFile applies the rules every governance file shares: strict I-JSON
// in file form, then the JSON Schema of its kind ("" when the parser that
// follows checks the schema itself: proposal, policy, enrollment).
func (t *txn) checkFile(path, kind string, data []byte) error {
	_, err := t.checkFileDoc(path, kind, data)
	return err
}

// checkFileDoc is checkFile returning the parsed document, so that the
// steps that follow (decoding, schema, digest) do not parse it again.
func (t *txn) checkFileDoc(path, kind string, data []byte) (*canon.Document, error) {
	doc, err := canon.ParseDocument(data)
	if err != nil {
		return nil, t.fail(ReasonMalformed, path, err, "not strict I-JSON")
	}
	if err := doc.CheckFileForm(); err != nil {
		var ce *canon.Error
		if errors.As(err, &ce) && ce.Reason == canon.ReasonNotFileForm {
			return nil, t.fail(ReasonNotFileForm, path, err, "rewrite the file with govtool fmt")
		}
		return nil, t.fail(ReasonMalformed, path, err, "not strict I-JSON")
	}
	if kind != "" {
		if err := schemas.ValidateDocument(kind, doc); err != nil {
			return nil, t.fail(ReasonSchema, path, err, "does not satisfy the %s schema", kind)
		}
	}
	return doc, nil
}

// checkEntries requires every signature entry of an object to verify
// against set (a key unknown to set is unknown_signer, anything else that
// fails is bad_signature). Duplicates and non-quorum roles are not errors:
// the tally counts each key once and only quorum roles.
func (t *txn) checkEntries(path string, tl *quorum.Tally, setVersion int) error {
	for _, r := range tl.Rejected {
		switch r.Reason {
		case envelope.ReasonDuplicate, envelope.ReasonNotQuorum:
			continue
		case envelope.ReasonUnknownKey:
			return t.fail(ReasonUnknownSigner, path, r, "key %s is not in signer set version %d", short(r.Entry.KeyID), setVersion)
		default:
			return t.fail(ReasonBadSignature, path, r, "a signature does not verify against signer set version %d (was the object changed after it was signed?)", setVersion)
		}
	}
	return nil
}

func (t *txn) parseSignerSet(ch Change) (*quorum.SignerSet, string, error) {
	doc, err := t.checkFileDoc(ch.Path, quorum.TypeSignerSet, ch.After)
	if err != nil {
		return nil, "", err
	}
	s, err := quorum.ParseDocument(doc)
	if err != nil {
		return nil, "", t.fail(ReasonSchema, ch.Path, err, "invalid signer set")
	}
	if ch.Path != SignerSetPath(s.Version) {
		return nil, "", t.fail(ReasonSignerSetChain, ch.Path, nil, "holds version %d; its path must be %s", s.Version, SignerSetPath(s.Version))
	}
	// ParseDocument checked that the bytes round-trip as s, so the
	// document's digest is s's.
	d, err := doc.Digest()
	if err != nil {
		return nil, "", t.fail(ReasonMalformed, ch.Path, err, "cannot digest")
	}
	return s, d, nil
}

func (t *txn) checkProfileSet(path, profile string, s *quorum.SignerSet) error {
	if profile == policy.ProfileProduction && s.Threshold < 2 {
		return t.fail(ReasonThreshold, path, nil, "a production signer set needs a threshold of 2 or more (got %d): no single party may govern", s.Threshold)
	}
	return nil
}

// genesis verifies the first commit that touches governance paths.
func (t *txn) genesis(gov []Change) error {
	var setCh, polCh *Change
	for i := range gov {
		ch := &gov[i]
		switch {
		case ch.Path == SignerSetPath(1) && !ch.deleted():
			setCh = ch
		case ch.Path == PolicyPath && !ch.deleted():
			polCh = ch
		default:
			return t.fail(ReasonUnexplainedChange, ch.Path, nil, "the genesis commit adds only %s and %s", SignerSetPath(1), PolicyPath)
		}
	}
	if setCh == nil || polCh == nil {
		return t.fail(ReasonUnexplainedChange, "", nil, "the first governance commit must add both %s and %s (govtool init)", SignerSetPath(1), PolicyPath)
	}
	set, setD, err := t.parseSignerSet(*setCh)
	if err != nil {
		return err
	}
	if set.Version != 1 {
		return t.fail(ReasonSignerSetChain, setCh.Path, nil, "the root is version 1")
	}
	if setD != t.v.pin {
		return t.fail(ReasonPinnedRoot, setCh.Path, nil, "digest %s is not the pinned root %s", setD, t.v.pin)
	}
	tl := set.Tally(quorum.TypeSignerSet, setD, set.Signatures)
	if err := t.checkEntries(setCh.Path, tl, 1); err != nil {
		return err
	}
	if err := tl.Err(); err != nil {
		return t.fail(ReasonThreshold, setCh.Path, err, "signer set version 1 must be signed by a threshold of its members")
	}
	if set.Expired(t.c.Time) {
		return t.fail(ReasonSignerSetExpired, setCh.Path, quorum.ErrExpired, "expired at %s, before the genesis commit", set.ExpiresAt)
	}
	if rot, _ := quorum.ParseTime(set.RotatedAt); rot.After(t.c.Time.Add(t.v.opts.Skew)) {
		return t.fail(ReasonClock, setCh.Path, nil, "rotated_at %s is after the commit time %s", set.RotatedAt, quorum.FormatTime(t.c.Time))
	}
	if err := t.checkFile(polCh.Path, "", polCh.After); err != nil {
		return err
	}
	pol, err := policy.Parse(polCh.After)
	if err != nil {
		return t.fail(ReasonSchema, polCh.Path, err, "invalid policy")
	}
	if pol.Version != 1 {
		return t.fail(ReasonPolicyVersion, polCh.Path, nil, "the genesis policy is version 1, not %d", pol.Version)
	}
	if pol.SignerSet != (policy.SignerSetRef{Version: 1, Digest: setD}) {
		return t.fail(ReasonSignerSetChain, polCh.Path, nil, "signer_set must name version 1 with digest %s", setD)
	}
	if err := t.checkProfileSet(setCh.Path, pol.Profile, set); err != nil {
		return err
	}
	polD, err := pol.Digest()
	if err != nil {
		return t.fail(ReasonMalformed, polCh.Path, err, "cannot digest")
	}
	ptl := set.Tally(policy.Type, polD, pol.Signatures)
	if err := t.checkEntries(polCh.Path, ptl, 1); err != nil {
		return err
	}
	if err := ptl.Err(); err != nil {
		return t.fail(ReasonThreshold, polCh.Path, err, "policy version 1 must be signed by a threshold of signer set version 1")
	}
	t.newSet, t.newSetD = set, setD
	t.pol, t.polD = pol, polD
	t.rep.Genesis = true
	t.rep.Rotated = 1
	return t.checkRotationDue(pol, set)
}

// checkRotationDue enforces the micronode's weekly rotation at the commit's time.
func (t *txn) checkRotationDue(pol *policy.Policy, set *quorum.SignerSet) error {
	if pol.Profile != policy.ProfileMicronode {
		return nil
	}
	rot, _ := quorum.ParseTime(set.RotatedAt)
	due := rot.Add(policy.MicronodeRotation)
	if t.c.Time.After(due.Add(t.v.opts.Skew)) {
		return t.fail(ReasonRotationOverdue, SignerSetPath(set.Version), nil,
			"a micronode rotates its secondary signer weekly; version %d was rotated at %s, due %s: execute a signer-set rotation first", set.Version, set.RotatedAt, quorum.FormatTime(due))
	}
	if t.c.Time.After(due.Add(-24 * time.Hour)) {
		t.rep.Warnings = append(t.rep.Warnings, fmt.Sprintf("micronode signer-set rotation due at %s", quorum.FormatTime(due)))
	}
	return nil
}

// update verifies a governance commit after genesis.
func (t *txn) update(gov []Change) error {
	st := t.v.st
	var polCh *Change
	var applCh []Change
	for i := range gov {
		ch := gov[i]
		switch {
		case ch.Path == PolicyPath:
			if ch.deleted() {
				return t.fail(ReasonUnexplainedChange, ch.Path, nil, "the policy is never deleted")
			}
			polCh = &gov[i]
		case signerSetPathRE.MatchString(ch.Path):
			if err := t.signerSetChange(ch); err != nil {
				return err
			}
		case strings.HasPrefix(ch.Path, ProposalDir):
			if err := t.proposalChange(ch); err != nil {
				return err
			}
		case len(ch.Path) > len(ApplianceDir) && strings.HasPrefix(ch.Path, ApplianceDir):
			applCh = append(applCh, ch)
		case disputePathRE.MatchString(ch.Path):
			if err := t.disputeChange(ch); err != nil {
				return err
			}
		default:
			return t.fail(ReasonUnexplainedChange, ch.Path, nil, "not a governance file this verifier knows; governance folders hold only their objects")
		}
	}
	if polCh != nil {
		if err := t.execute(*polCh); err != nil {
			return err
		}
	}
	if t.newSet != nil && t.pol == nil {
		return t.fail(ReasonUnexplainedChange, SignerSetPath(t.newSet.Version), nil, "a signer set is added only by the commit that executes its rotation proposal")
	}
	if err := t.appliances(applCh); err != nil {
		return err
	}
	pol := st.Policy
	if t.pol != nil {
		pol = t.pol
	}
	set, _ := st.SignerSet()
	if t.newSet != nil {
		set = t.newSet
	}
	return t.checkRotationDue(pol, set)
}

func (t *txn) signerSetChange(ch Change) error {
	st := t.v.st
	m := signerSetPathRE.FindStringSubmatch(ch.Path)
	n, _ := strconv.Atoi(m[1])
	if n <= len(st.SignerSets) {
		return t.fail(ReasonSignerSetChain, ch.Path, nil, "signer set version %d is never rewritten or removed", n)
	}
	if ch.deleted() {
		return t.fail(ReasonSignerSetChain, ch.Path, nil, "removes a file that does not exist")
	}
	if t.newSet != nil || n != len(st.SignerSets)+1 {
		return t.fail(ReasonSignerSetChain, ch.Path, nil, "the next signer set is version %d, one per commit", len(st.SignerSets)+1)
	}
	next, nextD, err := t.parseSignerSet(ch)
	if err != nil {
		return err
	}
	cur, curD := st.SignerSet()
	if err := t.checkProfileSet(ch.Path, st.Policy.Profile, next); err != nil {
		return err
	}
	// Every entry must verify under the old or the new set.
	tOld := cur.Tally(quorum.TypeSignerSet, nextD, next.Signatures)
	tNew := next.Tally(quorum.TypeSignerSet, nextD, next.Signatures)
	for _, e := range next.Signatures {
		if slices.Contains(tOld.Valid, e) || slices.Contains(tNew.Valid, e) {
			continue
		}
		_, inOld := cur.Member(e.KeyID)
		_, inNew := next.Member(e.KeyID)
		if !inOld && !inNew {
			return t.fail(ReasonUnknownSigner, ch.Path, nil, "key %s is in neither signer set %d nor %d", short(e.KeyID), cur.Version, next.Version)
		}
		return t.fail(ReasonBadSignature, ch.Path, nil, "the signature of key %s does not verify", short(e.KeyID))
	}
	rot, _ := quorum.ParseTime(next.RotatedAt)
	if cur.Expired(rot) || cur.Expired(t.c.Time.Add(-t.v.opts.Skew)) || (t.fresh && !t.v.opts.Now.IsZero() && cur.Expired(t.v.opts.Now)) {
		return t.fail(ReasonSignerSetExpired, ch.Path, quorum.ErrExpired,
			"signer set version %d expired at %s and signs nothing new; recover with a new root (re-pin)", cur.Version, cur.ExpiresAt)
	}
	if rot.After(t.c.Time.Add(t.v.opts.Skew)) {
		return t.fail(ReasonClock, ch.Path, nil, "rotated_at %s is after the commit time %s", next.RotatedAt, quorum.FormatTime(t.c.Time))
	}
	if err := quorum.VerifyNext(cur, curD, next); err != nil {
		var te *quorum.ThresholdError
		if errors.As(err, &te) {
			return t.fail(ReasonThreshold, ch.Path, err, "a rotation needs a threshold of the old set and of the new set")
		}
		return t.fail(ReasonSignerSetChain, ch.Path, err, "does not follow version %d", cur.Version)
	}
	t.newSet, t.newSetD = next, nextD
	t.rep.Rotated = next.Version
	return nil
}

func fileHash(b []byte) [sha256.Size]byte { return sha256.Sum256(b) }

func (t *txn) proposalChange(ch Change) error {
	st := t.v.st
	id, ok := proposal.IDFromPath(ch.Path)
	if !ok {
		return t.fail(ReasonMalformed, ch.Path, nil, "proposal files are proposals/<YYYYMMDD-slug-6hex>.json")
	}
	old := st.Proposals[id]
	if old != nil && old.Status == StatusExecuted {
		return t.fail(ReasonExecutedChanged, ch.Path, nil, "proposal %s was executed in %s; executed proposals are never changed or removed", id, short(old.ExecutedIn))
	}
	if ch.deleted() {
		if old == nil {
			return t.fail(ReasonMalformed, ch.Path, nil, "deletes a proposal that does not exist")
		}
		t.props[id] = nil
		t.rep.Proposals = append(t.rep.Proposals, ProposalStatus{ID: id, Problem: "withdrawn"})
		return nil
	}
	doc, err := t.checkFileDoc(ch.Path, "", ch.After)
	if err != nil {
		return err
	}
	p, err := proposal.ParseDocument(doc)
	if err != nil {
		return t.fail(ReasonSchema, ch.Path, err, "invalid proposal")
	}
	if p.ID != id {
		return t.fail(ReasonSchema, ch.Path, nil, "id %q does not match the file name", p.ID)
	}
	// ParseDocument checked that the bytes round-trip as p, so the
	// document's digest is p's.
	d, err := doc.Digest()
	if err != nil {
		return t.fail(ReasonMalformed, ch.Path, err, "cannot digest")
	}
	ref := p.SignerSet
	if ref.Version < 1 || ref.Version > len(st.SignerSets) {
		return t.fail(ReasonSignerSetMismatch, ch.Path, nil, "names signer set version %d, which does not exist (in force: %d)", ref.Version, len(st.SignerSets))
	}
	set, setD := st.SignerSets[ref.Version-1], st.SignerSetDigests[ref.Version-1]
	if !ref.Names(set, setD) {
		return t.fail(ReasonSignerSetMismatch, ch.Path, nil, "signer_set does not match signer set version %d (digest, threshold, members or rotated_at)", ref.Version)
	}
	tl := set.Tally(proposal.Type, d, p.Signatures)
	if err := t.checkEntries(ch.Path, tl, ref.Version); err != nil {
		return err
	}
	if t.fresh && !t.v.opts.Now.IsZero() && p.Expired(t.v.opts.Now) && !t.v.opts.AllowExpiredUnsafe {
		return t.fail(ReasonExpired, ch.Path, nil, "expired at %s; a new commit may not add or sign it (write a new proposal)", p.ExpiresAt)
	}
	ps := &ProposalState{ID: id, Path: ch.Path, Proposal: p, Digest: d, FileHash: fileHash(ch.After),
		Status: StatusOpen, AddedIn: t.c.Hash, Tally: tl}
	t.props[id] = ps
	t.rep.Proposals = append(t.rep.Proposals, t.v.status(ps, st.Policy, t.c.Time, false))
	return nil
}

// header is what execute reads of a policy before the replay.
type header struct {
	Version int             `json:"version"`
	Applied *policy.Applied `json:"applied"`
}

// execute verifies a change of policy/policy.json: the execution of one
// proposal. The file must equal the replay byte for byte; only when it does
// not is it parsed in full, to say why.
func (t *txn) execute(ch Change) error {
	st := t.v.st
	prev := st.Policy
	var hdr header
	if err := json.Unmarshal(ch.After, &hdr); err != nil || hdr.Applied == nil {
		return t.diagnose(ch, nil, prev.Version)
	}
	if hdr.Version != prev.Version+1 {
		if err := t.diagnoseFile(ch); err != nil {
			return err
		}
		return t.fail(ReasonPolicyVersion, ch.Path, nil, "version %d follows %d; versions grow by exactly one", hdr.Version, prev.Version)
	}
	id := hdr.Applied.Proposal
	ps := t.proposal(id)
	if ps == nil {
		return t.fail(ReasonUnexplainedChange, ch.Path, nil, "applied proposal %q is not in %s", id, ProposalDir)
	}
	if ps.Status == StatusExecuted {
		return t.fail(ReasonAlreadyExecuted, ch.Path, nil, "proposal %s was executed in %s (policy version %d)", id, short(ps.ExecutedIn), ps.PolicyVersion)
	}
	if hdr.Applied.Digest != ps.Digest {
		return t.fail(ReasonDigest, ch.Path, nil, "applied.digest %s is not the digest of proposal %s (%s)", hdr.Applied.Digest, id, ps.Digest)
	}
	p := ps.Proposal
	executedAt, err := quorum.ParseTime(hdr.Applied.ExecutedAt)
	if err != nil {
		return t.diagnose(ch, nil, prev.Version)
	}
	skew := t.v.opts.Skew
	// The commit that lands an execution may come any time after it was
	// written — a pull request waits for review, and a merge commit carries
	// the merge time — but never before it. Landing it after the proposal
	// expired is refused below.
	if t.c.Time.Before(executedAt.Add(-skew)) {
		return t.fail(ReasonClock, ch.Path, nil, "executed_at %s is later than the commit that records it (%s) by more than %s", hdr.Applied.ExecutedAt, quorum.FormatTime(t.c.Time), skew)
	}
	if now := t.v.opts.Now; !now.IsZero() && (executedAt.After(now.Add(skew)) || t.c.Time.After(now.Add(skew))) {
		return t.fail(ReasonClock, ch.Path, nil, "executed in the future (%s; now %s)", hdr.Applied.ExecutedAt, quorum.FormatTime(now))
	}
	if created, _ := quorum.ParseTime(p.CreatedAt); executedAt.Before(created) {
		return t.fail(ReasonClock, ch.Path, nil, "executed at %s, before the proposal was created (%s)", hdr.Applied.ExecutedAt, p.CreatedAt)
	}
	if prev.Applied != nil {
		if last, _ := quorum.ParseTime(prev.Applied.ExecutedAt); executedAt.Before(last) {
			return t.fail(ReasonClock, ch.Path, nil, "executed at %s, before the previous execution (%s)", hdr.Applied.ExecutedAt, prev.Applied.ExecutedAt)
		}
	}
	if !t.v.opts.AllowExpiredUnsafe {
		exp, _ := quorum.ParseTime(p.ExpiresAt)
		if executedAt.After(exp) || t.c.Time.After(exp.Add(skew)) {
			return t.fail(ReasonExpired, ps.Path, nil, "proposal %s expired at %s and was executed at %s; write a new proposal", id, p.ExpiresAt, hdr.Applied.ExecutedAt)
		}
		if t.fresh && !t.v.opts.Now.IsZero() && t.v.opts.Now.After(exp.Add(skew)) {
			return t.fail(ReasonExpired, ps.Path, nil, "proposal %s expired at %s (now %s); write a new proposal", id, p.ExpiresAt, quorum.FormatTime(t.v.opts.Now))
		}
	}
	set, setD := st.SignerSet()
	if !p.SignerSet.Names(set, setD) {
		return t.fail(ReasonSignerSetMismatch, ps.Path, nil, "proposal %s was written for signer set version %d; version %d is in force: re-create it", id, p.SignerSet.Version, set.Version)
	}
	if set.Expired(executedAt) || set.Expired(t.c.Time.Add(-skew)) || (t.fresh && !t.v.opts.Now.IsZero() && set.Expired(t.v.opts.Now)) {
		return t.fail(ReasonSignerSetExpired, ps.Path, quorum.ErrExpired, "signer set version %d expired at %s and approves nothing new", set.Version, set.ExpiresAt)
	}
	class, req, err := proposal.Classify(prev, p)
	if err != nil {
		return t.fail(ReasonClass, ps.Path, err, "the changeset cannot be classified and is denied (K-G8)")
	}
	if p.Quorum.Class != class || p.Quorum.Required != req.Required(set) {
		if p.Quorum.Class == policy.Parameter && len(req.OutOfBounds) > 0 {
			return t.fail(ReasonParamBounds, ps.Path, nil, "%v move beyond ±%d%% of the baseline: a threshold proposal (class sensitive, required %d)", req.OutOfBounds, policy.BoundPercent, set.Threshold)
		}
		return t.fail(ReasonClass, ps.Path, nil, "declares quorum %s/%d; the changeset is %s and needs %d", p.Quorum.Class, p.Quorum.Required, class, req.Required(set))
	}
	// ps.Tally was computed against p.SignerSet, which is the set in force.
	if err := req.CheckTally(ps.Tally); err != nil {
		return t.fail(ReasonThreshold, ps.Path, err, "proposal %s is not approved", id)
	}
	want, err := policy.Replay(prev, st.PolicyDigest, p.Changeset,
		policy.Applied{Proposal: id, Digest: ps.Digest, ExecutedAt: hdr.Applied.ExecutedAt})
	if err != nil {
		if se := (*schemas.Error)(nil); errors.As(err, &se) {
			return t.fail(ReasonSchema, ch.Path, err, "executing proposal %s makes a policy that does not satisfy the policy schema", id)
		}
		return t.fail(ReasonReplayMismatch, ch.Path, err, "proposal %s does not apply to policy version %d", id, prev.Version)
	}
	if !bytes.Equal(want.File, ch.After) {
		return t.diagnose(ch, want.File, prev.Version)
	}
	// Equal bytes: ch.After is the replay. Its form, strictness and schema
	// are not checked again here, because they hold for want.File:
	//   - want.File is canon.FileForm of the replayed tree, so it is strict
	//     I-JSON in file form;
	//   - Replay validated that tree against the policy schema (and
	//     Policy.Validate), and a file form parses back to the same JSON
	//     value (canon's FuzzDecode), so want.File satisfies the schema;
	//   - ch.After is the same bytes, hence the same value.
	// This relies on the byte comparison just above; anything that accepts
	// a policy file without it must validate the file itself (diagnose
	// does, through policy.Parse).
	next := want.Policy
	// A rotation adds exactly the signer set the policy now names.
	if next.SignerSet != prev.SignerSet {
		if t.newSet == nil || next.SignerSet != (policy.SignerSetRef{Version: t.newSet.Version, Digest: t.newSetD}) {
			return t.fail(ReasonSignerSetChain, ch.Path, nil, "signer_set names version %d (%s); the commit must add %s with that digest", next.SignerSet.Version, next.SignerSet.Digest, SignerSetPath(next.SignerSet.Version))
		}
	} else if t.newSet != nil {
		return t.fail(ReasonUnexplainedChange, SignerSetPath(t.newSet.Version), nil, "the executed proposal does not set /signer_set to it")
	}
	done := *ps
	done.Status, done.ExecutedIn, done.ExecutedAt, done.PolicyVersion = StatusExecuted, t.c.Hash, executedAt, next.Version
	t.props[id] = &done
	t.pol, t.polD = next, want.Digest
	t.rep.Executed = id
	return nil
}

// diagnoseFile reports a policy file that is not in file form, not strict
// I-JSON or not a valid policy.
func (t *txn) diagnoseFile(ch Change) error {
	if err := t.checkFile(ch.Path, "", ch.After); err != nil {
		return err
	}
	if _, err := policy.Parse(ch.After); err != nil {
		return t.fail(ReasonSchema, ch.Path, err, "invalid policy")
	}
	return nil
}

// diagnose says why a policy file is not the replay of its proposal.
func (t *txn) diagnose(ch Change, want []byte, prevVersion int) error {
	if err := t.diagnoseFile(ch); err != nil {
		return err
	}
	if want == nil {
		return t.fail(ReasonUnexplainedChange, ch.Path, nil, "names no applied proposal")
	}
	return t.fail(ReasonReplayMismatch, ch.Path, nil, "differs from the replay of its proposal on version %d (first difference on line %d); regenerate it with govtool", prevVersion, diffLine(want, ch.After))
}

// appliances checks appliances/<id>.json against the policy entries: a file
// changes only with its entry, and after the commit each equals the other.
func (t *txn) appliances(changes []Change) error {
	st := t.v.st
	ids := map[string]bool{}
	for _, ch := range changes {
		id, ok := policy.ApplianceIDFromPath(ch.Path)
		if !ok {
			return t.fail(ReasonMalformed, ch.Path, nil, "enrollment files are appliances/<id>.json")
		}
		ids[id] = true
	}
	if t.pol != nil {
		for id, a := range t.pol.Appliances {
			if old, ok := st.Policy.Appliances[id]; !ok || old != a {
				ids[id] = true
			}
		}
		for id := range st.Policy.Appliances {
			if _, ok := t.pol.Appliances[id]; !ok {
				ids[id] = true
			}
		}
	}
	byPath := map[string]Change{}
	for _, ch := range changes {
		byPath[ch.Path] = ch
	}
	for _, id := range sortedKeys(ids) {
		path := policy.EnrollmentPath(id)
		ch, changed := byPath[path]
		entryChanged := false
		var entry *policy.Appliance
		if t.pol != nil {
			if a, ok := t.pol.Appliances[id]; ok {
				entry = &a
			}
			old, had := st.Policy.Appliances[id]
			entryChanged = (entry == nil) == had || (entry != nil && old != *entry)
		}
		if changed && !entryChanged {
			return t.fail(ReasonUnexplainedChange, path, nil, "an enrollment changes only in the commit that executes a proposal changing /appliances/%s", id)
		}
		if !changed {
			return t.fail(ReasonApplianceMismatch, path, nil, "the executed proposal changes /appliances/%s; the commit must write %s to match", id, path)
		}
		if ch.deleted() {
			if entry != nil {
				return t.fail(ReasonApplianceMismatch, path, nil, "removed while the policy still enrolls %s", id)
			}
			t.appls[id] = nil
			continue
		}
		if entry == nil {
			return t.fail(ReasonApplianceMismatch, path, nil, "the policy does not enroll %s", id)
		}
		if err := t.checkFile(path, "", ch.After); err != nil {
			return err
		}
		e, err := policy.ParseEnrollment(ch.After)
		if err != nil {
			return t.fail(ReasonSchema, path, err, "invalid enrollment")
		}
		if e.ID != id || e.Appliance() != *entry {
			return t.fail(ReasonApplianceMismatch, path, nil, "does not equal the policy entry /appliances/%s", id)
		}
		t.appls[id] = entry
	}
	return nil
}

// disputeChange checks a dispute file's form and schema and that every
// signature on it verifies against the signer set in force. What a dispute
// does (marks in the audit log, escalation) is not governance state.
func (t *txn) disputeChange(ch Change) error {
	if ch.deleted() {
		if _, ok := t.v.st.Disputes[ch.Path]; !ok {
			return t.fail(ReasonMalformed, ch.Path, nil, "deletes a dispute that does not exist")
		}
		t.disps[ch.Path] = ""
		return nil
	}
	doc, err := t.checkFileDoc(ch.Path, "dispute", ch.After)
	if err != nil {
		return err
	}
	d, err := doc.Digest()
	if err != nil {
		return t.fail(ReasonMalformed, ch.Path, err, "cannot digest")
	}
	var sigs []envelope.Signature
	if raw, ok := doc.Value().(canon.Object)["signatures"].([]any); ok {
		for _, r := range raw {
			b, _ := canon.Canonical(r)
			s, err := envelope.ParseSignature(b)
			if err != nil {
				return t.fail(ReasonSchema, ch.Path, err, "malformed signature entry")
			}
			sigs = append(sigs, s)
		}
	}
	set, _ := t.v.st.SignerSet()
	if err := t.checkEntries(ch.Path, set.Tally("dispute", d, sigs), set.Version); err != nil {
		return err
	}
	t.disps[ch.Path] = d
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func diffLine(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return 1 + bytes.Count(a[:i], []byte("\n"))
}
