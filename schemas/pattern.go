package schemas

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Pattern returns the "pattern" of the schema at ref, a file of this folder
// and a JSON pointer into it ("defs.json#/$defs/key_id",
// "policy.schema.json#/$defs/tenant/properties/keys/propertyNames"). A
// schema that is only a "$ref" is followed. Go code that checks a format by
// itself (a name regexp, a hand-written predicate) takes its pattern from
// here or is tested against it, so the schema stays the one place the
// format is written.
func Pattern(ref string) (string, error) {
	v, err := keyword(ref, "pattern")
	if err != nil {
		return "", err
	}
	p, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("schemas: pattern %s: the pattern there is not a string", ref)
	}
	return p, nil
}

// Enum returns the "enum" of the schema at ref (as Pattern finds it) when
// its values are all strings: the list a Go package that names the same
// values (roles, modes, algorithms) is tested against.
func Enum(ref string) ([]string, error) {
	v, err := keyword(ref, "enum")
	if err != nil {
		return nil, err
	}
	vals, _ := v.([]any)
	out := make([]string, 0, len(vals))
	for _, e := range vals {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("schemas: enum %s: %v is not a string", ref, e)
		}
		out = append(out, s)
	}
	return out, nil
}

// keyword returns the value of keyword kw in the schema at ref, following
// a schema that is only a "$ref".
func keyword(ref, kw string) (any, error) {
	start := ref
	for range 8 { // a chain of $refs this long is a mistake in a schema
		name, ptr, _ := strings.Cut(ref, "#")
		s, err := resolve(name, ptr)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s %s: %w", kw, start, err)
		}
		if v, ok := s[kw]; ok {
			return v, nil
		}
		next, ok := s["$ref"].(string)
		if !ok {
			return nil, fmt.Errorf("schemas: %s %s: the schema there has no %s", kw, start, kw)
		}
		if strings.HasPrefix(next, "#") {
			next = name + next
		}
		ref = next
	}
	return nil, fmt.Errorf("schemas: %s %s: too many $refs", kw, start)
}

// MustPattern is Pattern for package variables: it panics if ref names no
// pattern, which a test of the calling package then shows.
func MustPattern(ref string) string {
	p, err := Pattern(ref)
	if err != nil {
		panic(err)
	}
	return p
}

// resolve returns the schema object at the JSON pointer ptr of file name.
func resolve(name, ptr string) (map[string]any, error) {
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, err
	}
	var cur any
	if err := json.Unmarshal(data, &cur); err != nil {
		return nil, err
	}
	if ptr != "" {
		rest, ok := strings.CutPrefix(ptr, "/")
		if !ok {
			return nil, fmt.Errorf("%q is not a JSON pointer", ptr)
		}
		for _, seg := range strings.Split(rest, "/") {
			seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
			switch x := cur.(type) {
			case map[string]any:
				cur, ok = x[seg]
			case []any:
				i, err := strconv.Atoi(seg)
				ok = err == nil && i >= 0 && i < len(x)
				if ok {
					cur = x[i]
				}
			default:
				ok = false
			}
			if !ok {
				return nil, fmt.Errorf("no %q in %s", seg, name)
			}
		}
	}
	s, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a schema object")
	}
	return s, nil
}
