package webhook

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"
)

// testDeliveriesListsBroadcasts: a delivery is one event to one webhook,
// queued or not. Deliveries lists Broadcast's (from their attempts in
// history) beside Enqueue's (the outbox), newest first, with one cursor for
// both, filters that apply to both, and each delivery once.
func testDeliveriesListsBroadcasts(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/basic" {
			w.WriteHeader(500)
		}
	})
	retryOnce := func(attempt int, _ *WebhookConfig, _ *AttemptResult, _ time.Duration) (bool, time.Duration) {
		return attempt < 2, time.Millisecond
	}
	c := newTestClient(t, tdb, Config{Now: clock.Now, RetryPolicy: retryOnce})
	setupScope(t, c, rc)
	ctx := testCtx(t)

	// Two broadcasts at the same instant (ties broken by id), then an
	// enqueue a second later. template_update goes to wh_bearer and
	// wh_basic (which answers 500 and is retried once).
	for range 2 {
		if _, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "biz1"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Second)
	queued, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "biz1"}}, nil)
	if err != nil || len(queued) != 2 {
		t.Fatalf("Enqueue: %v %v", queued, err)
	}

	all, err := c.Deliveries(ctx, DeliveryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("Deliveries lists %d, want 4 broadcast and 2 queued: %+v", len(all), all)
	}
	for i, d := range all {
		switch {
		case i < 2:
			if !d.Queued || d.ID == 0 || d.Status != StatusPending || d.Attempts != 0 || d.NextAttemptAt.IsZero() || !slices.Contains(queued, d.DeliveryID) {
				t.Errorf("delivery %d (newest, enqueued) = %+v", i, d)
			}
		case d.Queued || d.ID != 0 || d.NextAttemptAt != (time.Time{}) || d.FinishedAt == nil || d.LastDuration <= 0:
			t.Errorf("delivery %d (broadcast) = %+v", i, d)
		case d.WebhookCode == "wh_basic":
			if d.Status != StatusFailed || d.Attempts != 2 || d.LastStatusCode != 500 || d.LastError == "" {
				t.Errorf("failed broadcast delivery = %+v", d)
			}
		case d.Status != StatusSucceeded || d.Attempts != 1 || d.LastStatusCode != 200 || d.LastError != "":
			t.Errorf("successful broadcast delivery = %+v", d)
		}
		if i > 0 && all[i-1].Cursor == d.Cursor {
			t.Errorf("deliveries %d and %d share a cursor", i-1, i)
		}
	}
	// Its attempts are History's rows under its delivery id.
	for _, d := range all[2:] {
		h, err := c.History(ctx, HistoryQuery{DeliveryID: d.DeliveryID})
		if err != nil || len(h) != d.Attempts || h[0].Queued {
			t.Errorf("history of %s: %d rows (want %d), %v", d.DeliveryID, len(h), d.Attempts, err)
		}
	}

	// Pages of every size walk the same list, each delivery once.
	for size := 1; size <= 4; size++ {
		var walked []Delivery
		q := DeliveryQuery{Limit: size}
		for range 10 {
			page, err := c.Deliveries(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, page...)
			if len(page) < size {
				break
			}
			q.Cursor = page[len(page)-1].Cursor
		}
		if !slices.EqualFunc(walked, all, func(a, b Delivery) bool { return a.DeliveryID == b.DeliveryID && a.WebhookCode == b.WebhookCode }) {
			t.Errorf("pages of %d: %d deliveries, not the list of %d", size, len(walked), len(all))
		}
	}

	// Filters apply to both kinds.
	count := func(q DeliveryQuery) int {
		t.Helper()
		ds, err := c.Deliveries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	for name, tc := range map[string]struct {
		q    DeliveryQuery
		want int
	}{
		"failed":      {DeliveryQuery{Status: StatusFailed}, 2},
		"succeeded":   {DeliveryQuery{Status: StatusSucceeded}, 2},
		"pending":     {DeliveryQuery{Status: StatusPending}, 2},
		"cancelled":   {DeliveryQuery{Status: StatusCancelled}, 0},
		"webhook":     {DeliveryQuery{WebhookCode: "wh_basic"}, 3},
		"queued only": {DeliveryQuery{QueuedOnly: true}, 2},
		"since":       {DeliveryQuery{Since: clock.Now()}, 2},
		"until":       {DeliveryQuery{Until: clock.Now()}, 4},
		"other event": {DeliveryQuery{EventCode: "template_create"}, 0},
		"one id":      {DeliveryQuery{DeliveryID: all[3].DeliveryID}, 1},
		"failed page": {DeliveryQuery{Status: StatusFailed, Limit: 1}, 1},
	} {
		if got := count(tc.q); got != tc.want {
			t.Errorf("%s: %d deliveries, want %d", name, got, tc.want)
		}
	}

	// A broadcast delivery redelivered through the outbox is listed once,
	// as queued.
	redone := all[len(all)-1]
	if err := c.Redeliver(ctx, redone.DeliveryID); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Deliveries(ctx, DeliveryQuery{DeliveryID: redone.DeliveryID})
	if err != nil || len(ds) != 1 || !ds[0].Queued || ds[0].Status != StatusPending {
		t.Errorf("after Redeliver: %+v %v", ds, err)
	}
	if n := count(DeliveryQuery{}); n != 6 {
		t.Errorf("after Redeliver: %d deliveries, want 6", n)
	}

	// The workers' attempts are marked queued in history.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(testCtx(t)) })
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range queued {
		var h []History
		for len(h) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			if h, err = c.History(ctx, HistoryQuery{DeliveryID: id}); err != nil {
				t.Fatal(err)
			}
		}
		if len(h) == 0 || !h[0].Queued {
			t.Errorf("history of queued delivery %s: %+v", id, h)
		}
	}
	// The page reads their last attempt's duration from history.
	for _, id := range queued {
		ds, err := c.Deliveries(ctx, DeliveryQuery{DeliveryID: id})
		if err != nil || len(ds) != 1 || ds[0].Attempts == 0 || ds[0].LastDuration <= 0 {
			t.Errorf("queued delivery %s after its attempt: %+v %v", id, ds, err)
		}
	}
	// Subscriptions of every scope in one call.
	subs, err := c.Subscriptions(ctx, WebhookQuery{})
	if err != nil || len(subs) != 2 || !slices.Equal(subs[Scope{"biz", "biz1"}]["wh_basic"], []string{"template_update"}) || len(subs[Scope{"biz", "biz2"}]) != 1 {
		t.Errorf("Subscriptions: %v %v", subs, err)
	}

	// Bad queries name the problem.
	for name, q := range map[string]DeliveryQuery{
		"cursor": {Cursor: "not-a-cursor"},
		"status": {Status: "done"},
		"limit":  {Limit: -1},
	} {
		if _, err := c.Deliveries(ctx, q); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// testRedeliverInStaysInItsScope: a delivery id shared by two scopes (one
// broadcast over both, with the caller's id) is redelivered in the scope
// asked for only; a scope that never had it gets ErrDeliveryNotFound.
func testRedeliverInStaysInItsScope(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{RetryPolicy: noRetries})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	if _, err := c.Broadcast(ctx, "template_create", []Scope{{"biz", "biz1"}, {"biz", "biz2"}}, map[string]any{"delivery_id": "shared-1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RedeliverIn(ctx, Scope{"biz", "biz2"}, "shared-1"); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Deliveries(ctx, DeliveryQuery{DeliveryID: "shared-1", QueuedOnly: true})
	if err != nil || len(ds) != 1 || ds[0].ScopeCode != "biz2" {
		t.Errorf("queued after RedeliverIn biz2: %+v %v", ds, err)
	}
	if err := c.RedeliverIn(ctx, Scope{"biz", "biz9"}, "shared-1"); !errors.Is(err, ErrDeliveryNotFound) {
		t.Errorf("another scope: %v, want ErrDeliveryNotFound", err)
	}
}
