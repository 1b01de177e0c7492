package api_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The same Idempotency-Key with the same request gets the first response
// again, with another request 422, and after 24 hours a fresh run.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, nil, webhook.Config{}, api.Options{Now: clk.Now})
	e.seed()
	base := scopePath(own)
	key := map[string]string{"Idempotency-Key": "2f1d7c1e-create-1"}
	body := `{"code": "idem", "name": "Idempotent", "endpoint": "https://example.com/hook"}`

	first := e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: body, header: key})
	want(t, "first create", first, 201, "")
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Error("the first response says it is replayed")
	}
	again := e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: body, header: key})
	want(t, "retried create", again, 201, "")
	if !bytes.Equal(again.body, first.body) || again.header.Get("ETag") != first.header.Get("ETag") ||
		again.header.Get("Location") != first.header.Get("Location") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay differs:\nfirst %v %s\nagain %v %s", first.header, first.body, again.header, again.body)
	}
	// Without the key, the same request is a second create: refused.
	want(t, "create without the key", e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: body}), 409, api.CodeWebhookExists)

	// The key with another body, or on another path.
	want(t, "other body", e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: `{"code": "idem2", "name": "n", "endpoint": "https://example.com/"}`, header: key}), 422, api.CodeIdempotencyKeyReused)
	want(t, "other path", e.do(req{method: "POST", path: base + "/webhooks/idem/test", token: e.ownToken, header: key}), 422, api.CodeIdempotencyKeyReused)

	// Keys are the caller's: an operator's same key runs its own request.
	want(t, "operator, same key", e.do(req{method: "POST", path: base + "/webhooks", token: operatorToken, body: body, header: key}), 409, api.CodeWebhookExists)

	// An error answer is kept too (it is the outcome of the request).
	k2 := map[string]string{"Idempotency-Key": "k2"}
	want(t, "create existing", e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: body, header: k2}), 409, api.CodeWebhookExists)
	want(t, "delete it", e.do(req{method: "DELETE", path: base + "/webhooks/idem", token: e.ownToken}), 204, "")
	r := e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: body, header: k2})
	if want(t, "create existing, retried", r, 409, api.CodeWebhookExists); r.header.Get("Idempotent-Replayed") != "true" {
		t.Error("the kept 409 is not marked replayed")
	}

	// After IdempotencyKeyTTL, the key is forgotten.
	clk.Add(api.IdempotencyKeyTTL + time.Second)
	want(t, "a day later, other body", e.do(req{method: "POST", path: base + "/webhooks", token: e.ownToken, body: `{"code": "idem3", "name": "n", "endpoint": "https://example.com/"}`, header: key}), 201, "")

	// Other methods ignore the header.
	want(t, "GET with a key", e.do(req{method: "GET", path: base + "/webhooks/idem3", token: e.ownToken, header: key}), 200, "")
}

// Concurrent requests with one key run once: the others wait and get its
// response.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{})
	e.seed()
	path := scopePath(own) + "/webhooks/wh1/test"
	const n = 8
	var wg sync.WaitGroup
	out := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.do(req{method: "POST", path: path, token: e.ownToken, header: map[string]string{"Idempotency-Key": "same"}})
		}()
	}
	wg.Wait()
	replayed := 0
	for i, r := range out {
		if r.status != 200 || !bytes.Equal(r.body, out[0].body) {
			t.Errorf("response %d: %s, want %s", i, r.body, out[0].body)
		}
		if r.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if got := e.hitsOf("/ok"); got != 1 || replayed != n-1 {
		t.Errorf("the receiver got %d test requests (want 1), %d responses replayed (want %d)", got, replayed, n-1)
	}
}
