package canon

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Document.Unmarshal decodes a document into a Go value in two passes, each
// led by a plan of the Go type made once per type:
//
//  1. decoder walks the document's bytes (which ParseStrict has accepted, so
//     their syntax, keys and numbers are known good) and sets the value as
//     encoding/json's Decoder with DisallowUnknownFields would, except that
//     member names match exactly: a member the type does not have is
//     ReasonUnknownField, a JSON value of the wrong kind ReasonType.
//  2. checker walks the value and the parsed tree together and requires that
//     the value encodes, as json.Marshal would, to the tree: the round trip
//     that makes the digest of the value the digest of the signed bytes. It
//     is what refuses a missing member, a null where the type has none, or
//     an empty value that json.Marshal would leave out (omitempty).
//
// The two passes share no code for the JSON values themselves, so a mistake
// in the decoder is caught by the checker as a refusal rather than passing
// through. They cover the types governance objects are made of: bool,
// string, integers, float64, structs without embedded fields, slices
// (but not []byte), maps with string keys, pointers, any, and types that
// implement json.Marshaler (value receiver) and json.Unmarshaler, such as
// json.RawMessage, which get their subtree's bytes. For any other type
// planFor returns nil and Unmarshal takes the encoding/json path
// (unmarshalJSON), which is also the reference the tests hold this one to.

// kind is how a plan decodes and checks its type.
type kind uint8

const (
	kBool kind = iota + 1
	kInt
	kUint
	kFloat64
	kString
	kStruct
	kSlice
	kMap
	kPtr
	kAny  // interface{}
	kJSON // json.Marshaler and json.Unmarshaler: the subtree's bytes
)

// plan is how to decode and check one Go type.
type plan struct {
	kind   kind
	typ    reflect.Type
	elem   *plan   // kSlice, kMap, kPtr
	fields []field // kStruct, sorted by name as a canonical object is
}

// field is a struct field as encoding/json sees it.
type field struct {
	name      string // the member name
	index     int    // in the struct
	omitEmpty bool
	plan      *plan
}

var (
	plans              sync.Map // reflect.Type → *plan (nil: not planned)
	jsonMarshalerType  = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshalType  = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType  = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalType  = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessageType     = reflect.TypeFor[json.RawMessage]()
	emptyInterfaceType = reflect.TypeFor[any]()
)

// planFor returns the plan of t, or nil when t (or a type within it) is one
// the planned path does not cover.
func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := (&planner{seen: map[reflect.Type]*plan{}}).build(t)
	plans.Store(t, p)
	return p
}

type planner struct {
	seen map[reflect.Type]*plan // plans being built, for recursive types
}

func (b *planner) build(t reflect.Type) *plan {
	if p, ok := b.seen[t]; ok {
		return p
	}
	p := &plan{typ: t}
	b.seen[t] = p
	if t.Kind() != reflect.Pointer && implementsAny(t) {
		// encoding/json hands these their bytes. Only the pair
		// MarshalJSON (value receiver, so that json.Marshal calls it
		// whether or not the value is addressable) and UnmarshalJSON is
		// covered; json.RawMessage is one. (A pointer is planned as
		// one: encoding/json writes nil as null and calls the
		// methods of the value it points to.)
		if t.Kind() == reflect.Interface ||
			!t.Implements(jsonMarshalerType) || !reflect.PointerTo(t).Implements(jsonUnmarshalType) {
			return nil
		}
		p.kind = kJSON
		return p
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = kInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind = kUint
	case reflect.Float64:
		p.kind = kFloat64
	case reflect.String:
		p.kind = kString
	case reflect.Interface:
		if t != emptyInterfaceType && t.NumMethod() != 0 {
			return nil
		}
		p.kind = kAny
	case reflect.Pointer:
		p.kind = kPtr
		if p.elem = b.build(t.Elem()); p.elem == nil {
			return nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is base64 in encoding/json
		}
		p.kind = kSlice
		if p.elem = b.build(t.Elem()); p.elem == nil {
			return nil
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String || implementsAny(t.Key()) {
			return nil
		}
		p.kind = kMap
		if p.elem = b.build(t.Elem()); p.elem == nil {
			return nil
		}
	case reflect.Struct:
		p.kind = kStruct
		for i := range t.NumField() {
			sf := t.Field(i)
			if sf.Anonymous {
				return nil // encoding/json promotes embedded fields
			}
			if !sf.IsExported() {
				continue
			}
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if !validTagName(name) {
				name = sf.Name
			}
			f := field{name: name, index: i}
			for opts != "" {
				var o string
				o, opts, _ = strings.Cut(opts, ",")
				switch o {
				case "omitempty":
					f.omitEmpty = true
				case "string", "omitzero":
					return nil
				}
			}
			if f.plan = b.build(sf.Type); f.plan == nil {
				return nil
			}
			p.fields = append(p.fields, f)
		}
		slices.SortFunc(p.fields, func(a, b field) int { return compareUTF16(a.name, b.name) })
		for i := 1; i < len(p.fields); i++ {
			if p.fields[i].name == p.fields[i-1].name {
				return nil // encoding/json's rules for clashing names
			}
		}
	default:
		return nil // float32, arrays, complex, chan, func, ...
	}
	return p
}

// implementsAny reports whether encoding/json would call a method of t (or
// *t) instead of encoding or decoding it by its kind.
func implementsAny(t reflect.Type) bool {
	for _, x := range []reflect.Type{t, reflect.PointerTo(t)} {
		if x.Implements(jsonMarshalerType) || x.Implements(jsonUnmarshalType) ||
			x.Implements(textMarshalerType) || x.Implements(textUnmarshalType) {
			return true
		}
	}
	return false
}

// validTagName is encoding/json's isValidTag: a name it uses as given.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// lookup returns the field named name. Documents are usually in canonical
// member order, which is the order of p.fields, so the field after the one
// found last (*next) is tried first.
func (p *plan) lookup(name string, next *int) *field {
	if i := *next; i < len(p.fields) && p.fields[i].name == name {
		*next = i + 1
		return &p.fields[i]
	}
	for i := range p.fields {
		if p.fields[i].name == name {
			*next = i + 1
			return &p.fields[i]
		}
	}
	return nil
}

// decoder sets a Go value from the bytes of a document that ParseStrict
// accepted. It relies on that: it does not check syntax again.
type decoder struct {
	parser
}

// str is parser.str for accepted input: a string without escapes (no
// backslash before the first quote, which then closes it) is a slice of
// the document's string copy, found with IndexByte.
func (d *decoder) str() (string, error) {
	start := d.pos + 1
	if n := bytes.IndexByte(d.data[start:], '"'); n >= 0 && bytes.IndexByte(d.data[start:start+n], '\\') < 0 {
		d.pos = start + n + 1
		return d.src[start : start+n], nil
	}
	return d.parser.str()
}

// unmarshalers keep a decoder's and a checker's path stacks for the next
// Unmarshal.
var unmarshalers = sync.Pool{New: func() any { return new(unmarshaler) }}

type unmarshaler struct {
	dec decoder
	chk checker
}

func (u *unmarshaler) release() {
	u.dec = decoder{parser: parser{path: u.dec.path[:0], buf: u.dec.buf[:0]}}
	u.chk.path = u.chk.path[:0]
	unmarshalers.Put(u)
}

func (d *decoder) fail(reason Reason, format string, args ...any) error {
	return &Error{Path: d.at(), Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// typeError is a JSON value (first byte c) of another kind than t takes.
func (d *decoder) typeError(c byte, t reflect.Type) error {
	var got string
	switch c {
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case '"':
		got = "a string"
	case 't', 'f':
		got = "a boolean"
	default:
		got = "a number"
	}
	return d.fail(ReasonType, "%s where Go type %s wants %s", got, t, wants(t))
}

func wants(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		return "an array"
	}
	return "a number"
}

func (d *decoder) value(rv reflect.Value, p *plan) error {
	d.skipSpace()
	c := d.data[d.pos]
	if p.kind == kJSON {
		// As encoding/json: the value's bytes, null included.
		start := d.pos
		d.skip()
		if err := rv.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(d.data[start:d.pos:d.pos]); err != nil {
			return d.fail(ReasonType, "%s: %v", p.typ, err)
		}
		return nil
	}
	if c == 'n' {
		d.pos += len("null")
		switch p.kind {
		case kPtr, kSlice, kMap, kAny:
			rv.SetZero()
		}
		// Elsewhere null leaves the value as it is, as in encoding/json;
		// the checker then refuses it (no such type encodes as null).
		return nil
	}
	switch p.kind {
	case kBool:
		switch c {
		case 't':
			d.pos += len("true")
			rv.SetBool(true)
		case 'f':
			d.pos += len("false")
			rv.SetBool(false)
		default:
			return d.typeError(c, p.typ)
		}
	case kString:
		if c != '"' {
			return d.typeError(c, p.typ)
		}
		s, err := d.str()
		if err != nil {
			return err
		}
		rv.SetString(s)
	case kInt, kUint, kFloat64:
		if c != '-' && (c < '0' || c > '9') {
			return d.typeError(c, p.typ)
		}
		lit := d.numberLiteral()
		switch p.kind {
		case kInt:
			n, err := strconv.ParseInt(lit, 10, 64)
			if err != nil || rv.OverflowInt(n) {
				return d.fail(ReasonType, "number %s does not fit Go type %s", lit, p.typ)
			}
			rv.SetInt(n)
		case kUint:
			n, err := strconv.ParseUint(lit, 10, 64)
			if err != nil || rv.OverflowUint(n) {
				return d.fail(ReasonType, "number %s does not fit Go type %s", lit, p.typ)
			}
			rv.SetUint(n)
		default:
			f, err := strconv.ParseFloat(lit, 64)
			if err != nil {
				return d.fail(ReasonType, "number %s does not fit Go type %s", lit, p.typ)
			}
			rv.SetFloat(f)
		}
	case kPtr:
		if rv.IsNil() {
			rv.Set(reflect.New(p.typ.Elem()))
		}
		return d.value(rv.Elem(), p.elem)
	case kAny:
		x, err := d.anyValue()
		if err != nil {
			return err
		}
		rv.Set(reflect.ValueOf(x))
	case kStruct:
		if c != '{' {
			return d.typeError(c, p.typ)
		}
		return d.object(rv, p)
	case kMap:
		if c != '{' {
			return d.typeError(c, p.typ)
		}
		return d.mapObject(rv, p)
	case kSlice:
		if c != '[' {
			return d.typeError(c, p.typ)
		}
		return d.array(rv, p)
	default:
		panic("canon: unplanned kind") // planFor returns no such plan
	}
	return nil
}

// member reads a member name and the colon after it, and pushes the name
// on the path. It returns ok false at the end of the object.
func (d *decoder) member() (string, bool, error) {
	d.skipSpace()
	switch d.data[d.pos] {
	case '}':
		d.pos++
		return "", false, nil
	case ',':
		d.pos++
		d.skipSpace()
	}
	key, err := d.str()
	if err != nil {
		return "", false, err
	}
	d.skipSpace()
	d.pos++ // ':'
	d.push(pathSeg{key: key, index: -1})
	return key, true, nil
}

func (d *decoder) object(rv reflect.Value, p *plan) error {
	d.pos++ // '{'
	next := 0
	for {
		key, ok, err := d.member()
		if err != nil || !ok {
			return err
		}
		f := p.lookup(key, &next)
		if f == nil {
			return d.fail(ReasonUnknownField, "Go type %s has no member %q", p.typ, key)
		}
		if err := d.value(rv.Field(f.index), f.plan); err != nil {
			return err
		}
		d.pop()
	}
}

func (d *decoder) mapObject(rv reflect.Value, p *plan) error {
	d.pos++ // '{'
	if rv.IsNil() {
		rv.Set(reflect.MakeMap(p.typ))
	}
	kt := p.typ.Key()
	elem := reflect.New(p.typ.Elem()).Elem()
	for {
		key, ok, err := d.member()
		if err != nil || !ok {
			return err
		}
		elem.SetZero()
		if err := d.value(elem, p.elem); err != nil {
			return err
		}
		kv := reflect.ValueOf(key)
		if kt != kv.Type() {
			kv = kv.Convert(kt)
		}
		rv.SetMapIndex(kv, elem)
		d.pop()
	}
}

func (d *decoder) array(rv reflect.Value, p *plan) error {
	d.pos++ // '['
	d.skipSpace()
	if d.data[d.pos] == ']' {
		d.pos++
		rv.Set(reflect.MakeSlice(p.typ, 0, 0)) // [] is an empty slice, not nil
		return nil
	}
	for i := 0; ; i++ {
		if i == rv.Cap() {
			rv.Grow(1)
		}
		rv.SetLen(i + 1)
		d.push(pathSeg{index: i})
		if err := d.value(rv.Index(i), p.elem); err != nil {
			return err
		}
		d.pop()
		d.skipSpace()
		c := d.data[d.pos]
		d.pos++ // ',' or ']'
		if c == ']' {
			return nil
		}
	}
}

// anyValue decodes a value into what encoding/json puts in an any:
// map[string]any, []any, string, float64, bool or nil.
func (d *decoder) anyValue() (any, error) {
	d.skipSpace()
	switch c := d.data[d.pos]; c {
	case '{':
		d.pos++
		m := map[string]any{}
		for {
			key, ok, err := d.member()
			if err != nil {
				return nil, err
			}
			if !ok {
				return m, nil
			}
			v, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			m[key] = v
			d.pop()
		}
	case '[':
		d.pos++
		a := []any{}
		d.skipSpace()
		if d.data[d.pos] == ']' {
			d.pos++
			return a, nil
		}
		for i := 0; ; i++ {
			d.push(pathSeg{index: i})
			v, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			d.pop()
			d.skipSpace()
			c := d.data[d.pos]
			d.pos++
			if c == ']' {
				return a, nil
			}
		}
	case '"':
		return d.str()
	case 't':
		d.pos += len("true")
		return true, nil
	case 'f':
		d.pos += len("false")
		return false, nil
	case 'n':
		d.pos += len("null")
		return nil, nil
	}
	lit := d.numberLiteral()
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, d.fail(ReasonType, "number %s does not fit Go type float64", lit)
	}
	return f, nil
}

// numberLiteral returns the number that starts at d.pos.
func (d *decoder) numberLiteral() string {
	start := d.pos
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.pos++
			continue
		}
		break
	}
	return d.src[start:d.pos]
}

// skip moves past the value that starts at d.pos.
func (d *decoder) skip() {
	depth := 0
	for {
		d.skipSpace()
		switch d.data[d.pos] {
		case '{', '[':
			depth++
			d.pos++
			continue
		case '}', ']':
			depth--
			d.pos++
		case ',', ':':
			d.pos++
			continue
		case '"':
			d.pos++
			for d.data[d.pos] != '"' {
				if d.data[d.pos] == '\\' {
					d.pos++
				}
				d.pos++
			}
			d.pos++
		default: // number or literal
			for d.pos < len(d.data) {
				switch d.data[d.pos] {
				case ',', '}', ']', ' ', '\t', '\n', '\r':
				default:
					d.pos++
					continue
				}
				break
			}
		}
		if depth == 0 {
			return
		}
	}
}

// checker holds a decoded value to the parsed tree: the value must be what
// json.Marshal would encode as the tree.
type checker struct {
	path []pathSeg
	num  [24]byte // scratch for formatting numbers
}

// mismatch is the round trip failing at the current path.
func (c *checker) mismatch(format string, args ...any) error {
	return &Error{Path: formatPath(c.path), Reason: ReasonUnknownField, Detail: "does not round-trip: " + fmt.Sprintf(format, args...)}
}

func describe(t any) string {
	switch t.(type) {
	case nil:
		return "null"
	case Object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", t)
}

func (c *checker) match(rv reflect.Value, p *plan, t any) error {
	switch p.kind {
	case kBool:
		if b, ok := t.(bool); ok && b == rv.Bool() {
			return nil
		}
	case kString:
		s := rv.String()
		if x, ok := t.(string); ok && x == s {
			return nil // x is valid UTF-8, so s is
		}
		if !utf8.ValidString(s) {
			return c.viaJSON(rv, t) // json.Marshal would replace the bad bytes
		}
	case kInt:
		if n, ok := t.(Number); ok && string(strconv.AppendInt(c.num[:0], rv.Int(), 10)) == string(n) {
			return nil
		}
	case kUint:
		if n, ok := t.(Number); ok && string(strconv.AppendUint(c.num[:0], rv.Uint(), 10)) == string(n) {
			return nil
		}
	case kFloat64:
		if n, ok := t.(Number); ok && c.floatIs(rv.Float(), n) {
			return nil
		}
	case kPtr:
		if rv.IsNil() {
			if t == nil {
				return nil
			}
			break
		}
		return c.match(rv.Elem(), p.elem, t)
	case kAny:
		if rv.IsNil() {
			if t == nil {
				return nil
			}
			break
		}
		return c.matchAny(rv.Elem().Interface(), t)
	case kSlice:
		if rv.IsNil() {
			if t == nil {
				return nil
			}
			break
		}
		a, ok := t.([]any)
		if !ok || len(a) != rv.Len() {
			break
		}
		for i := range a {
			c.path = append(c.path, pathSeg{index: i})
			if err := c.match(rv.Index(i), p.elem, a[i]); err != nil {
				return err
			}
			c.path = c.path[:len(c.path)-1]
		}
		return nil
	case kMap:
		if rv.IsNil() {
			if t == nil {
				return nil
			}
			break
		}
		o, ok := t.(Object)
		if !ok || len(o) != rv.Len() {
			break
		}
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			x, ok := o[k]
			if !ok {
				return c.mismatch("the value has a member %q the input does not", k)
			}
			c.path = append(c.path, pathSeg{key: k, index: -1})
			if err := c.match(it.Value(), p.elem, x); err != nil {
				return err
			}
			c.path = c.path[:len(c.path)-1]
		}
		return nil
	case kStruct:
		o, ok := t.(Object)
		if !ok {
			break
		}
		n := 0
		for i := range p.fields {
			f := &p.fields[i]
			fv := rv.Field(f.index)
			x, present := o[f.name]
			c.path = append(c.path, pathSeg{key: f.name, index: -1})
			if f.omitEmpty && emptyValue(fv) {
				if present {
					return c.mismatch("%s where Go type %s leaves the member out (omitempty); leave it out", describe(x), p.typ)
				}
			} else {
				if !present {
					return c.mismatch("member missing; Go type %s requires it", p.typ)
				}
				if err := c.match(fv, f.plan, x); err != nil {
					return err
				}
				n++
			}
			c.path = c.path[:len(c.path)-1]
		}
		if n != len(o) {
			return c.mismatch("the input has members Go type %s does not", p.typ)
		}
		return nil
	case kJSON:
		if rv.Type() == rawMessageType {
			// json.Marshal writes a RawMessage compacted (nil as null), and
			// fails on one that is not JSON.
			if rv.IsNil() {
				if t == nil {
					return nil
				}
				break
			}
			u, err := ParseStrict(rv.Bytes())
			if err == nil && equal(u, t) {
				return nil
			}
			break
		}
		return c.viaJSON(rv, t)
	}
	if t == nil {
		return c.mismatch("null where Go type %s has no null", p.typ)
	}
	return c.mismatch("%s decoded as Go type %s does not encode back to it", describe(t), p.typ)
}

// matchAny checks a value decoded into an any: map[string]any, []any,
// string, float64, bool or nil.
func (c *checker) matchAny(v, t any) error {
	switch x := v.(type) {
	case nil:
		if t == nil {
			return nil
		}
	case bool:
		if y, ok := t.(bool); ok && x == y {
			return nil
		}
	case string:
		if y, ok := t.(string); ok && x == y {
			return nil
		}
		if !utf8.ValidString(x) {
			return c.viaJSON(reflect.ValueOf(x), t)
		}
	case float64:
		if n, ok := t.(Number); ok && c.floatIs(x, n) {
			return nil
		}
	case []any:
		if x == nil {
			if t == nil {
				return nil
			}
			break
		}
		a, ok := t.([]any)
		if !ok || len(a) != len(x) {
			break
		}
		for i := range a {
			c.path = append(c.path, pathSeg{index: i})
			if err := c.matchAny(x[i], a[i]); err != nil {
				return err
			}
			c.path = c.path[:len(c.path)-1]
		}
		return nil
	case map[string]any:
		if x == nil {
			if t == nil {
				return nil
			}
			break
		}
		o, ok := t.(Object)
		if !ok || len(o) != len(x) {
			break
		}
		for k, xv := range x {
			y, ok := o[k]
			if !ok {
				return c.mismatch("the value has a member %q the input does not", k)
			}
			c.path = append(c.path, pathSeg{key: k, index: -1})
			if err := c.matchAny(xv, y); err != nil {
				return err
			}
			c.path = c.path[:len(c.path)-1]
		}
		return nil
	default:
		return c.viaJSON(reflect.ValueOf(v), t)
	}
	return c.mismatch("%s decoded as %T does not encode back to it", describe(t), v)
}

// floatIs reports whether json.Marshal writes f as the number n. It writes
// a float64 of magnitude in [1e-6, 1e21) (or zero) in plain decimal, as
// strconv 'f' with the fewest digits; any other form is an exponent, which
// ParseStrict refuses, so it never equals a parsed number.
func (c *checker) floatIs(f float64, n Number) bool {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(f) {
		return false
	}
	return string(strconv.AppendFloat(c.num[:0], f, 'f', -1, 64)) == string(n)
}

// viaJSON is the check for a value the walk does not model: it encodes it
// with encoding/json and compares the parse of that with t.
func (c *checker) viaJSON(rv reflect.Value, t any) error {
	raw, err := json.Marshal(rv.Interface())
	if err != nil {
		return &Error{Path: formatPath(c.path), Reason: ReasonType, Detail: fmt.Sprintf("encoding Go type %s: %v", rv.Type(), err)}
	}
	u, err := ParseStrict(raw)
	if err != nil {
		return &Error{Path: formatPath(c.path), Reason: ReasonUnknownField, Detail: fmt.Sprintf("does not round-trip: Go type %s encodes as %s, which is not strict I-JSON: %v", rv.Type(), raw, err)}
	}
	if !equal(u, t) {
		return c.mismatch("%s decoded as Go type %s does not encode back to it", describe(t), rv.Type())
	}
	return nil
}

// emptyValue is encoding/json's isEmptyValue: what omitempty leaves out.
func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
