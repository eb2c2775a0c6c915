package audit

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// full returns a record with every field set to something distinct.
func full() Record {
	return Record{
		Type: "audit_record", Index: 41, Prev: strings.Repeat("ab", 32), Time: "2026-11-26T12:00:00.123456789Z",
		ApplianceID: "app-1", Event: "sign", Outcome: OutcomeRejected, Reason: "scope_denied",
		RequestID: strings.Repeat("0f", 16), Tenant: "acme", Key: "acme/pay/v3", KeyVersion: 3, Alg: "mldsa65-ed25519",
		CapabilityID: strings.Repeat("c", 32), Digest: "sha256:" + strings.Repeat("d", 64), PolicyVersion: 17,
		GovernanceCommit: strings.Repeat("e", 40), Detail: `capability 0123 does not permit "wrap"`,
	}
}

// checkCanonical holds appendCanonical to canon.Marshal: the same bytes, or
// both refuse; and what it writes reads back as the same record.
func checkCanonical(t *testing.T, r Record) {
	t.Helper()
	want, wantErr := canon.Marshal(r)
	got, err := r.appendCanonical([]byte("prefix"))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendCanonical error %v, canon.Marshal error %v, for %+v", err, wantErr, r)
	}
	if err != nil {
		return
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("appendCanonical did not append: %q", got)
	}
	got = got[len("prefix"):]
	if !bytes.Equal(got, want) {
		t.Fatalf("appendCanonical differs from canon.Marshal for %+v:\n got %q\nwant %q", r, got, want)
	}
	var back Record
	if err := canon.Unmarshal(got, &back); err != nil {
		t.Fatalf("canon.Unmarshal of %q: %v", got, err)
	}
}

func TestCanonicalMatchesCanon(t *testing.T) {
	checkCanonical(t, Record{})
	checkCanonical(t, full())
	// Every field on its own, so a field the writer left out (or put out
	// of order) fails here even if another one hides it.
	rv := reflect.ValueOf(full())
	for i := range rv.NumField() {
		var r Record
		reflect.ValueOf(&r).Elem().Field(i).Set(rv.Field(i))
		checkCanonical(t, r)
	}
	for _, s := range []string{
		"", `"`, `\`, "\x00\x01\x1f\x7f", "\b\f\n\r\t", "<>&", "\u2028\u2029", "é€😀", "\ufeff\ufffe\uffff",
		"\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82", "\xc0\xaf", strings.Repeat("x", 70000),
		`{"a":1}`, "/\u0000/",
	} {
		r := full()
		r.Detail, r.Tenant = s, s
		checkCanonical(t, r)
	}
	for _, n := range []int64{0, -1, 1, 1<<53 - 1, -(1<<53 - 1), 1 << 53, -(1 << 53), 1<<53 + 1, 1<<63 - 1, -1 << 63, 999999999999999, 1000000000000000} {
		r := full()
		r.Index = n
		checkCanonical(t, r)
		r = full()
		r.KeyVersion, r.PolicyVersion = int(n), int(-n)
		checkCanonical(t, r)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("sign", "acme/pay/v1", "detail \"x\"\n", int64(0), 1, 2)
	f.Add("\xff\x00", "\u2028", "<&>", int64(1<<53), -3, 1<<30)
	f.Fuzz(func(t *testing.T, a, b, c string, idx int64, kv, pv int) {
		r := full()
		r.Event, r.Key, r.Detail, r.Alg, r.Reason = a, b, c, a+b, c+a
		r.Index, r.KeyVersion, r.PolicyVersion = idx, kv, pv
		checkCanonical(t, r)
	})
}

// TestAppendedRecordsReadBack: records written by Append with awkward
// strings are read back by OpenFile's strict check, as they were given.
func TestAppendedRecordsReadBack(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	in := []Record{
		{Event: "sign", Detail: "quote \" backslash \\ newline \n nul \x00 <&> \u2028"},
		{Event: "verify", Tenant: "acme", Key: "acme/pay/v2", KeyVersion: 2, PolicyVersion: 9},
	}
	for _, r := range in {
		if _, err := l.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l, err = OpenFile(dir, "app-1", fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Size() != int64(len(in)) {
		t.Fatalf("size %d, want %d", l.Size(), len(in))
	}
	// A record with an integer canon refuses is refused, not written.
	if _, err := l.Append(context.Background(), Record{Event: "sign", KeyVersion: 1 << 53}); err == nil {
		t.Fatal("Append accepted key_version 2^53")
	}
	if l.Size() != int64(len(in)) {
		t.Fatalf("size %d after a refused append, want %d", l.Size(), len(in))
	}
}

// TestRecordOverhead: recordOverhead covers everything but the strings, so
// Append sizes a frame once.
func TestRecordOverhead(t *testing.T) {
	r := full()
	r.Index, r.KeyVersion, r.PolicyVersion = -(1<<53 - 1), -(1<<53 - 1), -(1<<53 - 1)
	b, err := r.appendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	escaped := strings.Count(r.Detail, `"`) // each escape adds one byte
	if over := len(b) - r.stringBytes() - escaped; over > recordOverhead {
		t.Fatalf("%d bytes besides the strings, recordOverhead is %d", over, recordOverhead)
	}
}
