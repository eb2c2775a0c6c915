package schemas

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/testvectors"
)

// FuzzValidate checks Validate never panics on outside input and fails
// only with a *canon.Error (not strict I-JSON) or an *Error naming a path
// and a keyword; and that on strict I-JSON the fast path's verdict is
// jsonschema's (with Go's regexp, no fast path), as is Validate's error.
func FuzzValidate(f *testing.F) {
	for kind, ex := range examples {
		f.Add(kind, []byte(ex))
	}
	var d testvectors.Digests
	data, err := testvectors.FS.ReadFile(testvectors.DigestsFile)
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		f.Fatal(err)
	}
	for _, v := range d.Vectors {
		f.Add(v.Type, []byte(v.File))
	}
	kinds := Kinds()
	c, ref := load(), reference()
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		// Mostly real kinds, so the fuzzer explores the schemas.
		if len(kind) > 0 {
			kind = kinds[int(kind[0])%len(kinds)]
		}
		err := Validate(kind, data)
		var ce *canon.Error
		var se *Error
		switch {
		case err == nil, errors.As(err, &ce), errors.Is(err, ErrUnknownKind):
		case errors.As(err, &se):
			if se.Path == "" || se.Path[0] != '$' || se.Keyword == "" {
				t.Fatalf("error without path or keyword: %#v", se)
			}
		default:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if ce != nil || errors.Is(err, ErrUnknownKind) {
			return
		}
		doc, perr := canon.ParseDocument(data)
		if perr != nil {
			t.Fatalf("Validate parsed what ParseDocument refuses: %v", perr)
		}
		tree := doc.Value()
		got := c.fast[kind].check(tree)
		refErr := ref.validateSlow(kind, tree)
		if got == unknown || (got == valid) != (refErr == nil) {
			t.Fatalf("fast path says %v, jsonschema says %v", got, refErr)
		}
		if (err == nil) != (refErr == nil) || err != nil && err.Error() != refErr.Error() {
			t.Fatalf("Validate says %v, jsonschema says %v", err, refErr)
		}
	})
}
