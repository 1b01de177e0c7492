package webhook

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// startWorkers starts c's workers and stops them when the test ends.
func startWorkers(t testing.TB, c *Client) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deliveriesByStatus(t testing.TB, c *Client) map[string]int {
	t.Helper()
	var rows []struct {
		Status string
		N      int
	}
	if err := c.DB().Raw("SELECT status, COUNT(*) AS n FROM webhook_delivery GROUP BY status").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

func deliveryRows(t testing.TB, c *Client) []deliveryRow {
	t.Helper()
	var rows []deliveryRow
	if err := c.DB().Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

func testEnqueueTxRollbackSendsNothingCommitSendsAll(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{PollInterval: 10 * time.Millisecond})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	rollback := errors.New("business write failed")
	err := c.DB().Transaction(func(tx *gorm.DB) error {
		if _, err := c.EnqueueTx(ctx, tx, "template_update", []Scope{{"biz", "biz1"}}, map[string]any{"n": 1}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("transaction: %v", err)
	}
	var ids []string
	err = c.DB().Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO webhook_scope (type, code) VALUES (?, ?)", "business", "write").Error; err != nil {
			return err
		}
		var err error
		ids, err = c.EnqueueTx(ctx, tx, "template_update", []Scope{{"biz", "biz1"}}, map[string]any{"n": 2})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("delivery ids = %v, want two distinct ids (wh_bearer, wh_basic)", ids)
	}
	startWorkers(t, c)
	waitFor(t, "both deliveries", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 2 })
	time.Sleep(50 * time.Millisecond)
	got := counts(rc.byPath())
	if want := map[string]int{"/bearer": 1, "/basic": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("receiver got %v, want %v (nothing from the rolled-back transaction)", got, want)
	}
	for _, r := range rc.requests() {
		if !strings.Contains(string(r.Body), `"n":2`) {
			t.Errorf("a rolled-back enqueue was sent: %s", r.Body)
		}
	}
	if n := len(deliveryRows(t, c)); n != 2 {
		t.Errorf("%d outbox rows, want 2", n)
	}
	hist, _ := c.History(ctx, HistoryQuery{DeliveryID: ids[0]})
	if len(hist) != 1 || !hist[0].Success {
		t.Errorf("history of %s: %+v", ids[0], hist)
	}
}

func testWorkersDeliverABacklog(t *testing.T, tdb *testDB) {
	rc, received := countingReceiver(t)
	c := newTestClient(t, tdb, Config{PollInterval: 10 * time.Millisecond, Workers: 8, ClaimBatch: 16})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	const n = 150
	for i := range n {
		if _, err := c.Enqueue(ctx, "template_create", []Scope{{"biz", "biz1"}, {"biz", "biz2"}}, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	startWorkers(t, c)
	waitFor(t, "the backlog", 60*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 3*n })
	seen := received()
	if len(seen) != 3*n {
		t.Errorf("receiver saw %d distinct deliveries, want %d", len(seen), 3*n)
	}
	for k, v := range seen {
		if v != 1 {
			t.Errorf("%s received %d times", k, v)
		}
	}
	var histN int64
	c.DB().Model(&historyRow{}).Count(&histN)
	if histN != 3*n {
		t.Errorf("%d history rows, want %d", histN, 3*n)
	}
	for _, d := range deliveryRows(t, c) {
		if d.Attempts != 1 || d.LeaseOwner != nil || d.FinishedAt == nil || d.LastStatusCode == nil || *d.LastStatusCode != 204 {
			t.Fatalf("finished delivery row = %+v", d)
		}
	}
}

// countingReceiver answers 204 and counts what it receives by path and
// delivery id ("/bearer 0123…"); seen returns a copy of the counts.
func countingReceiver(t testing.TB) (rc *receiver, seen func() map[string]int) {
	var mu sync.Mutex
	counts := map[string]int{}
	rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		counts[r.URL.Path+" "+deliveryIDOf(body)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	return rc, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(counts)
	}
}

func deliveryIDOf(body []byte) string {
	const key = `"delivery_id":"`
	i := strings.Index(string(body), key)
	if i < 0 {
		return ""
	}
	rest := string(body[i+len(key):])
	return rest[:strings.IndexByte(rest, '"')]
}

// One webhook that always fails, under a fake clock: the default schedule
// (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ±20%), then failed.
func testRetriesFollowTheDefaultScheduleThenFail(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Error(w, "down", http.StatusInternalServerError)
	})
	c := newTestClient(t, tdb, Config{Now: clock.Now, PollInterval: 5 * time.Millisecond})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	ids, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil)
	if err != nil || len(ids) != 1 {
		t.Fatalf("Enqueue: %v %v", ids, err)
	}
	startWorkers(t, c)
	schedule := DefaultRetrySchedule()
	for attempt := 1; attempt <= len(schedule)+1; attempt++ {
		waitFor(t, fmt.Sprintf("attempt %d", attempt), 20*time.Second, func() bool {
			rows := deliveryRows(t, c)
			return len(rows) == 1 && rows[0].Attempts == attempt && rows[0].LeaseOwner == nil
		})
		row := deliveryRows(t, c)[0]
		if attempt <= len(schedule) {
			wait := row.NextAttemptAt.Sub(clock.Now())
			want := schedule[attempt-1]
			if row.Status != StatusPending || wait < want*8/10 || wait > want*12/10 {
				t.Fatalf("after attempt %d: status %s, next attempt in %v, want pending in %v ±20%%", attempt, row.Status, wait, want)
			}
			if len(rc.requests()) != attempt {
				t.Fatalf("receiver got %d requests after attempt %d", len(rc.requests()), attempt)
			}
			// Nothing happens before the time comes.
			clock.Advance(wait - time.Second)
			time.Sleep(30 * time.Millisecond)
			if got := len(rc.requests()); got != attempt {
				t.Fatalf("attempt %d came early", got)
			}
			clock.Advance(2 * time.Second)
		} else if row.Status != StatusFailed || row.FinishedAt == nil || row.LastStatusCode == nil || *row.LastStatusCode != 500 {
			t.Fatalf("after the last attempt: %+v", row)
		}
	}
	hist, _ := c.History(ctx, HistoryQuery{DeliveryID: ids[0]})
	if len(hist) != len(schedule)+1 {
		t.Errorf("%d history rows, want %d", len(hist), len(schedule)+1)
	}
	for i, h := range hist {
		if h.Attempt != len(schedule)+1-i || h.StatusCode != 500 {
			t.Errorf("history row %d: attempt %d status %d", i, h.Attempt, h.StatusCode)
		}
	}
}

// Each receiver fault leads to the right next step.
func testReceiverFaultsScheduleRetries(t *testing.T, tdb *testDB) {
	cases := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, body []byte)
		// want is the delay until the next attempt (±20%), 0 for "failed at once".
		want    time.Duration
		errPart string
	}{
		{"500", func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(500) }, 5 * time.Second, "500"},
		{"timeout", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 5 * time.Second, "timed out"},
		{"connection reset", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, 5 * time.Second, "EOF"},
		{"slow body", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.WriteHeader(200)
			for i := 0; i < 50; i++ {
				fmt.Fprint(w, "x")
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}, 5 * time.Second, "timed out"},
		{"429 with Retry-After", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 120 * time.Second, "429"},
		{"410 Gone", func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(http.StatusGone) }, 0, "410"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			rc := newReceiver(t, tc.handler)
			c := newTestClient(t, tdb, Config{Now: clock.Now, PollInterval: 5 * time.Millisecond})
			oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, Timeout: 300 * time.Millisecond})
			if _, err := c.Enqueue(testCtx(t), "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
				t.Fatal(err)
			}
			startWorkers(t, c)
			waitFor(t, "the first attempt", 20*time.Second, func() bool {
				rows := deliveryRows(t, c)
				return len(rows) == 1 && rows[0].Attempts == 1 && rows[0].LeaseOwner == nil
			})
			row := deliveryRows(t, c)[0]
			if row.LastError == nil || !strings.Contains(*row.LastError, tc.errPart) {
				t.Errorf("last error = %v, want it to mention %q", ptrString(row.LastError), tc.errPart)
			}
			if tc.want == 0 {
				if row.Status != StatusFailed {
					t.Errorf("status %s, want failed at once", row.Status)
				}
				return
			}
			wait := row.NextAttemptAt.Sub(clock.Now())
			if row.Status != StatusPending || wait < tc.want*8/10 || wait > tc.want*12/10 {
				t.Errorf("status %s, next attempt in %v; want pending in %v ±20%%", row.Status, wait, tc.want)
			}
		})
	}
}

func ptrString(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// A webhook's own retry_times (as the Python package stores it) replaces
// the default schedule.
func testRetryTimesOfTheWebhookAreHonoured(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(503) })
	c := newTestClient(t, tdb, Config{Now: clock.Now, PollInterval: 5 * time.Millisecond})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 1, RetryInterval: 10 * time.Second})
	if _, err := c.Enqueue(testCtx(t), "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	waitFor(t, "attempt 1", 20*time.Second, func() bool { return deliveryRows(t, c)[0].Attempts == 1 })
	row := deliveryRows(t, c)[0]
	if wait := row.NextAttemptAt.Sub(clock.Now()); wait < 8*time.Second || wait > 12*time.Second {
		t.Fatalf("next attempt in %v, want 10s ±20%%", wait)
	}
	clock.Advance(13 * time.Second)
	waitFor(t, "attempt 2 and failure", 20*time.Second, func() bool {
		r := deliveryRows(t, c)[0]
		return r.Attempts == 2 && r.Status == StatusFailed
	})
}

func testRedeliverKeepsTheDeliveryID(t *testing.T, tdb *testDB) {
	fail := true
	var mu sync.Mutex
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(200)
	})
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	ids, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	waitFor(t, "the failure", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusFailed] == 1 })
	mu.Lock()
	fail = false
	mu.Unlock()
	if err := c.Redeliver(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redelivery", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 1 })
	reqs := rc.requests()
	if len(reqs) != 2 || deliveryIDOf(reqs[1].Body) != ids[0] || !strings.Contains(string(reqs[1].Body), `"k":"v"`) {
		t.Fatalf("requests: %d, second %s", len(reqs), reqs[len(reqs)-1].Body)
	}

	// A delivery made by Broadcast is known from history only.
	res, err := c.Broadcast(ctx, "template_create", []Scope{{"biz", "one"}}, map[string]any{"from": "broadcast"})
	if err != nil || len(res.Deliveries) != 1 {
		t.Fatal(err)
	}
	syncID := res.Deliveries[0].DeliveryID
	if err := c.Redeliver(ctx, syncID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redelivery of a Broadcast", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 2 })
	reqs = rc.requests()
	last := reqs[len(reqs)-1]
	if deliveryIDOf(last.Body) != syncID || !strings.Contains(string(last.Body), `"from":"broadcast"`) || !strings.Contains(string(last.Body), `"code":"template_create"`) {
		t.Errorf("redelivered body = %s", last.Body)
	}
	if err := c.Redeliver(ctx, "no-such-delivery"); !errors.Is(err, ErrDeliveryNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

func testRedeliverFailedInBulk(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	for range 5 {
		if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "biz1"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// As if every delivery had failed long ago.
	if err := c.DB().Exec("UPDATE webhook_delivery SET status = ?, attempts = 8", StatusFailed).Error; err != nil {
		t.Fatal(err)
	}
	n, err := c.RedeliverFailed(ctx, RedeliverFilter{WebhookCode: "wh_basic", ScopeType: "biz", ScopeCode: "biz1"})
	if err != nil || n != 5 {
		t.Fatalf("RedeliverFailed = %d, %v; want 5", n, err)
	}
	startWorkers(t, c)
	waitFor(t, "the redeliveries", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 5 })
	if got := counts(rc.byPath()); got["/basic"] != 5 || got["/bearer"] != 0 {
		t.Errorf("receiver got %v, want 5 on /basic only", got)
	}
	if by := deliveriesByStatus(t, c); by[StatusFailed] != 5 {
		t.Errorf("statuses %v: the other webhook's failures must stay", by)
	}
}

func testWebhookDisabledAfterConsecutiveFailures(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(502) })
	var mu sync.Mutex
	var disabled []WebhookDisabled
	c := newTestClient(t, tdb, Config{
		PollInterval: 5 * time.Millisecond, DisableAfterFailures: 3,
		RetryPolicy: func(int, *WebhookConfig, *AttemptResult, time.Duration) (bool, time.Duration) { return false, 0 },
		Hooks: Hooks{WebhookDisabled: func(_ context.Context, d WebhookDisabled) {
			mu.Lock()
			disabled = append(disabled, d)
			mu.Unlock()
		}},
	})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	startWorkers(t, c)
	for i := range 3 {
		if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("failure %d", i+1), 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusFailed] == i+1 })
	}
	waitFor(t, "the hook", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(disabled) == 1 })
	if d := disabled[0]; d.WebhookCode != "hook" || d.ConsecutiveFailures != 3 || !strings.Contains(d.Reason, "3 consecutive") {
		t.Errorf("hook got %+v", d)
	}
	whs, _ := c.ScopeWebhooks(ctx, "biz", "one")
	if !whs[0].Disabled {
		t.Fatal("the webhook is still enabled")
	}
	// Later deliveries are not sent; enabling it again resets the count.
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, nil); len(res.Deliveries) != 0 {
		t.Errorf("a disabled webhook was broadcast to")
	}
	whs[0].Disabled = false
	if err := c.ApplyScopeWebhooks(ctx, "biz", "one", whs); err != nil {
		t.Fatal(err)
	}
	var row webhookRow
	c.DB().Where("code = ?", "hook").Take(&row)
	if row.ConsecutiveFailures != 0 || row.FailingSince != nil || row.DisabledReason != nil {
		t.Errorf("re-enabled webhook keeps its failure state: %+v", row)
	}
}

func testPruneHistoryDeletesOldRowsInBatches(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{Now: clock.Now})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	old := make([]*historyRow, 0, 2500)
	for i := range 2500 {
		old = append(old, &historyRow{WebhookCode: "hook", EventCode: "template_update", CreatedAt: clock.Now().Add(-48 * time.Hour),
			DeliveryID: fmt.Sprintf("old-%d", i), ScopeType: "biz", ScopeCode: "one", Attempt: 1, ExtraInfo: jsonText(`{}`)})
	}
	if err := c.insertHistory(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DB().Exec("INSERT INTO webhook_delivery ("+deliveryInsertColumns+", finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		"done-old", "template_update", "biz", "one", "hook", "{}", StatusSucceeded, 1, clock.Now().Add(-72*time.Hour), clock.Now().Add(-72*time.Hour), nil, clock.Now().Add(-72*time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	res, err := c.PruneHistory(ctx, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res.History != 2500 || res.Deliveries != 1 {
		t.Errorf("pruned %+v, want 2500 history rows and 1 delivery", res)
	}
	left, _ := c.History(ctx, HistoryQuery{})
	if len(left) != 1 {
		t.Errorf("%d history rows left, want the recent one", len(left))
	}
	if by := deliveriesByStatus(t, c); by[StatusPending] != 1 || by[StatusSucceeded] != 0 {
		t.Errorf("deliveries left: %v (a pending one must stay)", by)
	}
	if _, err := c.PruneHistory(ctx, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("PruneHistory(0): %v", err)
	}
}

// A lease that expires (its instance died) makes the delivery claimable by
// another instance; one that holds keeps it away.
func testExpiredLeaseIsClaimedAgain(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{Now: clock.Now, PollInterval: 5 * time.Millisecond, LeaseDuration: time.Minute})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	// A dead instance's lease, still valid for 30 s.
	if err := c.DB().Exec("UPDATE webhook_delivery SET lease_owner = ?, lease_until = ?", "dead-instance", clock.Now().Add(30*time.Second)).Error; err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("a leased delivery was sent %d times while its lease held", n)
	}
	clock.Advance(31 * time.Second)
	waitFor(t, "the reclaimed delivery", 20*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 1 })
	if n := len(rc.requests()); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}

// Two instances (two connection pools, two clients) deliver one backlog:
// every delivery exactly once.
func testTwoInstancesDeliverEachOnce(t *testing.T, tdb *testDB) {
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		seen[deliveryIDOf(body)]++
		mu.Unlock()
		// Slow enough that the first instance started cannot drain the
		// backlog alone before the second one starts.
		time.Sleep(2 * time.Millisecond)
	})
	// Each instance counts the attempts it makes, to show both took part.
	var byA, byB atomic.Int64
	counting := func(n *atomic.Int64) Hooks {
		return Hooks{AfterAttempt: func(context.Context, *AttemptInfo, *AttemptResult) { n.Add(1) }}
	}
	a := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond, Workers: 8, ClaimBatch: 20, Hooks: counting(&byA)})
	b := newClientOn(t, tdb.another(t, a.DB()), Config{PrivateSecret: testSecret, PollInterval: 5 * time.Millisecond, Workers: 8, ClaimBatch: 20, Hooks: counting(&byB)})
	oneWebhook(t, a, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	const n = 600
	var all []string
	for range n / 100 {
		for range 100 {
			ids, err := a.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ids...)
		}
	}
	startWorkers(t, a)
	startWorkers(t, b)
	waitFor(t, "the backlog", 60*time.Second, func() bool { return deliveriesByStatus(t, a)[StatusSucceeded] == n })
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	var dups []string
	for _, id := range all {
		if seen[id] != 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", id, seen[id]))
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		t.Errorf("%d deliveries not received exactly once: %v", len(dups), dups[:min(10, len(dups))])
	}
	if byA.Load() == 0 || byB.Load() == 0 || byA.Load()+byB.Load() != n {
		t.Errorf("instance A made %d attempts and B %d, want both busy and %d in all", byA.Load(), byB.Load(), n)
	}
}

func testStopIsGracefulAndStartTwiceFails(t *testing.T, tdb *testDB) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		<-release
	})
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); !errors.Is(err, ErrWorkersRunning) {
		t.Errorf("second Start: %v", err)
	}
	waitFor(t, "the request in flight", 20*time.Second, func() bool { return len(rc.requests()) == 1 })
	// A graceful stop waits for the request in flight.
	stopped := make(chan error)
	go func() { stopped <- c.Stop(context.Background()) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a request was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if by := deliveriesByStatus(t, c); by[StatusSucceeded] != 1 {
		t.Errorf("after a graceful stop: %v", by)
	}

	// A stop whose context ends aborts the request and releases the delivery
	// without counting an attempt.
	hang := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() })
	c2 := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond})
	oneWebhook(t, c2, WebhookConfig{Endpoint: hang.URL})
	if _, err := c2.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hanging request", 20*time.Second, func() bool { return len(hang.requests()) == 1 })
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c2.Stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hard Stop: %v", err)
	}
	row := deliveryRows(t, c2)[0]
	if row.Status != StatusPending || row.Attempts != 0 || row.LeaseOwner != nil {
		t.Errorf("after a hard stop the delivery is %+v, want pending, 0 attempts, no lease", row)
	}
}

// Config.RetainHistory makes the workers prune by themselves.
func testWorkersPruneWithRetainHistory(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{PollInterval: 5 * time.Millisecond, RetainHistory: time.Hour})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	old := &historyRow{WebhookCode: "hook", EventCode: "template_update", CreatedAt: time.Now().Add(-2 * time.Hour).UTC(),
		DeliveryID: "ancient", ScopeType: "biz", ScopeCode: "one", Attempt: 1, ExtraInfo: jsonText(`{}`)}
	if err := c.insertHistory(ctx, []*historyRow{old}); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	waitFor(t, "the automatic prune", 20*time.Second, func() bool {
		rows, _ := c.History(ctx, HistoryQuery{DeliveryID: "ancient"})
		return len(rows) == 0
	})
}
