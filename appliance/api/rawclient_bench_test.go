package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ron-kms/ron-kms/govtool/policy"
)

// rawClient sends pre-built HTTP/1.1 requests on keep-alive connections,
// one per goroutine, and reads each response with http.ReadResponse: a
// load generator with none of http.Transport's goroutines and
// bookkeeping, so that more of the cores go to the server.
type rawClient struct {
	addr string
	req  []byte
	pool sync.Pool
}

type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func newRawClient(url, path, token string, body []byte) *rawClient {
	addr := strings.TrimPrefix(url, "http://")
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, addr, token, len(body))
	return &rawClient{addr: addr, req: append(req, body...)}
}

func (r *rawClient) do(context.Context) ([]byte, error) {
	rc, _ := r.pool.Get().(*rawConn)
	if rc == nil {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			return nil, err
		}
		rc = &rawConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	}
	if _, err := rc.c.Write(r.req); err != nil {
		rc.c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.c.Close()
		return nil, err
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		rc.c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		rc.c.Close()
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, out)
	}
	r.pool.Put(rc)
	return out, nil
}

// BenchmarkHTTPFloorRawClient is BenchmarkHTTPFloor with rawClient as the
// load generator: what the server side of an HTTP/1.1 exchange on net/http
// costs here, with as little of the client's cost on the same cores as a
// Go client can have.
func BenchmarkHTTPFloorRawClient(b *testing.B) {
	clients := benchClientCount(b)
	url := startServer(b, floorHandler())
	rc := newRawClient(url, "/v1/sign", "Bearer "+strings.Repeat("x", 174), []byte(`{"tenant":"acme","key":"pay","message":"`+strings.Repeat("m", 88)+`"}`))
	drive(b, clients, func() error { _, err := rc.do(context.Background()); return err }, bareSigner(policy.PQOff))
}

// BenchmarkSignRawClient is BenchmarkSignHTTP/mode=off with rawClient as
// the load generator (after one signature checked independently through
// net/http's client): the appliance's own cost per signature, with the
// least client cost a Go load generator on the same cores adds.
func BenchmarkSignRawClient(b *testing.B) {
	clients := benchClientCount(b)
	env := newBenchEnv(b, policy.PQOff, clients)
	env.check(b, policy.PQOff)
	rc := newRawClient(strings.TrimSuffix(env.url, "/v1/sign"), "/v1/sign", env.token, env.body)
	drive(b, clients, func() error { _, err := rc.do(context.Background()); return err }, bareSigner(policy.PQOff))
}
