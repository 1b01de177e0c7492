package webhook

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
)

// Every attempt's history row keeps the signature headers that attempt
// sent (each attempt has its own timestamp), as the receiver got them, so
// that a receiver answering "invalid signature" can be debugged from
// history alone; the stored headers verify the body sent.
func testHistoryKeepsSignatureHeaders(t *testing.T, tdb *testDB) {
	secret, _ := NewSigningSecret()
	var n atomic.Int32
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusUnauthorized) // "invalid signature"
		}
	})
	c := newTestClient(t, tdb, Config{RetryPolicy: quickRetries})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, SigningSecrets: []string{secret}})
	d := broadcastOne(t, c)
	if !d.Success || d.Attempts != 2 {
		t.Fatalf("delivery %+v", d)
	}
	hist, err := c.History(testCtx(t), HistoryQuery{DeliveryID: d.DeliveryID})
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %d rows, %v", len(hist), err)
	}
	slices.Reverse(hist) // oldest first, as the requests
	reqs := rc.requests()
	v := &Verifier{Secrets: []string{secret}}
	for i, h := range hist {
		sent := reqs[i].Header
		for _, name := range []string{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature} {
			if got, want := h.Request.Header[http.CanonicalHeaderKey(name)], sent.Get(name); got == "" || got != want {
				t.Errorf("attempt %d: history keeps %s %q, the receiver got %q", h.Attempt, name, got, want)
			}
		}
		stored := http.Header{}
		for k, val := range h.Request.Header {
			stored.Set(k, val)
		}
		// The body as sent (a jsonb column reorders the stored copy's keys).
		if err := v.Verify(stored, reqs[i].Body); err != nil {
			t.Errorf("attempt %d: the stored headers do not verify the body sent: %v", h.Attempt, err)
		}
		if !jsonEqual(string(h.Request.JSON), string(reqs[i].Body)) {
			t.Errorf("attempt %d: history keeps body %s, the receiver got %s", h.Attempt, h.Request.JSON, reqs[i].Body)
		}
	}
}
