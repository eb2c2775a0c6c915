package gitrepo

import (
	"errors"
	"strings"
)

// Git's delta format (pack-format.txt, "Deltified representation"): the
// base's size and the result's size as little-endian base-128 numbers, then
// instructions. An instruction byte with the high bit set copies from the
// base: its low four bits say which of four offset bytes follow, the next
// three which of three size bytes follow (size 0 means 0x10000). A byte
// 1–127 inserts that many bytes that follow it. Byte 0 is reserved.

var errBadDelta = errors.New("malformed delta")

// deltaSizes reads a delta's header: the base's size, the result's size, and
// the offset of the first instruction.
func deltaSizes(delta []byte) (base, result int64, n int, err error) {
	var sizes [2]int64
	for k := range sizes {
		for shift := 0; ; shift += 7 {
			if n == len(delta) || shift > 63-7 {
				return 0, 0, 0, errBadDelta
			}
			c := delta[n]
			n++
			sizes[k] |= int64(c&0x7f) << shift
			if c&0x80 == 0 {
				break
			}
		}
	}
	return sizes[0], sizes[1], n, nil
}

// applyDelta applies delta to base. It refuses a delta whose base size is
// not len(base), whose result would not be exactly the size its header
// says (or more than maxObjectSize), that copies from outside the base, or
// that has bytes left over.
func applyDelta(base string, delta []byte) (string, error) {
	baseSize, size, i, err := deltaSizes(delta)
	if err != nil {
		return "", err
	}
	if baseSize != int64(len(base)) || size > maxObjectSize {
		return "", errBadDelta
	}
	var out strings.Builder
	out.Grow(int(size))
	left := size
	for i < len(delta) {
		cmd := delta[i]
		i++
		switch {
		case cmd&0x80 != 0:
			var off, n int64
			for k := range 4 {
				if cmd&(1<<k) != 0 {
					if i == len(delta) {
						return "", errBadDelta
					}
					off |= int64(delta[i]) << (8 * k)
					i++
				}
			}
			for k := range 3 {
				if cmd&(0x10<<k) != 0 {
					if i == len(delta) {
						return "", errBadDelta
					}
					n |= int64(delta[i]) << (8 * k)
					i++
				}
			}
			if n == 0 {
				n = 0x10000
			}
			// off < 2^32 and n ≤ 2^24: the sum cannot overflow.
			if n > left || off+n > int64(len(base)) {
				return "", errBadDelta
			}
			out.WriteString(base[off : off+n])
			left -= n
		case cmd != 0:
			n := int(cmd)
			if int64(n) > left || n > len(delta)-i {
				return "", errBadDelta
			}
			out.Write(delta[i : i+n])
			i += n
			left -= int64(n)
		default:
			return "", errBadDelta
		}
	}
	if left != 0 {
		return "", errBadDelta
	}
	return out.String(), nil
}
