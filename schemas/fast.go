package schemas

import (
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// The fast path. jsonschema's validator is general: it converts nothing
// itself, but needs canon's numbers turned into json.Numbers first
// (convert), and walks every keyword of every draft, building error values
// as it goes. For the keywords our schemas use, a yes/no answer over the
// canon tree costs a small fraction of that; verify reads thousands of
// proposals, each validated once.
//
// fastNode is compiled from jsonschema's own compiled *Schema (its exported
// fields), not from the files, so references, drafts and formats are
// resolved once, by the library, and the fast path cannot read a schema
// differently from it. A schema using anything outside the subset below is
// not compiled (fastCompiler says which field), and its kind is validated
// by jsonschema alone.
//
// The fast path only ever says "valid": when it does not, Validate runs
// jsonschema, whose verdict and error are the answer. So a fast "invalid"
// is never wrong, only slow; what matters is that a fast "valid" is
// jsonschema's "valid" too. TestFastAgrees and FuzzValidate check both
// directions against jsonschema with Go's regexp, over every vector,
// example and governance file of the repository and their mutations.

// Instance types, as a set.
const (
	tNull uint8 = 1 << iota
	tBoolean
	tNumber
	tInteger
	tString
	tArray
	tObject
)

// typeBits are the instance types by their names in "type".
var typeBits = map[string]uint8{
	"null": tNull, "boolean": tBoolean, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject,
}

// fastNode is one compiled schema.
type fastNode struct {
	never   bool  // the schema false
	types   uint8 // 0: any
	consts  []string
	isConst bool // consts holds the const; else, when not nil, the enum
	format  *jsonschema.Format
	ref     *fastNode
	not     *fastNode
	ifNode  *fastNode
	then    *fastNode
	els     *fastNode

	// object
	minProps, maxProps int // maxProps < 0: none
	props              []fastProp
	required           []string // required names that props does not declare
	noAdditional       bool
	additional         *fastNode
	declared           map[string]bool // props' names, when additional is set
	propertyNames      *fastNode

	// array
	minItems, maxItems int // maxItems < 0: none
	unique             bool
	prefixItems        []*fastNode
	items              *fastNode

	// string
	minLength, maxLength int // maxLength < 0: none
	pattern              jsonschema.Regexp

	// number (integers: canon's strict numbers are integers, and other
	// literals leave the answer to jsonschema)
	minimum, maximum       int64
	hasMinimum, hasMaximum bool
}

type fastProp struct {
	name     string
	node     *fastNode
	required bool
}

// fastFields are the fields of jsonschema.Schema that compileFast reads or
// that do not bear on validation (annotations, identifiers). Any other
// exported field set makes a schema fall outside the fast path, including
// fields a later version of the library adds.
var fastFields = map[string]bool{
	"DraftVersion": true, "Location": true, "ID": true, "Anchor": true, "DynamicAnchor": true,
	"Bool": true, "Ref": true, "Types": true, "Enum": true, "Const": true, "Not": true,
	"If": true, "Then": true, "Else": true, "Format": true,
	"MaxProperties": true, "MinProperties": true, "Required": true, "PropertyNames": true,
	"Properties": true, "AdditionalProperties": true,
	"MinItems": true, "MaxItems": true, "UniqueItems": true, "PrefixItems": true, "Items2020": true,
	"MinLength": true, "MaxLength": true, "Pattern": true, "Minimum": true, "Maximum": true,
	"Title": true, "Description": true, "Default": true, "Comment": true, "ReadOnly": true,
	"WriteOnly": true, "Examples": true, "Deprecated": true,
}

// fastCompiler compiles schemas into fastNodes, each schema once, so that
// the definitions shared through defs.json are shared here too.
type fastCompiler struct {
	nodes map[*jsonschema.Schema]*fastNode
}

func newFastCompiler() *fastCompiler {
	return &fastCompiler{nodes: map[*jsonschema.Schema]*fastNode{}}
}

// compile returns the fast form of s, or an error naming the first
// keyword (schema field) outside the subset.
func (fc *fastCompiler) compile(s *jsonschema.Schema) (*fastNode, error) {
	n, err := fc.node(s)
	if err != nil {
		return nil, err
	}
	// A cycle through $ref, not, if, then or else revisits the same
	// instance forever; jsonschema reports it as an error at validation.
	if err := checkCycles(n, map[*fastNode]int{}); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Location, err)
	}
	return n, nil
}

func (fc *fastCompiler) node(s *jsonschema.Schema) (*fastNode, error) {
	if s == nil {
		return nil, nil
	}
	if n, ok := fc.nodes[s]; ok {
		return n, nil
	}
	n := &fastNode{maxProps: -1, maxItems: -1, maxLength: -1}
	fc.nodes[s] = n
	if err := fc.fill(n, s); err != nil {
		return nil, err
	}
	return n, nil
}

func (fc *fastCompiler) fill(n *fastNode, s *jsonschema.Schema) error {
	refuse := func(what string) error {
		return fmt.Errorf("%s: %s is outside the fast validator's subset", s.Location, what)
	}
	if s.Bool != nil {
		n.never = !*s.Bool
		return nil
	}
	if s.DraftVersion < 2020 {
		return refuse(fmt.Sprintf("draft %d", s.DraftVersion))
	}
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.IsExported() && !fastFields[f.Name] && !v.Field(i).IsZero() {
			return refuse(f.Name)
		}
	}

	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			bit, ok := typeBits[t]
			if !ok {
				return refuse("type " + t)
			}
			n.types |= bit
		}
	}
	if s.Const != nil {
		c, ok := (*s.Const).(string)
		if !ok {
			return refuse("a const that is not a string")
		}
		n.consts, n.isConst = []string{c}, true
	}
	if s.Enum != nil {
		if n.isConst {
			return refuse("const beside enum")
		}
		n.consts = []string{}
		for _, e := range s.Enum.Values {
			c, ok := e.(string)
			if !ok {
				return refuse("an enum value that is not a string")
			}
			n.consts = append(n.consts, c)
		}
	}
	if s.Format != nil {
		if s.Format.Name == "regex" || s.Format.Validate == nil {
			return refuse("format " + s.Format.Name)
		}
		n.format = s.Format
	}
	var err error
	for _, sub := range []struct {
		dst **fastNode
		src *jsonschema.Schema
	}{{&n.ref, s.Ref}, {&n.not, s.Not}, {&n.ifNode, s.If}, {&n.then, s.Then}, {&n.els, s.Else},
		{&n.propertyNames, s.PropertyNames}, {&n.items, s.Items2020}} {
		if *sub.dst, err = fc.node(sub.src); err != nil {
			return err
		}
	}

	// object
	if s.MinProperties != nil {
		n.minProps = *s.MinProperties
	}
	if s.MaxProperties != nil {
		n.maxProps = *s.MaxProperties
	}
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	for name, ps := range s.Properties {
		pn, err := fc.node(ps)
		if err != nil {
			return err
		}
		n.props = append(n.props, fastProp{name: name, node: pn, required: required[name]})
		delete(required, name)
	}
	for _, r := range s.Required {
		if required[r] {
			n.required = append(n.required, r)
			delete(required, r)
		}
	}
	switch a := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		n.noAdditional = !a
	case *jsonschema.Schema:
		if n.additional, err = fc.node(a); err != nil {
			return err
		}
		n.declared = map[string]bool{}
		for _, p := range n.props {
			n.declared[p.name] = true
		}
	default:
		return refuse(fmt.Sprintf("additionalProperties of type %T", a))
	}

	// array
	if s.MinItems != nil {
		n.minItems = *s.MinItems
	}
	if s.MaxItems != nil {
		n.maxItems = *s.MaxItems
	}
	n.unique = s.UniqueItems
	for _, ps := range s.PrefixItems {
		pn, err := fc.node(ps)
		if err != nil {
			return err
		}
		n.prefixItems = append(n.prefixItems, pn)
	}

	// string
	if s.MinLength != nil {
		n.minLength = *s.MinLength
	}
	if s.MaxLength != nil {
		n.maxLength = *s.MaxLength
	}
	n.pattern = s.Pattern

	// number
	if s.Minimum != nil {
		if n.minimum, n.hasMinimum = ratInt64(s.Minimum); !n.hasMinimum {
			return refuse("minimum " + s.Minimum.RatString())
		}
	}
	if s.Maximum != nil {
		if n.maximum, n.hasMaximum = ratInt64(s.Maximum); !n.hasMaximum {
			return refuse("maximum " + s.Maximum.RatString())
		}
	}
	return nil
}

func ratInt64(r *big.Rat) (int64, bool) {
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

// checkCycles walks the edges that stay on one instance. state: 1 on the
// current path, 2 done.
func checkCycles(n *fastNode, state map[*fastNode]int) error {
	if n == nil {
		return nil
	}
	switch state[n] {
	case 1:
		return fmt.Errorf("a cycle of $ref, not, if, then or else")
	case 2:
		return nil
	}
	state[n] = 1
	for _, m := range []*fastNode{n.ref, n.not, n.ifNode, n.then, n.els} {
		if err := checkCycles(m, state); err != nil {
			return err
		}
	}
	// Descents to members and items reach other instances; their own
	// schemas still need the check.
	var err error
	visit := func(m *fastNode) {
		if err == nil && m != nil && state[m] == 0 {
			err = checkCycles(m, state)
		}
	}
	for _, p := range n.props {
		visit(p.node)
	}
	visit(n.additional)
	visit(n.propertyNames)
	visit(n.items)
	for _, m := range n.prefixItems {
		visit(m)
	}
	state[n] = 2
	return err
}

// verdict is the fast path's answer on a value: valid, invalid, or
// unknown, for a value of a form it leaves to jsonschema (a number that is
// not a plain integer, a type canon does not produce). An unknown under
// not or if stays unknown: it never turns into valid.
type verdict int8

const (
	unknown verdict = iota
	valid
	invalid
)

// verdictOf is valid if ok, else invalid.
func verdictOf(ok bool) verdict {
	if ok {
		return valid
	}
	return invalid
}

// valid reports whether v, a value of a canon tree, certainly satisfies
// the schema.
func (n *fastNode) valid(v any) bool { return n.check(v) == valid }

// check returns the schema's verdict on v. The schema is the conjunction
// of its keywords: the first keyword that is not valid decides.
func (n *fastNode) check(v any) verdict {
	if n.never {
		return invalid
	}
	var t uint8
	r := valid
	switch x := v.(type) {
	case string:
		t = tString
		r = n.checkString(x)
	case canon.Object:
		t = tObject
		r = n.checkObject(x)
	case []any:
		t = tArray
		r = n.checkArray(x)
	case canon.Number:
		t = tNumber | tInteger
		i, ok := plainInt(string(x))
		switch {
		case !ok:
			r = unknown
		case n.hasMinimum && i < n.minimum, n.hasMaximum && i > n.maximum:
			r = invalid
		}
	case bool:
		t = tBoolean
	case nil:
		t = tNull
	default:
		return unknown
	}
	if r != valid {
		return r
	}
	if n.types != 0 && n.types&t == 0 {
		return invalid
	}
	if n.consts != nil {
		s, ok := v.(string)
		if !ok || !slices.Contains(n.consts, s) {
			return invalid
		}
	}
	if n.format != nil && n.format.Validate(v) != nil {
		return invalid
	}
	if n.ref != nil {
		if r := n.ref.check(v); r != valid {
			return r
		}
	}
	if n.not != nil {
		switch n.not.check(v) {
		case valid:
			return invalid
		case unknown:
			return unknown
		}
	}
	if n.ifNode != nil {
		var branch *fastNode
		switch n.ifNode.check(v) {
		case valid:
			branch = n.then
		case invalid:
			branch = n.els
		default:
			return unknown
		}
		if branch != nil {
			return branch.check(v)
		}
	}
	return valid
}

func (n *fastNode) checkString(s string) verdict {
	if n.minLength > 0 || n.maxLength >= 0 {
		// A string has at most as many code points as bytes: the byte
		// count decides unless it is over the maximum or the minimum is
		// above one.
		l := len(s)
		if n.maxLength >= 0 && l > n.maxLength || n.minLength > 1 {
			l = utf8.RuneCountInString(s)
		}
		if l < n.minLength || n.maxLength >= 0 && l > n.maxLength {
			return invalid
		}
	}
	return verdictOf(n.pattern == nil || n.pattern.MatchString(s))
}

func (n *fastNode) checkObject(o canon.Object) verdict {
	if len(o) < n.minProps || n.maxProps >= 0 && len(o) > n.maxProps {
		return invalid
	}
	seen := 0
	for i := range n.props {
		p := &n.props[i]
		e, ok := o[p.name]
		if !ok {
			if p.required {
				return invalid
			}
			continue
		}
		seen++
		if r := p.node.check(e); r != valid {
			return r
		}
	}
	for _, name := range n.required {
		if _, ok := o[name]; !ok {
			return invalid
		}
	}
	if seen < len(o) {
		if n.noAdditional {
			return invalid
		}
		if n.additional != nil {
			for k, e := range o {
				if n.declared[k] {
					continue
				}
				if r := n.additional.check(e); r != valid {
					return r
				}
			}
		}
	}
	if n.propertyNames != nil {
		for k := range o {
			if r := n.propertyNames.check(k); r != valid {
				return r
			}
		}
	}
	return valid
}

func (n *fastNode) checkArray(a []any) verdict {
	if len(a) < n.minItems || n.maxItems >= 0 && len(a) > n.maxItems {
		return invalid
	}
	if n.unique {
		if r := unique(a); r != valid {
			return r
		}
	}
	for i, e := range a {
		sub := n.items
		if i < len(n.prefixItems) {
			sub = n.prefixItems[i]
		}
		if sub != nil {
			if r := sub.check(e); r != valid {
				return r
			}
		}
	}
	return valid
}

// unique is uniqueItems: valid if no two items of a are equal JSON values.
func unique(a []any) verdict {
	strs := true
	for _, e := range a {
		if _, ok := e.(string); !ok {
			strs = false
			break
		}
	}
	if strs && len(a) > 16 {
		seen := make(map[string]bool, len(a))
		for _, e := range a {
			if seen[e.(string)] {
				return invalid
			}
			seen[e.(string)] = true
		}
		return valid
	}
	for i := range a {
		for j := range i {
			if r := equal(a[i], a[j]); r != invalid {
				// equal is "valid" for equal values: a repeat.
				return flip(r)
			}
		}
	}
	return valid
}

// equal is valid if a and b are the same JSON value (numbers by value),
// invalid if they are not, unknown if that depends on a number that is
// not a plain integer.
func equal(a, b any) verdict {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return verdictOf(ok && x == y)
	case bool:
		y, ok := b.(bool)
		return verdictOf(ok && x == y)
	case nil:
		return verdictOf(b == nil)
	case canon.Number:
		xi, ok := plainInt(string(x))
		if !ok {
			return unknown
		}
		switch y := b.(type) {
		case canon.Number:
			yi, ok := plainInt(string(y))
			if !ok {
				return unknown
			}
			return verdictOf(xi == yi)
		case string, bool, nil, canon.Object, []any:
			return invalid
		}
		return unknown
	case canon.Object:
		y, ok := b.(canon.Object)
		if !ok || len(x) != len(y) {
			return invalid
		}
		for k, xe := range x {
			ye, ok := y[k]
			if !ok {
				return invalid
			}
			if r := equal(xe, ye); r != valid {
				return r
			}
		}
		return valid
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return invalid
		}
		for i := range x {
			if r := equal(x[i], y[i]); r != valid {
				return r
			}
		}
		return valid
	}
	return unknown
}

func flip(r verdict) verdict {
	switch r {
	case valid:
		return invalid
	case invalid:
		return valid
	}
	return unknown
}

// plainInt parses a literal of the form -?[0-9]+ of at most 18 digits,
// which canon's strict numbers all are.
func plainInt(s string) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var i int64
	for j := 0; j < len(s); j++ {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int64(c-'0')
	}
	if neg {
		i = -i
	}
	return i, true
}
