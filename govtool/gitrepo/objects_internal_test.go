package gitrepo

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"

	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

type gitObject struct {
	typ  plumbing.ObjectType
	data string
}

// catAll returns every object in the repository at dir as git cat-file
// shows it.
func catAll(t *testing.T, dir string) map[Hash]gitObject {
	t.Helper()
	list := gittest.Git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	// A missing object last: its "missing" line takes the trailing newline
	// that gittest trims.
	out := gittest.GitStdin(t, dir, []byte(list+"\n"+strings.Repeat("0", 40)+"\n"), "cat-file", "--batch")
	objs := make(map[Hash]gitObject)
	for {
		line, rest, ok := strings.Cut(out, "\n")
		if !ok || strings.HasSuffix(line, " missing") {
			break
		}
		var name, typName string
		var size int
		if _, err := fmt.Sscanf(line, "%s %s %d", &name, &typName, &size); err != nil {
			t.Fatalf("cat-file line %q: %v", line, err)
		}
		typ, err := plumbing.ParseObjectType(typName)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseHash(name)
		if err != nil {
			t.Fatal(err)
		}
		objs[h] = gitObject{typ, rest[:size]}
		out = rest[size+1:]
	}
	if want := strings.Count(list, "\n") + 1; len(objs) != want {
		t.Fatalf("parsed %d objects from cat-file, want %d", len(objs), want)
	}
	return objs
}

// storeRepo makes a repository whose objects exercise the store: a large
// flat directory changed a little in each commit, nested trees, an empty
// file, an executable, a binary blob, and a blob larger than the window.
func storeRepo(t *testing.T) string {
	gittest.SetEnv(t)
	dir := gittest.NewWorking(t, nil)
	files := map[string][]byte{
		"empty":         {},
		"bin/run":       []byte("#!/bin/sh\n"),
		"a/b/c/deep.md": []byte("deep\n"),
		"blob.bin":      bytes.Repeat([]byte{0, 1, 2, 255}, 3000),
	}
	for i := range 120 {
		files[fmt.Sprintf("proposals/p%03d.json", i)] = fmt.Appendf(nil, "{\"n\": %d, \"pad\": %q}\n", i, strings.Repeat("x", i))
	}
	var large []byte
	for i := range 5000 {
		large = fmt.Appendf(large, "line %d of a file larger than the read window\n", i)
	}
	files["large.txt"] = large
	gittest.Commit(t, dir, files, "first")
	gittest.Git(t, dir, "update-index", "--chmod=+x", "bin/run")
	gittest.Git(t, dir, "commit", "-q", "-m", "exec")
	for c := range 6 {
		change := map[string][]byte{
			fmt.Sprintf("proposals/p%03d.json", 10*c):   fmt.Appendf(nil, "{\"changed\": %d}\n", c),
			fmt.Sprintf("proposals/q%03d.json", c):      fmt.Appendf(nil, "{\"new\": %d}\n", c),
			fmt.Sprintf("proposals/p%03d.json", 10*c+5): nil,
			"large.txt": append(bytes.Clone(large), fmt.Appendf(nil, "appended %d\n", c)...),
		}
		gittest.Commit(t, dir, change, fmt.Sprintf("change %d", c))
	}
	return dir
}

// checkStore reads every object of the repository through objectStore and
// compares it with git's view.
func checkStore(t *testing.T, dir string, want map[Hash]gitObject) {
	t.Helper()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.lock()
	defer r.unlock()
	for h, w := range want {
		typ, data, err := r.objects.read(h, maxObjectSize)
		if err != nil {
			t.Fatalf("read %s (%s): %v", h, w.typ, err)
		}
		if typ != w.typ || data != w.data {
			t.Fatalf("read %s = %s of %d bytes, want %s of %d bytes", h, typ, len(data), w.typ, len(w.data))
		}
	}
	// Again, from the cache where there is one.
	for h, w := range want {
		if _, data, err := r.objects.read(h, maxObjectSize); err != nil || data != w.data {
			t.Fatalf("second read %s: %v", h, err)
		}
	}
}

// TestObjectStoreMatchesGit reads every object of repositories packed in
// the ways git packs them, and compares each with git cat-file.
func TestObjectStoreMatchesGit(t *testing.T) {
	dir := storeRepo(t)
	want := catAll(t, dir)
	t.Run("loose", func(t *testing.T) { checkStore(t, dir, want) })
	gittest.Git(t, dir, "repack", "-q", "-d")
	gittest.Commit(t, dir, map[string][]byte{"proposals/late.json": []byte("late\n")}, "after the first pack")
	want = catAll(t, dir)
	t.Run("pack and loose", func(t *testing.T) { checkStore(t, dir, want) })
	gittest.Git(t, dir, "repack", "-q", "-d")
	t.Run("two packs", func(t *testing.T) { checkStore(t, dir, want) })
	gittest.Git(t, dir, "repack", "-q", "-a", "-d", "-f", "--depth=4095", "--window=250")
	t.Run("OFS deltas, deep chains", func(t *testing.T) { checkStore(t, dir, want) })
	gittest.Git(t, dir, "-c", "repack.useDeltaBaseOffset=false", "repack", "-q", "-a", "-d", "-f")
	t.Run("REF deltas", func(t *testing.T) { checkStore(t, dir, want) })
}

// TestObjectStoreSizeLimit checks that a packed object over the limit is
// refused by its header's size, for whole and delta entries alike.
func TestObjectStoreSizeLimit(t *testing.T) {
	dir := storeRepo(t)
	gittest.Git(t, dir, "repack", "-q", "-a", "-d", "-f")
	objs := catAll(t, dir)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.lock()
	defer r.unlock()
	n := 0
	for h, o := range objs {
		if len(o.data) == 0 {
			continue
		}
		_, _, err := r.objects.read(h, int64(len(o.data))-1)
		var tl *tooLargeError
		if !errors.As(err, &tl) || tl.size != int64(len(o.data)) || tl.typ != o.typ {
			t.Fatalf("%s of %d bytes with limit one less = %v", o.typ, len(o.data), err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no objects checked")
	}
}

// TestObjectStoreMissing checks that an object in no pack and not loose is
// left to go-git, which reports it missing.
func TestObjectStoreMissing(t *testing.T) {
	dir := storeRepo(t)
	gittest.Git(t, dir, "repack", "-q", "-a", "-d")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	missing := Hash{1, 2, 3}
	r.lock()
	_, _, err = r.objects.read(missing, maxTreeSize)
	r.unlock()
	if !errors.Is(err, errFallback) {
		t.Fatalf("objectStore read of a missing object = %v, want errFallback", err)
	}
	r.lock()
	_, err = r.object(missing, plumbing.BlobObject, "x", MaxFileSize)
	r.unlock()
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("object of a missing object = %v, want ErrNotFound", err)
	}
}

func mustParseHash(t *testing.T, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestObjectStoreSeesFetchedPack checks that a pack a fetch adds is read by
// the store, not left to go-git, and that a pack repacked away is noticed.
func TestObjectStoreSeesFetchedPack(t *testing.T) {
	src := storeRepo(t)
	bare, url := gittest.NewBare(t)
	gittest.Git(t, src, "push", "-q", url, "main")
	clone := filepath.Join(t.TempDir(), "clone")
	r, err := Clone(t.Context(), url, clone, "main")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := r.Resolve("HEAD")
	if _, err := r.ReadFile(t.Context(), old, "large.txt"); err != nil {
		t.Fatal(err)
	}
	next := gittest.Commit(t, src, map[string][]byte{"proposals/fetched.json": []byte("fetched\n")}, "to fetch")
	gittest.Git(t, src, "push", "-q", url, "main")
	_ = bare
	if err := r.Fetch(t.Context(), "origin", nil); err != nil {
		t.Fatal(err)
	}
	blob, err := ParseHash(gittest.Git(t, src, "rev-parse", next+":proposals/fetched.json"))
	if err != nil {
		t.Fatal(err)
	}
	read := func() error {
		r.lock()
		defer r.unlock()
		_, data, err := r.objects.read(blob, MaxFileSize)
		if err == nil && data != "fetched\n" {
			err = fmt.Errorf("read %q", data)
		}
		return err
	}
	if err := read(); err != nil {
		t.Fatalf("reading an object of the fetched pack: %v", err)
	}
	checkStore(t, clone, catAll(t, clone))
	gittest.Git(t, clone, "repack", "-q", "-a", "-d", "-f")
	if err := read(); err != nil {
		t.Fatalf("reading after a repack: %v", err)
	}
	// A loose object packed, and pruned, by git gc behind the Repo's back.
	gittest.Git(t, clone, "config", "user.name", "x")
	loose := gittest.GitStdin(t, clone, []byte("loose\n"), "hash-object", "-w", "--stdin")
	blob = mustParseHash(t, loose)
	r.lock()
	_, data, err := r.objects.read(blob, MaxFileSize)
	r.unlock()
	if err != nil || data != "loose\n" {
		t.Fatalf("reading a loose object = %q, %v", data, err)
	}
	gittest.Git(t, clone, "tag", "keep", loose)
	gittest.Git(t, clone, "gc", "-q", "--prune=now")
	if _, err := os.Stat(filepath.Join(clone, ".git", "objects", loose[:2], loose[2:])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("git gc left the loose object: %v", err)
	}
	r.lock()
	_, data, err = r.objects.read(blob, MaxFileSize)
	r.unlock()
	if err != nil || data != "loose\n" {
		t.Fatalf("reading a loose object packed since = %q, %v", data, err)
	}
}

// TestNoFileLeftOpen checks Close's promise: no file stays open between
// operations.
func TestNoFileLeftOpen(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	dir := storeRepo(t)
	gittest.Git(t, dir, "repack", "-q", "-a", "-d")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := fds()
	head, _ := r.Resolve("HEAD")
	chain, err := r.FirstParentChain(t.Context(), Hash{}, head)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chain {
		if _, err := r.Changes(t.Context(), c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.ReadFile(t.Context(), head, "large.txt"); err != nil {
		t.Fatal(err)
	}
	if after := fds(); after != before {
		t.Errorf("%d files open after reading, %d before", after, before)
	}
}

func TestLRU(t *testing.T) {
	c := newLRU[int, string](10)
	c.put(1, "a", 4)
	c.put(2, "b", 4)
	if _, ok := c.get(1); !ok { // 1 is now the most recent
		t.Fatal("1 missing")
	}
	c.put(3, "c", 4) // evicts 2, the least recent
	if _, ok := c.get(2); ok {
		t.Error("2 kept over the budget")
	}
	if v, ok := c.get(1); !ok || v != "a" {
		t.Errorf("get(1) = %q, %v", v, ok)
	}
	c.put(1, "A", 2) // replaces, and frees 2
	if v, _ := c.get(1); v != "A" || c.used != 6 || c.len() != 2 {
		t.Errorf("after replacing: %q, used %d, %d entries", v, c.used, c.len())
	}
	c.put(4, "too big", 11)
	if _, ok := c.get(4); ok || c.len() != 2 {
		t.Error("an entry over the whole budget was kept")
	}
}

// FuzzApplyDelta checks applyDelta against go-git's PatchDelta, and that a
// delta go-git computes from src to tgt gives back tgt.
func FuzzApplyDelta(f *testing.F) {
	var src []byte
	for i := range 60 {
		src = fmt.Appendf(src, "line %d: %x\n", i, i*i*7919)
	}
	tgt := append(append([]byte("new start "), src[100:600]...), "and a new end"...)
	f.Add(src, packfile.DiffDelta(src, tgt), tgt)
	f.Add([]byte("base"), []byte{4, 3, 0x91, 1, 3}, []byte("x"))
	f.Add([]byte("base"), []byte{4, 2, 2, 'h', 'i'}, []byte(""))
	f.Add([]byte{}, []byte{0, 1, 1, 'z'}, []byte("z"))
	f.Fuzz(func(t *testing.T, src, delta, tgt []byte) {
		if _, size, _, err := deltaSizes(delta); err == nil && size > 1<<20 {
			return // both allocate the declared size first: slow, and nothing more to find
		}
		got, err := applyDelta(string(src), delta)
		want, werr := packfile.PatchDelta(src, delta)
		switch {
		case err == nil && len(src) > 0 && (werr != nil || got != string(want)):
			t.Fatalf("applyDelta = %q, PatchDelta = %q, %v", got, want, werr)
		case err != nil && werr == nil && len(want) > 0:
			// go-git accepts a size whose last byte says "more follows"
			// when the delta ends there; nothing else may differ.
			t.Fatalf("applyDelta refused a delta PatchDelta applies (%q): %v", want, err)
		}
		if len(src) > 0 && len(src) < 1<<12 && len(tgt) < 1<<12 { // DiffDelta is slow on large repetitive input
			d := packfile.DiffDelta(src, tgt)
			if got, err := applyDelta(string(src), d); err != nil || got != string(tgt) {
				t.Fatalf("applyDelta(src, DiffDelta(src, tgt)) = %q, %v; want %q", got, err, tgt)
			}
		}
	})
}

// encodeEntryHeader writes a pack entry header as git does.
func encodeEntryHeader(typ plumbing.ObjectType, size, rel int64, ref plumbing.Hash) []byte {
	c := byte(typ)<<4 | byte(size&15)
	size >>= 4
	var out []byte
	for size > 0 {
		out = append(out, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	out = append(out, c)
	switch typ {
	case plumbing.OFSDeltaObject:
		var b [10]byte
		i := len(b) - 1
		b[i] = byte(rel & 0x7f)
		for rel >>= 7; rel > 0; rel >>= 7 {
			rel--
			i--
			b[i] = 0x80 | byte(rel&0x7f)
		}
		out = append(out, b[i:]...)
	case plumbing.REFDeltaObject:
		out = append(out, ref[:]...)
	}
	return out
}

// FuzzParseEntryHeader checks that parseEntryHeader never panics, that what
// it accepts is consistent, and that it reads back what git writes.
func FuzzParseEntryHeader(f *testing.F) {
	f.Add([]byte{0x95, 0x0a}, int64(100), uint8(3), int64(5000), int64(40))
	f.Add(encodeEntryHeader(plumbing.OFSDeltaObject, 1<<20, 12345, plumbing.ZeroHash), int64(1<<30), uint8(6), int64(1<<20), int64(12345))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, int64(12), uint8(7), int64(0), int64(1))
	f.Fuzz(func(t *testing.T, b []byte, off int64, typ uint8, size, rel int64) {
		if len(b) > 0 && off > 0 {
			h, reason := parseEntryHeader(b, off)
			if reason == "" {
				if h.data <= off || h.data > off+int64(min(len(b), 32)) || h.size < 0 {
					t.Fatalf("accepted header: data at %d, size %d (entry at %d, %d bytes)", h.data, h.size, off, len(b))
				}
				if h.typ == plumbing.OFSDeltaObject && (h.base <= 0 || h.base >= off) {
					t.Fatalf("accepted OFS base %d for an entry at %d", h.base, off)
				}
			}
		}
		// Round trip a header git could write.
		types := []plumbing.ObjectType{plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject, plumbing.OFSDeltaObject, plumbing.REFDeltaObject}
		ty := types[int(typ)%len(types)]
		size, rel = max(size, 0)>>8, max(rel, 1)>>8+1 // keep within git's limits
		at := rel + 12 + max(off, 0)>>2
		var ref plumbing.Hash
		copy(ref[:], b)
		enc := encodeEntryHeader(ty, size, rel, ref)
		h, reason := parseEntryHeader(enc, at)
		want := entryHeader{typ: ty, size: size, data: at + int64(len(enc))}
		switch ty {
		case plumbing.OFSDeltaObject:
			want.base = at - rel
		case plumbing.REFDeltaObject:
			want.ref = ref
		}
		if reason != "" || h != want {
			t.Fatalf("parseEntryHeader(%x) = %+v, %q; want %+v", enc, h, reason, want)
		}
	})
}

// FuzzParseLooseHeader checks that parseLooseHeader never panics and accepts
// only the header git writes: "<type> <size>\x00", size in canonical decimal.
func FuzzParseLooseHeader(f *testing.F) {
	f.Add([]byte("blob 12\x00hello world!"))
	f.Add([]byte("tree 0\x00"))
	f.Add([]byte("blob 012\x00"))
	f.Add([]byte("blob +1\x00x"))
	f.Add([]byte("ofs-delta 1\x00x"))
	f.Fuzz(func(t *testing.T, head []byte) {
		typ, size, body, reason := parseLooseHeader(head)
		if reason != "" {
			return
		}
		if got := fmt.Sprintf("%s %d\x00", typ, size); got != string(head[:body]) {
			t.Fatalf("accepted header %q, which git would write as %q", head[:body], got)
		}
	})
}

// TestZlibExactSize reads a zlib stream of n bytes as a pack entry whose
// header says n-1, n or n+1, through both ways the store reads content
// (readAll into a buffer of that size, readExactly into a builder), and a
// stream whose checksum is wrong: only the exact size with a good checksum
// is content.
func TestZlibExactSize(t *testing.T) {
	content := bytes.Repeat([]byte("ron-kms governance tree entry "), 40)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(content)
	zw.Close()
	good := z.Bytes()
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1 // the Adler-32 checksum's last byte
	n := len(content)
	s := newObjectStore(t.TempDir())
	for _, tc := range []struct {
		name   string
		stream []byte
		size   int
		want   string // "" for success
	}{
		{"exact", good, n, ""},
		{"header says less", good, n - 1, "longer than its header says"},
		{"header says more", good, n + 1, "shorter than its header says"},
		{"bad checksum", bad, n, "checksum"},
	} {
		for _, way := range []string{"readAll", "readExactly"} {
			if err := s.resetZlib(bytes.NewReader(tc.stream)); err != nil {
				t.Fatal(err)
			}
			var got []byte
			var err error
			if way == "readAll" {
				got = make([]byte, tc.size)
				err = s.readAll(got)
			} else {
				var b strings.Builder
				err = s.readExactly(&b, int64(tc.size))
				got = []byte(b.String())
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s, %s: %v", tc.name, way, err)
			case tc.want == "" && !bytes.Equal(got, content):
				t.Errorf("%s, %s: content differs", tc.name, way)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s, %s: err = %v, want %q", tc.name, way, err, tc.want)
			}
		}
	}
}
