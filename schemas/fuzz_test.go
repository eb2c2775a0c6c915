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
// and a keyword.
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
	})
}
