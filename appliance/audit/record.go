package audit

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// maxSafeInteger is the largest integer canon accepts (I-JSON: ±(2^53-1)).
const maxSafeInteger = 1<<53 - 1

// appendCanonical appends the canonical JSON of r (RFC 8785) to dst and
// returns the extended slice. The bytes are exactly those of
// canon.Marshal(r) — TestCanonicalMatchesCanon and FuzzCanonical hold it to
// that — without the trip through encoding/json and the strict parser,
// which on the sign path cost more than the record is worth: the members
// in key order, each string with the JCS escapes, invalid UTF-8 replaced
// by U+FFFD byte by byte (as encoding/json replaces it before canon sees
// it), and an integer outside ±(2^53-1) refused (as canon refuses it).
func (r *Record) appendCanonical(dst []byte) ([]byte, error) {
	for _, n := range [...]int64{r.Index, int64(r.KeyVersion), int64(r.PolicyVersion)} {
		if n > maxSafeInteger || n < -maxSafeInteger {
			return nil, errors.New("audit: record has an integer outside ±(2^53-1)")
		}
	}
	// Members sorted by name (all ASCII, so byte order is UTF-16 order).
	dst = append(dst, `{"alg":`...)
	dst = appendString(dst, r.Alg)
	dst = append(dst, `,"appliance_id":`...)
	dst = appendString(dst, r.ApplianceID)
	dst = append(dst, `,"capability_id":`...)
	dst = appendString(dst, r.CapabilityID)
	dst = append(dst, `,"detail":`...)
	dst = appendString(dst, r.Detail)
	dst = append(dst, `,"digest":`...)
	dst = appendString(dst, r.Digest)
	dst = append(dst, `,"event":`...)
	dst = appendString(dst, r.Event)
	dst = append(dst, `,"governance_commit":`...)
	dst = appendString(dst, r.GovernanceCommit)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendInt(dst, r.Index, 10)
	dst = append(dst, `,"key":`...)
	dst = appendString(dst, r.Key)
	dst = append(dst, `,"key_version":`...)
	dst = strconv.AppendInt(dst, int64(r.KeyVersion), 10)
	dst = append(dst, `,"outcome":`...)
	dst = appendString(dst, r.Outcome)
	dst = append(dst, `,"policy_version":`...)
	dst = strconv.AppendInt(dst, int64(r.PolicyVersion), 10)
	dst = append(dst, `,"prev":`...)
	dst = appendString(dst, r.Prev)
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, r.Reason)
	dst = append(dst, `,"request_id":`...)
	dst = appendString(dst, r.RequestID)
	dst = append(dst, `,"tenant":`...)
	dst = appendString(dst, r.Tenant)
	dst = append(dst, `,"time":`...)
	dst = appendString(dst, r.Time)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, r.Type)
	return append(dst, '}'), nil
}

// recordOverhead bounds what appendCanonical writes besides the strings'
// own bytes when none needs escaping: names, quotes, punctuation, integers.
const recordOverhead = 320

// stringBytes is the length of r's strings.
func (r *Record) stringBytes() int {
	return len(r.Type) + len(r.Prev) + len(r.Time) + len(r.ApplianceID) + len(r.Event) + len(r.Outcome) +
		len(r.Reason) + len(r.RequestID) + len(r.Tenant) + len(r.Key) + len(r.Alg) + len(r.CapabilityID) +
		len(r.Digest) + len(r.GovernanceCommit) + len(r.Detail)
}

// appendString appends s as a JCS string (RFC 8785 §3.2.2.2): '"', '\\'
// and the controls below 0x20 escaped (the two-letter forms where JSON has
// one), every other rune as its UTF-8 bytes, each invalid byte as U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(s[i:])
			if size == 1 { // invalid byte
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, `\"`...)
		case '\\':
			dst = append(dst, `\\`...)
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
