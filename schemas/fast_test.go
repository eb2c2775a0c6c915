package schemas

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// reference is the schemas compiled with jsonschema as it comes: Go's
// regexp for patterns and no fast path in the way. The fast path (and the
// DFA) are checked against it.
var reference = sync.OnceValue(func() *compiled { return compile(files, nil) })

// TestFastCoversEverySchema: every kind has a fast path. If a schema comes
// to use a keyword outside the subset, this names it: extend fastNode (and
// its tests) or accept that the kind is validated by jsonschema alone.
func TestFastCoversEverySchema(t *testing.T) {
	c := load()
	if c.err != nil {
		t.Fatal(c.err)
	}
	for _, kind := range c.kinds {
		if c.fast[kind] == nil {
			t.Errorf("%s has no fast path: %v", kind, c.slow[kind])
		}
	}
}

// TestFastRefuses: a schema with a keyword outside the subset (or a
// subset keyword in a form it does not take) gets no fast path, says why,
// and is still validated, by jsonschema.
func TestFastRefuses(t *testing.T) {
	const draft = `"$schema": "https://json-schema.org/draft/2020-12/schema", `
	for _, tc := range []struct{ schema, why, good, bad string }{
		{`{` + draft + `"anyOf": [{"type": "string"}, {"type": "integer"}]}`, "AnyOf", `"a"`, `true`},
		{`{` + draft + `"patternProperties": {"^x": {"type": "string"}}}`, "PatternProperties", `{"xa": "a"}`, `{"xa": 1}`},
		{`{` + draft + `"exclusiveMinimum": 1}`, "ExclusiveMinimum", `2`, `1`},
		{`{` + draft + `"const": 1}`, "const that is not a string", `1`, `2`},
		{`{` + draft + `"enum": ["a", null]}`, "enum value that is not a string", `null`, `"b"`},
		{`{` + draft + `"minimum": 0.5}`, "minimum 1/2", `1`, `0`},
		{`{` + draft + `"contains": {"const": "a"}}`, "Contains", `["a"]`, `["b"]`},
		{`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"}`, "draft 7", `"a"`, `1`},
		{`{` + draft + `"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}`, "cycle", ``, ``},
	} {
		c := compile(mapFS(map[string]string{"x.schema.json": tc.schema}), compileRegexp)
		if c.err != nil {
			t.Errorf("%s: %v", tc.schema, c.err)
			continue
		}
		if c.fast["x"] != nil || c.slow["x"] == nil || !strings.Contains(c.slow["x"].Error(), tc.why) {
			t.Errorf("%s: fast path %v, reason %v (want one naming %q)", tc.schema, c.fast["x"] != nil, c.slow["x"], tc.why)
		}
		if tc.good == "" {
			continue
		}
		for data, ok := range map[string]bool{tc.good: true, tc.bad: false} {
			v, err := canon.Parse([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.validate("x", v); (err == nil) != ok {
				t.Errorf("%s on %s: %v, want valid=%v", tc.schema, data, err, ok)
			}
		}
	}
}

// TestFastAgrees compares the fast path with jsonschema (Go's regexp, no
// fast path) on every corpus document and every mutation of it, against
// its own schema and every other: the verdicts must be equal, and Validate
// must return jsonschema's error word for word.
func TestFastAgrees(t *testing.T) {
	c, ref := load(), reference()
	docs := corpusDocs(t)
	n, rejected := 0, 0
	for _, d := range docs {
		tree, err := canon.ParseStrict(d.data)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if err := c.validate(d.kind, tree); err != nil {
			t.Errorf("%s is invalid: %v", d.name, err)
		}
		for _, kind := range c.kinds {
			if kind != d.kind {
				n++
				compareFast(t, c, ref, kind, d.name+" as "+kind, tree)
			}
		}
		for i, m := range mutants(tree) {
			n++
			if !compareFast(t, c, ref, d.kind, d.name, m) {
				rejected++
			}
			if t.Failed() && i > 100 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d documents, %d comparisons, %d of the mutants invalid", len(docs), n, rejected)
}

// compareFast fails t unless the fast path and ref agree on tree, and
// reports whether tree is valid.
func compareFast(t *testing.T, c, ref *compiled, kind, name string, tree any) bool {
	t.Helper()
	got := c.fast[kind].check(tree)
	refErr := ref.validateSlow(kind, tree)
	if got == unknown || (got == valid) != (refErr == nil) {
		data, _ := canon.Canonical(tree)
		t.Errorf("%s (%s): fast path says %v, jsonschema says %v\n%s", name, kind, got, refErr, data)
		return refErr == nil
	}
	err := c.validate(kind, tree)
	if (err == nil) != (refErr == nil) || err != nil && err.Error() != refErr.Error() {
		t.Errorf("%s (%s): Validate says %v, jsonschema says %v", name, kind, err, refErr)
	}
	return refErr == nil
}

func (v verdict) String() string {
	return [...]string{unknown: "unknown", valid: "valid", invalid: "invalid"}[v]
}

// mutants returns copies of v, each changed in one place: a value
// replaced (by one of another type, a bound, or the same string a little
// changed), a member or item removed, a member added, an item repeated.
// v itself is left as it was.
func mutants(v any) []any {
	out := replacements(v)
	switch x := v.(type) {
	case canon.Object:
		for _, k := range slices.Sorted(mapKeys(x)) {
			c := cloneObject(x)
			delete(c, k)
			out = append(out, c)
			for _, m := range mutants(x[k]) {
				c := cloneObject(x)
				c[k] = m
				out = append(out, c)
			}
		}
		c := cloneObject(x)
		c["zz"] = "x"
		out = append(out, c)
	case []any:
		for i := range x {
			out = append(out, slices.Delete(slices.Clone(x), i, i+1))
			for _, m := range mutants(x[i]) {
				c := slices.Clone(x)
				c[i] = m
				out = append(out, c)
			}
		}
		if len(x) > 0 {
			out = append(out, append(slices.Clone(x), x[len(x)-1]))
		}
	}
	return out
}

func cloneObject(o canon.Object) canon.Object {
	c := make(canon.Object, len(o))
	for k, e := range o {
		c[k] = e
	}
	return c
}

func replacements(v any) []any {
	out := []any{nil, true, "", "a", canon.Number("0"), canon.Number("-1"), canon.Number("65"),
		canon.Number("9007199254740991"), canon.Object{}, []any{}}
	switch x := v.(type) {
	case string:
		out = append(out, x+"a", x+"Z", x+"\n", x+"é", " "+x, strings.ToUpper(x), strings.Repeat(x+"é", 1+8200/(len(x)+2)))
		if len(x) > 0 {
			out = append(out, x[:len(x)-1], x[1:], x[:len(x)/2]+"G"+x[len(x)/2+1:], x[:len(x)/2]+"é"+x[len(x)/2+1:])
		}
	case canon.Number:
		if i, ok := plainInt(string(x)); ok {
			for _, j := range []int64{i - 1, i + 1, -i} {
				out = append(out, canon.Number(strconv.FormatInt(j, 10)))
			}
		}
	case bool:
		out = append(out, !x)
	}
	return out
}

// TestFastEdges: values the corpus does not hold — numbers the fast path
// leaves to jsonschema, types canon does not make, uniqueItems over values
// of every type, and not and if over unknowns.
func TestFastEdges(t *testing.T) {
	const draft = `"$schema": "https://json-schema.org/draft/2020-12/schema", `
	for _, tc := range []struct {
		schema string
		inst   any
		want   verdict
	}{
		{`{` + draft + `"type": "integer"}`, canon.Number("1.5"), unknown},
		{`{` + draft + `"type": "integer"}`, canon.Number("12345678901234567890"), unknown},
		{`{` + draft + `"type": "integer"}`, 1.0, unknown},
		{`{` + draft + `"type": "integer"}`, canon.Number("-0"), valid},
		{`{` + draft + `"maximum": 3}`, canon.Number("3"), valid},
		{`{` + draft + `"maximum": 3}`, canon.Number("4"), invalid},
		{`{` + draft + `"minimum": -3}`, canon.Number("-4"), invalid},
		{`{` + draft + `"not": {"type": "null"}}`, canon.Number("1.5"), unknown},
		{`{` + draft + `"not": {"type": "null"}}`, nil, invalid},
		{`{` + draft + `"not": {"type": "string"}}`, canon.Object{"a": canon.Number("1")}, valid},
		{`{` + draft + `"if": {"type": "integer"}, "then": {"minimum": 2}}`, canon.Number("1e0"), unknown},
		{`{` + draft + `"if": {"type": "integer"}, "then": {"minimum": 2}}`, canon.Number("1"), invalid},
		{`{` + draft + `"if": {"type": "integer"}, "else": {"const": "a"}}`, "b", invalid},
		{`{` + draft + `"if": {"type": "integer"}, "else": {"const": "a"}}`, "a", valid},
		{`{` + draft + `"uniqueItems": true}`, []any{canon.Number("1"), "1", true, nil, canon.Object{}, []any{}}, valid},
		{`{` + draft + `"uniqueItems": true}`, []any{canon.Object{"a": []any{canon.Number("1")}}, canon.Object{"a": []any{canon.Number("1")}}}, invalid},
		{`{` + draft + `"uniqueItems": true}`, []any{canon.Number("1"), canon.Number("1.0")}, unknown},
		{`{` + draft + `"uniqueItems": true}`, []any{[]any{nil, false}, []any{nil, true}}, valid},
		{`{` + draft + `"maxLength": 2}`, "éé", valid},
		{`{` + draft + `"maxLength": 2}`, "ééé", invalid},
		{`{` + draft + `"minLength": 2}`, "é", invalid},
		{`{` + draft + `"minLength": 1}`, "", invalid},
		{`{` + draft + `"minLength": 1}`, "é", valid},
		{`{` + draft + `"maxProperties": 1, "propertyNames": {"pattern": "^a"}}`, canon.Object{"ab": nil}, valid},
		{`{` + draft + `"maxProperties": 1, "propertyNames": {"pattern": "^a"}}`, canon.Object{"b": nil}, invalid},
		{`{` + draft + `"prefixItems": [{"const": "a"}], "items": false}`, []any{"a"}, valid},
		{`{` + draft + `"prefixItems": [{"const": "a"}], "items": false}`, []any{"a", "a"}, invalid},
		{`{` + draft + `"additionalProperties": {"type": "string"}, "properties": {"n": {"type": "integer"}}}`, canon.Object{"n": canon.Number("1"), "s": "x"}, valid},
		{`{` + draft + `"additionalProperties": {"type": "string"}, "properties": {"n": {"type": "integer"}}}`, canon.Object{"n": canon.Number("1"), "s": canon.Number("1")}, invalid},
		{`{` + draft + `"format": "date-time"}`, "2026-02-29T00:00:00Z", invalid},
		{`{` + draft + `"format": "date-time"}`, "2028-02-29T23:59:60Z", valid},
	} {
		c := compile(mapFS(map[string]string{"x.schema.json": tc.schema}), compileRegexp)
		if c.err != nil || c.fast["x"] == nil {
			t.Fatalf("%s: %v %v", tc.schema, c.err, c.slow["x"])
		}
		if got := c.fast["x"].check(tc.inst); got != tc.want {
			t.Errorf("%s on %#v: %v, want %v", tc.schema, tc.inst, got, tc.want)
		}
		// Whatever the fast path says, Validate gives jsonschema's verdict.
		if tc.want != unknown {
			inst, _ := convert(tc.inst)
			refErr := c.schemas["x"].Validate(inst)
			if (refErr == nil) != (tc.want == valid) {
				t.Errorf("%s on %#v: jsonschema says %v, the case %v", tc.schema, tc.inst, refErr, tc.want)
			}
		}
		var se *Error
		if err := c.validate("x", tc.inst); err != nil && !errors.As(err, &se) {
			t.Errorf("%s on %#v: %T %v", tc.schema, tc.inst, err, err)
		}
	}
}
