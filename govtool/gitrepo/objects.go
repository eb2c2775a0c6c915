package gitrepo

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// objectStore reads trees and blobs straight from the repository's object
// directory: loose objects and pack files, deltas resolved through a cache
// of recently resolved pack entries. It is here for speed. go-git's reader
// computes the SHA-1 (with collision detection) of every object it puts in
// its cache, which made reading a long history of one large flat directory
// — every commit a new version of a 10,000-entry tree — cost several times
// the verification it feeds.
//
// Like git and go-git, it trusts the repository's index files: an object's
// hash is not recomputed when it is read. A pack's .idx is computed locally,
// from the pack's content, by whichever git received it; the pack file is
// checked against the name the .idx gives it.
//
// What it does not handle it reports as errFallback, and the Repo asks
// go-git instead: an object in no pack and not loose (go-git then reports
// it missing), a REF delta whose base is outside its pack (a thin pack,
// which neither git nor go-git stores), a delta base larger than
// maxObjectSize. Anything else that goes wrong — a corrupt entry, a bad
// zlib stream, an object longer or shorter than its header says — is an
// error, never a fallback.
type objectStore struct {
	objDir string // the objects directory
	listed bool   // packs reflects objects/pack
	packs  []*pack
	cache  *lru[packKey, packObject]
	br     *bufio.Reader
	zr     io.ReadCloser // reused through zlib.Resetter; nil until first use
	buf    []byte        // inflate's copy buffer

	// The bytes of a pack last read by header, so that a small entry takes
	// one read of the file.
	window  []byte
	winPack *pack
	winOff  int64
	winLen  int
	wr      bytes.Reader
	mr      [2]io.Reader
}

// windowSize is how much header reads at an entry: the whole of a typical
// delta or governance file, compressed.
const windowSize = 4 << 10

// maxObjectSize bounds any object the store holds in memory: the largest
// tree or blob this package reads, and any delta base on the way to one.
const maxObjectSize = max(maxTreeSize, MaxFileSize)

// maxDeltaChain bounds a chain of deltas. Git never writes one deeper than
// 4095 (pack.depth's ceiling); a longer one is a corrupt or hostile pack
// (a cycle of REF deltas).
const maxDeltaChain = 5000

// packCacheBytes bounds the resolved pack entries kept as delta bases. A
// pack written by git gc deltifies each version of a tree against a newer
// one, at most 50 deep; walking history oldest first, the chain below the
// next tree is what the previous read resolved, so the cache must hold about
// one chain of the largest tree.
const packCacheBytes = 48 << 20

var errFallback = errors.New("gitrepo: object not readable by the fast path")

// tooLargeError reports an object whose size exceeds the caller's limit,
// found before its content is read.
type tooLargeError struct {
	typ  plumbing.ObjectType
	size int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("gitrepo: %s of %d bytes is too large", e.typ, e.size)
}

type pack struct {
	name plumbing.Hash // the pack's checksum, as in pack-<name>.pack
	idx  *idxfile.MemoryIndex
	path string
	f    *os.File // open while one Repo operation runs; nil between
	end  int64    // where entries end: the file size less the trailing checksum
}

type packKey struct {
	p   *pack
	off int64
}

type packObject struct {
	typ  plumbing.ObjectType
	data string
}

func newObjectStore(gitDir string) *objectStore {
	return &objectStore{
		objDir: filepath.Join(gitDir, "objects"),
		cache:  newLRU[packKey, packObject](packCacheBytes),
	}
}

// read returns the type and content of object h. Content is a string: it
// is shared with the cache, and parsed trees keep substrings of it. An
// object larger than limit is a *tooLargeError, reported before its content
// is read.
func (s *objectStore) read(h Hash, limit int64) (plumbing.ObjectType, string, error) {
	for attempt := 0; ; attempt++ {
		if !s.listed {
			if err := s.listPacks(); err != nil {
				return 0, "", err
			}
		}
		typ, data, err := s.find(h, limit)
		if attempt == 0 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, errFallback)) {
			// A pack, or a loose object, repacked away (git gc) since
			// the packs were listed: list them again.
			s.invalidate()
			continue
		}
		return typ, data, err
	}
}

// find reads h from the listed packs or as a loose object.
func (s *objectStore) find(h Hash, limit int64) (plumbing.ObjectType, string, error) {
	for _, p := range s.packs {
		if off, err := p.idx.FindOffset(plumbing.Hash(h)); err == nil {
			return s.packed(p, off, limit)
		}
	}
	return s.loose(h, limit)
}

// release closes the pack files the current operation opened.
func (s *objectStore) release() {
	for _, p := range s.packs {
		if p.f != nil {
			p.f.Close() // read-only: nothing to lose on close
			p.f = nil
		}
	}
}

// invalidate makes the next read list objects/pack again, after a fetch
// added a pack. Packs already loaded, and their cached entries, are kept.
func (s *objectStore) invalidate() { s.listed = false }

func (s *objectStore) listPacks() error {
	dir := filepath.Join(s.objDir, "pack")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("gitrepo: listing %s: %w", dir, err)
	}
	known := make(map[plumbing.Hash]*pack, len(s.packs))
	for _, p := range s.packs {
		known[p.name] = p
	}
	var packs []*pack
	for _, e := range ents {
		hexName, ok := strings.CutPrefix(e.Name(), "pack-")
		if !ok {
			continue
		}
		if hexName, ok = strings.CutSuffix(hexName, ".idx"); !ok {
			continue
		}
		name, err := ParseHash(hexName)
		if err != nil {
			continue
		}
		if p := known[plumbing.Hash(name)]; p != nil {
			packs = append(packs, p)
			continue
		}
		path := filepath.Join(dir, "pack-"+hexName+".pack")
		if _, err := os.Stat(path); err != nil {
			continue // an index being written, or left without its pack
		}
		p, err := loadPack(plumbing.Hash(name), filepath.Join(dir, e.Name()), path)
		if err != nil {
			return err
		}
		packs = append(packs, p)
	}
	s.packs, s.listed = packs, true
	return nil
}

func loadPack(name plumbing.Hash, idxPath, packPath string) (*pack, error) {
	f, err := os.Open(idxPath)
	if err != nil {
		return nil, fmt.Errorf("gitrepo: opening pack index: %w", err)
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(bufio.NewReader(f)).Decode(idx); err != nil {
		return nil, fmt.Errorf("gitrepo: reading pack index %s: %w", filepath.Base(idxPath), err)
	}
	if idx.PackfileChecksum != name {
		return nil, fmt.Errorf("gitrepo: pack index %s names pack %s", filepath.Base(idxPath), hex.EncodeToString(idx.PackfileChecksum[:]))
	}
	return &pack{name: name, idx: idx, path: packPath}, nil
}

// open opens the pack file for the current operation and checks its header
// and trailing checksum against the pack's name.
func (p *pack) open() error {
	if p.f != nil {
		return nil
	}
	f, err := os.Open(p.path)
	if err != nil {
		return fmt.Errorf("gitrepo: opening pack: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("gitrepo: opening pack: %w", err)
	}
	const hdrLen, sumLen = 12, len(plumbing.Hash{})
	var hdr [hdrLen]byte
	var sum plumbing.Hash
	if fi.Size() < hdrLen+int64(sumLen) {
		f.Close()
		return fmt.Errorf("gitrepo: pack %s is truncated", p.name)
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		f.Close()
		return fmt.Errorf("gitrepo: reading pack %s: %w", p.name, err)
	}
	if _, err := f.ReadAt(sum[:], fi.Size()-int64(sumLen)); err != nil {
		f.Close()
		return fmt.Errorf("gitrepo: reading pack %s: %w", p.name, err)
	}
	if string(hdr[:4]) != "PACK" || (hdr[7] != 2 && hdr[7] != 3) || hdr[4]|hdr[5]|hdr[6] != 0 {
		f.Close()
		return fmt.Errorf("gitrepo: pack %s: not a version 2 or 3 pack file", p.name)
	}
	if sum != p.name {
		f.Close()
		return fmt.Errorf("gitrepo: pack %s: trailing checksum %s does not match its name", p.name, sum)
	}
	p.f, p.end = f, fi.Size()-int64(sumLen)
	return nil
}

// entryHeader is a pack entry's header.
type entryHeader struct {
	typ  plumbing.ObjectType // whole types, or OFSDeltaObject / REFDeltaObject
	size int64               // inflated size of the entry's data
	base int64               // OFS delta: the base entry's offset
	ref  plumbing.Hash       // REF delta: the base object
	data int64               // where the zlib stream starts
}

// header reads the header of the entry at off. It reads a window of the
// pack around it, which inflate uses for the start of the entry's data.
func (s *objectStore) header(p *pack, off int64) (entryHeader, error) {
	bad := func(why string) (entryHeader, error) {
		return entryHeader{}, fmt.Errorf("gitrepo: pack %s: entry at %d: %s", p.name, off, why)
	}
	if off < 12 || off >= p.end {
		return bad("offset outside the pack")
	}
	if s.window == nil {
		s.window = make([]byte, windowSize)
	}
	s.winPack = nil
	n, err := p.f.ReadAt(s.window[:min(windowSize, p.end-off)], off)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return entryHeader{}, fmt.Errorf("gitrepo: reading pack %s: %w", p.name, err)
	}
	s.winPack, s.winOff, s.winLen = p, off, n
	h, reason := parseEntryHeader(s.window[:n], off)
	if reason != "" {
		return bad(reason)
	}
	return h, nil
}

// parseEntryHeader parses the header of a pack entry at offset off from b,
// the bytes there (at least one), and says why it is malformed, if it is.
func parseEntryHeader(b []byte, off int64) (h entryHeader, reason string) {
	// Type and size take at most 10 bytes, a base at most 20 more.
	b = b[:min(len(b), 32)]
	c := b[0]
	h = entryHeader{typ: plumbing.ObjectType(c >> 4 & 7), size: int64(c & 15)}
	i, shift := 1, 4
	for c&0x80 != 0 {
		if i == len(b) || shift > 63-7 {
			return entryHeader{}, "size too long"
		}
		c = b[i]
		i++
		h.size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch h.typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
	case plumbing.OFSDeltaObject:
		if i == len(b) {
			return entryHeader{}, "truncated base offset"
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i == len(b) || rel >= 1<<(63-7)-1 {
				return entryHeader{}, "base offset too long"
			}
			c = b[i]
			i++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel >= off {
			return entryHeader{}, "base offset outside the pack"
		}
		h.base = off - rel
	case plumbing.REFDeltaObject:
		if i+len(h.ref) > len(b) {
			return entryHeader{}, "truncated base name"
		}
		copy(h.ref[:], b[i:])
		i += len(h.ref)
	default:
		return entryHeader{}, fmt.Sprintf("unknown type %d", h.typ)
	}
	h.data = off + int64(i)
	return h, ""
}

// packed resolves the entry at off in p.
func (s *objectStore) packed(p *pack, off int64, limit int64) (plumbing.ObjectType, string, error) {
	if err := p.open(); err != nil {
		return 0, "", err
	}
	type link struct{ off, data, size int64 }
	var chain []link // the deltas above the base, the requested entry first
	var typ plumbing.ObjectType
	var data string
	for {
		if o, ok := s.cache.get(packKey{p, off}); ok {
			typ, data = o.typ, o.data
			break
		}
		if len(chain) == maxDeltaChain {
			return 0, "", fmt.Errorf("gitrepo: pack %s: delta chain longer than %d", p.name, maxDeltaChain)
		}
		h, err := s.header(p, off)
		if err != nil {
			return 0, "", err
		}
		switch h.typ {
		case plumbing.OFSDeltaObject:
			chain = append(chain, link{off, h.data, h.size})
			off = h.base
			continue
		case plumbing.REFDeltaObject:
			base, err := p.idx.FindOffset(h.ref)
			if err != nil {
				// A thin pack: git completes those when it stores them,
				// and go-git never asks for them.
				return 0, "", errFallback
			}
			chain = append(chain, link{off, h.data, h.size})
			off = base
			continue
		}
		if h.size > limit && len(chain) == 0 {
			return 0, "", &tooLargeError{typ: h.typ, size: h.size}
		}
		if h.size > maxObjectSize {
			return 0, "", errFallback
		}
		if data, err = s.inflate(p, h.data, h.size); err != nil {
			return 0, "", fmt.Errorf("gitrepo: pack %s: entry at %d: %w", p.name, off, err)
		}
		typ = h.typ
		s.cache.put(packKey{p, off}, packObject{typ, data}, int64(len(data))+64)
		break
	}
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		if l.size > 2*maxObjectSize {
			return 0, "", errFallback
		}
		delta, err := s.inflateBytes(p, l.data, l.size)
		if err != nil {
			return 0, "", fmt.Errorf("gitrepo: pack %s: entry at %d: %w", p.name, l.off, err)
		}
		_, size, _, err := deltaSizes(delta)
		if err != nil {
			return 0, "", fmt.Errorf("gitrepo: pack %s: entry at %d: %w", p.name, l.off, err)
		}
		if size > limit && i == 0 {
			return 0, "", &tooLargeError{typ: typ, size: size}
		}
		if size > maxObjectSize {
			return 0, "", errFallback
		}
		if data, err = applyDelta(data, delta); err != nil {
			return 0, "", fmt.Errorf("gitrepo: pack %s: entry at %d: %w", p.name, l.off, err)
		}
		s.cache.put(packKey{p, l.off}, packObject{typ, data}, int64(len(data))+64)
	}
	if int64(len(data)) > limit {
		return 0, "", &tooLargeError{typ: typ, size: int64(len(data))}
	}
	return typ, data, nil
}

// inflate decompresses the zlib stream at off in p, which must hold exactly
// size bytes.
func (s *objectStore) inflate(p *pack, off, size int64) (string, error) {
	if err := s.resetZlib(s.at(p, off)); err != nil {
		return "", err
	}
	var out strings.Builder
	if err := s.readExactly(&out, size); err != nil {
		return "", err
	}
	return out.String(), nil
}

// inflateBytes is inflate for a delta, which is read once and not kept.
func (s *objectStore) inflateBytes(p *pack, off, size int64) ([]byte, error) {
	if err := s.resetZlib(s.at(p, off)); err != nil {
		return nil, err
	}
	out := make([]byte, size)
	if err := s.readAll(out); err != nil {
		return nil, err
	}
	return out, nil
}

// at returns a reader of p from off to the end of its entries, starting
// with what the last header read left in the window.
func (s *objectStore) at(p *pack, off int64) io.Reader {
	rest := io.NewSectionReader(p.f, off, p.end-off)
	if s.winPack != p || off < s.winOff || off >= s.winOff+int64(s.winLen) {
		return rest
	}
	inWin := s.window[off-s.winOff : s.winLen]
	s.wr.Reset(inWin)
	rest = io.NewSectionReader(p.f, off+int64(len(inWin)), p.end-off-int64(len(inWin)))
	s.mr = [2]io.Reader{&s.wr, rest}
	return io.MultiReader(s.mr[:]...)
}

func (s *objectStore) resetZlib(r io.Reader) error {
	if s.br == nil {
		s.br = bufio.NewReaderSize(r, 16<<10)
	} else {
		s.br.Reset(r)
	}
	if s.zr == nil {
		zr, err := zlib.NewReader(s.br)
		if err != nil {
			return fmt.Errorf("zlib: %w", err)
		}
		s.zr = zr
		return nil
	}
	if err := s.zr.(zlib.Resetter).Reset(s.br, nil); err != nil {
		return fmt.Errorf("zlib: %w", err)
	}
	return nil
}

// readAll fills out from the zlib stream, which must then end, with a good
// checksum. (readExactly for a buffer of the size: no copy through s.buf
// and no growing.)
func (s *objectStore) readAll(out []byte) error {
	if _, err := io.ReadFull(s.zr, out); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errors.New("content shorter than its header says")
		}
		return fmt.Errorf("zlib: %w", err)
	}
	return s.endOfStream()
}

// endOfStream requires the zlib stream to end here, with a good checksum.
func (s *objectStore) endOfStream() error {
	var one [1]byte
	switch k, err := s.zr.Read(one[:]); {
	case k != 0:
		return errors.New("content longer than its header says")
	case err != io.EOF:
		return fmt.Errorf("zlib: %v", err)
	}
	return nil
}

// readExactly copies n more bytes of the zlib stream to w; the stream must
// then end, with a good checksum.
func (s *objectStore) readExactly(w interface {
	io.Writer
	Grow(int)
}, n int64) error {
	w.Grow(int(n))
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	got, err := io.CopyBuffer(w, io.LimitReader(s.zr, n), s.buf)
	if err != nil {
		return fmt.Errorf("zlib: %w", err)
	}
	if got < n {
		return errors.New("content shorter than its header says")
	}
	return s.endOfStream()
}

// loose reads a loose object: zlib of "<type> <size>\x00<content>".
func (s *objectStore) loose(h Hash, limit int64) (plumbing.ObjectType, string, error) {
	name := h.String()
	f, err := os.Open(filepath.Join(s.objDir, name[:2], name[2:]))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, "", errFallback
		}
		return 0, "", fmt.Errorf("gitrepo: opening object %s: %w", h, err)
	}
	defer f.Close()
	bad := func(err error) (plumbing.ObjectType, string, error) {
		return 0, "", fmt.Errorf("gitrepo: loose object %s: %w", h, err)
	}
	if err := s.resetZlib(f); err != nil {
		return bad(err)
	}
	// The header is at most "commit " and 19 digits and a NUL.
	var head [32]byte
	n, err := io.ReadFull(s.zr, head[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		if errors.Is(err, io.EOF) {
			return bad(errors.New("empty"))
		}
		return bad(fmt.Errorf("zlib: %w", err))
	}
	typ, size, body, reason := parseLooseHeader(head[:n])
	if reason != "" {
		return bad(errors.New(reason))
	}
	if size > limit {
		return 0, "", &tooLargeError{typ: typ, size: size}
	}
	got := head[body:n]
	if int64(len(got)) > size {
		return bad(errors.New("content longer than its header says"))
	}
	if n < len(head) {
		// The stream ended inside the buffer (a short object).
		if int64(len(got)) != size {
			return bad(errors.New("content shorter than its header says"))
		}
		return typ, string(got), nil
	}
	var out strings.Builder
	out.Grow(int(size))
	out.Write(got)
	if err := s.readExactly(&out, size-int64(len(got))); err != nil {
		return bad(err)
	}
	return typ, out.String(), nil
}

// parseLooseHeader parses "<type> <size>\x00" at the start of head, the
// first bytes of a loose object, returning where the content starts, or why
// the header is malformed.
func parseLooseHeader(head []byte) (typ plumbing.ObjectType, size int64, body int, reason string) {
	nul := bytes.IndexByte(head, 0)
	if nul < 0 {
		return 0, 0, 0, "malformed header"
	}
	typName, sizeText, ok := strings.Cut(string(head[:nul]), " ")
	typ, err := plumbing.ParseObjectType(typName)
	if !ok || err != nil || typ < plumbing.CommitObject || typ > plumbing.TagObject {
		return 0, 0, 0, "malformed header"
	}
	// Decimal digits without a leading zero, as git writes and requires.
	if sizeText == "" || len(sizeText) > 18 || (sizeText[0] == '0' && sizeText != "0") ||
		strings.Trim(sizeText, "0123456789") != "" {
		return 0, 0, 0, "malformed size"
	}
	size, _ = strconv.ParseInt(sizeText, 10, 64)
	return typ, size, nul + 1, ""
}
