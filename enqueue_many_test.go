package webhook

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// enqueueManyBatch mixes what a batch can hold: several events, scopes
// listed twice or in another order, an unknown scope, no scope, a delivery
// id of the caller's, nested extra info.
func enqueueManyBatch() []EnqueueEvent {
	biz1, biz2 := Scope{"biz", "biz1"}, Scope{"biz", "biz2"}
	return []EnqueueEvent{
		{Event: "template_update", Scopes: []Scope{biz1}, ExtraInfo: map[string]any{"n": 1}},
		{Event: "template_create", Scopes: []Scope{biz2, biz1}, ExtraInfo: map[string]any{"n": 2, "nested": map[string]any{"a": []any{1, "x"}}}},
		{Event: "template_create", Scopes: nil},
		{Event: "template_update", Scopes: []Scope{biz1, biz1, {"biz", "nobody"}}, ExtraInfo: map[string]any{"delivery_id": "order-42", "n": 4}},
		{Event: "template_create", Scopes: []Scope{biz1, biz2}, ExtraInfo: map[string]any{"n": 5}},
		{Event: "template_update", Scopes: []Scope{biz1}, ExtraInfo: map[string]any{"n": 1}},
	}
}

// storedDelivery is a delivery row without what differs from one enqueue
// to another: its id, and its delivery id when fresh.
func storedDelivery(r deliveryRow, freshID bool) string {
	id := r.DeliveryID
	if freshID {
		id = "(fresh)"
	}
	return fmt.Sprintf("%s %s %s/%s %s %s %s attempts=%d next=%s created=%s lease=%v/%v last=%v/%v finished=%v trace=%s",
		id, r.EventCode, r.ScopeType, r.ScopeCode, r.WebhookCode, r.Payload, r.Status, r.Attempts,
		r.NextAttemptAt.UTC().Format(time.RFC3339Nano), r.CreatedAt.UTC().Format(time.RFC3339Nano),
		r.LeaseOwner, r.LeaseUntil, r.LastStatusCode, r.LastError, r.FinishedAt, ptrString(r.TraceParent))
}

// A batch writes exactly what a loop of EnqueueTx over its elements writes,
// row for row and in the same order, and returns each element's ids.
func testEnqueueManyWritesWhatALoopOfEnqueueTxWrites(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	clock := newFakeClock()
	c := newTestClient(t, tdb, Config{Now: clock.Now})
	setupScope(t, c, rc)
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(testCtx(t), parent)
	batch := enqueueManyBatch()

	var loopIDs [][]string
	if err := c.DB().Transaction(func(tx *gorm.DB) error {
		for _, e := range batch {
			ids, err := c.EnqueueTx(ctx, tx, e.Event, e.Scopes, e.ExtraInfo)
			if err != nil {
				return err
			}
			loopIDs = append(loopIDs, ids)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	loopRows := deliveryRows(t, c)
	if err := c.DB().Exec("DELETE FROM webhook_delivery").Error; err != nil {
		t.Fatal(err)
	}

	var ids [][]string
	if err := c.DB().Transaction(func(tx *gorm.DB) error {
		var err error
		ids, err = c.EnqueueManyTx(ctx, tx, batch)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rows := deliveryRows(t, c)

	if len(ids) != len(batch) {
		t.Fatalf("%d id lists for %d events", len(ids), len(batch))
	}
	var flat []string
	for i := range batch {
		if ids[i] == nil || len(ids[i]) != len(loopIDs[i]) {
			t.Errorf("events[%d]: ids %v, want %d like EnqueueTx (%v)", i, ids[i], len(loopIDs[i]), loopIDs[i])
		}
		flat = append(flat, ids[i]...)
	}
	if want := []int{2, 3, 0, 2, 3, 2}; fmt.Sprint(lens(ids)) != fmt.Sprint(want) {
		t.Errorf("deliveries per event = %v, want %v", lens(ids), want)
	}
	if len(rows) != len(loopRows) || len(rows) != len(flat) {
		t.Fatalf("%d rows, a loop of EnqueueTx wrote %d, %d ids returned", len(rows), len(loopRows), len(flat))
	}
	seen := map[string]bool{}
	wantTrace := "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01"
	for i, r := range rows {
		fresh := r.DeliveryID != "order-42"
		if got, want := storedDelivery(r, fresh), storedDelivery(loopRows[i], fresh); got != want {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want)
		}
		if r.DeliveryID != flat[i] {
			t.Errorf("row %d has delivery id %s, the batch returned %s there", i, r.DeliveryID, flat[i])
		}
		if fresh {
			if len(r.DeliveryID) != 32 || seen[r.DeliveryID] {
				t.Errorf("row %d: fresh delivery id %q is not a new 32-hex id", i, r.DeliveryID)
			}
			seen[r.DeliveryID] = true
		}
		if ptrString(r.TraceParent) != wantTrace {
			t.Errorf("row %d: trace_parent %s, want %s", i, ptrString(r.TraceParent), wantTrace)
		}
	}
	if ids[3][0] != "order-42" || ids[3][1] != "order-42" {
		t.Errorf("events[3] ids = %v, want the caller's order-42 for both", ids[3])
	}

	// EnqueueMany, in a transaction of its own, writes the same again.
	if err := c.DB().Exec("DELETE FROM webhook_delivery").Error; err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnqueueMany(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i, r := range deliveryRows(t, c) {
		fresh := r.DeliveryID != "order-42"
		if got, want := storedDelivery(r, fresh), storedDelivery(loopRows[i], fresh); got != want {
			t.Errorf("EnqueueMany row %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func lens(ids [][]string) []int {
	out := make([]int, len(ids))
	for i, l := range ids {
		out[i] = len(l)
	}
	return out
}

// One bad element fails the whole batch, naming its index, and nothing of
// the batch is written; an empty batch is no error.
func testEnqueueManyIsAllOrNothing(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{MaxPayloadBytes: 4096})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	good := enqueueManyBatch()
	with := func(i int, e EnqueueEvent) []EnqueueEvent {
		b := append([]EnqueueEvent(nil), good...)
		return append(b[:i:i], append([]EnqueueEvent{e}, b[i:]...)...)
	}
	cases := []struct {
		name   string
		events []EnqueueEvent
		is     error
		index  string
	}{
		{"unknown event", with(3, EnqueueEvent{Event: "no_such_event", Scopes: []Scope{{"biz", "biz1"}}}), ErrEventNotFound, "events[3]: "},
		{"empty event code", with(1, EnqueueEvent{Scopes: []Scope{{"biz", "biz1"}}}), ErrInvalidArgument, "events[1]: "},
		{"bad delivery id", with(6, EnqueueEvent{Event: "template_update", ExtraInfo: map[string]any{"delivery_id": []int{1}}}), ErrInvalidArgument, "events[6]: "},
		{"payload too large", with(2, EnqueueEvent{Event: "template_update", ExtraInfo: map[string]any{"big": strings.Repeat("x", 5000)}}), ErrPayloadTooLarge, "events[2]: "},
		{"not JSON", with(0, EnqueueEvent{Event: "template_update", ExtraInfo: map[string]any{"f": func() {}}}), ErrInvalidArgument, "events[0]: "},
		{"first of two", with(5, EnqueueEvent{Event: "nope"})[:6:6], ErrEventNotFound, "events[5]: "},
	}
	cases[5].events = append(cases[5].events, EnqueueEvent{Event: "template_update", ExtraInfo: map[string]any{"delivery_id": 1.5e300}})
	for _, tc := range cases {
		for _, viaTx := range []bool{false, true} {
			var ids [][]string
			var err error
			if viaTx {
				err = c.DB().Transaction(func(tx *gorm.DB) error {
					ids, err = c.EnqueueManyTx(ctx, tx, tc.events)
					return err
				})
			} else {
				ids, err = c.EnqueueMany(ctx, tc.events)
			}
			if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), tc.index) {
				t.Errorf("%s (tx %v): err = %v, want %v starting %q", tc.name, viaTx, err, tc.is, tc.index)
			}
			if ids != nil {
				t.Errorf("%s: ids = %v with an error", tc.name, ids)
			}
			if n := len(deliveryRows(t, c)); n != 0 {
				t.Fatalf("%s (tx %v): %d rows written by a failed batch", tc.name, viaTx, n)
			}
		}
	}
	for _, empty := range [][]EnqueueEvent{nil, {}} {
		ids, err := c.EnqueueMany(ctx, empty)
		if err != nil || ids == nil || len(ids) != 0 {
			t.Errorf("EnqueueMany(%v) = %v, %v; want an empty list", empty, ids, err)
		}
		ids, err = c.EnqueueManyTx(ctx, c.DB(), empty)
		if err != nil || ids == nil || len(ids) != 0 {
			t.Errorf("EnqueueManyTx(%v) = %v, %v; want an empty list", empty, ids, err)
		}
	}
	if _, err := c.EnqueueManyTx(ctx, nil, good); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil tx: %v", err)
	}
	if n := len(deliveryRows(t, c)); n != 0 {
		t.Fatalf("%d rows written", n)
	}
}

// The caller's rollback discards the whole batch, over several statements
// on SQLite; its commit keeps it all.
func testEnqueueManyTxRollbackDiscardsAll(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	batch := numberedEvents(1500, "template_update", Scope{"biz", "biz1"}) // 3,000 deliveries
	rollback := errors.New("business write failed")
	err := c.DB().Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO webhook_scope (type, code) VALUES (?, ?)", "business", "write").Error; err != nil {
			return err
		}
		ids, err := c.EnqueueManyTx(ctx, tx, batch)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&deliveryRow{}).Count(&n).Error; err != nil || n != 3000 || len(ids) != 1500 {
			t.Errorf("inside the transaction: %d rows (%v), %d id lists", n, err, len(ids))
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("transaction: %v", err)
	}
	if n := len(deliveryRows(t, c)); n != 0 {
		t.Fatalf("%d rows after the rollback", n)
	}
	if err := c.DB().Transaction(func(tx *gorm.DB) error {
		_, err := c.EnqueueManyTx(ctx, tx, batch)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(deliveryRows(t, c)); n != 3000 {
		t.Fatalf("%d rows after the commit, want 3000", n)
	}
}

// 30,000 deliveries over 7,000 scopes: past PostgreSQL's 65,535 and
// SQLite's 32,766 parameters per statement, were they bound one by one.
func testEnqueueManyLargeBatch(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	const elements = 15000
	batch := make([]EnqueueEvent, elements)
	for i := range batch {
		batch[i] = EnqueueEvent{Event: "template_update", Scopes: []Scope{{"biz", "biz1"}, {"biz", fmt.Sprintf("none%d", i%7000)}}, ExtraInfo: map[string]any{"i": i}}
	}
	start := time.Now()
	ids, err := c.EnqueueMany(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: EnqueueMany of %d deliveries in %s", tdb.name, 2*elements, time.Since(start))
	var total int64
	if err := c.DB().Model(&deliveryRow{}).Count(&total).Error; err != nil || total != 2*elements {
		t.Fatalf("%d rows (%v), want %d", total, err, 2*elements)
	}
	var first, last []deliveryRow
	c.DB().Order("id").Limit(2).Find(&first)
	c.DB().Order("id DESC").Limit(2).Find(&last)
	if len(ids) != elements || len(first) != 2 || len(last) != 2 ||
		first[0].DeliveryID != ids[0][0] || first[1].DeliveryID != ids[0][1] ||
		last[1].DeliveryID != ids[elements-1][0] || last[0].DeliveryID != ids[elements-1][1] ||
		!strings.Contains(string(last[0].Payload), fmt.Sprintf(`"i":%d`, elements-1)) {
		t.Fatalf("rows out of the batch's order: first %+v, last %+v", first, last)
	}
}

// The workers deliver what a batch enqueued, each delivery once.
func testEnqueueManyIsDelivered(t *testing.T, tdb *testDB) {
	rc, received := countingReceiver(t)
	c := newTestClient(t, tdb, Config{PollInterval: time.Hour})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	startWorkers(t, c)
	batch := numberedEvents(40, "template_create", Scope{"biz", "biz1"}, Scope{"biz", "biz2"})
	ids, err := c.EnqueueMany(ctx, batch) // wakes the workers: the poll interval is an hour
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the batch", 60*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusSucceeded] == 3*len(batch) })
	seen := received()
	for i, l := range ids {
		for j, id := range l {
			path := []string{"/bearer", "/get", "/biz2"}[j]
			if seen[path+" "+id] != 1 {
				t.Errorf("events[%d] delivery %s to %s received %d times", i, id, path, seen[path+" "+id])
			}
		}
	}
	if len(seen) != 3*len(batch) {
		t.Errorf("receiver saw %d deliveries, want %d", len(seen), 3*len(batch))
	}
}

// numberedEvents is a batch of n events code to scopes, element i with
// extra info {"i": i}.
func numberedEvents(n int, code string, scopes ...Scope) []EnqueueEvent {
	batch := make([]EnqueueEvent, n)
	for i := range batch {
		batch[i] = EnqueueEvent{Event: code, Scopes: scopes, ExtraInfo: map[string]any{"i": i}}
	}
	return batch
}
