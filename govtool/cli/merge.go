package cli

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/govtool/verify"
)

func init() { extraCommands = append(extraCommands, newMergeSignaturesCmd) }

// maxMergeFile bounds each file the merge driver reads.
const maxMergeFile = canon.MaxSize

func newMergeSignaturesCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "merge-signatures BASE OURS THEIRS",
		Short: "Git merge driver: merge signatures added on parallel branches",
		Long: `merge-signatures is the Git merge driver for files that collect signatures
(proposals/*.json and pending/**/*.json, registered by .gitattributes as
merge=govtool-signatures). Register it once per clone (see the example);
Git then runs it on each such file that both sides changed.

When OURS and THEIRS differ only in their "signatures", it writes to OURS the
object with the union of both sides' signature entries, in file form, and
exits 0. Every entry is checked first: it must verify against a public key
found in this checkout (signer-sets/*.json, pending/*/signer-sets/*.json, or
the members of a signer set being merged); an entry listed by both sides
counts once.

Anything else is a conflict (exit 1, OURS left as it was, a message on
stderr): another difference in the object (someone changed the proposal
after it was signed), input that is not strict I-JSON, or an entry that does
not verify or whose key is unknown. Resolve those by hand; govtool verify
checks the result either way.

Example (registering it, once per clone):
  git config merge.govtool-signatures.driver "govtool merge-signatures %O %A %B"`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMergeSignatures(e, args[0], args[1], args[2])
		},
	}
}

type mergeConflict struct{ msg string }

func (c *mergeConflict) Error() string { return "merge-signatures: conflict: " + c.msg }

func runMergeSignatures(e *env, basePath, oursPath, theirsPath string) error {
	ours, err := readMergeFile(oursPath)
	if err != nil {
		return envErr(err)
	}
	theirs, err := readMergeFile(theirsPath)
	if err != nil {
		return envErr(err)
	}
	if _, err := readMergeFile(basePath); err != nil {
		return envErr(err)
	}
	out, err := mergeSignatures(ours, theirs, knownKeys(e))
	if err != nil {
		return failed(err)
	}
	if bytes.Equal(out, ours) {
		return nil
	}
	if err := writeFileAtomic(oursPath, out); err != nil {
		return envErr(err)
	}
	return nil
}

func readMergeFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMergeFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMergeFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxMergeFile)
	}
	return data, nil
}

// knownKey is a public key and the roles signer sets give it.
type knownKey struct {
	pub   ed25519.PublicKey
	roles []string
}

// keyring maps key ids to the keys the merge driver can check entries with.
type keyring map[string]knownKey

// mergeSignatures merges two versions of one signed object that may differ
// only in their signatures. keys are the keys entries are checked with; a
// signer set being merged adds its own members. Every entry must verify
// under a known key and claim a role that key holds; one key signs with one
// role, except on a signer set, which a member of the old and of the new set
// signs once in each role.
func mergeSignatures(ours, theirs []byte, keys keyring) ([]byte, error) {
	if bytes.Equal(ours, theirs) {
		return ours, nil
	}
	a, err := canon.ParseStrict(ours)
	if err != nil {
		return nil, &mergeConflict{"ours is not strict I-JSON: " + err.Error()}
	}
	b, err := canon.ParseStrict(theirs)
	if err != nil {
		return nil, &mergeConflict{"theirs is not strict I-JSON: " + err.Error()}
	}
	ao, okA := a.(canon.Object)
	bo, okB := b.(canon.Object)
	if !okA || !okB {
		return nil, &mergeConflict{"not JSON objects"}
	}
	da, err := canon.Digest(ao)
	if err != nil {
		return nil, &mergeConflict{err.Error()}
	}
	db, err := canon.Digest(bo)
	if err != nil {
		return nil, &mergeConflict{err.Error()}
	}
	if da != db {
		return nil, &mergeConflict{"the two sides differ in more than their signatures (was the object changed after it was signed?): resolve by hand"}
	}
	objType, _ := ao["type"].(string)
	if objType == "" {
		return nil, &mergeConflict{"the object has no type"}
	}
	if objType == quorum.TypeSignerSet {
		if s, err := quorum.Parse(ours); err == nil {
			keys = withMembers(keys, s)
		}
	}
	sa, err := entries(ao)
	if err != nil {
		return nil, &mergeConflict{"ours: " + err.Error()}
	}
	sb, err := entries(bo)
	if err != nil {
		return nil, &mergeConflict{"theirs: " + err.Error()}
	}
	union := make([]envelope.Signature, 0, len(sa)+len(sb))
	for _, s := range append(sa, sb...) {
		k, ok := keys[s.KeyID]
		if !ok {
			return nil, &mergeConflict{fmt.Sprintf("signature by key %s: the key is in no signer set of this checkout, so the entry cannot be checked", shortKey(s.KeyID))}
		}
		if !slices.Contains(k.roles, s.Role) {
			return nil, &mergeConflict{fmt.Sprintf("signature by key %s claims role %s; the key is %s", shortKey(s.KeyID), s.Role, strings.Join(k.roles, " and "))}
		}
		if err := envelope.Verify(k.pub, objType, da, s); err != nil {
			return nil, &mergeConflict{fmt.Sprintf("signature by key %s does not verify: %v", shortKey(s.KeyID), err)}
		}
		dup := false
		for _, u := range union {
			if u.KeyID != s.KeyID {
				continue
			}
			if u.Role == s.Role {
				dup = true
				break
			}
			if objType != quorum.TypeSignerSet {
				return nil, &mergeConflict{fmt.Sprintf("key %s signed as %s and as %s: a key signs once", shortKey(s.KeyID), u.Role, s.Role)}
			}
		}
		if !dup {
			union = append(union, s)
		}
	}
	arr := make([]any, 0, len(union))
	for _, s := range union {
		tree, err := canon.ToTree(s)
		if err != nil {
			return nil, &mergeConflict{err.Error()}
		}
		arr = append(arr, tree)
	}
	ao["signatures"] = arr
	out, err := canon.FileForm(ao)
	if err != nil {
		return nil, &mergeConflict{err.Error()}
	}
	return out, nil
}

// entries returns an object's signature entries, each strictly parsed.
func entries(o canon.Object) ([]envelope.Signature, error) {
	raw, ok := o["signatures"]
	if !ok {
		return nil, nil
	}
	arr, ok := raw.([]any)
	if !ok {
		return nil, errors.New("signatures is not an array")
	}
	out := make([]envelope.Signature, 0, len(arr))
	for i, r := range arr {
		b, err := canon.Canonical(r)
		if err != nil {
			return nil, err
		}
		s, err := envelope.ParseSignature(b)
		if err != nil {
			return nil, fmt.Errorf("signatures[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// knownKeys collects the public keys of every signer set in the checkout
// (the working directory, where Git runs merge drivers): committed sets and
// pending ones. They only decide which entries look valid to the merge; the
// verifier decides what counts.
func knownKeys(e *env) keyring {
	keys := keyring{}
	var paths []string
	for _, pattern := range []string{verify.SignerSetDir + "*.json", pendingDir + "*/" + verify.SignerSetDir + "*.json"} {
		m, _ := filepath.Glob(filepath.FromSlash(pattern))
		paths = append(paths, m...)
	}
	for _, p := range paths {
		data, err := readMergeFile(p)
		if err != nil {
			continue
		}
		s, err := quorum.Parse(data)
		if err != nil {
			fmt.Fprintf(e.stderr, "govtool: warning: merge-signatures: skipping %s: %v\n", p, strings.TrimSpace(err.Error()))
			continue
		}
		keys = withMembers(keys, s)
	}
	return keys
}

// withMembers returns keys with the members of s added.
func withMembers(keys keyring, s *quorum.SignerSet) keyring {
	out := make(keyring, len(keys)+len(s.Members))
	for k, v := range keys {
		out[k] = knownKey{pub: v.pub, roles: slices.Clone(v.roles)}
	}
	for _, m := range s.Members {
		pub, err := m.PublicKeyBytes()
		if err != nil {
			continue
		}
		k := out[m.KeyID]
		if k.pub != nil && !k.pub.Equal(pub) {
			continue // a key id that names another key: never trusted
		}
		k.pub = pub
		if !slices.Contains(k.roles, m.Role) {
			k.roles = append(k.roles, m.Role)
		}
		out[m.KeyID] = k
	}
	return out
}
