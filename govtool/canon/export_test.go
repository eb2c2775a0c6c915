package canon

import "reflect"

// UnmarshalViaJSON is Document.Unmarshal through encoding/json, the
// reference the planned path is tested against.
func (d *Document) UnmarshalViaJSON(v any) error { return d.unmarshalJSON(v) }

// Planned reports whether Unmarshal into v (a pointer) takes the planned
// path rather than encoding/json.
func Planned(v any) bool { return planFor(reflect.TypeOf(v).Elem()) != nil }
