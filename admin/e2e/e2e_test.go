package e2e_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// screenshotDir is where the end-to-end test writes its screenshots:
// test-artifacts/screenshots at the repository root (ignored by git); go test
// runs in admin/e2e.
var screenshotDir = filepath.Join("..", "..", "test-artifacts", "screenshots")

// findChromium returns the browser to drive, or "".
func findChromium() string {
	if p := os.Getenv("WEBHOOK_TEST_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestE2EBrowser drives the admin in a real headless Chromium: a delivery
// fails, the operator finds it, redelivers it and watches it succeed, checks
// the worker instances, closes a webhook's open circuit breaker, then
// disables a webhook.
func TestE2EBrowser(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		msg := "no Chromium found (/usr/bin/chromium, chromium, chromium-browser or google-chrome on PATH, or WEBHOOK_TEST_CHROMIUM): apt-get install -y chromium"
		if os.Getenv("WEBHOOK_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testing.Short() && os.Getenv("WEBHOOK_TEST_REQUIRE_BROWSER") != "1" {
		t.Skip("end-to-end browser test skipped in -short mode")
	}
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
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var browserOut syncBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&browserOut),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	fail := func(format string, args ...any) {
		t.Helper()
		if out := browserOut.String(); out != "" && testing.Verbose() {
			t.Logf("browser output:\n%s", out)
		}
		t.Fatalf(format, args...)
	}

	// Collect the console: a CSP violation or a failed load shows there.
	var logMu sync.Mutex
	var consoleErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry != nil && (e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning) {
			logMu.Lock()
			consoleErrors = append(consoleErrors, string(e.Entry.Level)+": "+e.Entry.Text+" "+e.Entry.URL)
			logMu.Unlock()
		}
	}); err != nil {
		fail("starting the browser: %v", err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		fail("Log.enable: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		fail("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		fail("Network.setExtraHTTPHeaders: %v", err)
	}

	mainHTML := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("main")))
		if err != nil {
			fail("reading the page: %v", err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			fail("reading the location: %v", err)
		}
		return s
	}
	// navigate loads a page and checks its status.
	navigate := func(url string) {
		t.Helper()
		resp, err := chromedp.Run(bctx, chromedp.NavigateResponse(url))
		if err != nil {
			fail("navigating to %s: %v", url, err)
		}
		if resp.Status != http.StatusOK {
			fail("%s: status %d", url, resp.Status)
		}
	}
	// click clicks an element that loads a page, and waits for it.
	click := func(sel string) {
		t.Helper()
		resp, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		if err != nil {
			fail("clicking %s: %v", sel, err)
		}
		if resp.Status != http.StatusOK {
			fail("clicking %s: page %s answered %d", sel, resp.URL, resp.Status)
		}
	}
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, fullPageScreenshot())
		if err != nil {
			fail("screenshot %s: %v", name, err)
		}
		path := filepath.Join(screenshotDir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", path, len(png))
	}

	// 1. The overview: both charts.
	navigate(base + "/")
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#hourly-chart")), chromedp.WaitVisible(chromedp.CSS("#rates-chart"))); err != nil {
		fail("overview charts: %v", err)
	}
	// The stylesheet applies (the CSP lets 'self' styles through).
	bg, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
	if err != nil || bg != "rgb(36, 41, 47)" {
		fail("the stylesheet is not applied: header background %q, %v", bg, err)
	}
	if html := mainHTML(); !strings.Contains(html, "erp") || !strings.Contains(html, "100.0 %") {
		fail("the overview does not show erp failing:\n%s", html)
	}
	shoot("overview.png")

	// 2. The deliveries page: search by delivery id.
	navigate(base + "/deliveries")
	if !strings.Contains(mainHTML(), deliveryID) {
		fail("the deliveries page does not list %s", deliveryID)
	}
	shoot("deliveries.png")
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.ID("f-delivery"), deliveryID)); err != nil {
		fail("filling the search: %v", err)
	}
	click("#search")
	if loc := location(); !strings.Contains(loc, "/admin/deliveries?") || !strings.Contains(loc, "delivery="+deliveryID) {
		fail("after the search the location is %s", loc)
	}
	html := mainHTML()
	if n := strings.Count(html, `<tr id="h-`); n != 1 || !strings.Contains(html, deliveryID) || strings.Contains(html, ">crm<") {
		fail("the search shows %d rows:\n%s", n, html)
	}

	// 3. The delivery: the failed attempt, then Redeliver.
	click("a.delivery-link")
	if loc := location(); !strings.HasSuffix(loc, "/admin/deliveries/"+deliveryID) {
		fail("the delivery link led to %s", loc)
	}
	html = mainHTML()
	for _, want := range []string{"HTTP 500", "database unavailable", "order_paid", "o-1001", "[REDACTED]", "attempt-fail"} {
		if !strings.Contains(html, want) {
			fail("the delivery page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "e2e-secret-token") {
		fail("the delivery page shows the webhook's token")
	}
	click("#redeliver")
	if loc := location(); !strings.Contains(loc, "/admin/deliveries/"+deliveryID+"?msg=redelivered") {
		fail("after Redeliver the location is %s", loc)
	}
	if !strings.Contains(mainHTML(), "Redelivery scheduled") {
		fail("no flash message after Redeliver")
	}
	// The workers send it: reload until the successful attempt shows.
	deadline := time.Now().Add(20 * time.Second)
	for {
		html = mainHTML()
		if strings.Contains(html, "attempt-ok") && strings.Contains(html, "HTTP 200") && !strings.Contains(html, `id="pending-hint"`) {
			break
		}
		if time.Now().After(deadline) {
			fail("the redelivery did not succeed within 20 s:\n%s", html)
		}
		time.Sleep(200 * time.Millisecond)
		if err := chromedp.Do(bctx, chromedp.Reload()); err != nil {
			fail("reload: %v", err)
		}
	}
	if !strings.Contains(html, "status-succeeded") || strings.Count(html, "<article class=\"attempt") != 2 {
		fail("after the redelivery the page should show two attempts and a succeeded outbox row:\n%s", html)
	}
	if hookCalls.Load() != 2 {
		t.Errorf("the receiver got %d requests on /hook, want 2", hookCalls.Load())
	}
	shoot("detail.png")

	// 4. The instances page: this process's workers, alive, and another
	// process that stopped beating five minutes ago.
	insertInstance(t, db, "5e1dead0c0ffee42", "web-2.shop.internal", 3107, 16, time.Now().Add(-3*time.Hour), time.Now().Add(-5*time.Minute))
	instances, err := c.Instances(ctx)
	if err != nil || len(instances) != 2 || !instances[0].Alive || instances[1].Alive {
		t.Fatalf("Instances: %+v %v", instances, err)
	}
	navigate(base + "/")
	click(`nav a[href="/admin/instances"]`)
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("tr.instance.is-alive")), chromedp.WaitVisible(chromedp.CSS("tr.instance.is-dead"))); err != nil {
		fail("instances page: %v", err)
	}
	html = mainHTML()
	for _, want := range []string{instances[0].ID, "✓ alive", instances[0].Host, ">" + webhook.Version + "<", "5e1dead0c0ffee42", "✕ dead", "5 min ago"} {
		if !strings.Contains(html, want) {
			fail("the instances page lacks %q:\n%s", want, html)
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
	navigate(base + "/")
	if n, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#open-circuits-card .num"))); err != nil || strings.TrimSpace(n) != "1" {
		fail("open circuits on the overview: %q, %v", n, err)
	}
	shoot("overview-circuit-open.png")
	click("#open-circuits-card a")
	erpRow := "#wh-" + strconv.FormatInt(erpID, 10)
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(erpRow+".circuit-open"))); err != nil {
		fail("erp is not shown with an open circuit: %v", err)
	}
	state, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(erpRow+" .circuit-state")))
	if err != nil || strings.TrimSpace(state) != "✕ open" {
		fail("erp circuit state %q, %v", state, err)
	}
	if html := mainHTML(); !strings.Contains(html, "5 consecutive endpoint failures") || !strings.Contains(html, "503 Service Unavailable") ||
		!strings.Contains(html, "at most 5 req/s per instance") {
		fail("the webhooks page does not explain the open circuit:\n%s", html)
	}
	shoot("webhooks-circuit-open.png")
	click("#close-circuit-" + strconv.FormatInt(erpID, 10))
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(erpRow+".circuit-closed"))); err != nil {
		fail("erp's circuit is not shown closed: %v", err)
	}
	if loc := location(); !strings.Contains(loc, "msg=circuit-closed") || !strings.HasSuffix(loc, "#wh-"+strconv.FormatInt(erpID, 10)) {
		fail("after Close circuit the location is %s", loc)
	}
	if html := mainHTML(); !strings.Contains(html, "Circuit of webhook shop/eu-1 erp closed") || strings.Contains(html, "close-circuit-") {
		fail("webhooks page after closing the circuit:\n%s", html)
	}
	if got := readCircuit(t, db, "shop", "eu-1", "erp"); got.CircuitOpenUntil != nil || got.CircuitFailures != 0 || got.CircuitReason != nil {
		t.Errorf("erp's circuit columns after closing: %+v", got)
	}

	// 6. The webhooks page: disable crm.
	navigate(base + "/webhooks")
	row := "#wh-" + strconv.FormatInt(crmID, 10)
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(row+".is-enabled"))); err != nil {
		fail("crm row: %v", err)
	}
	click("#toggle-" + strconv.FormatInt(crmID, 10))
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(row+".is-disabled"))); err != nil {
		fail("crm is not shown disabled: %v", err)
	}
	state, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(row+" .state")))
	if err != nil || strings.TrimSpace(state) != "disabled" {
		fail("crm state %q, %v", state, err)
	}
	html = mainHTML()
	if !strings.Contains(html, "Webhook shop/eu-1 crm disabled.") || strings.Contains(html, "e2e-secret") {
		fail("webhooks page after the toggle:\n%s", html)
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
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		fail("emulating a phone: %v", err)
	}
	navigate(base + "/deliveries")
	shoot("deliveries-phone.png")
	openErp()
	navigate(base + "/webhooks")
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#close-circuit-"+strconv.FormatInt(erpID, 10)))); err != nil {
		fail("no Close circuit button on a phone: %v", err)
	}
	shoot("webhooks-phone.png")
	navigate(base + "/instances")
	shoot("instances-phone.png")

	logMu.Lock()
	defer logMu.Unlock()
	for _, e := range consoleErrors {
		t.Errorf("browser console: %s", e)
	}
	t.Logf("end-to-end scenario took %s", time.Since(started).Round(time.Millisecond))
}

// fullPageScreenshot captures the whole page, beyond the viewport, as PNG.
func fullPageScreenshot() chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		w, h := 1280.0, 900.0
		if m.CSSContentSize != nil {
			w, h = m.CSSContentSize.Width, m.CSSContentSize.Height
		}
		if m.CSSLayoutViewport != nil {
			w = max(w, float64(m.CSSLayoutViewport.ClientWidth))
		}
		beyond, surface := true, true
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			Clip:                  &page.Viewport{X: 0, Y: 0, Width: w, Height: min(h, 8000), Scale: 1},
			CaptureBeyondViewport: &beyond,
			FromSurface:           &surface,
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}
}

// syncBuffer collects the browser's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
