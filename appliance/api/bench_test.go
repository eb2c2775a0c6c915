package api_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// BenchmarkSignHTTP measures Ed25519 signatures per second through the HTTP
// API on loopback — JSON, capability check, policy checks, backend signer,
// durable audit record — against a bare ed25519.Sign loop run in the same
// process, with the same number of goroutines (GOMAXPROCS) so both use the
// same cores (the API's clients run on those cores too). The audit log is a
// real FileLog in a temporary directory; RON_KMS_BENCH_AUDIT_DIR puts it
// elsewhere (a tmpfs such as /dev/shm separates the cost of fsync from the
// rest). It reports:
//
//	sig/s        signatures per second through the API
//	bare-sig/s   ed25519.Sign per second
//	ratio        sig/s over bare-sig/s (the goal is at least 0.40)
//	p50-µs p99-µs  request latency through the API
func BenchmarkSignHTTP(b *testing.B) {
	o := enginetest.Options{}
	if d := os.Getenv("RON_KMS_BENCH_AUDIT_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "audit-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		o.AuditDir = dir
	}
	s := newServer(b, o, nil)
	s.Standard(policy.PQOff)
	tok := s.token(b, "acme", []string{"sign"}, func(r *engine.MintRequest) { r.TTLSeconds = 3600 })
	msg := bytes.Repeat([]byte("m"), 64)
	body, err := json.Marshal(signBody("acme", "pay", msg))
	if err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()

	sign := func() time.Duration {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/v1/sign", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	sign() // warm up: connection, key cache

	run := func(n int, f func(lat []time.Duration, i int)) (time.Duration, []time.Duration) {
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					f(lat, i)
				}
			}()
		}
		wg.Wait()
		return time.Since(start), lat
	}

	b.ResetTimer()
	apiDur, lat := run(b.N, func(lat []time.Duration, i int) { lat[i] = sign() })
	b.StopTimer()

	priv := enginetest.Key("bench")
	sink := make([][]byte, workers)
	bareN := max(b.N, 1000)
	bareDur, _ := run(bareN, func(_ []time.Duration, i int) { sink[i%workers] = ed25519.Sign(priv, msg) })

	apiRate := float64(b.N) / apiDur.Seconds()
	bareRate := float64(bareN) / bareDur.Seconds()
	slices.Sort(lat)
	b.ReportMetric(apiRate, "sig/s")
	b.ReportMetric(bareRate, "bare-sig/s")
	b.ReportMetric(apiRate/bareRate, "ratio")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}
