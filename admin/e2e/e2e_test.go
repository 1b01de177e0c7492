package e2e_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// screenshotDir is where the end-to-end tests write their screenshots:
// test-artifacts/screenshots at the repository root (ignored by git); go test
// runs in admin/e2e.
var screenshotDir = filepath.Join("..", "..", "test-artifacts", "screenshots")

// TestE2EBrowser drives the admin in a real headless Chromium: a delivery
// fails, the operator finds it, redelivers it and watches it succeed, checks
// the worker instances, closes a webhook's open circuit breaker, then
// disables a webhook.
func TestE2EBrowser(t *testing.T) {
	browser := needChromium(t)
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The service: a library client with its workers, and a receiver whose
	// first answer on /hook fails.
	var hookCalls atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/hook" && hookCalls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"database unavailable, try later"}`)
			return
		}
		_, _ = io.WriteString(w, `{"received":true}`)
	}))
	defer receiver.Close()

	c, db := newClient(t, webhook.Config{
		PollInterval: 50 * time.Millisecond,
		// One attempt per delivery: the failure waits for the operator.
		RetryPolicy: func(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
			return false, 0
		},
	})
	if _, err := c.SyncEventList(ctx, []webhook.Event{
		{Code: "order_paid", Name: "Order paid", Description: "a customer paid an order"},
		{Code: "order_refunded", Name: "Order refunded"},
	}, webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "shop", "eu-1", []webhook.WebhookConfig{
		{Code: "erp", Name: "ERP connector", Endpoint: receiver.URL + "/hook", Auth: &webhook.Auth{Type: "bearer", Token: "e2e-secret-token"}},
		{Code: "crm", Name: "CRM sync", Endpoint: receiver.URL + "/crm", Headers: []webhook.Header{{Key: "X-Api-Key", Value: "e2e-secret-key"}},
			Ordered: true, RateLimit: 5, MaxInFlight: 2},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "eu-1", map[string][]string{"erp": {"order_paid"}, "crm": {webhook.AllEvents}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = c.Stop(stopCtx)
	}()
	res, err := c.Broadcast(ctx, "order_paid", []webhook.Scope{{Type: "shop", Code: "eu-1"}}, map[string]any{"order_id": "o-1001", "amount": 42.5})
	if err != nil {
		t.Fatal(err)
	}
	var deliveryID string
	for _, d := range res.Deliveries {
		if d.WebhookCode == "erp" {
			if d.Success || d.StatusCode != http.StatusInternalServerError {
				t.Fatalf("the first delivery to erp should fail with 500: %+v", d)
			}
			deliveryID = d.DeliveryID
		}
	}
	if deliveryID == "" {
		t.Fatalf("no delivery to erp: %+v", res.Deliveries)
	}
	hooks, err := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "shop", ScopeCode: "eu-1"})
	if err != nil {
		t.Fatal(err)
	}
	var crmID, erpID int64
	for _, h := range hooks {
		switch h.Code {
		case "crm":
			crmID = h.ID
		case "erp":
			erpID = h.ID
		}
	}

	// The admin, under /admin behind basic auth, on a real server.
	const user, pass = "ops", "e2e-admin-password"
	h, err := admin.NewHandler(c, admin.Options{Prefix: "/admin", Title: "Shop webhooks", BasicAuthUser: user, BasicAuthPassword: pass})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/admin"

	// The browser.
	tb := openTab(t, ctx, browser, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))})
	shoot := func(name string) {
		t.Helper()
		tb.screenshot(filepath.Join(screenshotDir, name), 8000)
	}

	// 1. The overview: both charts.
	tb.navigate(base + "/")
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS("#hourly-chart")), chromedp.WaitVisible(chromedp.CSS("#rates-chart"))); err != nil {
		tb.fail("overview charts: %v", err)
	}
	// The stylesheet applies (the CSP lets 'self' styles through).
	bg, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
	if err != nil || bg != "rgb(36, 41, 47)" {
		tb.fail("the stylesheet is not applied: header background %q, %v", bg, err)
	}
	if html := tb.mainHTML(); !strings.Contains(html, "erp") || !strings.Contains(html, "100.0 %") {
		tb.fail("the overview does not show erp failing:\n%s", html)
	}
	shoot("overview.png")

	// 2. The deliveries list: search by delivery id.
	tb.navigate(base + "/deliveries")
	if !strings.Contains(tb.mainHTML(), deliveryID) {
		tb.fail("the deliveries page does not list %s", deliveryID)
	}
	shoot("deliveries.png")
	if err := chromedp.Do(tb.ctx, chromedp.SendKeys(chromedp.ID("f-delivery"), deliveryID)); err != nil {
		tb.fail("filling the search: %v", err)
	}
	tb.click("#search")
	if loc := tb.location(); !strings.Contains(loc, "/admin/deliveries?") || !strings.Contains(loc, "delivery="+deliveryID) {
		tb.fail("after the search the location is %s", loc)
	}
	html := tb.mainHTML()
	if n := strings.Count(html, `<tr id="d-`); n != 1 || !strings.Contains(html, deliveryID) || strings.Contains(html, ">crm</a>") || !strings.Contains(html, `class="tag sent"`) {
		tb.fail("the search shows %d rows:\n%s", n, html)
	}

	// 3. The delivery: the failed attempt, then Redeliver.
	tb.click("a.delivery-link")
	if loc := tb.location(); !strings.HasSuffix(loc, "/admin/deliveries/"+deliveryID) {
		tb.fail("the delivery link led to %s", loc)
	}
	html = tb.mainHTML()
	for _, want := range []string{"HTTP 500", "database unavailable", "order_paid", "o-1001", "[REDACTED]", "attempt-fail", "Copy as curl"} {
		if !strings.Contains(html, want) {
			tb.fail("the delivery page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "e2e-secret-token") {
		tb.fail("the delivery page shows the webhook's token")
	}
	tb.click("#redeliver")
	if loc := tb.location(); !strings.Contains(loc, "/admin/deliveries/"+deliveryID+"?msg=redelivered") {
		tb.fail("after Redeliver the location is %s", loc)
	}
	if !strings.Contains(tb.mainHTML(), "Redelivery scheduled") {
		tb.fail("no flash message after Redeliver")
	}
	// The workers send it: reload until the successful attempt shows.
	deadline := time.Now().Add(20 * time.Second)
	for {
		html = tb.mainHTML()
		if strings.Contains(html, "attempt-ok") && strings.Contains(html, "HTTP 200") && !strings.Contains(html, `id="pending-hint"`) {
			break
		}
		if time.Now().After(deadline) {
			tb.fail("the redelivery did not succeed within 20 s:\n%s", html)
		}
		time.Sleep(200 * time.Millisecond)
		if err := chromedp.Do(tb.ctx, chromedp.Reload()); err != nil {
			tb.fail("reload: %v", err)
		}
	}
	if !strings.Contains(html, "status-succeeded") || !strings.Contains(html, `<span class="tag queued">`) || strings.Count(html, "<article class=\"attempt") != 2 {
		tb.fail("after the redelivery the page should show two attempts and a succeeded queued delivery:\n%s", html)
	}
	if hookCalls.Load() != 2 {
		t.Errorf("the receiver got %d requests on /hook, want 2", hookCalls.Load())
	}
	shoot("detail.png")
	// Its two attempts in the attempts list, and the curl command of one.
	tb.navigate(base + "/attempts?delivery=" + deliveryID)
	if n := strings.Count(tb.mainHTML(), `<tr id="h-`); n != 2 {
		tb.fail("the attempts list shows %d attempts of %s, want 2", n, deliveryID)
	}
	tb.click("a.delivery-link")
	tb.do("opening Copy as curl", chromedp.Click(chromedp.CSS("details.curl summary"), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS("details.curl pre.curl-command")))
	if cmd := tb.text("details.curl pre.curl-command"); !strings.HasPrefix(cmd, "curl -X POST '"+receiver.URL+"/hook'") ||
		!strings.Contains(cmd, "Authorization: Bearer [REDACTED]") || strings.Contains(cmd, "e2e-secret-token") {
		tb.fail("the curl command:\n%s", cmd)
	}

	// 4. The instances page: this process's workers, alive, and another
	// process that stopped beating five minutes ago.
	insertInstance(t, db, "5e1dead0c0ffee42", "web-2.shop.internal", 3107, 16, time.Now().Add(-3*time.Hour), time.Now().Add(-5*time.Minute))
	instances, err := c.Instances(ctx)
	if err != nil || len(instances) != 2 || !instances[0].Alive || instances[1].Alive {
		t.Fatalf("Instances: %+v %v", instances, err)
	}
	tb.navigate(base + "/")
	tb.click(`nav a[href="/admin/instances"]`)
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS("tr.instance.is-alive")), chromedp.WaitVisible(chromedp.CSS("tr.instance.is-dead"))); err != nil {
		tb.fail("instances page: %v", err)
	}
	html = tb.mainHTML()
	for _, want := range []string{instances[0].ID, "✓ alive", instances[0].Host, ">" + webhook.Version + "<", "5e1dead0c0ffee42", "✕ dead", "5 min ago"} {
		if !strings.Contains(html, want) {
			tb.fail("the instances page lacks %q:\n%s", want, html)
		}
	}
	shoot("instances.png")

	// 5. erp's endpoint keeps failing: its circuit opens (written as the
	// workers would). The overview counts it and leads to the webhooks
	// page, where the operator closes it.
	openErp := func() {
		t.Helper()
		now := time.Now()
		setCircuit(t, db, "shop", "eu-1", "erp", now.Add(-3*time.Minute), now.Add(10*time.Minute), 5, 1,
			"5 consecutive failures: POST "+receiver.URL+"/hook answered 503 Service Unavailable")
	}
	openErp()
	tb.navigate(base + "/")
	if n, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("#open-circuits-card .num"))); err != nil || strings.TrimSpace(n) != "1 open" {
		tb.fail("open circuits on the overview: %q, %v", n, err)
	}
	shoot("overview-circuit-open.png")
	tb.click("#open-circuits-card a")
	erpRow := "#wh-" + strconv.FormatInt(erpID, 10)
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS(erpRow+".circuit-open"))); err != nil {
		tb.fail("erp is not shown with an open circuit: %v", err)
	}
	state, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(erpRow+" .circuit-state")))
	if err != nil || strings.TrimSpace(state) != "✕ open" {
		tb.fail("erp circuit state %q, %v", state, err)
	}
	if html := tb.mainHTML(); !strings.Contains(html, "5 consecutive endpoint failures") || !strings.Contains(html, "503 Service Unavailable") ||
		!strings.Contains(html, "at most 5 req/s per instance") {
		tb.fail("the webhooks page does not explain the open circuit:\n%s", html)
	}
	shoot("webhooks-circuit-open.png")
	tb.click("#close-circuit-" + strconv.FormatInt(erpID, 10))
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS(erpRow+".circuit-closed"))); err != nil {
		tb.fail("erp's circuit is not shown closed: %v", err)
	}
	if loc := tb.location(); !strings.Contains(loc, "msg=circuit-closed") || !strings.HasSuffix(loc, "#wh-"+strconv.FormatInt(erpID, 10)) {
		tb.fail("after Close circuit the location is %s", loc)
	}
	if html := tb.mainHTML(); !strings.Contains(html, "Circuit of webhook shop/eu-1 erp closed") || strings.Contains(html, "close-circuit-") {
		tb.fail("webhooks page after closing the circuit:\n%s", html)
	}
	if got := readCircuit(t, db, "shop", "eu-1", "erp"); got.CircuitOpenUntil != nil || got.CircuitFailures != 0 || got.CircuitReason != nil {
		t.Errorf("erp's circuit columns after closing: %+v", got)
	}

	// 6. The webhooks page: disable crm.
	tb.navigate(base + "/webhooks")
	row := "#wh-" + strconv.FormatInt(crmID, 10)
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS(row+".is-enabled"))); err != nil {
		tb.fail("crm row: %v", err)
	}
	tb.click("#toggle-" + strconv.FormatInt(crmID, 10))
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS(row+".is-disabled"))); err != nil {
		tb.fail("crm is not shown disabled: %v", err)
	}
	state, err = chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(row+" .state")))
	if err != nil || strings.TrimSpace(state) != "disabled" {
		tb.fail("crm state %q, %v", state, err)
	}
	html = tb.mainHTML()
	if !strings.Contains(html, "Webhook shop/eu-1 crm disabled.") || strings.Contains(html, "e2e-secret") {
		tb.fail("webhooks page after the toggle:\n%s", html)
	}
	infos, err := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "shop", ScopeCode: "eu-1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, wh := range infos {
		if wh.Enabled != (wh.Code != "crm") {
			t.Errorf("client.Webhooks: %s enabled = %v", wh.Code, wh.Enabled)
		}
	}
	shoot("webhooks.png")

	// 7. The same pages on a phone-sized screen, erp's circuit open again.
	tb.viewport(390, 844)
	tb.navigate(base + "/deliveries")
	shoot("deliveries-phone.png")
	openErp()
	tb.navigate(base + "/webhooks")
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(chromedp.CSS("#close-circuit-"+strconv.FormatInt(erpID, 10)))); err != nil {
		tb.fail("no Close circuit button on a phone: %v", err)
	}
	shoot("webhooks-phone.png")
	tb.navigate(base + "/instances")
	shoot("instances-phone.png")

	tb.checkConsole()
	t.Logf("end-to-end scenario took %s", time.Since(started).Round(time.Millisecond))
}
