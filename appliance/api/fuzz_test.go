package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/engine/enginetest"
	"github.com/ron-kms/ron-kms/govtool/policy"
)

// FuzzRequestBodies sends arbitrary bodies to every POST route: the API
// never panics, and every answer is either a success or a JSON error whose
// reason is in engine.Reasons with that reason's status.
func FuzzRequestBodies(f *testing.F) {
	v := enginetest.New(f, enginetest.Options{})
	v.Standard(policy.PQHybridAnd)
	tok := v.Token("acme", allOps, nil)
	h, err := api.New(api.Options{Engine: v.Engine, Metrics: v.Metrics, WebhookSecret: []byte("s"), MaxBodyBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	reasons := map[string]int{}
	for _, r := range engine.Reasons() {
		reasons[string(r)] = r.HTTPStatus()
	}
	routes := []string{"/v1/sign", "/v1/verify", "/v1/wrap", "/v1/unwrap", "/v1/capabilities", "/v1/sync"}
	f.Add(uint8(0), []byte(`{"tenant":"acme","key":"pay","message":"bQ=="}`))
	f.Add(uint8(1), []byte(`{"tenant":"acme","key":"pay","message":"bQ==","signature":"AAAA"}`))
	f.Add(uint8(2), []byte(`{"tenant":"acme","key":"data","plaintext":"bQ==","aad":""}`))
	f.Add(uint8(3), []byte(`{"tenant":"acme","key":"data","ciphertext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add(uint8(4), []byte(`{"type":"mint_request","tenant":"acme"}`))
	f.Add(uint8(5), []byte(`{}`))
	f.Add(uint8(0), []byte(`{"tenant":"acme","key":"pay","message":"bQ==","context":"`+string(bytes.Repeat([]byte("A"), 400))+`"}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, routes[int(route)%len(routes)], bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code == http.StatusOK {
			return
		}
		var e struct {
			Error struct{ Reason, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("status %d, body %q is not a JSON error", w.Code, w.Body)
		}
		want, ok := reasons[e.Error.Reason]
		if !ok || want != w.Code || e.Error.Message == "" {
			t.Fatalf("status %d reason %q message %q", w.Code, e.Error.Reason, e.Error.Message)
		}
	})
}
