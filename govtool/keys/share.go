package keys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/envelope"
)

// SharePrefix starts every encoded share.
const SharePrefix = "ron-kms-share-v1"

const (
	maxShares   = 255
	setIDLen    = 16 // hex digits: the first 8 bytes of the key id
	checksumLen = 8  // hex digits: the first 4 bytes of SHA-256
	shareLen    = 2 * ed25519.SeedSize
)

// Errors of share handling that callers branch on with errors.Is.
var (
	// ErrShareChecksum: a share line does not match its checksum, most
	// likely a typing mistake.
	ErrShareChecksum = errors.New("keys: share checksum does not match: the line was mistyped or damaged")
	// ErrMixedShares: shares of different splits (threshold or set id)
	// were given together.
	ErrMixedShares = errors.New("keys: the shares are not all of one backup (their threshold or set id differ)")
	// ErrSharesDoNotMatch: the shares are of one set but do not rebuild
	// its key: one is wrong, or they come from two splits of one key.
	ErrSharesDoNotMatch = errors.New("keys: the shares do not rebuild the key of their set: one of them is wrong or from another backup of the same key")
)

// NotEnoughSharesError says fewer distinct shares than the threshold were
// given.
type NotEnoughSharesError struct{ Got, Want int }

func (e *NotEnoughSharesError) Error() string {
	if e.Want == 0 {
		return "keys: no shares given"
	}
	return fmt.Sprintf("keys: %d distinct shares given, %d needed", e.Got, e.Want)
}

// Share is one holder's part of a key backup. Its value is secret: String
// and every fmt verb print only the public fields; Encode gives the line the
// holder keeps. Copies of a Share share its value, and Zero wipes them all.
type Share struct {
	Threshold int    // shares needed to rebuild, 2..255
	Index     int    // this share's x-coordinate, 1..255
	SetID     string // 16 hex digits: the start of the key id of the key
	value     []byte // 32 bytes, secret
}

// Encode returns the share as one line of text (no newline):
//
//	ron-kms-share-v1:<t>:<index>:<set-id>:<hex value>:<checksum>
//
// t and index are decimal; set-id is 16 lower-case hex digits, the start of
// the key's envelope key id; the value is 64 lower-case hex digits; the
// checksum is the first 8 hex digits of SHA-256 of everything before its
// own colon. The line is the secret: write it only where the holder keeps
// it.
func (s Share) Encode() string {
	body := fmt.Sprintf("%s:%d:%d:%s:%s", SharePrefix, s.Threshold, s.Index, s.SetID, hex.EncodeToString(s.value))
	return body + ":" + shareChecksum(body)
}

func shareChecksum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:checksumLen/2])
}

// String describes the share without its value.
func (s Share) String() string {
	return fmt.Sprintf("ron-kms share %d (threshold %d, set %s)", s.Index, s.Threshold, s.SetID)
}

// Format prints String() for every verb, so no %v, %x or %#v shows the value.
func (s Share) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// Zero wipes the share's value (in every copy of s).
func (s Share) Zero() { clear(s.value) }

func (s Share) check() error {
	if s.Threshold < 2 || s.Threshold > maxShares || s.Index < 1 || s.Index > maxShares ||
		len(s.SetID) != setIDLen || !isLowerHex(s.SetID) || len(s.value) != ed25519.SeedSize {
		return errors.New("keys: malformed share (parse shares with ParseShare)")
	}
	return nil
}

func setIDOf(pub ed25519.PublicKey) string { return envelope.KeyID(pub)[:setIDLen] }

// ParseShare decodes one share line (see Share.Encode) strictly: no
// whitespace, lower-case hex, decimal numbers without leading zeros. A typo
// anywhere gives ErrShareChecksum or a malformed-field error. Errors never
// repeat the line.
func ParseShare(line string) (Share, error) {
	fields := strings.Split(line, ":")
	if len(fields) != 6 {
		return Share{}, shareErr("want 6 fields separated by ':', got %d", len(fields))
	}
	if fields[0] != SharePrefix {
		return Share{}, shareErr("it does not start with %s", SharePrefix)
	}
	sum := fields[5]
	if len(sum) != checksumLen || !isLowerHex(sum) {
		return Share{}, shareErr("checksum must be %d lower-case hex digits", checksumLen)
	}
	body := line[:len(line)-len(sum)-1]
	if shareChecksum(body) != sum {
		return Share{}, ErrShareChecksum
	}
	t, err := parseSmallInt(fields[1])
	if err != nil || t < 2 {
		return Share{}, shareErr("threshold must be a number from 2 to %d", maxShares)
	}
	idx, err := parseSmallInt(fields[2])
	if err != nil || idx < 1 {
		return Share{}, shareErr("index must be a number from 1 to %d", maxShares)
	}
	if len(fields[3]) != setIDLen || !isLowerHex(fields[3]) {
		return Share{}, shareErr("set id must be %d lower-case hex digits", setIDLen)
	}
	if len(fields[4]) != shareLen || !isLowerHex(fields[4]) {
		return Share{}, shareErr("value must be %d lower-case hex digits", shareLen)
	}
	v, _ := hex.DecodeString(fields[4])
	return Share{Threshold: t, Index: idx, SetID: fields[3], value: v}, nil
}

func shareErr(format string, args ...any) error {
	return fmt.Errorf("keys: malformed share: "+format, args...)
}

// parseSmallInt reads 1..255 in canonical decimal.
func parseSmallInt(s string) (int, error) {
	if s == "" || len(s) > 3 || s[0] == '0' {
		return 0, errors.New("not canonical")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not decimal")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxShares {
		return 0, errors.New("out of range")
	}
	return n, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
