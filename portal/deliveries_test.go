package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// The delivery log lists the scope's deliveries only, newest first,
// filtered by endpoint, event and status, paged by cursor.
func TestDeliveryLog(t *testing.T) {
	t.Parallel()
	c, db := newClient(t, webhook.Config{RetryPolicy: noRetry})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	first := broadcast(t, c, "order_paid", shop1, nil)
	second := broadcast(t, c, "customer_created", shop1, nil) // wh_ok only
	other := broadcast(t, c, "order_paid", shop2, nil)
	if err := db.Exec(`INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at)
		VALUES ('queued-1', 'order_paid', 'shop', 's1', 'wh_fail', '{}', 'pending', 3, ?, 503, 'webhook: POST http://x/fail answered 503 Service Unavailable', ?)`,
		time.Now().Add(time.Hour).UTC(), time.Now().UTC()).Error; err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, portal.Options{PageSize: 2})
	s.open(shop1)

	r := s.get("/deliveries")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, `<option value="wh_ok">Service OK (wh_ok)</option>`, `<option value="order_paid">订单已支付</option>`, `<option value="failed">failed</option>`,
		"queued-1", "pending", "answered 503", `rel="next"`)
	wantNotContains(t, r, other["wh_other"])
	if n := strings.Count(r.body, `<tr class="delivery`); n != 2 {
		t.Errorf("%d rows on a page of 2", n)
	}
	// Page through: four deliveries of shop/s1 in all, none of shop/s2.
	seen := map[string]bool{}
	for page, path := 0, "/deliveries"; path != "" && page < 5; page++ {
		r := s.get(path)
		wantStatus(t, r, http.StatusOK)
		for _, m := range regexp.MustCompile(`class="delivery-link" href="/portal/deliveries/([^"]+)"`).FindAllStringSubmatch(r.body, -1) {
			seen[m[1]] = true
		}
		path = ""
		if m := regexp.MustCompile(`id="older" rel="next" href="([^"]+)"`).FindStringSubmatch(r.body); m != nil {
			path = html.UnescapeString(m[1])
			wantContains(t, s.get(path), `id="newest"`)
		}
	}
	for _, id := range []string{first["wh_ok"], first["wh_fail"], second["wh_ok"], "queued-1"} {
		if !seen[id] {
			t.Errorf("paging never showed %s (saw %v)", id, seen)
		}
	}
	if len(seen) != 4 || seen[other["wh_other"]] {
		t.Errorf("paging showed %v", seen)
	}
	// Filters.
	r = s.get("/deliveries?endpoint=wh_fail&status=failed")
	wantContains(t, r, first["wh_fail"], `<option value="wh_fail" selected>`, "Clear filters")
	wantNotContains(t, r, first["wh_ok"], "queued-1")
	r = s.get("/deliveries?event=customer_created")
	wantContains(t, r, second["wh_ok"])
	wantNotContains(t, r, first["wh_ok"])
	wantStatus(t, s.get("/deliveries?status=lost"), http.StatusBadRequest)
	wantStatus(t, s.get("/deliveries?cursor=garbage"), http.StatusBadRequest)
	r = s.get("/deliveries?endpoint=nothing")
	wantContains(t, r, "No delivery matches these filters.")
}

// A delivery's page shows its attempts with request and response,
// credentials redacted; Redeliver schedules it again.
func TestDeliveryPageAndRedeliver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{RetryPolicy: noRetry})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	ids := broadcast(t, c, "order_paid", shop1, map[string]any{"order_id": "o-42"})
	other := broadcast(t, c, "order_paid", shop2, nil)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	r := s.get("/deliveries/" + ids["wh_fail"])
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "订单已支付", "Attempt 1", "HTTP 500", "receiver is down", "o-42", "[REDACTED]", "X-Secret", "Authorization", `id="redeliver"`)
	wantNotContains(t, r, secretPass, secretHeader)
	wantStatus(t, s.get("/deliveries/"+other["wh_other"]), http.StatusNotFound)
	wantStatus(t, s.get("/deliveries/no-such-id"), http.StatusNotFound)

	r = s.submit("/deliveries/"+ids["wh_fail"]+"/redeliver", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/portal/deliveries/"+ids["wh_fail"]+"?msg=redelivered" {
		t.Errorf("Location %q", loc)
	}
	r = s.get(r.Header.Get("Location"))
	wantContains(t, r, "Redelivery scheduled", "pending")
	queued, err := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: ids["wh_fail"], QueuedOnly: true})
	if err != nil || len(queued) != 1 || queued[0].Status != webhook.StatusPending || queued[0].ScopeCode != "s1" {
		t.Errorf("after Redeliver: %+v, %v", queued, err)
	}
	wantStatus(t, s.submit("/deliveries/"+other["wh_other"]+"/redeliver", nil), http.StatusNotFound)

	// A delivery id that another scope's deliveries share is redelivered
	// in this scope only (Client.RedeliverIn): theirs are not sent again.
	shared := "shared-id-1"
	if _, err := c.Broadcast(ctx, "order_paid", []webhook.Scope{shop1, shop2}, map[string]any{"delivery_id": shared}); err != nil {
		t.Fatal(err)
	}
	r = s.get("/deliveries/" + url.PathEscape(shared))
	wantStatus(t, r, http.StatusOK)
	wantNotContains(t, r, "wh_other", "Other shop")
	r = s.submit("/deliveries/"+shared+"/redeliver", nil)
	wantStatus(t, r, http.StatusSeeOther)
	q, err := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: shared, QueuedOnly: true})
	if err != nil || len(q) == 0 {
		t.Fatalf("the shared delivery was not redelivered in scope: %+v %v", q, err)
	}
	for _, d := range q {
		if d.ScopeType != shop1.Type || d.ScopeCode != shop1.Code {
			t.Errorf("redelivering from the portal of %s queued a delivery of %s/%s", shop1, d.ScopeType, d.ScopeCode)
		}
	}
}
