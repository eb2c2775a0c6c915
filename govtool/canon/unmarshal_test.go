package canon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/proposal"
	"github.com/ron-kms/ron-kms/govtool/quorum"
	"github.com/ron-kms/ron-kms/testvectors"
)

// The planned Unmarshal (decoder + checker) is held to the encoding/json
// path (decode, json.Marshal, parse, compare) on every fixture of the
// repository and on mutations of each: both must accept and reject the
// same documents, and what both accept must decode to deep-equal values.

type namedStr string

type namedInt int

// kitchen has a field of every kind the planned path covers.
type kitchen struct {
	S    string           `json:"s"`
	I8   int8             `json:"i8,omitempty"`
	U    uint16           `json:"u"`
	F    float64          `json:"f,omitempty"`
	B    *bool            `json:"b,omitempty"`
	P    *kitchen         `json:"p,omitempty"`
	M    map[string]*int  `json:"m"`
	L    []string         `json:"l,omitempty"`
	A    any              `json:"a"`
	R    json.RawMessage  `json:"r,omitempty"`
	RP   *json.RawMessage `json:"rp"`
	Skip string           `json:"-"`
	//lint:ignore SA5008 the member named "-" is what this field tests
	Dash  string `json:"-,"`
	NoTag int
	Named namedStr              `json:"named"`
	NM    map[namedStr]namedInt `json:"nm,omitempty"`
	//lint:ignore SA5008 an invalid tag name (the member is "Bad") is what this field tests
	Bad string      `json:"b\\ad"`
	SS  [][]kitchen `json:"ss,omitempty"`
	//lint:ignore U1000 an unexported field is never a member, which this field tests
	hid int
}

// fallback has fields the planned path leaves to encoding/json.
type fallback struct {
	Bytes []byte            `json:"bytes"`
	Text  textValue         `json:"text"`
	Quote int               `json:"quote,string"`
	Arr   [2]int            `json:"arr"`
	Emb   map[textValue]int `json:"emb"`
}

type textValue struct{ s string }

func (t textValue) MarshalText() ([]byte, error)  { return []byte(t.s), nil }
func (t *textValue) UnmarshalText(b []byte) error { t.s = string(b); return nil }

// targets are the Go types the tests decode into, each as a function that
// returns a pointer to a new zero value.
var targets = map[string]func() any{
	"proposal":   func() any { return new(proposal.Proposal) },
	"policy":     func() any { return new(policy.Policy) },
	"enrollment": func() any { return new(policy.Enrollment) },
	"signer_set": func() any { return new(quorum.SignerSet) },
	"signature":  func() any { return new(envelope.Signature) },
	"op":         func() any { return new(policy.Op) },
	"any":        func() any { return new(any) },
	"map":        func() any { return new(map[string]any) },
	"slice":      func() any { return new([]any) },
	"raw":        func() any { return new(json.RawMessage) },
	"ptr":        func() any { return new(*kitchen) },
	"kitchen":    func() any { return new(kitchen) },
	"fallback":   func() any { return new(fallback) },
	"digests":    func() any { return new(testvectors.Digests) },
	"signatures": func() any { return new(testvectors.Signatures) },
	"canonical":  func() any { return new(testvectors.Canonical) },
}

func TestPlannedTypes(t *testing.T) {
	for name, mk := range targets {
		if got, want := canon.Planned(mk()), name != "fallback"; got != want {
			t.Errorf("%s: planned = %v, want %v", name, got, want)
		}
	}
}

// compareUnmarshal decodes doc into a new value of each target both ways
// and reports any difference.
func compareUnmarshal(t *testing.T, name string, doc *canon.Document) {
	t.Helper()
	for tn, mk := range targets {
		got, want := mk(), mk()
		errGot, errWant := doc.Unmarshal(got), doc.UnmarshalViaJSON(want)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%s into %s: planned: %v; encoding/json: %v\ninput: %s", name, tn, errGot, errWant, doc.Bytes())
		}
		if errGot != nil {
			var ce *canon.Error
			if !errors.As(errGot, &ce) || !strings.HasPrefix(ce.Path, "$") {
				t.Fatalf("%s into %s: error %T %v is not a *canon.Error with a path", name, tn, errGot, errGot)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s into %s: planned %#v\nencoding/json %#v\ninput: %s", name, tn, got, want, doc.Bytes())
		}
	}
}

// moduleRoot is the folder of go.mod above the test's folder.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = up
	}
}

// fixtures are the JSON documents of the repository: every .json file in
// it (the governance repo's own proposals/, signer-sets/, policy/, and
// testdata), the JSON sections of the txtar scripts under testdata, and the
// objects and inputs of the known-answer vectors.
func fixtures(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	root := moduleRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.IsDir():
		case strings.HasSuffix(path, ".json"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[rel] = data
		case strings.HasSuffix(path, ".txt") && strings.Contains(filepath.ToSlash(rel), "/testdata/"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for name, sec := range txtarJSON(data) {
				out[rel+":"+name] = sec
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var d testvectors.Digests
	var s testvectors.Signatures
	var c testvectors.Canonical
	for name, v := range map[string]any{testvectors.DigestsFile: &d, testvectors.SignaturesFile: &s, testvectors.CanonicalFile: &c} {
		data, err := testvectors.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range d.Vectors {
		out["digests:"+v.Name] = []byte(v.File)
		out["digests:"+v.Name+":canonical"] = []byte(v.Canonical)
	}
	for _, v := range s.SignerSets {
		out["signer_sets:"+v.Name] = []byte(v.File)
	}
	for _, v := range append(s.Valid, s.Invalid...) {
		if v.EntryJSON != "" {
			out["signatures:"+v.Name] = []byte(v.EntryJSON)
		}
	}
	for _, v := range c.Vectors {
		if v.Input != "" {
			out["canonical:"+v.Name] = []byte(v.Input)
		}
	}
	// No fixture is an enrollment file: make one as govtool does.
	e, err := policy.EnrollmentOf("appliance-1", policy.Appliance{
		Backend:        policy.Backend{Kind: policy.BackendSealedFile, Slot: "slot-1"},
		AuditPublicKey: "7dT1tH+V7Iq3xR2lQm3l8h5S0F1eUq4dP2C8nXz0a6Q=",
	}).File()
	if err != nil {
		t.Fatal(err)
	}
	out["enrollment"] = e
	return out
}

// txtarJSON returns the sections of a txtar archive whose names end in
// .json.
func txtarJSON(data []byte) map[string][]byte {
	out := map[string][]byte{}
	name := ""
	var cur []byte
	flush := func() {
		if strings.HasSuffix(name, ".json") {
			out[name] = cur
		}
	}
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		if strings.HasPrefix(l, "-- ") && strings.HasSuffix(l, " --") {
			flush()
			name, cur = strings.TrimSpace(l[3:len(l)-3]), nil
			continue
		}
		cur = append(cur, line...)
	}
	flush()
	return out
}

// maxMutated bounds the fixtures that are mutated as well: the vector
// files themselves (tens of KiB, each mutation a copy) are only decoded.
const maxMutated = 4 << 10

// mutatePerType is how many fixtures of each type are mutated.
var mutatePerType = 2

func TestUnmarshalMatchesEncodingJSON(t *testing.T) {
	fx := fixtures(t)
	if testing.Short() {
		mutatePerType = 1
	}
	if len(fx) < 50 {
		t.Fatalf("only %d fixtures", len(fx))
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range fx {
			if !yield(k) {
				return
			}
		}
	})
	parsed, accepted := 0, map[string]int{}
	for _, name := range names {
		doc, err := canon.ParseDocument(fx[name])
		if err != nil {
			continue
		}
		parsed++
		compareUnmarshal(t, name, doc)
		before := maps.Clone(accepted)
		for tn, mk := range targets {
			if doc.Unmarshal(mk()) == nil {
				accepted[tn]++
			}
		}
		// Mutate up to mutatePerType fixtures of each governance type
		// (many fixtures are alike).
		mutate := false
		for _, tn := range []string{"proposal", "policy", "enrollment", "signer_set", "signature", "digests"} {
			if accepted[tn] > before[tn] && accepted[tn] <= mutatePerType {
				mutate = true
			}
		}
		if !mutate || len(fx[name]) > maxMutated {
			continue
		}
		for i, m := range mutations(doc.Value()) {
			data, err := canon.FileForm(m)
			if err != nil {
				t.Fatalf("%s mutation %d: %v", name, i, err)
			}
			md, err := canon.ParseDocument(data)
			if err != nil {
				continue // e.g. a number out of range
			}
			compareUnmarshal(t, fmt.Sprintf("%s mutation %d", name, i), md)
		}
	}
	// The fixtures must exercise the governance types, not only be refused.
	for _, tn := range []string{"proposal", "policy", "signer_set", "enrollment", "signature", "any"} {
		if accepted[tn] == 0 {
			t.Errorf("no fixture decodes as %s", tn)
		}
	}
	t.Logf("%d fixtures parsed; accepted per type: %v", parsed, accepted)
}

// mutations returns variants of a parsed document, each differing in one
// place: a member removed, renamed (case changed, or unknown), or its value
// replaced by a value of each JSON kind (null, strings, numbers including
// ones that overflow small integer types, booleans, empty and non-empty
// objects and arrays); an array emptied, or its first element repeated.
func mutations(v any) []any {
	var out []any
	replacements := []any{nil, "", "x", canon.Number("0"), canon.Number("-1"), canon.Number("300"), canon.Number("70000"),
		canon.Number("9007199254740991"), true, false, canon.Object{}, []any{}, canon.Object{"k": "v"}, []any{"x"}}
	var walk func(cur any, set func(any) any)
	walk = func(cur any, set func(any) any) {
		if len(out) > 2000 {
			return
		}
		for _, r := range replacements {
			out = append(out, set(r))
		}
		switch x := cur.(type) {
		case canon.Object:
			out = append(out, set(withMember(x, "zz_unknown", canon.Number("1"))))
			for k, val := range x {
				without := withoutMember(x, k)
				out = append(out, set(without))
				if r := []rune(k); len(r) > 0 && strings.ToUpper(string(r[0])) != string(r[0]) {
					up := strings.ToUpper(string(r[0])) + string(r[1:])
					out = append(out, set(withMember(without, up, val)))
				}
				walk(val, func(n any) any { return set(withMember(x, k, n)) })
			}
		case []any:
			if len(x) > 0 {
				out = append(out, set(append(slices.Clone(x), x[0])))
			}
			for i, el := range x {
				walk(el, func(n any) any {
					y := slices.Clone(x)
					y[i] = n
					return set(y)
				})
			}
		}
	}
	walk(v, func(n any) any { return n })
	return out
}

func withMember(o canon.Object, k string, v any) canon.Object {
	c := make(canon.Object, len(o)+1)
	for kk, vv := range o {
		c[kk] = vv
	}
	c[k] = v
	return c
}

func withoutMember(o canon.Object, k string) canon.Object {
	c := withMember(o, k, nil)
	delete(c, k)
	return c
}

// TestUnmarshalKitchen decodes documents made for the kitchen type, which
// the fixtures do not reach, both ways.
func TestUnmarshalKitchen(t *testing.T) {
	good := `{"-":"d","Bad":"b","NoTag":3,"a":{"x":[1,-2,"s",true,null,{}]},"b":false,"f":7,"i8":-128,"m":{"k":1,"z":null},` +
		`"named":"n","nm":{"q":4},"p":{"-":"","Bad":"","NoTag":0,"a":null,"m":null,"named":"","rp":null,"s":"","u":0},` +
		`"r":{"raw":[1,2]},"rp":[true],"s":"str\u00e9\n","ss":[[],[{"-":"","Bad":"","NoTag":0,"a":1,"m":{},"named":"","rp":null,"s":"","u":1}]],"u":65535}`
	doc, err := canon.ParseDocument([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	var k kitchen
	if err := doc.Unmarshal(&k); err != nil {
		t.Fatalf("kitchen document refused: %v", err)
	}
	if k.I8 != -128 || k.U != 65535 || string(k.R) != `{"raw":[1,2]}` || k.P == nil || k.SS[1][0].A != float64(1) || k.Dash != "d" || k.Bad != "b" {
		t.Errorf("decoded %+v", k)
	}
	compareUnmarshal(t, "kitchen", doc)
	for i, m := range mutations(doc.Value()) {
		for _, form := range []func(any) ([]byte, error){canon.Canonical, canon.FileForm} {
			data, err := form(m)
			if err != nil {
				t.Fatal(err)
			}
			if md, err := canon.ParseDocument(data); err == nil {
				compareUnmarshal(t, fmt.Sprintf("kitchen mutation %d", i), md)
			}
		}
	}
}

// TestUnmarshalErrors checks that refusals name the place and the reason.
func TestUnmarshalErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		reason canon.Reason
		path   string
	}{
		{`{"role":"a","key_id":"b","sig":"c","note":1}`, canon.ReasonUnknownField, "$.note"},
		{`{"role":"a","Key_id":"b","sig":"c"}`, canon.ReasonUnknownField, "$.Key_id"},
		{`{"role":"a","key_id":7,"sig":"c"}`, canon.ReasonType, "$.key_id"},
		{`{"role":"a","sig":"c"}`, canon.ReasonUnknownField, "$.key_id"},
		{`{"role":null,"key_id":"b","sig":"c"}`, canon.ReasonUnknownField, "$.role"},
		{`["a"]`, canon.ReasonType, "$"},
	} {
		doc, err := canon.ParseDocument([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		var s envelope.Signature
		err = doc.Unmarshal(&s)
		var ce *canon.Error
		if !errors.As(err, &ce) || ce.Reason != tc.reason || ce.Path != tc.path {
			t.Errorf("%s: %v, want %s at %s", tc.in, err, tc.reason, tc.path)
		}
	}
	doc, _ := canon.ParseDocument([]byte(`{"i8":300}`))
	var k kitchen
	if err := doc.Unmarshal(&k); err == nil || !strings.Contains(err.Error(), "$.i8") {
		t.Errorf("overflow: %v", err)
	}
}

// TestUnmarshalNonZeroTarget: a value that is not zero goes through
// encoding/json, whose rules for merging into it apply.
func TestUnmarshalNonZeroTarget(t *testing.T) {
	doc, _ := canon.ParseDocument([]byte(`{"key_id":"b","role":"a","sig":"c"}`))
	s := envelope.Signature{Role: "old"}
	if err := doc.Unmarshal(&s); err != nil || s.Role != "a" {
		t.Errorf("%+v, %v", s, err)
	}
	if err := doc.Unmarshal(s); err == nil {
		t.Error("a non-pointer accepted")
	}
}

// FuzzUnmarshal holds the planned path to encoding/json on any input.
func FuzzUnmarshal(f *testing.F) {
	for _, data := range fuzzSeedDocs(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := canon.ParseDocument(data)
		if err != nil {
			return
		}
		compareUnmarshal(t, "input", doc)
	})
}

// fuzzSeedDocs are the known-answer objects and a kitchen document.
func fuzzSeedDocs(tb testing.TB) [][]byte {
	var d testvectors.Digests
	data, err := testvectors.FS.ReadFile(testvectors.DigestsFile)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		tb.Fatal(err)
	}
	out := [][]byte{[]byte(`{"a":{"x":[1,"s",true,null,{}]},"i8":-1,"m":{"k":1},"r":{"raw":[1]},"rp":null,"s":"","u":1,"named":"","-":"","Bad":"","NoTag":0}`)}
	for _, v := range d.Vectors {
		out = append(out, []byte(v.File))
	}
	return out
}
