package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/schemas"
)

// Operation names of a changeset entry.
const (
	OpSet    = "set"    // create or replace the member at Path (Value required)
	OpUnset  = "unset"  // delete the member at Path (no Value)
	OpAdd    = "add"    // append Value to the array at Path; it must not be there yet
	OpRemove = "remove" // remove the element equal to Value from the array at Path
)

// Op is one changeset entry of a proposal: an operation on the policy
// document at a JSON pointer (RFC 6901) such as "/tenants/ACME/pq_mode".
type Op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// MaxOps bounds a changeset.
const MaxOps = 64

// protected are the members no changeset may touch: they are written by
// Apply itself, or fixed at genesis.
var protected = []string{"type", "version", "previous", "applied", "profile", "signatures"}

// SplitPointer parses a JSON pointer into its unescaped segments. The root
// pointer "" and empty segments are rejected: a changeset names members.
func SplitPointer(ptr string) ([]string, error) {
	if !strings.HasPrefix(ptr, "/") {
		return nil, errAt(ptr, "a changeset path is a JSON pointer starting with '/'")
	}
	if len(ptr) > 512 {
		return nil, errAt(ptr[:64]+"…", "path too long")
	}
	parts := strings.Split(ptr[1:], "/")
	for i, s := range parts {
		if s == "" {
			return nil, errAt(ptr, "empty path segment")
		}
		// RFC 6901: "~" only as "~0" or "~1".
		for j := 0; j < len(s); j++ {
			if s[j] == '~' && (j+1 == len(s) || (s[j+1] != '0' && s[j+1] != '1')) {
				return nil, errAt(ptr, "bad '~' escape in path")
			}
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// Pointer joins segments into a JSON pointer, escaping them.
func Pointer(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// CheckOp checks an entry's shape: a known operation, a well-formed path
// outside the protected members, a value exactly when the operation takes
// one, and the value strict I-JSON (no null: the policy has none).
func CheckOp(o Op) error {
	segs, err := SplitPointer(o.Path)
	if err != nil {
		return err
	}
	if slices.Contains(protected, segs[0]) {
		return errAt(o.Path, "%q is written by execution or fixed at genesis; no proposal changes it", segs[0])
	}
	switch o.Op {
	case OpSet, OpAdd, OpRemove:
		if o.Value == nil {
			return errAt(o.Path, "%q needs a value", o.Op)
		}
		v, err := canon.ParseStrict(o.Value)
		if err != nil {
			return fmt.Errorf("policy: %s: value: %w", o.Path, err)
		}
		if containsNull(v) {
			return errAt(o.Path, "null is not a policy value; use unset")
		}
	case OpUnset:
		if o.Value != nil {
			return errAt(o.Path, "unset takes no value")
		}
	default:
		return errAt(o.Path, "unknown operation %q (set, unset, add, remove)", o.Op)
	}
	return nil
}

func containsNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case canon.Object:
		for _, e := range x {
			if containsNull(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if containsNull(e) {
				return true
			}
		}
	}
	return false
}

// Apply returns the policy that follows prev when ops are executed: the
// changeset applied to prev's document, version prev.Version+1, previous the
// digest of prev, applied as given, no signatures. The result is validated,
// including the freeze bound against applied.ExecutedAt. Unknown paths,
// values of another type than the member they replace, members a type does
// not have and invalid results are errors; prev is not modified.
func Apply(prev *Policy, ops []Op, applied Applied) (*Policy, error) {
	tree, err := canon.ToTree(prev)
	if err != nil {
		return nil, err
	}
	prevDigest, err := canon.Digest(tree)
	if err != nil {
		return nil, err
	}
	r, err := replay(prev, tree.(canon.Object), prevDigest, ops, applied)
	if err != nil {
		return nil, err
	}
	return r.Policy, nil
}

// Replayed is the outcome of Replay.
type Replayed struct {
	Policy *Policy
	File   []byte // the file form: what policy/policy.json must hold
	Digest string // the policy's digest
}

// Replay is Apply for a caller that already knows prev's digest (the
// verifier); it also returns the result's file form and digest.
//
// The result satisfies schemas/policy.schema.json as well as Validate: a
// result that breaks the schema is an error that wraps the *schemas.Error.
// A caller that finds a file equal to File byte for byte therefore knows
// that file satisfies the schema (it holds the same JSON value) without
// validating it again.
func Replay(prev *Policy, prevDigest string, ops []Op, applied Applied) (*Replayed, error) {
	tree, err := canon.ToTree(prev)
	if err != nil {
		return nil, err
	}
	return replay(prev, tree.(canon.Object), prevDigest, ops, applied)
}

// replay applies ops to doc, the tree of prev (which it modifies).
func replay(prev *Policy, doc canon.Object, prevDigest string, ops []Op, applied Applied) (*Replayed, error) {
	if len(ops) == 0 {
		return nil, errAt("", "empty changeset")
	}
	if len(ops) > MaxOps {
		return nil, errAt("", "changeset has %d operations, limit %d", len(ops), MaxOps)
	}
	executedAt, err := quorum.ParseTime(applied.ExecutedAt)
	if err != nil {
		return nil, errAt("/applied/executed_at", "%v", err)
	}
	delete(doc, "signatures")
	for i, o := range ops {
		if err := applyOp(doc, o); err != nil {
			return nil, fmt.Errorf("policy: changeset entry %d (%s %s): %w", i, o.Op, o.Path, err)
		}
	}
	doc["version"] = canon.Number(strconv.Itoa(prev.Version + 1))
	doc["previous"] = prevDigest
	doc["applied"] = canon.Object{"proposal": applied.Proposal, "digest": applied.Digest, "executed_at": applied.ExecutedAt}
	data, err := canon.Canonical(doc)
	if err != nil {
		return nil, err
	}
	// One strict parse of the result serves the round trip through the Go
	// type and the schema.
	d, err := canon.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	var next Policy
	// Unmarshal checks that the document round-trips through the Go type:
	// no unknown member, no member in another case, no wrong type.
	if err := d.Unmarshal(&next); err != nil {
		return nil, fmt.Errorf("policy: the changeset does not fit the policy document: %w", err)
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if next.Freeze != nil && !freezeEqual(prev.Freeze, next.Freeze) {
		until, _ := quorum.ParseTime(next.Freeze.Until)
		limit := MaxFreeze[next.Profile]
		if !until.After(executedAt) {
			return nil, errAt("/freeze/until", "%s is not after the execution time %s", next.Freeze.Until, applied.ExecutedAt)
		}
		if until.Sub(executedAt) > limit {
			return nil, errAt("/freeze/until", "a %s freeze expires on its own within %s of execution; %s is later", next.Profile, limit, next.Freeze.Until)
		}
	}
	if err := schemas.ValidateDocument(Type, d); err != nil {
		return nil, fmt.Errorf("policy: the changeset makes a policy that breaks the policy schema: %w", err)
	}
	// The round trip above makes the document's file form the struct's.
	file, err := canon.FileForm(d.Value())
	if err != nil {
		return nil, err
	}
	// doc has no "signatures", so its canonical bytes are what its digest
	// hashes.
	sum := sha256.Sum256(data)
	return &Replayed{Policy: &next, File: file, Digest: canon.DigestPrefix + hex.EncodeToString(sum[:])}, nil
}

func freezeEqual(a, b *Freeze) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// applyOp applies one operation to the document tree in place.
func applyOp(doc canon.Object, o Op) error {
	if err := CheckOp(o); err != nil {
		return err
	}
	segs, _ := SplitPointer(o.Path)
	var val any
	if o.Value != nil {
		val, _ = canon.ParseStrict(o.Value)
	}
	parent := any(doc)
	for i, s := range segs[:len(segs)-1] {
		obj, ok := parent.(canon.Object)
		if !ok {
			return fmt.Errorf("%s is not an object", Pointer(segs[:i]...))
		}
		next, ok := obj[s]
		if !ok {
			return fmt.Errorf("%s does not exist", Pointer(segs[:i+1]...))
		}
		parent = next
	}
	obj, ok := parent.(canon.Object)
	if !ok {
		return fmt.Errorf("%s is not an object", Pointer(segs[:len(segs)-1]...))
	}
	last := segs[len(segs)-1]
	cur, exists := obj[last]
	switch o.Op {
	case OpSet:
		if exists && kind(cur) != kind(val) {
			return fmt.Errorf("value is a %s, the member is a %s", kind(val), kind(cur))
		}
		obj[last] = val
	case OpUnset:
		if !exists {
			return fmt.Errorf("nothing to unset")
		}
		delete(obj, last)
	case OpAdd, OpRemove:
		arr, ok := cur.([]any)
		if !exists || !ok {
			return fmt.Errorf("%s is not an array", o.Op)
		}
		want, err := canon.Canonical(val)
		if err != nil {
			return err
		}
		idx := -1
		for i, e := range arr {
			c, err := canon.Canonical(e)
			if err != nil {
				return err
			}
			if bytes.Equal(c, want) {
				idx = i
				break
			}
		}
		if o.Op == OpAdd {
			if idx >= 0 {
				return fmt.Errorf("value is already present")
			}
			obj[last] = append(slices.Clone(arr), val)
		} else {
			if idx < 0 {
				return fmt.Errorf("value is not present")
			}
			obj[last] = slices.Delete(slices.Clone(arr), idx, idx+1)
		}
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case canon.Object:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case canon.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
