package keys

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParsePKCS11URI(t *testing.T) {
	u, err := ParsePKCS11URI("pkcs11:token=Ron%20KMS;serial=abc123;object=alice;id=%01%a2%FF;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin")
	if err != nil {
		t.Fatal(err)
	}
	want := &PKCS11URI{Token: "Ron KMS", Serial: "abc123", Object: "alice", ID: []byte{1, 0xa2, 0xff}, Type: "private",
		ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PinSource: "/run/secrets/pin"}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("got %+v\nwant %+v", u, want)
	}
	again, err := ParsePKCS11URI(u.String())
	if err != nil || !reflect.DeepEqual(again, u) {
		t.Fatalf("String() %q does not parse back: %v", u.String(), err)
	}

	for src, path := range map[string]string{
		"file:/p/pin":   "/p/pin",
		"file:///p/pin": "/p/pin",
		"/p/pin":        "/p/pin",
		"./pin":         "./pin",
	} {
		u, err := ParsePKCS11URI("pkcs11:token=t?pin-source=" + src)
		if err != nil || u.PinSource != path {
			t.Errorf("pin-source=%s: got %+v, %v", src, u, err)
		}
	}
}

func TestParsePKCS11URIRejects(t *testing.T) {
	const pin = "123456secret"
	for name, c := range map[string]struct{ uri, says string }{
		"pin-value":            {"pkcs11:token=t;object=k?pin-value=" + pin, "pin-value"},
		"pin-value first":      {"pkcs11:token=t?pin-value=" + pin + "&module-path=/m.so", "pin-source"},
		"pin-value in path":    {"pkcs11:token=t;pin-value=" + pin, "query part"},
		"no token":             {"pkcs11:object=k", "token="},
		"empty":                {"pkcs11:", "token="},
		"other scheme":         {"pkcs12:token=t", "pkcs11:"},
		"upper scheme":         {"PKCS11:token=t", "pkcs11:"},
		"duplicate":            {"pkcs11:token=a;token=b", "twice"},
		"unknown":              {"pkcs11:token=t;slot-id=1", "not supported"},
		"vendor":               {"pkcs11:token=t;x-foo=1", "not supported"},
		"module-name":          {"pkcs11:token=t?module-name=softhsm2", "module-path"},
		"relative module":      {"pkcs11:token=t?module-path=lib.so", "absolute"},
		"bad escape":           {"pkcs11:token=%zz", "percent"},
		"short escape":         {"pkcs11:token=%2", "percent"},
		"raw slash in path":    {"pkcs11:token=a/b", "percent-encoded"},
		"raw space":            {"pkcs11:token=a b", "percent-encoded"},
		"no value":             {"pkcs11:token", "name=value"},
		"empty attr":           {"pkcs11:token=t;", "name=value"},
		"empty query":          {"pkcs11:token=t?", "empty query"},
		"bad type":             {"pkcs11:token=t;type=cert", "type"},
		"remote pin":           {"pkcs11:token=t?pin-source=file://host/pin", "host"},
		"other pin scheme":     {"pkcs11:token=t?pin-source=https://x/pin", "file"},
		"too long":             {"pkcs11:token=" + strings.Repeat("a", maxURI), "longer"},
		"secret-looking name":  {"pkcs11:token=t;" + pin + "Ab=1", "(unnamed)"},
		"secret-looking query": {"pkcs11:token=t?" + pin + "Ab=1", "(unnamed)"},
	} {
		_, err := ParsePKCS11URI(c.uri)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %q does not say %q", name, err, c.says)
		}
		if strings.Contains(err.Error(), pin) {
			t.Errorf("%s: error repeats a secret: %q", name, err)
		}
	}
}

func TestModuleAllowList(t *testing.T) {
	exists := func(p string) bool { return p == "/b.so" }
	allow := []string{"/a.so", "/lib/../b.so"}
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{"", "/b.so", true},           // first allowed module present
		{"/a.so", "/a.so", true},      // named and allowed
		{"/x/../a.so", "/a.so", true}, // cleaned before comparing
		{"/c.so", "", false},
		{"/a.so/", "/a.so", true},
	} {
		got, err := modulePath(&PKCS11URI{ModulePath: c.path}, allow, exists)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("module-path %q: got %q, %v", c.path, got, err)
		}
	}
	if _, err := modulePath(&PKCS11URI{}, []string{"/a.so"}, exists); err == nil {
		t.Error("no module-path and none installed: accepted")
	}
	if _, err := modulePath(&PKCS11URI{ModulePath: DefaultModuleAllowList()[0]}, nil, exists); err != nil {
		t.Errorf("nil allow-list is not the default: %v", err)
	}
	// LoadSigner refuses before loading anything.
	_, err := LoadSigner(context.Background(), "pkcs11:token=t;object=k?module-path=/elsewhere/evil.so", LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "allow-list") {
		t.Errorf("module off the allow-list: got %v", err)
	}
}

func TestParseECPoint(t *testing.T) {
	raw := bytes.Repeat([]byte{7}, 32)
	for name, c := range map[string]struct {
		in []byte
		ok bool
	}{
		"der":       {append([]byte{0x04, 0x20}, raw...), true},
		"bare":      {raw, true},
		"short":     {append([]byte{0x04, 0x1f}, raw[:31]...), false},
		"trailing":  {append(append([]byte{0x04, 0x20}, raw...), 0), false},
		"bit str":   {append([]byte{0x03, 0x20}, raw...), false},
		"long form": {append([]byte{0x04, 0x81, 0x20}, raw...), false},
		"empty":     {nil, false},
	} {
		pub, err := parseECPoint(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", name, err)
		}
		if c.ok && !bytes.Equal(pub, raw) {
			t.Errorf("%s: got %x", name, pub)
		}
	}
}

func FuzzParsePKCS11URI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/p",
		"pkcs11:token=Ron%20KMS;id=%01%02;type=private",
		"pkcs11:token=t?pin-value=1234",
		"pkcs11:token=a&b;serial=1?pin-source=./p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParsePKCS11URI(s)
		if err != nil {
			return
		}
		if len(u.String()) > maxURI {
			return // the normal form percent-encodes all of id= and may grow
		}
		again, err := ParsePKCS11URI(u.String())
		if err != nil {
			t.Fatalf("String() of %q is %q, which does not parse: %v", s, u.String(), err)
		}
		if !reflect.DeepEqual(again, u) {
			t.Fatalf("%q → %+v → %q → %+v", s, u, u.String(), again)
		}
	})
}
