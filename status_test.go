package webhook

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// testHealthTellsOperatorsWhatIsWrong: Health reads the workers'
// heartbeats, the outbox, the circuits and the auto-disables from the
// database, and warns when deliveries are due with no worker alive, when
// the workers fall behind and when history writes fail.
func testHealthTellsOperatorsWhatIsWrong(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { w.WriteHeader(500) })
	c := newTestClient(t, tdb, Config{RetryPolicy: noRetries, CircuitBreakAfter: 1, DisableAfterFailures: 2, LeaseDuration: time.Second})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	if h := health(t, c); len(h.Warnings) != 0 || h.Due != 0 || h.LiveInstances != 0 || len(h.OpenCircuits) != 0 {
		t.Errorf("a quiet database: %+v", h)
	}

	// Due deliveries and no worker ever.
	for range 3 {
		if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := health(t, c)
	if h.Due != 3 || h.Pending != 3 || h.OldestDue < 0 || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "3 deliveries are due, and no worker has run") {
		t.Errorf("due with no worker: %+v", h)
	}

	// A worker sends them: the first failure opens the circuit; the second
	// attempt (a probe, an hour later) is not made in the test.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h = health(t, c); (len(h.OpenCircuits) == 0 || h.HistoryRows == 0) && time.Now().Before(deadline); h = health(t, c) {
		time.Sleep(20 * time.Millisecond)
	}
	if h.LiveInstances != 1 || len(h.OpenCircuits) != 1 || h.OpenCircuits[0].WebhookCode != "hook" || h.OpenCircuits[0].Circuit.State != CircuitOpen || h.HistoryRows == 0 {
		t.Errorf("with a worker and a failing endpoint: %+v", h)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// An auto-disable is listed for a day.
	if err := c.CloseCircuit(ctx, "biz", "one", "hook"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the worker's failure and these make two in a row
		if _, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h = health(t, c)
	if len(h.RecentlyDisabled) != 1 || h.RecentlyDisabled[0].WebhookCode != "hook" || h.RecentlyDisabled[0].DisabledAt.IsZero() || h.RecentlyDisabled[0].Reason == "" {
		t.Errorf("after an auto-disable: %+v", h.RecentlyDisabled)
	}
	// Disabled two days ago, with its circuit still open: no longer recent.
	c.DB().Exec("UPDATE webhook_webhook SET disabled_at = ?, circuit_open_until = ?", time.Now().UTC().Add(-48*time.Hour), time.Now().UTC().Add(time.Hour))
	if h := health(t, c); len(h.RecentlyDisabled) != 0 || len(h.OpenCircuits) != 1 {
		t.Errorf("an old auto-disable is listed as recent: %+v", h.RecentlyDisabled)
	}
	if err := c.SetWebhookEnabled(ctx, "biz", "one", "hook", true); err != nil {
		t.Fatal(err)
	}
	if h := health(t, c); len(h.RecentlyDisabled) != 0 {
		t.Errorf("enabled again, still listed: %+v", h.RecentlyDisabled)
	}

	// A worker that died two minutes ago, with deliveries due.
	c.DB().Exec("DELETE FROM webhook_instance")
	now := time.Now().UTC()
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DB().Create(&instanceRow{ID: "dead", Host: "h", PID: 1, Version: Version, Workers: 1, StartedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-2 * time.Minute)}).Error; err != nil {
		t.Fatal(err)
	}
	h = health(t, c)
	if h.LiveInstances != 0 || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "no worker has been seen for 2m") {
		t.Errorf("a dead worker: %+v", h.Warnings)
	}

	// A live worker that does not keep up, and history writes failing.
	c.DB().Exec("DELETE FROM webhook_instance")
	c.DB().Exec("UPDATE webhook_delivery SET next_attempt_at = ? WHERE status = ?", now.Add(-5*time.Minute), StatusPending)
	if err := c.DB().Create(&instanceRow{ID: "slow", Host: "h", PID: 1, Version: Version, Workers: 1, StartedAt: now, LastSeenAt: now.Add(time.Minute),
		HistoryRows: 10, HistoryFailures: 3}).Error; err != nil {
		t.Fatal(err)
	}
	h = health(t, c)
	if h.LiveInstances != 1 || h.HistoryFailures != 3 || len(h.Warnings) != 2 ||
		!strings.Contains(h.Warnings[0], "the workers fall behind") || !strings.Contains(h.Warnings[1], "3 history rows could not be written") {
		t.Errorf("falling behind, history failing: %+v", h.Warnings)
	}
}

// testHealthCountsWhatWorkersHold: an instance's heartbeat reports the
// deliveries it holds (Instances' Leased), and Health's Due leaves them
// out, without reading a row of the outbox; once they are recorded both
// are zero again. What a dead instance leased is due: nobody holds it.
func testHealthCountsWhatWorkersHold(t *testing.T, tdb *testDB) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
	})
	c := newTestClient(t, tdb, Config{RetryPolicy: noRetries, LeaseDuration: time.Second, Workers: 4})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	const n = 5
	for range n {
		if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	startWorkers(t, c)
	t.Cleanup(free) // before the workers stop
	waitFor(t, "a request to hang", 10*time.Second, func() bool { return len(rc.requests()) > 0 })

	// Heartbeats come every 250 ms: the count settles while the requests hang.
	var h Health
	waitFor(t, "the heartbeat to report the held deliveries", 10*time.Second, func() bool {
		h = health(t, c)
		return len(h.Instances) == 1 && h.Instances[0].Leased > 0 && h.Due == n-h.Instances[0].Leased
	})
	if h.Pending != n || h.Instances[0].Leased > n {
		t.Errorf("held %d of %d pending, due %d", h.Instances[0].Leased, h.Pending, h.Due)
	}

	free()
	waitFor(t, "the deliveries to be recorded and reported", 10*time.Second, func() bool {
		h = health(t, c)
		return h.Pending == 0 && len(h.Instances) == 1 && h.Instances[0].Leased == 0 && h.Due == 0
	})

	// An instance that stopped beating ten minutes ago, its leases not yet
	// expired: its last figure is not reported, and its deliveries are due.
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := c.DB().Exec(`INSERT INTO webhook_instance (id, host, pid, version, workers, started_at, last_seen_at, leased) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		"dead-instance", "web-9", 99, Version, 4, now.Add(-time.Hour), now.Add(-10*time.Minute), 2).Error; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DB().Exec("UPDATE webhook_delivery SET lease_owner = ?, lease_until = ? WHERE status = ?", "dead-instance", now.Add(time.Hour), StatusPending).Error; err != nil {
		t.Fatal(err)
	}
	if h = health(t, c); len(h.Instances) != 1 || h.Instances[0].Alive || h.Instances[0].Leased != 0 || h.Pending != 2 || h.Due != 2 {
		t.Errorf("with a dead instance's leases: due %d of %d pending, instances %+v", h.Due, h.Pending, h.Instances)
	}
}

// health is c.Health, failing t on an error.
func health(t *testing.T, c *Client) Health {
	t.Helper()
	h, err := c.Health(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
