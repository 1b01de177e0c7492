package webhook

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func testOperatorAPI(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/basic" {
			w.WriteHeader(500)
		}
	})
	c := newTestClient(t, tdb, Config{Now: clock.Now, RetryPolicy: noRetries})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	infos, err := c.Webhooks(ctx, WebhookQuery{ScopeType: "biz", ScopeCode: "biz1"})
	if err != nil || len(infos) != 4 {
		t.Fatalf("Webhooks: %d, %v", len(infos), err)
	}
	byCode := map[string]WebhookInfo{}
	for _, w := range infos {
		byCode[w.Code] = w
	}
	if b := byCode["wh_basic"]; b.AuthType != "basic" || !b.HasPassword || b.HasToken || len(b.HeaderKeys) != 1 || b.HeaderKeys[0] != "X-Team" || !b.Enabled {
		t.Errorf("wh_basic = %+v", b)
	}
	if b := byCode["wh_bearer"]; b.AuthType != "bearer" || !b.HasToken {
		t.Errorf("wh_bearer = %+v", b)
	}
	if byCode["wh_off"].Enabled {
		t.Error("wh_off shows enabled")
	}
	js, _ := json.Marshal(infos)
	for _, secret := range []string{"tok-shared-123", "s3cr3t-pw", "payments"} {
		if strings.Contains(string(js), secret) {
			t.Errorf("Webhooks exposes %q", secret)
		}
	}
	// Toggle.
	if err := c.SetWebhookEnabled(ctx, "biz", "biz1", "wh_off", true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWebhookEnabled(ctx, "biz", "biz1", "nope", true); !errors.Is(err, ErrWebhookNotFound) {
		t.Errorf("unknown webhook: %v", err)
	}
	// Stats and hourly counts.
	for i := 0; i < 3; i++ {
		if _, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "biz1"}}, nil); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
	stats, err := c.WebhookStats(ctx, clock.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]WebhookStats{}
	for _, s := range stats {
		got[s.WebhookCode] = s
	}
	if s := got["wh_basic"]; s.Attempts != 3 || s.Failures != 3 || s.LastSuccess || s.LastStatusCode != 500 || s.FailureRate() != 1 {
		t.Errorf("wh_basic stats = %+v", s)
	}
	if s := got["wh_off"]; s.Attempts != 3 || s.Failures != 0 || !s.LastSuccess { // enabled again above
		t.Errorf("wh_off stats = %+v", s)
	}
	hours, err := c.HourlyHistory(ctx, clock.Now().Add(-5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	total, failures := 0, 0
	for _, h := range hours {
		total += h.Attempts
		failures += h.Failures
	}
	if len(hours) != 6 || total != 9 || failures != 3 {
		t.Errorf("hourly: %d buckets, %d attempts, %d failures; want 6, 9, 3: %+v", len(hours), total, failures, hours)
	}
}

func testPagingAndCounting(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	for range 7 {
		broadcastOne(t, c)
	}
	all, _ := c.History(ctx, HistoryQuery{})
	if len(all) != 7 {
		t.Fatalf("%d rows", len(all))
	}
	older, _ := c.History(ctx, HistoryQuery{Limit: 3, BeforeID: all[2].ID})
	newer, _ := c.History(ctx, HistoryQuery{Limit: 3, AfterID: older[0].ID})
	if len(older) != 3 || older[0].ID != all[3].ID || len(newer) != 3 || newer[0].ID != all[0].ID || newer[2].ID != all[2].ID {
		t.Errorf("pages: older %v, newer %v, all %v", ids(older), ids(newer), ids(all))
	}
	for range 3 {
		if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Enqueue(ctx, "template_create", []Scope{{"biz", "one"}}, nil); err != nil {
		t.Fatal(err)
	}
	counts, err := c.CountDeliveries(ctx)
	if err != nil || counts[StatusPending] != 4 || counts[StatusFailed] != 0 {
		t.Errorf("counts %v, %v", counts, err)
	}
	// The pending ones: the broadcasts above are deliveries too (see
	// testDeliveriesListsBroadcasts).
	ds, _ := c.Deliveries(ctx, DeliveryQuery{EventCode: "template_update", Status: StatusPending, Limit: 2})
	rest, _ := c.Deliveries(ctx, DeliveryQuery{EventCode: "template_update", Status: StatusPending, Cursor: ds[1].Cursor})
	if len(ds) != 2 || len(rest) != 1 || rest[0].ID >= ds[1].ID {
		t.Errorf("delivery pages: %d then %d", len(ds), len(rest))
	}
}

func ids(h []History) []int64 {
	out := make([]int64, len(h))
	for i, r := range h {
		out[i] = r.ID
	}
	return out
}
