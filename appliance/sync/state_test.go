package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

var goodRecord = record{
	Commit:        strings.Repeat("ab", 20),
	PolicyVersion: 3,
	PolicyDigest:  "sha256:" + strings.Repeat("1", 64),
	RootDigest:    "sha256:" + strings.Repeat("2", 64),
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if r, err := readState(dir); r != nil || err != nil {
		t.Fatalf("missing state = %v, %v; want nil, nil", r, err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := writeState(dir, goodRecord, now); err != nil {
		t.Fatal(err)
	}
	r, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := goodRecord
	want.Type, want.VerifiedAt = stateType, "2026-11-26T12:00:00Z"
	if *r != want {
		t.Fatalf("read %+v, want %+v", *r, want)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, %v", fi.Mode().Perm(), err)
	}
	// Replaced, not appended; no temporary file left.
	next := goodRecord
	next.PolicyVersion = 4
	if err := writeState(dir, next, now); err != nil {
		t.Fatal(err)
	}
	if r, _ := readState(dir); r.PolicyVersion != 4 {
		t.Errorf("after rewrite: %+v", r)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only %s", len(entries), StateFile)
	}
}

func TestParseStateRejects(t *testing.T) {
	good, err := canon.MarshalFile(record{Type: stateType, Commit: goodRecord.Commit, PolicyVersion: 3,
		PolicyDigest: goodRecord.PolicyDigest, RootDigest: goodRecord.RootDigest, VerifiedAt: "2026-11-26T12:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseState(good); err != nil {
		t.Fatalf("good record: %v", err)
	}
	for name, edit := range map[string]func(string) string{
		"wrong type":   func(s string) string { return strings.Replace(s, stateType, "policy", 1) },
		"short commit": func(s string) string { return strings.Replace(s, goodRecord.Commit, goodRecord.Commit[:12], 1) },
		"upper commit": func(s string) string {
			return strings.Replace(s, goodRecord.Commit, strings.ToUpper(goodRecord.Commit), 1)
		},
		"version zero":    func(s string) string { return strings.Replace(s, `"policy_version": 3`, `"policy_version": 0`, 1) },
		"version float":   func(s string) string { return strings.Replace(s, `"policy_version": 3`, `"policy_version": 3.5`, 1) },
		"bad digest":      func(s string) string { return strings.Replace(s, goodRecord.PolicyDigest, "sha256:zz", 1) },
		"bad time":        func(s string) string { return strings.Replace(s, "2026-11-26T12:00:00Z", "yesterday", 1) },
		"unknown field":   func(s string) string { return strings.Replace(s, "{", `{"extra": 1,`, 1) },
		"duplicate key":   func(s string) string { return strings.Replace(s, "{", `{"policy_version": 9,`, 1) },
		"not json":        func(s string) string { return "commit=" + goodRecord.Commit },
		"truncated":       func(s string) string { return s[:len(s)/2] },
		"oversized":       func(s string) string { return s + strings.Repeat(" ", maxStateFile) },
		"missing version": func(s string) string { return strings.Replace(s, `"policy_version": 3,`, "", 1) },
	} {
		if _, err := parseState([]byte(edit(string(good)))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseState(f *testing.F) {
	good, _ := canon.MarshalFile(record{Type: stateType, Commit: goodRecord.Commit, PolicyVersion: 3,
		PolicyDigest: goodRecord.PolicyDigest, RootDigest: goodRecord.RootDigest, VerifiedAt: "2026-11-26T12:00:00Z"})
	f.Add(good)
	f.Add([]byte("{}"))
	f.Add([]byte(`{"type":"sync_state"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseState(data)
		if err != nil {
			return
		}
		// Whatever parses is a complete record that writes back the same.
		if r.Type != stateType || r.PolicyVersion < 1 || len(r.Commit) != 40 {
			t.Fatalf("accepted %+v", r)
		}
		again, err := canon.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseState(again); err != nil {
			t.Fatalf("re-encoded record rejected: %v", err)
		}
	})
}
