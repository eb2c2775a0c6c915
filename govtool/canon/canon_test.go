package canon

import (
	"errors"
	"strings"
	"testing"
)

func TestRFC8785Examples(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"3.2.2 primitives",
			`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
			  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
			  "literals": [null, true, false]}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		{"3.2.3 sorting",
			`{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
			  "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{"es6 numbers", `[1e21, 1e-7, 123e-20, -0, 0.000001, 5e-324, 1.7976931348623157e308]`,
			`[1e+21,1e-7,1.23e-18,0,0.000001,5e-324,1.7976931348623157e+308]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonical(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		strict bool
		reason Reason
		path   string
	}{
		{"duplicate key", `{"a":1,"b":{"c":1,"c":2}}`, true, ReasonDuplicateKey, "$.b.c"},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`, false, ReasonDuplicateKey, "$.a"},
		{"invalid utf-8", "{\"a\":\"\xff\"}", false, ReasonInvalidUTF8, "$"},
		{"lone high surrogate", `{"a":"\ud800x"}`, false, ReasonLoneSurrogate, "$.a"},
		{"lone low surrogate", `["\udc00"]`, false, ReasonLoneSurrogate, "$[0]"},
		{"big integer", `{"n":9007199254740993}`, false, ReasonNumberRange, "$.n"},
		{"huge float", `[1e400]`, false, ReasonNumberRange, "$[0]"},
		{"fraction in strict", `{"v":1.0}`, true, ReasonNonCanonicalNumber, "$.v"},
		{"exponent in strict", `{"v":1e2}`, true, ReasonNonCanonicalNumber, "$.v"},
		{"minus zero in strict", `{"v":-0}`, true, ReasonNonCanonicalNumber, "$.v"},
		{"leading zero", `[01]`, false, ReasonSyntax, "$[0]"},
		{"trailing data", `{} {}`, false, ReasonTrailingData, "$"},
		{"trailing comma", `[1,]`, false, ReasonSyntax, "$[1]"},
		{"unescaped control", "[\"a\tb\"]", false, ReasonSyntax, "$[0]"},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), false, ReasonTooDeep, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parse := Parse
			if tc.strict {
				parse = ParseStrict
			}
			_, err := parse([]byte(tc.in))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *canon.Error", err)
			}
			if ce.Reason != tc.reason {
				t.Errorf("reason %q, want %q (%v)", ce.Reason, tc.reason, err)
			}
			if tc.path != "" && ce.Path != tc.path {
				t.Errorf("path %q, want %q", ce.Path, tc.path)
			}
		})
	}
}

func TestMaxSafeIntegerAccepted(t *testing.T) {
	v, err := ParseStrict([]byte(`[9007199254740991,-9007199254740991]`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Canonical(v)
	if string(got) != `[9007199254740991,-9007199254740991]` {
		t.Errorf("got %s", got)
	}
}

func TestFileFormAndDigest(t *testing.T) {
	in := []byte(`{"type":"x","b":[1,{}],"a":{"z":[],"y":"\u00e9"},"signatures":[{"sig":"AA=="}]}`)
	v, err := ParseStrict(in)
	if err != nil {
		t.Fatal(err)
	}
	ff, err := FileForm(v)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"a\": {\n    \"y\": \"é\",\n    \"z\": []\n  },\n  \"b\": [\n    1,\n    {}\n  ],\n  \"signatures\": [\n    {\n      \"sig\": \"AA==\"\n    }\n  ],\n  \"type\": \"x\"\n}\n"
	if string(ff) != want {
		t.Fatalf("file form:\n%s\nwant:\n%s", ff, want)
	}
	if err := CheckFileForm(ff); err != nil {
		t.Errorf("file form rejected: %v", err)
	}
	if err := CheckFileForm(in); err == nil {
		t.Error("compact input accepted as file form")
	}
	if err := CheckFileForm(ff[:len(ff)-1]); err == nil {
		t.Error("file without trailing newline accepted")
	}
	d1, err := Digest(v)
	if err != nil {
		t.Fatal(err)
	}
	// The digest ignores top-level signatures and formatting.
	d2, err := DigestBytes([]byte(`{"a":{"y":"é","z":[]},"b":[1,{}],"type":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("digest with signatures %s != without %s", d1, d2)
	}
	if _, err := ParseDigest(d1); err != nil {
		t.Error(err)
	}
	d3, _ := DigestBytes([]byte(`{"a":{"y":"é","z":[]},"b":[2,{}],"type":"x"}`))
	if d3 == d1 {
		t.Error("different objects share a digest")
	}
}

func TestUnmarshalRoundTrip(t *testing.T) {
	type obj struct {
		Type string `json:"type"`
		N    int    `json:"n"`
	}
	var o obj
	if err := Unmarshal([]byte(`{"n":3,"type":"t"}`), &o); err != nil || o.N != 3 {
		t.Fatalf("good input: %v %+v", err, o)
	}
	for _, bad := range []string{
		`{"n":3,"type":"t","extra":1}`,
		`{"N":3,"type":"t"}`,
		`{"n":3,"type":null}`,
		`{"n":"3","type":"t"}`,
		`{"n":3.5,"type":"t"}`,
	} {
		if err := Unmarshal([]byte(bad), &o); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
