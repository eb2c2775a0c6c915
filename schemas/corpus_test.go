package schemas

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/testvectors"
)

// corpusDoc is a governance object of a known kind, for comparing
// validators: the examples of this package, the objects of
// testvectors/digests.json and the governance files of this repository.
type corpusDoc struct {
	name, kind string
	data       []byte
}

func corpusDocs(t testing.TB) []corpusDoc {
	t.Helper()
	var docs []corpusDoc
	for _, kind := range slices.Sorted(mapKeys(examples)) {
		docs = append(docs, corpusDoc{"example " + kind, kind, []byte(examples[kind])})
	}
	var d testvectors.Digests
	data, err := testvectors.FS.ReadFile(testvectors.DigestsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Vectors {
		docs = append(docs, corpusDoc{"vector " + v.Name, v.Type, []byte(v.File)})
	}
	// The repository's own governance tree, one level above this package.
	for _, dir := range []string{"policy", "signer-sets", "proposals", "appliances", "disputes"} {
		names, _ := filepath.Glob(filepath.Join("..", dir, "*.json"))
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ Type string }
			if json.Unmarshal(data, &head) != nil || head.Type == "" {
				continue
			}
			docs = append(docs, corpusDoc{filepath.ToSlash(name), head.Type, data})
		}
	}
	if len(docs) < len(examples)+len(d.Vectors) {
		t.Fatalf("corpus of %d documents", len(docs))
	}
	return docs
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// corpusStrings returns every string (values and object keys) of the
// corpus documents, sorted and without repeats.
func corpusStrings(t testing.TB) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case canon.Object:
			for k, e := range x {
				out = append(out, k)
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, d := range corpusDocs(t) {
		v, err := canon.Parse(d.data)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		walk(v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// schemaPatterns returns every "pattern" of the schema files, sorted.
func schemaPatterns(t testing.TB) []string {
	t.Helper()
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case canon.Object:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "pattern" {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, name := range names {
		data, _ := fs.ReadFile(files, name)
		v, err := canon.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		walk(v)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) < 10 {
		t.Fatalf("only %d patterns found", len(out))
	}
	return out
}
