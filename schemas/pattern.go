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
	for range 8 { // a chain of $refs this long is a mistake in a schema
		name, ptr, _ := strings.Cut(ref, "#")
		s, err := resolve(name, ptr)
		if err != nil {
			return "", fmt.Errorf("schemas: pattern %s: %w", ref, err)
		}
		if p, ok := s["pattern"].(string); ok {
			return p, nil
		}
		next, ok := s["$ref"].(string)
		if !ok {
			return "", fmt.Errorf("schemas: pattern %s: the schema there has no pattern", ref)
		}
		if strings.HasPrefix(next, "#") {
			next = name + next
		}
		ref = next
	}
	return "", fmt.Errorf("schemas: pattern %s: too many $refs", ref)
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
