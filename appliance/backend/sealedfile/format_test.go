package sealedfile

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/backend"
)

func validFile() []byte {
	h := &header{
		kdf:     kdfParams{logN: 15, r: 8, p: 1, salt: [16]byte{1, 2, 3}},
		label:   "acme/pay/v1",
		alg:     backend.Ed25519,
		created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	return append(h.marshal(), make([]byte, bodySize)...)
}

func TestParse(t *testing.T) {
	good := string(validFile())
	body := good[strings.Index(good, "---\n")+4:]
	hdr := strings.TrimSuffix(good, body)
	if _, _, _, err := parse([]byte(good)); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	if !strings.HasPrefix(hdr, "ron-kms-sealed/v1\nscrypt 15 8 1 AQID") {
		t.Fatalf("unexpected header %q", hdr)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"leading zero", "scrypt 15 ", "scrypt 015 "},
		{"plus sign", "scrypt 15 ", "scrypt +15 "},
		{"two spaces", "scrypt 15 ", "scrypt  15 "},
		{"logN too small", "scrypt 15 ", "scrypt 9 "},
		{"logN too large", "scrypt 15 ", "scrypt 23 "},
		{"r zero", " 8 1 ", " 0 1 "},
		{"r·N too large", "scrypt 15 8 ", "scrypt 22 8 "},
		{"p too large", " 8 1 ", " 8 17 "},
		{"salt padded", "AAAAAAAAAAAAA\n", "AAAAAAAAAAAAA==\n"},
		{"salt short", "AAAAAAAAAAAAA\n", "AAAAAAAAAAAA\n"},
		{"salt non-canonical", "AAAAAAAAAAAAA\n", "AAAAAAAAAAAAB\n"},
		{"extra field", "scrypt 15 8 1 ", "scrypt 15 8 1 2 "},
		{"unknown alg", "alg ed25519", "alg rsa"},
		{"seed alg for a key", "alg ed25519", "alg hkdf-sha256"},
		{"bad label", "label acme/pay/v1", "label Acme/pay/v1"},
		{"seed label for a key", "label acme/pay/v1", "label seed-hmac"},
		{"local time", "05Z", "05+00:00"},
		{"fractional time", "05Z", "05.5Z"},
		{"crlf", "\n---\n", "\r\n---\n"},
		{"missing end", "---\n", ""},
		{"extra line", "---\n", "note x\n---\n"},
		{"trailing space", "alg ed25519\n", "alg ed25519 \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(hdr, tc.old) {
				t.Fatalf("%q not in header", tc.old)
			}
			bad := strings.Replace(hdr, tc.old, tc.new, 1) + body
			if _, _, _, err := parse([]byte(bad)); err == nil {
				t.Fatalf("parse accepted %q", bad)
			}
		})
	}
	for _, n := range []int{0, bodySize - 1, bodySize + 1} {
		if _, _, _, err := parse([]byte(hdr + strings.Repeat("\x00", n))); err == nil {
			t.Errorf("parse accepted a %d-byte body", n)
		}
	}
}

// FuzzParse checks that parse never panics and accepts only canonical
// headers: whatever it accepts re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	f.Add(validFile())
	seed := validFile()
	seed[len(seed)-bodySize-5] = '\r'
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, ad, body, err := parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(h.marshal(), ad) {
			t.Fatalf("non-canonical header accepted:\n%q\nre-encodes as\n%q", ad, h.marshal())
		}
		if len(ad)+len(body) != len(data) || len(body) != bodySize {
			t.Fatalf("split %d+%d of %d bytes", len(ad), len(body), len(data))
		}
	})
}
