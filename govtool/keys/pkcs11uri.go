package keys

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// PKCS11URI is the part of an RFC 7512 URI that ron-kms uses: which token,
// which key in it, which module to load and where the PIN is.
type PKCS11URI struct {
	// Token is the token label (token=). Slots are found by label because
	// slot ids change (SoftHSM draws them at random).
	Token string
	// Manufacturer, Serial and Model narrow the token when several share a
	// label.
	Manufacturer, Serial, Model string
	// Object is the key label (object=); ID its CKA_ID (id=). A signer
	// needs at least one of them.
	Object string
	ID     []byte
	// Type is "private", "public" or empty.
	Type string
	// ModulePath is the PKCS#11 module to load (module-path=); it must be
	// on the allow-list. Empty means the first allow-listed module present.
	ModulePath string
	// PinSource is the file holding the user PIN (pin-source=, a path or a
	// file: URI); like a passphrase file it must not be readable by group
	// or others. Empty means ask with LoadOptions.Prompt.
	PinSource string
}

// maxURI bounds the length of a pkcs11 URI.
const maxURI = 4096

// ParsePKCS11URI parses a pkcs11: URI strictly. Attributes are lower-case,
// appear once, values are percent-decoded. It refuses:
//
//   - pin-value: a PIN written in a URI ends up in shell history, process
//     lists and logs; use pin-source=file:/path instead;
//   - module-name, slot-*, library-* and vendor (x-) attributes, which it
//     does not implement and so cannot honour.
//
// Errors name the attribute, never its value.
func ParsePKCS11URI(s string) (*PKCS11URI, error) {
	if len(s) > maxURI {
		return nil, uriErr("longer than %d bytes", maxURI)
	}
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return nil, uriErr("does not start with pkcs11:")
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	u := &PKCS11URI{}
	seen := map[string]bool{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return nil, uriErr("path attribute without a name=value form")
			}
			if seen[name] {
				return nil, uriErr("attribute %s appears twice", safeName(name))
			}
			seen[name] = true
			val, err := pctDecode(raw, pathChar)
			if err != nil {
				return nil, uriErr("attribute %s: %v", safeName(name), err)
			}
			switch name {
			case "token":
				u.Token = string(val)
			case "manufacturer":
				u.Manufacturer = string(val)
			case "serial":
				u.Serial = string(val)
			case "model":
				u.Model = string(val)
			case "object":
				u.Object = string(val)
			case "id":
				u.ID = val
			case "type":
				u.Type = string(val)
				if u.Type != "private" && u.Type != "public" {
					return nil, uriErr("type must be private or public")
				}
			case "pin-value", "pin-source", "module-path", "module-name":
				return nil, uriErr("%s belongs in the query part (after ?)", name)
			default:
				return nil, uriErr("attribute %s is not supported (use token=, serial=, object=, id=)", safeName(name))
			}
		}
	}
	if hasQuery {
		if query == "" {
			return nil, uriErr("empty query after ?")
		}
		for _, attr := range strings.Split(query, "&") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return nil, uriErr("query attribute without a name=value form")
			}
			if name == "pin-value" {
				return nil, errors.New("keys: pkcs11 URI carries pin-value: a PIN must never be written in a URI (it lands in shell history and logs); put it in a file readable only by you and use pin-source=file:/path")
			}
			if seen[name] {
				return nil, uriErr("attribute %s appears twice", safeName(name))
			}
			seen[name] = true
			val, err := pctDecode(raw, queryChar)
			if err != nil {
				return nil, uriErr("attribute %s: %v", safeName(name), err)
			}
			switch name {
			case "module-path":
				u.ModulePath = string(val)
				if !filepath.IsAbs(u.ModulePath) {
					return nil, uriErr("module-path must be an absolute path")
				}
			case "pin-source":
				src := string(val)
				if p, ok := strings.CutPrefix(src, "file:"); ok {
					// file:/abs and file:///abs; file://host/… is refused.
					if rest, ok := strings.CutPrefix(p, "//"); ok {
						if !strings.HasPrefix(rest, "/") {
							return nil, uriErr("pin-source file: URI names a host; want file:/path")
						}
						p = rest
					}
					src = p
				} else if strings.Contains(src, ":") && !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") {
					return nil, uriErr("pin-source must be a file path or a file: URI")
				}
				if src == "" {
					return nil, uriErr("pin-source is empty")
				}
				u.PinSource = src
			case "module-name":
				return nil, uriErr("module-name is not supported: give module-path")
			default:
				return nil, uriErr("attribute %s is not supported (use module-path=, pin-source=)", safeName(name))
			}
		}
	}
	if u.Token == "" {
		return nil, uriErr("no token= attribute: name the token by its label")
	}
	return u, nil
}

// String is the URI in a normal form. It holds no secret: a URI with a PIN
// value cannot be parsed.
func (u *PKCS11URI) String() string {
	var path []string
	add := func(list *[]string, name, val string, keep func(byte) bool) {
		if val != "" {
			*list = append(*list, name+"="+pctEncode([]byte(val), keep))
		}
	}
	add(&path, "token", u.Token, pathChar)
	add(&path, "manufacturer", u.Manufacturer, pathChar)
	add(&path, "serial", u.Serial, pathChar)
	add(&path, "model", u.Model, pathChar)
	add(&path, "object", u.Object, pathChar)
	if u.ID != nil {
		path = append(path, "id="+pctEncode(u.ID, func(byte) bool { return false }))
	}
	add(&path, "type", u.Type, pathChar)
	var query []string
	add(&query, "module-path", u.ModulePath, queryChar)
	if src := u.PinSource; src != "" {
		if strings.HasPrefix(src, "//") {
			src = "//" + src // file:////x, so that //x is not read as a host
		}
		add(&query, "pin-source", "file:"+src, queryChar)
	}
	s := "pkcs11:" + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

func uriErr(format string, args ...any) error {
	return fmt.Errorf("keys: malformed pkcs11 URI: "+format, args...)
}

// safeName returns an attribute name for a message, or a placeholder when
// it does not look like one (it could be a mistyped secret).
func safeName(name string) string {
	if len(name) > 32 {
		return "(unnamed)"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "(unnamed)"
		}
	}
	return name
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

// pathChar and queryChar are the characters RFC 7512 lets appear unencoded
// in path and query attribute values.
func pathChar(c byte) bool { return unreserved(c) || strings.IndexByte(":[]@!$'()*+,=&", c) >= 0 }

func queryChar(c byte) bool { return unreserved(c) || strings.IndexByte(":[]@!$'()*+,=/?|", c) >= 0 }

func pctDecode(s string, allowed func(byte) bool) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return nil, errors.New("truncated percent escape")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, errors.New("bad percent escape")
			}
			out = append(out, hi<<4|lo)
			i += 2
		case allowed(c):
			out = append(out, c)
		default:
			return nil, fmt.Errorf("character at offset %d must be percent-encoded", i)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func pctEncode(b []byte, keep func(byte) bool) string {
	const hexDigits = "0123456789ABCDEF"
	var sb strings.Builder
	for _, c := range b {
		if keep(c) && c != '%' {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('%')
			sb.WriteByte(hexDigits[c>>4])
			sb.WriteByte(hexDigits[c&15])
		}
	}
	return sb.String()
}

// DefaultModuleAllowList returns the allow-list of PKCS#11 modules used
// when LoadOptions.ModuleAllowList is nil: the SoftHSM2 module at the paths
// Debian's softhsm2 package installs it. A deployment with a hardware token
// lists its vendor module explicitly. (A function, not a variable, so that
// no package can widen it for everyone.)
func DefaultModuleAllowList() []string {
	return []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	}
}

// modulePath picks the module to load for u under allow. The comparison is
// on the cleaned path, exactly; symlinks are not followed so that what was
// allowed is what is named.
func modulePath(u *PKCS11URI, allow []string, exists func(string) bool) (string, error) {
	if allow == nil {
		allow = DefaultModuleAllowList()
	}
	if u.ModulePath == "" {
		for _, p := range allow {
			if p = filepath.Clean(p); exists(p) {
				return p, nil
			}
		}
		return "", errors.New("keys: pkcs11 URI has no module-path and no allow-listed module is installed: add module-path=")
	}
	p := filepath.Clean(u.ModulePath)
	if !slices.ContainsFunc(allow, func(a string) bool { return filepath.Clean(a) == p }) {
		return "", fmt.Errorf("keys: PKCS#11 module %s is not on the allow-list; a module runs as code in this process: add it to the allow-list if you trust it", p)
	}
	return p, nil
}
