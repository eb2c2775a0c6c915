// Package schemas holds the JSON Schemas (draft 2020-12) of every ron-kms
// governance object and validates instances against them.
//
// Each kind of object has one file, <kind>.schema.json, whose name is the
// object's "type" field; defs.json holds the definitions they share (refer
// to them as "defs.json#/$defs/<name>"). Every *.schema.json in the folder
// is embedded and compiled at first use, so adding a kind is adding a file.
//
// A schema checks shape: fields, types, formats, bounds. Rules that relate
// fields or objects (a key id matching its public key, thresholds, digests,
// signatures) belong to the Go packages that verify them; a valid instance
// is not yet a verified one.
//
// The verdict and the error are santhosh-tekuri/jsonschema's. A valid
// object mostly never reaches it: a fast path compiled from the same
// compiled schemas (fast.go) shows it valid first, on the canon tree as it
// is; whatever the fast path cannot show valid goes to jsonschema.
package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// baseURL names the embedded files for reference resolution only; nothing
// is ever fetched from it.
const baseURL = "https://github.com/ron-kms/ron-kms/schemas/"

const suffix = ".schema.json"

// Error is an instance that does not satisfy its schema. Path is where in
// the instance ("$" is the whole object, "$.members[1].key_id" a nested
// field) and Keyword the schema keyword that failed ("pattern",
// "additionalProperties", "required", …). It carries no file name: callers
// add it. When several rules fail, the first in document order is reported
// and Others counts the rest.
type Error struct {
	Kind    string
	Path    string
	Keyword string
	Detail  string
	Others  int
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("schemas: %s: %s at %s: %s", e.Kind, e.Keyword, e.Path, e.Detail)
	if e.Others > 0 {
		msg += fmt.Sprintf(" (and %d more)", e.Others)
	}
	return msg
}

// ErrUnknownKind is returned by Validate for a kind that has no schema.
var ErrUnknownKind = errors.New("schemas: unknown kind")

type compiled struct {
	kinds   []string
	schemas map[string]*jsonschema.Schema
	// fast holds the fast path of each kind whose schema it covers;
	// slow says why the others have none.
	fast map[string]*fastNode
	slow map[string]error
	err  error
}

var load = sync.OnceValue(func() *compiled { return compile(files, compileRegexp) })

// compile compiles every *.schema.json of fsys, with patterns compiled by
// engine (nil: Go's regexp). References resolve only among the files of
// fsys: the loader refuses every URL it was not given.
func compile(fsys fs.FS, engine jsonschema.RegexpEngine) *compiled {
	c := &compiled{schemas: map[string]*jsonschema.Schema{}, fast: map[string]*fastNode{}, slow: map[string]error{}}
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		c.err = err
		return c
	}
	comp := jsonschema.NewCompiler()
	comp.UseLoader(jsonschema.SchemeURLLoader{})
	comp.UseRegexpEngine(engine)
	comp.AssertFormat()
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			c.err = fmt.Errorf("schemas: reading %s: %w", name, err)
			return c
		}
		doc, err := decode(data, false)
		if err != nil {
			c.err = fmt.Errorf("schemas: %s: %w", name, err)
			return c
		}
		if err := comp.AddResource(baseURL+name, doc); err != nil {
			c.err = fmt.Errorf("schemas: %s: %w", name, err)
			return c
		}
	}
	fc := newFastCompiler()
	for _, name := range names {
		kind, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		s, err := comp.Compile(baseURL + name)
		if err != nil {
			c.err = fmt.Errorf("schemas: compiling %s: %w", name, err)
			return c
		}
		c.kinds = append(c.kinds, kind)
		c.schemas[kind] = s
		if f, err := fc.compile(s); err != nil {
			c.slow[kind] = err
		} else {
			c.fast[kind] = f
		}
	}
	slices.Sort(c.kinds)
	return c
}

// Kinds returns the kinds that have a schema, sorted.
func Kinds() []string {
	return slices.Clone(load().kinds)
}

// Check compiles every embedded schema and returns the first error. Validate
// fails the same way; Check lets a program fail at start-up instead.
func Check() error { return load().err }

// Validate checks data, one governance object of the given kind (its "type",
// e.g. "signer_set"), against the kind's schema. data is decoded with
// canon.ParseStrict first, so a *canon.Error comes back for input that is
// not strict I-JSON; a schema violation is an *Error.
func Validate(kind string, data []byte) error {
	c, err := loaded(kind)
	if err != nil {
		return err
	}
	doc, err := canon.ParseDocument(data)
	if err != nil {
		return err
	}
	return c.validate(kind, doc.Value())
}

// ValidateDocument is Validate for bytes already parsed with
// canon.ParseDocument: the caller that also decodes or digests them parses
// them once.
func ValidateDocument(kind string, doc *canon.Document) error {
	c, err := loaded(kind)
	if err != nil {
		return err
	}
	return c.validate(kind, doc.Value())
}

func loaded(kind string) (*compiled, error) {
	c := load()
	if c.err != nil {
		return nil, c.err
	}
	if _, ok := c.schemas[kind]; !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, kind, strings.Join(c.kinds, ", "))
	}
	return c, nil
}

// validate checks tree, a canon tree, against the schema of kind: by the
// fast path if it shows tree valid, else by jsonschema, whose verdict and
// error are then the answer.
func (c *compiled) validate(kind string, tree any) error {
	if f := c.fast[kind]; f != nil && f.valid(tree) {
		return nil
	}
	return c.validateSlow(kind, tree)
}

// validateSlow is validate by jsonschema alone.
func (c *compiled) validateSlow(kind string, tree any) error {
	inst, _ := convert(tree)
	return toError(kind, inst, c.schemas[kind].Validate(inst))
}

// decode parses data with canon and turns every canon.Number into a
// json.Number holding the same literal, which the validator reads exactly.
func decode(data []byte, strict bool) (any, error) {
	parse := canon.Parse
	if strict {
		parse = canon.ParseStrict
	}
	v, err := parse(data)
	if err != nil {
		return nil, err
	}
	inst, _ := convert(v)
	return inst, nil
}

// convert returns v with every canon.Number replaced by a json.Number of
// the same literal, and whether it had any. Objects and arrays without a
// number are returned as they are, not copied: the validator only reads
// the instance, and v is never modified.
func convert(v any) (any, bool) {
	switch x := v.(type) {
	case canon.Number:
		return json.Number(x), true
	case canon.Object:
		var m map[string]any
		for k, e := range x {
			c, changed := convert(e)
			if changed && m == nil {
				m = make(map[string]any, len(x))
				for k2, e2 := range x {
					m[k2] = e2
				}
			}
			if m != nil {
				m[k] = c
			}
		}
		if m == nil {
			return x, false
		}
		return m, true
	case []any:
		var a []any
		for i, e := range x {
			c, changed := convert(e)
			if changed && a == nil {
				a = make([]any, len(x))
				copy(a, x)
			}
			if a != nil {
				a[i] = c
			}
		}
		if a == nil {
			return x, false
		}
		return a, true
	default:
		return v, false
	}
}

var printer = message.NewPrinter(language.English)

// toError flattens the validator's tree into its leaves and reports the
// first by instance path, then keyword.
func toError(objKind string, inst any, err error) error {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("schemas: %s: %w", objKind, err)
	}
	var leaves []*Error
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		kw := e.ErrorKind.KeywordPath()
		keyword := "schema"
		switch e.ErrorKind.(type) {
		case *kind.Not:
			keyword = "not"
		case *kind.FalseSchema:
			keyword = "false"
		}
		if len(kw) > 0 {
			keyword = kw[len(kw)-1]
			// additionalProperties reports the property name as its last
			// element on some versions; keep the keyword itself.
			for _, k := range kw {
				if k == "additionalProperties" || k == "required" {
					keyword = k
				}
			}
		}
		leaves = append(leaves, &Error{
			Kind:    objKind,
			Path:    instancePath(inst, e.InstanceLocation),
			Keyword: keyword,
			Detail:  e.ErrorKind.LocalizedString(printer),
		})
	}
	walk(ve)
	if len(leaves) == 0 {
		return &Error{Kind: objKind, Path: "$", Keyword: "schema", Detail: ve.ErrorKind.LocalizedString(printer)}
	}
	slices.SortStableFunc(leaves, func(a, b *Error) int {
		return strings.Compare(a.Path, b.Path)
	})
	first := leaves[0]
	first.Others = len(leaves) - 1
	return first
}

// instancePath writes a JSON pointer's segments the way canon.Error does,
// walking the instance to tell array indexes from object keys.
func instancePath(inst any, loc []string) string {
	var b strings.Builder
	b.WriteString("$")
	cur := inst
	for _, seg := range loc {
		switch x := cur.(type) {
		case []any:
			b.WriteString("[" + seg + "]")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
				cur = x[i]
			} else {
				cur = nil
			}
		case map[string]any:
			if simpleKey(seg) {
				b.WriteString("." + seg)
			} else {
				b.WriteString("[" + strconv.Quote(seg) + "]")
			}
			cur = x[seg]
		default:
			b.WriteString("[" + strconv.Quote(seg) + "]")
			cur = nil
		}
	}
	return b.String()
}

func simpleKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
