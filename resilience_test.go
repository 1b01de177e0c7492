package webhook

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// Tests of the delivery engine under endpoints that misbehave: isolation
// between webhooks, the circuit breaker, Retry-After pauses, ordering, rate
// limits and health tracking.

// webhookIn registers wh in scope biz/scopeCode, subscribed to every event.
func webhookIn(t *testing.T, c *Client, scopeCode string, wh WebhookConfig) {
	t.Helper()
	ctx := testCtx(t)
	if _, err := c.Event(ctx, "template_update"); err != nil {
		mustSync(t, c, twoEvents)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", scopeCode, []WebhookConfig{wh}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", scopeCode, map[string][]string{wh.Code: {AllEvents}}); err != nil {
		t.Fatal(err)
	}
}

// enqueueMany enqueues n deliveries of template_update to scope biz/scopeCode
// in one transaction and returns their ids in enqueue order.
func enqueueMany(t *testing.T, c *Client, scopeCode string, n int) []string {
	t.Helper()
	ctx := testCtx(t)
	var ids []string
	err := c.DB().Transaction(func(tx *gorm.DB) error {
		for i := range n {
			got, err := c.EnqueueTx(ctx, tx, "template_update", []Scope{{"biz", scopeCode}}, map[string]any{"n": i})
			if err != nil {
				return err
			}
			ids = append(ids, got...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// noRetries never retries.
func noRetries(int, *WebhookConfig, *AttemptResult, time.Duration) (bool, time.Duration) {
	return false, 0
}

// quickRetries retries every failure after a few milliseconds, up to 200
// attempts.
func quickRetries(attempt int, _ *WebhookConfig, r *AttemptResult, _ time.Duration) (bool, time.Duration) {
	return retryable(r) && attempt < 200, 5 * time.Millisecond
}

func webhookRowOf(t *testing.T, c *Client, scopeCode, code string) webhookRow {
	t.Helper()
	var row webhookRow
	if err := c.DB().Where("scope_type = ? AND scope_code = ? AND code = ?", "biz", scopeCode, code).First(&row).Error; err != nil {
		t.Fatal(err)
	}
	return row
}

// A hangs; B's deliveries are sent while A's requests hang, and A never
// holds more than its share of the workers.
func testHangingEndpointDoesNotStallOthers(t *testing.T, tdb *testDB) {
	var aInFlight, aMax atomic.Int64
	hang := make(chan struct{})
	defer close(hang)
	a := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		n := aInFlight.Add(1)
		defer aInFlight.Add(-1)
		for {
			m := aMax.Load()
			if n <= m || aMax.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	b := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond, Workers: 16, Timeout: 20 * time.Second, LeaseDuration: 40 * time.Second})
	webhookIn(t, c, "a", WebhookConfig{Code: "a", Name: "a", Endpoint: a.URL})
	webhookIn(t, c, "b", WebhookConfig{Code: "b", Name: "b", Endpoint: b.URL})
	enqueueMany(t, c, "a", 500) // enqueued first: they are due first
	enqueueMany(t, c, "b", 300)
	startWorkers(t, c)
	waitFor(t, "B's 300 deliveries while A hangs", 30*time.Second, func() bool { return len(b.requests()) >= 300 })
	if got, limit := aMax.Load(), int64(c.cfg.MaxInFlightPerWebhook); got > limit || got == 0 {
		t.Errorf("A had up to %d requests in flight, want 1..%d (MaxInFlightPerWebhook)", got, limit)
	}
	if n := len(a.requests()); n > c.cfg.MaxInFlightPerWebhook {
		t.Errorf("A received %d requests while its first ones hung, want at most %d", n, c.cfg.MaxInFlightPerWebhook)
	}
	var leasedA int64
	if err := c.DB().Model(&deliveryRow{}).Where("scope_code = ? AND lease_owner IS NOT NULL", "a").Count(&leasedA).Error; err != nil {
		t.Fatal(err)
	}
	if leasedA > int64(2*c.cfg.MaxInFlightPerWebhook) {
		t.Errorf("%d of A's deliveries are leased, want at most %d: the instance leases far more than it can start", leasedA, 2*c.cfg.MaxInFlightPerWebhook)
	}
}

// A single delivery of B is not delayed behind a backlog of A.
func testBacklogOfOneWebhookDoesNotDelayAnother(t *testing.T, tdb *testDB) {
	var aSeen atomic.Int64
	var aWhenB atomic.Int64
	a := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		aSeen.Add(1)
		time.Sleep(time.Millisecond)
	})
	b := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { aWhenB.Store(aSeen.Load()) })
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond})
	webhookIn(t, c, "a", WebhookConfig{Code: "a", Name: "a", Endpoint: a.URL})
	webhookIn(t, c, "b", WebhookConfig{Code: "b", Name: "b", Endpoint: b.URL})
	const backlog = 3000
	enqueueMany(t, c, "a", backlog)
	startWorkers(t, c)
	waitFor(t, "A's backlog to start", 20*time.Second, func() bool { return aSeen.Load() > 50 })
	t0 := time.Now()
	enqueueMany(t, c, "b", 1)
	t.Logf("enqueue took %s, A at %d", time.Since(t0), aSeen.Load())
	waitFor(t, "B's delivery", 60*time.Second, func() bool { return len(b.requests()) == 1 })
	if got := aWhenB.Load(); got > backlog/2 {
		t.Errorf("B's delivery arrived after %d of A's %d: it waited behind A's backlog", got, backlog)
	}
}

// Repeated endpoint failures open the circuit; while open, only spaced
// probes reach the endpoint and deliveries keep their attempts; the first
// probe answered closes it and the backlog drains.
func testCircuitOpensProbesAndCloses(t *testing.T, tdb *testDB) {
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	var mu sync.Mutex
	var events []CircuitEvent
	c := newTestClient(t, tdb, Config{
		PollInterval: 5 * time.Millisecond, RetryPolicy: quickRetries, Workers: 8, MaxInFlightPerWebhook: 2,
		CircuitBreakAfter: 3, CircuitProbeInterval: 150 * time.Millisecond, CircuitMaxProbeInterval: 300 * time.Millisecond,
		Hooks: Hooks{CircuitChanged: func(_ context.Context, e CircuitEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}},
	})
	webhookIn(t, c, "a", WebhookConfig{Code: "a", Name: "a", Endpoint: rc.URL})
	const n = 40
	enqueueMany(t, c, "a", n)
	startWorkers(t, c)
	ctx := testCtx(t)
	waitFor(t, "the circuit to open", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) > 0
	})
	infos, err := c.Webhooks(ctx, WebhookQuery{ScopeCode: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if ci := infos[0].Circuit; ci.State == CircuitClosed || ci.Since.IsZero() || ci.NextProbe.IsZero() || ci.Failures < 3 || ci.Reason == "" {
		t.Errorf("the open circuit reads %+v", ci)
	}
	atOpen := len(rc.requests())
	time.Sleep(time.Second)
	whileOpen := len(rc.requests()) - atOpen
	// At most one probe per 150 ms (plus the requests in flight when it
	// opened), where quick retries alone would have made hundreds.
	if whileOpen > 10 {
		t.Errorf("%d requests reached the endpoint in the second after its circuit opened, want only spaced probes", whileOpen)
	}
	waitFor(t, "a probe", 10*time.Second, func() bool { return len(rc.requests()) > atOpen })
	var spent int64
	if err := c.DB().Model(&deliveryRow{}).Select("COALESCE(SUM(attempts), 0)").Scan(&spent).Error; err != nil {
		t.Fatal(err)
	}
	// Every attempt spent is a request made (a probe may still be in flight).
	if reqs := int64(len(rc.requests())); spent > reqs || reqs-spent > int64(c.cfg.MaxInFlightPerWebhook) {
		t.Errorf("attempts spent %d, requests %d", spent, reqs)
	}
	healthy.Store(true)
	waitFor(t, "the backlog after recovery", 30*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == n })
	mu.Lock()
	last := events[len(events)-1]
	mu.Unlock()
	if events[0].State != CircuitOpen || last.State != CircuitClosed {
		t.Errorf("circuit events %+v, want opened then closed", events)
	}
	if row := webhookRowOf(t, c, "a", "a"); row.CircuitOpenUntil != nil || row.CircuitFailures != 0 || row.ConsecutiveFailures != 0 || !row.EnableWebhook {
		t.Errorf("after recovery the webhook row is %+v", row)
	}
	// Spent attempts: those before the circuit opened and the probes; the
	// rest of the deliveries were sent once.
	if total := len(rc.requests()); total > n+whileOpen+atOpen+5 {
		t.Errorf("%d requests for %d deliveries", total, n)
	}
}

// A 429 with Retry-After pauses the whole endpoint, not just that delivery.
func testRetryAfterPausesTheEndpoint(t *testing.T, tdb *testDB) {
	var first atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if first.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	other := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond, RetryPolicy: quickRetries, MaxInFlightPerWebhook: 1})
	webhookIn(t, c, "a", WebhookConfig{Code: "a", Name: "a", Endpoint: rc.URL})
	webhookIn(t, c, "b", WebhookConfig{Code: "b", Name: "b", Endpoint: other.URL})
	enqueueMany(t, c, "a", 5)
	startWorkers(t, c)
	waitFor(t, "the 429", 20*time.Second, func() bool { return len(rc.requests()) >= 1 })
	start := time.Now()
	enqueueMany(t, c, "b", 3) // another endpoint is not paused
	waitFor(t, "the other endpoint", 20*time.Second, func() bool { return len(other.requests()) == 3 })
	if time.Since(start) < 900*time.Millisecond && len(rc.requests()) > 1 {
		t.Errorf("the paused endpoint got a request %s after its 429 with Retry-After: 1", time.Since(start))
	}
	waitFor(t, "the paused deliveries", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 8 })
	if n := len(rc.requests()); n != 6 {
		t.Errorf("the paused endpoint got %d requests for 5 deliveries and one 429, want 6", n)
	}
}

// While a circuit is open, Broadcast fails the webhook at once with
// ErrCircuitOpen, records it, and sends nothing.
func testBroadcastFailsFastWhileCircuitOpen(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	until := time.Now().Add(time.Hour).UTC()
	if err := c.DB().Exec("UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?", until, time.Now().UTC()).Error; err != nil {
		t.Fatal(err)
	}
	d := broadcastOne(t, c)
	if !errors.Is(d.Err, ErrCircuitOpen) || d.Success || len(rc.requests()) != 0 {
		t.Fatalf("Broadcast with an open circuit: %+v, %d requests", d, len(rc.requests()))
	}
	hist, err := c.History(testCtx(t), HistoryQuery{DeliveryID: d.DeliveryID})
	if err != nil || len(hist) != 1 || hist[0].Success {
		t.Fatalf("history %+v %v", hist, err)
	}
	if err := c.CloseCircuit(testCtx(t), "biz", "one", "hook"); err != nil {
		t.Fatal(err)
	}
	if d := broadcastOne(t, c); !d.Success || string(d.ResponseBody) != `{"message": "ok"}` {
		t.Fatalf("after CloseCircuit: %+v (response %q)", d, d.ResponseBody)
	}
	if err := c.CloseCircuit(testCtx(t), "biz", "one", "nope"); !errors.Is(err, ErrWebhookNotFound) {
		t.Errorf("CloseCircuit of an unknown webhook: %v", err)
	}
}

// An ordered webhook gets its deliveries one at a time in enqueue order,
// across failures, retries and a restart of the workers.
func testOrderedWebhookKeepsEnqueueOrder(t *testing.T, tdb *testDB) {
	var mu sync.Mutex
	var got []string
	var inFlight, maxInFlight atomic.Int64
	var n atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if f := inFlight.Add(1); f > maxInFlight.Load() {
			maxInFlight.Store(f)
		}
		defer inFlight.Add(-1)
		if n.Add(1)%7 == 0 { // every 7th request fails
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		got = append(got, deliveryIDOf(body))
		mu.Unlock()
	})
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond, RetryPolicy: quickRetries})
	webhookIn(t, c, "a", WebhookConfig{Code: "a", Name: "a", Endpoint: rc.URL, Ordered: true})
	const total = 1000
	ids := enqueueMany(t, c, "a", total)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a third of the deliveries", 60*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > total/3 })
	if err := c.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	waitFor(t, "every delivery", 120*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == total })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, ids) {
		for i := range min(len(got), len(ids)) {
			if got[i] != ids[i] {
				t.Fatalf("out of order at %d: got %s, want %s (%d received for %d)", i, got[i], ids[i], len(got), len(ids))
			}
		}
		t.Fatalf("%d received for %d", len(got), len(ids))
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("up to %d requests in flight to an ordered webhook", m)
	}
}

// A rate-limited webhook gets at most its rate.
func testRateLimitSpacesRequests(t *testing.T, tdb *testDB) {
	var mu sync.Mutex
	var at []time.Time
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
	})
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond})
	webhookIn(t, c, "a", WebhookConfig{Code: "a", Name: "a", Endpoint: rc.URL, RateLimit: 20})
	enqueueMany(t, c, "a", 30)
	startWorkers(t, c)
	waitFor(t, "the deliveries", 30*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 30 })
	mu.Lock()
	sent := append([]time.Time(nil), at...)
	mu.Unlock()
	for i := range sent {
		at := sent
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		if j-i > 21 { // 20 per second and a burst of one
			t.Fatalf("%d requests within one second of request %d at 20 per second", j-i, i)
		}
	}
	// Broadcast waits for the limit too.
	c2 := newTestClient(t, tdb, Config{})
	oneWebhook(t, c2, WebhookConfig{Endpoint: rc.URL, RateLimit: 10})
	start := time.Now()
	for range 4 {
		broadcastOne(t, c2)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("4 broadcasts to a webhook limited to 10 per second took %s", el)
	}
}

// A success resets the failure count and failing-since time, whichever
// attempt it was, in both paths: a webhook whose every delivery succeeds
// after one retry is never auto-disabled.
func testSuccessAfterRetryResetsHealth(t *testing.T, tdb *testDB) {
	var n atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if n.Add(1)%2 == 1 { // every first attempt fails
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	clock := newFakeClock()
	cfg := Config{Now: clock.Now, DisableAfterFailingFor: time.Hour, PollInterval: 5 * time.Millisecond, RetryPolicy: quickRetries}
	c := newTestClient(t, tdb, cfg)
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 1, RetryInterval: time.Millisecond})
	check := func(path string, i int) {
		t.Helper()
		row := webhookRowOf(t, c, "one", "hook")
		if !row.EnableWebhook || row.ConsecutiveFailures != 0 || row.FailingSince != nil {
			t.Fatalf("%s, delivery %d: webhook enabled=%v failures=%d failing since %v, want enabled, 0, none",
				path, i, row.EnableWebhook, row.ConsecutiveFailures, row.FailingSince)
		}
	}
	for i := range 3 {
		if d := broadcastOne(t, c); !d.Success || d.Attempts != 2 {
			t.Fatalf("broadcast %d: %+v", i, d)
		}
		check("Broadcast", i)
		clock.Advance(2 * time.Hour)
	}
	startWorkers(t, c)
	for i := range 3 {
		enqueueMany(t, c, "one", 1)
		waitFor(t, "the delivery", 20*time.Second, func() bool {
			clock.Advance(10 * time.Millisecond) // the retry is due 5 ms later
			return deliveriesByStatus(t, c)[StatusSucceeded] == i+1
		})
		check("Enqueue", i)
		clock.Advance(2 * time.Hour)
	}
}

// Start registers the instance (Instances lists it, alive) and fails at
// once, saying what to do, on a database it cannot write.
func testInstancesAndStartOnABadDatabase(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	startWorkers(t, c)
	ctx := testCtx(t)
	list, err := c.Instances(ctx)
	if err != nil || len(list) != 1 || !list[0].Alive || list[0].PID != os.Getpid() || list[0].Version != Version {
		t.Fatalf("Instances: %+v, %v", list, err)
	}
	// Not migrated: no table to register in.
	bare := newClientOn(t, tdb.open(t), Config{})
	start := time.Now()
	err = bare.Start(ctx)
	if err == nil {
		_ = bare.Stop(ctx)
		t.Fatal("Start on a database without the tables succeeded")
	}
	if time.Since(start) > 5*time.Second || !strings.Contains(err.Error(), "Migrate") || !strings.Contains(err.Error(), "webhook_instance") {
		t.Errorf("Start on a database without the tables: %v after %s", err, time.Since(start))
	}
	if err := bare.Start(ctx); err == nil || errors.Is(err, ErrWorkersRunning) {
		t.Errorf("a failed Start must leave the client startable: %v", err)
	}
}
