package gitrepo_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/gitrepo/gittest"
)

const (
	benchCommits        = 1000
	benchFilesPerCommit = 10
	benchWindow         = 100 // commits measured: the last ones, over the largest trees
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
	benchTemp []string

	benchCloneOnce sync.Once
	benchCloneDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchTemp {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func benchContent(n int) []byte {
	return fmt.Appendf(nil, "{\n  \"id\": \"p%05d\",\n  \"type\": \"proposal\",\n  \"rationale\": \"generated for the benchmark, padded to a typical size: %0200d\"\n}\n", n, n)
}

// benchRepo builds, once per process, a bare repository with benchCommits
// commits on main, each adding benchFilesPerCommit files under proposals/
// (one flat directory, as in DESIGN §2), written by git fast-import.
// benchBlobHash is the object hash of benchContent(n), computed as Git does.
func benchBlobHash(n int) plumbing.Hash {
	data := benchContent(n)
	return plumbing.Hash(sha1.Sum(append(fmt.Appendf(nil, "blob %d\x00", len(data)), data...)))
}

// readBlobsGoGit is the benchmarks' baseline: it reads blobs known in
// advance by hash straight from go-git, reading no tree at all.
func readBlobsGoGit(b *testing.B, dir string, blobs []plumbing.Hash) {
	b.Helper()
	g, err := git.PlainOpen(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range blobs {
		blob, err := g.BlobObject(h)
		if err != nil {
			b.Fatal(err)
		}
		rd, err := blob.Reader()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rd); err != nil {
			b.Fatal(err)
		}
		rd.Close()
	}
}

func benchRepo(b *testing.B) string {
	benchOnce.Do(func() {
		var dir string
		dir, benchErr = os.MkdirTemp("", "gitrepo-bench-")
		if benchErr != nil {
			return
		}
		benchTemp = append(benchTemp, dir)
		benchDir = filepath.Join(dir, "bench.git")
		gittest.Git(b, "", "init", "-q", "--bare", "-b", "main", benchDir)
		var in bytes.Buffer
		for c := range benchCommits {
			msg := fmt.Sprintf("commit %d", c)
			fmt.Fprintf(&in, "commit refs/heads/main\ncommitter Bench <bench@example.test> %d +0000\ndata %d\n%s\n", 1700000000+c, len(msg), msg)
			for k := range benchFilesPerCommit {
				n := c*benchFilesPerCommit + k
				data := benchContent(n)
				fmt.Fprintf(&in, "M 100644 inline proposals/p%05d.json\ndata %d\n%s\n", n, len(data), data)
			}
		}
		gittest.GitStdin(b, benchDir, in.Bytes(), "fast-import", "--quiet")
	})
	if benchErr != nil || benchDir == "" {
		b.Fatalf("building the benchmark repository failed: %v", benchErr)
	}
	return benchDir
}

func BenchmarkChanges(b *testing.B) {
	ctx := context.Background()
	dir := benchRepo(b)
	r, err := gitrepo.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	head, err := r.Resolve("main")
	if err != nil {
		b.Fatal(err)
	}
	chain, err := r.FirstParentChain(ctx, gitrepo.Hash{}, head)
	if err != nil {
		b.Fatal(err)
	}
	if len(chain) != benchCommits {
		b.Fatalf("chain has %d commits, want %d", len(chain), benchCommits)
	}
	window := chain[len(chain)-benchWindow:]
	first := benchCommits - benchWindow

	// The baseline reads the same blobs, known in advance by hash, straight
	// from go-git: no tree is read at all.
	var blobs []plumbing.Hash
	for c := first; c < benchCommits; c++ {
		for k := range benchFilesPerCommit {
			blobs = append(blobs, benchBlobHash(c*benchFilesPerCommit+k))
		}
	}

	var changesTime, directTime time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := gitrepo.Open(dir) // cold caches
		if err != nil {
			b.Fatal(err)
		}
		for i, c := range window {
			cs, err := r.Changes(ctx, c, governance)
			if err != nil {
				b.Fatal(err)
			}
			if len(cs) != benchFilesPerCommit || cs[0].Before != nil || !bytes.Equal(cs[0].After, benchContent((first+i)*benchFilesPerCommit)) {
				b.Fatalf("commit %d: %d changes, first %q", first+i, len(cs), cs[0].Path)
			}
		}
		mid := time.Now()
		readBlobsGoGit(b, dir, blobs)
		end := time.Now()
		changesTime += mid.Sub(start)
		directTime += end.Sub(mid)
	}
	n := float64(b.N)
	b.ReportMetric(float64(changesTime.Nanoseconds())/n, "changes-ns/100commits")
	b.ReportMetric(float64(directTime.Nanoseconds())/n, "direct-ns/100commits")
	b.ReportMetric(float64(changesTime)/float64(directTime), "ratio")
}

// benchClone is benchRepo as a clone holds it — one pack, written by git
// upload-pack with its usual delta chains — which is what CI and an
// appliance verify.
func benchClone(b *testing.B) string {
	src := benchRepo(b)
	benchCloneOnce.Do(func() {
		dir := filepath.Join(filepath.Dir(src), "clone.git")
		if _, err := gittest.GitErr("", "clone", "-q", "--bare", "--no-local", src, dir); err != nil {
			b.Fatal(err)
		}
		benchCloneDir = dir
	})
	if benchCloneDir == "" {
		b.Fatal("cloning the benchmark repository failed")
	}
	return benchCloneDir
}

// BenchmarkHistory reads what verification reads of a whole history: every
// commit's changes (Changes, as govtool/history calls it), oldest first,
// from a freshly opened clone of benchRepo — 1,000 versions of one flat
// directory growing to 10,000 entries. The baseline reads only the 10,000
// blobs those changes hold, known in advance by hash, straight from go-git.
// It reports
//
//	walk-ns/commit    the history walk, per commit
//	direct-ns/commit  the baseline, per commit
//	ratio             walk / direct
func BenchmarkHistory(b *testing.B) {
	ctx := context.Background()
	dir := benchClone(b)
	var blobs []plumbing.Hash
	for n := range benchCommits * benchFilesPerCommit {
		blobs = append(blobs, benchBlobHash(n))
	}
	var walkTime, directTime time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := gitrepo.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		head, err := r.Resolve("main")
		if err != nil {
			b.Fatal(err)
		}
		chain, err := r.FirstParentChain(ctx, gitrepo.Hash{}, head)
		if err != nil {
			b.Fatal(err)
		}
		for i, c := range chain {
			cs, err := r.Changes(ctx, c, governance)
			if err != nil {
				b.Fatal(err)
			}
			if len(cs) != benchFilesPerCommit || !bytes.Equal(cs[0].After, benchContent(i*benchFilesPerCommit)) {
				b.Fatalf("commit %d: %d changes", i, len(cs))
			}
		}
		mid := time.Now()
		readBlobsGoGit(b, dir, blobs)
		walkTime += mid.Sub(start)
		directTime += time.Since(mid)
	}
	n := float64(b.N) * benchCommits
	b.ReportMetric(float64(walkTime.Nanoseconds())/n, "walk-ns/commit")
	b.ReportMetric(float64(directTime.Nanoseconds())/n, "direct-ns/commit")
	b.ReportMetric(float64(walkTime)/float64(directTime), "ratio")
}

// BenchmarkFirstParentChain walks the whole generated history.
func BenchmarkFirstParentChain(b *testing.B) {
	ctx := context.Background()
	dir := benchRepo(b)
	r, err := gitrepo.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	head, err := r.Resolve("main")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		chain, err := r.FirstParentChain(ctx, gitrepo.Hash{}, head)
		if err != nil || len(chain) != benchCommits {
			b.Fatal(len(chain), err)
		}
	}
}
