package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// oneWebhook syncs the events and applies a single webhook subscribed to
// everything in scope biz/one.
func oneWebhook(t *testing.T, c *Client, wh WebhookConfig) {
	t.Helper()
	mustSync(t, c, twoEvents)
	if wh.Code == "" {
		wh.Code, wh.Name = "hook", "hook"
	}
	ctx := testCtx(t)
	if err := c.ApplyScopeWebhooks(ctx, "biz", "one", []WebhookConfig{wh}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "one", map[string][]string{wh.Code: {AllEvents}}); err != nil {
		t.Fatal(err)
	}
}

func broadcastOne(t *testing.T, c *Client) DeliveryResult {
	t.Helper()
	res, err := c.Broadcast(testCtx(t), "template_update", []Scope{{"biz", "one"}}, nil)
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	if len(res.Deliveries) != 1 {
		t.Fatalf("%d deliveries", len(res.Deliveries))
	}
	if res.HistoryErr != nil {
		t.Fatalf("history: %v", res.HistoryErr)
	}
	return res.Deliveries[0]
}

// recordingPolicy records the Retry-After values it is given, decides as
// DefaultRetryPolicy does, and waits 1 ms.
type recordingPolicy struct {
	mu          sync.Mutex
	retryAfters []time.Duration
	attempts    []int
}

func (r *recordingPolicy) policy(attempt int, wh *WebhookConfig, ar *AttemptResult, retryAfter time.Duration) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, attempt)
	r.retryAfters = append(r.retryAfters, retryAfter)
	retry, _ := DefaultRetryPolicy(attempt, wh, ar, 0)
	return retry, time.Millisecond
}

func testRetriesThenSucceeds(t *testing.T, tdb *testDB) {
	var n atomic.Int32
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if n.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "done")
	})
	rb := &recordingPolicy{}
	c := newTestClient(t, tdb, Config{RetryPolicy: rb.policy})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 3, RetryInterval: 10 * time.Millisecond})
	d := broadcastOne(t, c)
	if !d.Success || d.Attempts != 3 || d.StatusCode != 200 || d.Err != nil {
		t.Fatalf("delivery = %+v", d)
	}
	hist, _ := c.History(testCtx(t), HistoryQuery{DeliveryID: d.DeliveryID})
	if len(hist) != 3 {
		t.Fatalf("%d history rows, want one per attempt", len(hist))
	}
	// Newest first: attempt 3 succeeded, 2 and 1 failed with 503.
	for i, want := range []struct {
		attempt, status int
		ok              bool
	}{{3, 200, true}, {2, 503, false}, {1, 503, false}} {
		h := hist[i]
		if h.Attempt != want.attempt || h.StatusCode != want.status || h.Success != want.ok {
			t.Errorf("row %d = attempt %d status %d ok %v, want %+v", i, h.Attempt, h.StatusCode, h.Success, want)
		}
		if !want.ok && !strings.Contains(h.Error, "503") {
			t.Errorf("row %d error = %q", i, h.Error)
		}
		if h.Duration <= 0 {
			t.Errorf("row %d has no duration", i)
		}
	}
	// Every attempt carries the same delivery id to the receiver.
	for _, r := range rc.requests() {
		if !strings.Contains(string(r.Body), d.DeliveryID) {
			t.Errorf("a retry changed the delivery id: %s", r.Body)
		}
	}
}

func testRetryStopsAtRetryTimes(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Error(w, "nope", http.StatusInternalServerError)
	})
	c := newTestClient(t, tdb, Config{RetryPolicy: (&recordingPolicy{}).policy})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 2})
	d := broadcastOne(t, c)
	if d.Success || d.Attempts != 3 || d.StatusCode != 500 || !errors.Is(d.Err, ErrUnexpectedStatus) {
		t.Fatalf("delivery = %+v", d)
	}
	if n := len(rc.requests()); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
}

func testGoneStopsRetrying(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.WriteHeader(http.StatusGone)
	})
	c := newTestClient(t, tdb, Config{RetryPolicy: (&recordingPolicy{}).policy})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 5})
	d := broadcastOne(t, c)
	if d.Success || d.Attempts != 1 || d.StatusCode != 410 {
		t.Fatalf("delivery = %+v, want one attempt on 410", d)
	}
}

// Retry-After reaches the retry policy; under the default policy a delay
// longer than MaxRetryDelay ends Broadcast's retries instead of making the
// caller wait.
func testRetryAfterReachesThePolicyAndLongDelaysEndBroadcast(t *testing.T, tdb *testDB) {
	var n atomic.Int32
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	rb := &recordingPolicy{}
	c := newTestClient(t, tdb, Config{RetryPolicy: rb.policy})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 3})
	d := broadcastOne(t, c)
	if !d.Success || d.Attempts != 3 {
		t.Fatalf("delivery = %+v", d)
	}
	if len(rb.retryAfters) != 2 || rb.retryAfters[0] != 7*time.Second || rb.retryAfters[1] != time.Hour {
		t.Errorf("Retry-After seen by the policy = %v, want [7s 1h]", rb.retryAfters)
	}
	// The default backoff honours Retry-After.
	if got := DefaultBackoff(1, time.Millisecond, 7*time.Second); got != 7*time.Second {
		t.Errorf("DefaultBackoff with Retry-After 7s = %v", got)
	}

	// The default policy: a Retry-After of an hour is beyond MaxRetryDelay,
	// so Broadcast stops after the first attempt and says no retry follows.
	n.Store(1)
	var retryIns []time.Duration
	var mu sync.Mutex
	c2 := newTestClient(t, tdb, Config{MaxRetryDelay: 20 * time.Millisecond,
		Hooks: Hooks{AfterAttempt: func(_ context.Context, _ *AttemptInfo, r *AttemptResult) {
			mu.Lock()
			retryIns = append(retryIns, r.RetryIn)
			mu.Unlock()
		}}})
	oneWebhook(t, c2, WebhookConfig{Endpoint: rc.URL, RetryTimes: 3})
	start := time.Now()
	d = broadcastOne(t, c2)
	if d.Success || d.Attempts != 1 || d.StatusCode != http.StatusTooManyRequests || time.Since(start) > 5*time.Second {
		t.Fatalf("delivery = %+v after %s, want one attempt and no wait", d, time.Since(start))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retryIns) != 1 || retryIns[0] != 0 {
		t.Errorf("RetryIn %v, want none", retryIns)
	}
}

func TestDefaultBackoffGrowsWithJitter(t *testing.T) {
	t.Parallel()
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 50; i++ {
			d := DefaultBackoff(attempt, time.Second, 0)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("attempt %d: %v outside %v ±20%%", attempt, d, base)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct delays in 50: no jitter", attempt, len(seen))
		}
	}
}

func testTimeoutPerWebhook(t *testing.T, tdb *testDB) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := newTestClient(t, tdb, Config{Timeout: time.Minute, RetryPolicy: noRetries})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, Timeout: 100 * time.Millisecond})
	start := time.Now()
	d := broadcastOne(t, c)
	if d.Success || d.Err == nil || !strings.Contains(d.Err.Error(), "timed out after 100ms") || !errors.Is(d.Err, context.DeadlineExceeded) {
		t.Fatalf("delivery = %+v", d)
	}
	if e := time.Since(start); e > 10*time.Second {
		t.Errorf("a 100 ms timeout took %v", e)
	}
}

func testContextCancelStopsRetries(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.WriteHeader(http.StatusBadGateway)
	})
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 5, RetryInterval: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deliveries[0]
	if d.Success || d.Attempts != 1 || !errors.Is(d.Err, context.Canceled) || !errors.Is(d.Err, ErrUnexpectedStatus) {
		t.Fatalf("delivery = %+v", d)
	}
	if e := time.Since(start); e > 10*time.Second {
		t.Errorf("cancellation took %v", e)
	}
	// The attempt made before the cancellation is recorded anyway.
	if hist, _ := c.History(context.Background(), HistoryQuery{DeliveryID: d.DeliveryID}); len(hist) != 1 {
		t.Errorf("%d history rows after cancellation, want 1", len(hist))
	}
}

func testRedirectsAreNotFollowed(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL + "/start"})
	d := broadcastOne(t, c)
	if d.Success || d.StatusCode != http.StatusFound {
		t.Fatalf("delivery = %+v, want a failed 302", d)
	}
	if got := counts(rc.byPath()); got["/elsewhere"] != 0 {
		t.Errorf("redirect followed: %v", got)
	}
}

func testUnreachableEndpointFailsOnlyItself(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	if err := c.ApplyScopeWebhooks(ctx, "biz", "mix", []WebhookConfig{
		{Code: "dead", Name: "dead", Endpoint: deadURL + "/x", Auth: &Auth{Type: "bearer", Token: "dead-token-secret"}},
		{Code: "alive", Name: "alive", Endpoint: rc.URL + "/alive"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "mix", map[string][]string{"dead": {"*"}, "alive": {"*"}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "mix"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries[0].Success || res.Deliveries[0].Err == nil || !res.Deliveries[1].Success {
		t.Fatalf("deliveries = %+v", res.Deliveries)
	}
	msg := res.Deliveries[0].Err.Error()
	if !strings.Contains(msg, "connection refused") && !strings.Contains(msg, "connect") {
		t.Errorf("error does not say what happened: %q", msg)
	}
	if strings.Contains(msg, "dead-token-secret") {
		t.Errorf("error leaks the token: %q", msg)
	}
}

func testResponseBodyCappedAndScrubbed(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		// A receiver that echoes the credential back must not get it into history.
		io.WriteString(w, "you sent "+r.Header.Get("Authorization")+" "+strings.Repeat("x", 5000))
	})
	c := newTestClient(t, tdb, Config{MaxResponseBodyBytes: 100})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, Auth: &Auth{Type: "bearer", Token: "echoed-token-value"}})
	d := broadcastOne(t, c)
	if !d.Success {
		t.Fatalf("delivery = %+v", d)
	}
	hist, _ := c.History(testCtx(t), HistoryQuery{DeliveryID: d.DeliveryID})
	resp := hist[0].Response
	if !resp.BodyTruncated || len(resp.Body) > 100 {
		t.Errorf("response body %d bytes, truncated %v; want at most 100, truncated", len(resp.Body), resp.BodyTruncated)
	}
	if strings.Contains(string(hist[0].ExtraInfo), "echoed-token-value") {
		t.Errorf("history stores the echoed token: %s", hist[0].ExtraInfo)
	}
	if !strings.Contains(resp.Body, "Bearer [REDACTED]") {
		t.Errorf("response body = %q", resp.Body)
	}
}

func testTLSVerification(t *testing.T, tdb *testDB) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	if err := c.ApplyScopeWebhooks(ctx, "biz", "tls", []WebhookConfig{
		{Code: "strict", Name: "strict", Endpoint: srv.URL + "/a"},
		{Code: "lax", Name: "lax", Endpoint: srv.URL + "/b", InsecureSkipVerify: true},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "tls", map[string][]string{"strict": {"*"}, "lax": {"*"}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "tls"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries[0].Success || !strings.Contains(res.Deliveries[0].Err.Error(), "certificate") {
		t.Errorf("self-signed certificate accepted by default: %+v", res.Deliveries[0])
	}
	if !res.Deliveries[1].Success {
		t.Errorf("verify: false did not skip verification: %+v", res.Deliveries[1])
	}
}

func testVerifyEndpoint(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	wh := WebhookConfig{Code: "v", Name: "v", Endpoint: rc.URL + "/verify", Auth: &Auth{Type: "bearer", Token: "verify-token"}}
	d, err := c.VerifyEndpoint(testCtx(t), wh)
	if err != nil || !d.Success || d.StatusCode != 200 {
		t.Fatalf("VerifyEndpoint = %+v, %v", d, err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer verify-token" || !strings.Contains(string(reqs[0].Body), `"code":"webhook_test"`) {
		t.Fatalf("receiver got %+v", reqs)
	}
	if hist, _ := c.History(testCtx(t), HistoryQuery{}); len(hist) != 0 {
		t.Errorf("VerifyEndpoint wrote %d history rows", len(hist))
	}
	if _, err := c.VerifyEndpoint(testCtx(t), WebhookConfig{Code: "v", Name: "v", Endpoint: "nope"}); !errors.Is(err, ErrInvalidWebhook) {
		t.Errorf("invalid endpoint: %v", err)
	}
	failing := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusUnauthorized) })
	wh.Endpoint = failing.URL
	d, err = c.VerifyEndpoint(testCtx(t), wh)
	if !errors.Is(err, ErrUnexpectedStatus) || d == nil || d.StatusCode != 401 {
		t.Errorf("401 endpoint: %+v, %v", d, err)
	}
}

func testMalformedStoredWebhookFailsOnlyItself(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	// A row written by hand (or a future Python version) with a bad extra_info.
	if err := c.DB().Exec(`UPDATE webhook_webhook SET extra_info = '{"headers": {"not": "a list"}}' WHERE code = 'wh_basic'`).Error; err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(testCtx(t), "template_update", []Scope{{"biz", "biz1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Deliveries {
		switch d.WebhookCode {
		case "wh_basic":
			if d.Success || !errors.Is(d.Err, ErrInvalidWebhook) || !strings.Contains(d.Err.Error(), "extra_info.headers") {
				t.Errorf("malformed webhook: %+v", d)
			}
		case "wh_bearer":
			if !d.Success {
				t.Errorf("healthy webhook failed: %+v", d)
			}
		}
	}
}
