package sync

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

// StateFile is the name, under Config.Dir, of the last verified commit.
const StateFile = "last-verified.json"

const stateType = "sync_state"

// maxStateFile bounds what readState reads: the record is a few hundred bytes.
const maxStateFile = 4096

// record is last-verified.json: the last commit this appliance verified and
// applied. It is a floor, not a cache: on start the state is re-verified
// from the pinned root, and the remote head must contain Commit.
type record struct {
	Type          string `json:"type"`
	Commit        string `json:"commit"`
	PolicyVersion int    `json:"policy_version"`
	PolicyDigest  string `json:"policy_digest"`
	RootDigest    string `json:"root_digest"`
	VerifiedAt    string `json:"verified_at"`
}

// parseState decodes and checks a record. It is the parser of the one
// file sync reads back from disk; it trusts nothing in it.
func parseState(data []byte) (*record, error) {
	if len(data) > maxStateFile {
		return nil, fmt.Errorf("larger than %d bytes", maxStateFile)
	}
	var r record
	if err := canon.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.Type != stateType {
		return nil, fmt.Errorf("type %q, want %q", r.Type, stateType)
	}
	if _, err := gitrepo.ParseHash(r.Commit); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if r.PolicyVersion < 1 {
		return nil, fmt.Errorf("policy_version %d: want at least 1", r.PolicyVersion)
	}
	if _, err := canon.ParseDigest(r.PolicyDigest); err != nil {
		return nil, fmt.Errorf("policy_digest: %w", err)
	}
	if _, err := canon.ParseDigest(r.RootDigest); err != nil {
		return nil, fmt.Errorf("root_digest: %w", err)
	}
	if _, err := quorum.ParseTime(r.VerifiedAt); err != nil {
		return nil, fmt.Errorf("verified_at: %w", err)
	}
	return &r, nil
}

// readState reads dir/StateFile; a missing file is (nil, nil).
func readState(dir string) (*record, error) {
	path := filepath.Join(dir, StateFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: reading %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("sync: reading %s: %w", path, err)
	}
	r, err := parseState(data)
	if err != nil {
		return nil, fmt.Errorf("sync: %s is damaged (%v); it records the last governance commit this appliance verified: restore it from a backup, or remove it only to re-anchor the appliance on purpose", path, err)
	}
	return r, nil
}

// writeState replaces dir/StateFile atomically: a temporary file is written
// and fsynced, renamed over the old one, and the directory fsynced. After a
// crash the file holds the old record or the new one, never a mix.
func writeState(dir string, r record, now time.Time) error {
	r.Type = stateType
	r.VerifiedAt = quorum.FormatTime(now)
	data, err := canon.MarshalFile(r)
	if err != nil {
		return fmt.Errorf("sync: encoding state: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+StateFile+"-*")
	if err != nil {
		return fmt.Errorf("sync: writing state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this is a no-op error
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("sync: writing state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("sync: writing state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync: writing state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sync: writing state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("sync: writing state: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync: fsync %s: %w", dir, err)
	}
	return nil
}
