package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// BenchmarkSignHTTP measures signatures per second through the HTTP API —
// a loopback http.Server configured as the appliance runs it
// (api.NewServer), strict JSON, capability check, policy checks,
// sealed-file backend signer, and a durable audit record (a real FileLog in
// a temporary directory, fsynced by group commit) before each answer —
// against bare signing in the same process, measured just before and just
// after the API phase of every run, so that a machine shared with other
// work moves both sides alike.
//
// Sub-benchmarks, one per PQ mode of the tenant, each against its own bare
// baseline (the same primitives on an in-memory key, GOMAXPROCS
// goroutines, no checks):
//
//	mode=off         Ed25519 key; bare is ed25519.Sign (the headline ratio)
//	mode=hybrid_and  composite ML-DSA-65 + Ed25519; bare is mldsa65 sign plus
//	                 ed25519.Sign over the composite message representative
//	mode=pq_only     ML-DSA-65; bare is mldsa65 sign
//
// The clients are benchClients goroutines (b.RunParallel), each with a
// keep-alive connection from one pooled http.Transport, sending the same
// 64-byte message with one multi-use capability (tenant, scope sign, exp).
// They run in this process on the same cores as the server, so the API's
// side of the ratio pays for both ends of each request.
// BenchmarkSignRawClient and BenchmarkHTTPFloorRawClient (rawclient_bench_test.go)
// drive the same server with a leaner load generator, which leaves more of
// the cores to the server.
//
// Metrics:
//
//	sig/s              signatures per second through the API
//	bare_sig/s         bare signatures per second (mean of before and after)
//	ratio_vs_bare      sig/s over bare_sig/s (goal for mode=off: at least 0.40)
//	cpu_us/sig         CPU time of this process (user and system, clients
//	                   and server) per signature during the API phase
//	cpu_ratio_vs_bare  bare CPU per signature over cpu_us/sig: the
//	                   ratio_vs_bare an otherwise idle machine would give
//	                   if both sides kept every core busy; it moves far less
//	                   than ratio_vs_bare when others share the machine
//	p50_ms p99_ms      request latency seen by the clients
//	peak_rss_MiB       VmHWM of this process, which holds clients and
//	                   server, reset (where Linux allows) after setup so it
//	                   is the peak under load
//	retained_B/sig     live heap after the API phase minus before, per
//	                   signature: what stays in memory for every signature
//	                   served (the audit log's in-memory Merkle hashes); a
//	                   long-running appliance's RSS grows by about this much
//	                   per signature, which a short run's peak hides
//
// Run it alone (go test -p 1, nothing else busy), with -count 5 or more,
// and compare runs with benchstat. RON_KMS_BENCH_AUDIT_DIR puts the audit
// log on another file system (a tmpfs separates the cost of fsync from the
// rest); RON_KMS_BENCH_CLIENTS changes the number of clients.
func BenchmarkSignHTTP(b *testing.B) {
	for _, mode := range []string{policy.PQOff, policy.PQHybridAnd, policy.PQOnly} {
		b.Run("mode="+mode, func(b *testing.B) { benchSign(b, mode) })
	}
}

// benchClients is how many clients run at once by default: half the
// production inflight_cap (64), so no request is refused as overloaded.
const benchClients = 32

// bareWindow is how long each bare phase runs.
const bareWindow = 300 * time.Millisecond

// benchEnv is an appliance on loopback and what a client needs to sign.
type benchEnv struct {
	url    string
	token  string
	body   []byte
	client *http.Client
}

func newBenchEnv(b *testing.B, mode string, clients int) *benchEnv {
	b.Helper()
	o := enginetest.Options{}
	if d := os.Getenv("RON_KMS_BENCH_AUDIT_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "audit-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		o.AuditDir = dir
	}
	env := enginetest.New(b, o)
	env.Standard(mode)
	h, err := api.New(api.Options{Engine: env.Engine, Metrics: env.Metrics})
	if err != nil {
		b.Fatal(err)
	}
	url := startServer(b, h)

	// Mint through the API, as a client would.
	mreq, err := json.Marshal(env.MintRequest("acme", "minter-acme", []string{"sign"}, func(r *engine.MintRequest) { r.TTLSeconds = 3600 }))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.Post(url+"/v1/capabilities", "application/json", bytes.NewReader(mreq))
	if err != nil {
		b.Fatal(err)
	}
	var minted engine.MintResult
	err = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("minting: status %d, %v", resp.StatusCode, err)
	}

	body, err := json.Marshal(signBody("acme", "pay", benchMsg))
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{url: url + "/v1/sign", token: "Bearer " + minted.Token, body: body, client: benchClient(b, clients)}
}

var benchMsg = bytes.Repeat([]byte("m"), 64)

// sign makes one request and checks its status.
func (e *benchEnv) sign(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(e.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, out)
	}
	return out, nil
}

// check signs once and verifies the answer independently of the appliance,
// so the benchmark is known to measure real signatures in the mode asked.
func (e *benchEnv) check(b *testing.B, mode string) {
	b.Helper()
	out, err := e.sign(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var res engine.SignResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatal(err)
	}
	ok := false
	switch mode {
	case policy.PQOff:
		ok = res.Alg == "ed25519" && len(res.PublicKey) == ed25519.PublicKeySize && ed25519.Verify(res.PublicKey, benchMsg, res.Signature)
	case policy.PQHybridAnd:
		ok = res.Alg == string(pq.MLDSA65Ed25519) && pq.Verify(pq.MLDSA65Ed25519, res.PublicKey, benchMsg, nil, res.Signature) == nil
	case policy.PQOnly:
		ok = res.Alg == string(pq.MLDSA65) && pq.Verify(pq.MLDSA65, res.PublicKey, benchMsg, nil, res.Signature) == nil
	}
	if !ok {
		b.Fatalf("mode %s: the API's signature (alg %s) does not verify", mode, res.Alg)
	}
}

// bareSigner returns the bare signing operation of mode, on in-memory keys.
func bareSigner(mode string) func() {
	ed := enginetest.Key("bench")
	var seed [mldsa65.SeedSize]byte
	copy(seed[:], "bench ML-DSA-65 seed, public....")
	_, ml := pq.KeyFromSeed(seed)
	switch mode {
	case policy.PQOff:
		return func() { ed25519.Sign(ed, benchMsg) }
	case policy.PQOnly:
		return func() {
			sig := make([]byte, mldsa65.SignatureSize)
			if err := mldsa65.SignTo(ml, benchMsg, nil, true, sig); err != nil {
				panic(err)
			}
		}
	}
	// The composite message representative (draft-ietf-lamps-pq-composite-sigs):
	// prefix, label, len(ctx), ctx, SHA-512(message).
	label := []byte("COMPSIG-MLDSA65-Ed25519-SHA512")
	return func() {
		m := enginetest.MessageRepresentative(string(label), benchMsg, nil)
		sig := make([]byte, mldsa65.SignatureSize)
		if err := mldsa65.SignTo(ml, m, label, true, sig); err != nil {
			panic(err)
		}
		ed25519.Sign(ed, m)
	}
}

// bareRate runs op on GOMAXPROCS goroutines for bareWindow and returns
// operations per second and this process's CPU seconds per operation.
func bareRate(op func()) (perSec, cpuPerOp float64) {
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(bareWindow)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var k int64
			for time.Now().Before(deadline) {
				for range 8 {
					op()
				}
				k += 8
			}
			n.Add(k)
		}()
	}
	wg.Wait()
	cpu := cpuTime() - cpu0
	return float64(n.Load()) / time.Since(start).Seconds(), cpu.Seconds() / float64(n.Load())
}

func benchSign(b *testing.B, mode string) {
	clients := benchClientCount(b)
	env := newBenchEnv(b, mode, clients)
	env.check(b, mode)
	drive(b, clients, func() error { _, err := env.sign(context.Background()); return err }, bareSigner(mode))
}

// BenchmarkHTTPFloor is the floor under BenchmarkSignHTTP: the same
// server configuration, clients and request, but a handler that only reads
// the body and answers a fixed JSON body of a signature answer's size (its
// sig/s are requests per second). Its ratio_vs_bare, against ed25519.Sign,
// is the most an HTTP/1.1 API on net/http with its clients on the same
// cores can reach here before it does any work.
func BenchmarkHTTPFloor(b *testing.B) {
	clients := benchClientCount(b)
	env := &benchEnv{url: startServer(b, floorHandler()) + "/v1/sign", token: "Bearer " + strings.Repeat("x", 174), client: benchClient(b, clients)}
	var err error
	if env.body, err = json.Marshal(signBody("acme", "pay", benchMsg)); err != nil {
		b.Fatal(err)
	}
	drive(b, clients, func() error { _, err := env.sign(context.Background()); return err }, bareSigner(policy.PQOff))
}

// floorHandler is the handler of the floor benchmarks: it reads the body
// and answers a fixed JSON body of a signature answer's size.
func floorHandler() http.Handler {
	answer := []byte(`{"x":"` + strings.Repeat("a", 440) + "\"}\n") // a mode-off answer is about 450 bytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, api.DefaultMaxBodyBytes)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(answer)
	})
}

func benchClientCount(b *testing.B) int {
	if s := os.Getenv("RON_KMS_BENCH_CLIENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("RON_KMS_BENCH_CLIENTS=%q is not a positive number", s)
		}
		return n
	}
	return benchClients
}

// startServer serves h on loopback as the appliance does (api.NewServer's
// timeouts and limits) and returns its URL.
func startServer(b *testing.B, h http.Handler) string {
	srv := httptest.NewUnstartedServer(h)
	srv.Config = api.NewServer("", h)
	srv.Start()
	b.Cleanup(srv.Close)
	return srv.URL
}

// benchClient is a keep-alive client with one pooled connection per client.
func benchClient(b *testing.B, clients int) *http.Client {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients,
		DisableCompression: true, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// drive runs do b.N times from clients goroutines (b.RunParallel) between
// two bare phases, and reports the metrics of BenchmarkSignHTTP.
func drive(b *testing.B, clients int, do func() error, bare func()) {
	// Open every connection before timing.
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := do(); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	before, beforeCPU := bareRate(bare)
	// Give back what setup used (the sealed-file scrypt) so that the peak
	// is the one under load.
	debug.FreeOSMemory()
	heap0 := liveHeap()
	resetPeakRSS()
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism(max(1, (clients+procs-1)/procs))
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := do(); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	rss := peakRSS()
	after, afterCPU := bareRate(bare)
	if b.Failed() || len(lat) == 0 {
		return
	}

	rate := float64(b.N) / elapsed.Seconds()
	bareSigs := (before + after) / 2
	cpuPerSig := cpu.Seconds() / float64(b.N)
	bareCPU := (beforeCPU + afterCPU) / 2
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
	}
	p50, p99 := ms(0.50), ms(0.99)
	lat = nil // the benchmark's own; not what the appliance retains
	retained := liveHeap() - heap0
	b.ReportMetric(rate, "sig/s")
	b.ReportMetric(bareSigs, "bare_sig/s")
	b.ReportMetric(rate/bareSigs, "ratio_vs_bare")
	b.ReportMetric(cpuPerSig*1e6, "cpu_us/sig")
	b.ReportMetric(bareCPU/cpuPerSig, "cpu_ratio_vs_bare")
	b.ReportMetric(p50, "p50_ms")
	b.ReportMetric(p99, "p99_ms")
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
	}
	b.ReportMetric(float64(retained)/float64(b.N), "retained_B/sig")
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux 4.0
// and later); where it cannot, peak_rss_MiB is the peak since start.
func resetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns VmHWM in bytes, or 0 where /proc has none.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
