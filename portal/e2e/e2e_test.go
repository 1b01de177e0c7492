package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// TestE2EPortal plays a customer's session on a phone-sized screen (400
// CSS pixels): the portal link is clicked in the host application, on
// another site; the session starts and the token leaves the address bar;
// the customer adds an endpoint with the form (a test request before
// saving, a header, a bearer token, an event from the catalog), copies its
// signing secret, sends a test event, reads it in the delivery log, and
// signs out.
func TestE2EPortal(t *testing.T) {
	browser := needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var hookCalls atomic.Int32
	var lastSignature atomic.Value
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hookCalls.Add(1)
		lastSignature.Store(r.Header.Get("Webhook-Signature") + " " + r.Header.Get("Authorization") + " " + r.Header.Get("X-Team"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"received":true}`)
	}))
	defer receiver.Close()

	c, _ := newClient(t, webhook.Config{})
	if _, err := c.SyncEventList(ctx, seedEvents(false), webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := portal.New(c, portal.Options{Prefix: "/portal", Title: "Acme Shop", ServiceName: "Acme Shop"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/portal/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// The portal answers as localhost, the host application as 127.0.0.1:
	// two sites, as a mail or a host application and the portal are.
	portalBase := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/portal/"
	tok, err := c.PortalToken(shop, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	link := portal.Link(portalBase, tok)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><title>Acme account</title><p><a id="open" href="`+link+`">Manage your webhooks</a></p>`)
	}))
	defer host.Close()

	tb := openTab(t, ctx, browser, nil)
	tb.viewport(400, 860)

	// 1. The link, clicked on the other site.
	tb.navigate(host.URL)
	if st := tb.click("#open"); st != http.StatusOK {
		tb.fail("the link answered %d", st)
	}
	tb.waitFor("#new-endpoint")
	if loc := tb.location(); loc != portalBase {
		tb.fail("after the link the address is %s, want %s (without the token)", loc, portalBase)
	}
	if html := tb.mainHTML(); !strings.Contains(html, "No endpoint yet") {
		tb.fail("the endpoints page:\n%s", html)
	}

	// 2. Add an endpoint.
	if st := tb.click("#new-endpoint"); st != http.StatusOK {
		tb.fail("the form answered %d", st)
	}
	tb.do("filling the form",
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Order sync"),
		chromedp.SendKeys(chromedp.CSS("#f-endpoint"), receiver.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`input[name="events"][value="order_paid"]`), chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS(`input[name="nk0"]`), "X-Team"),
		chromedp.SendKeys(chromedp.CSS(`input[name="nv0"]`), "e2e-header-secret"),
		chromedp.SetValue(chromedp.CSS("#f-auth-type"), "bearer"),
		chromedp.SendKeys(chromedp.CSS("#f-token"), "e2e-bearer-secret"),
		chromedp.Click(chromedp.CSS("#f-test"), chromedp.NodeVisible),
	)
	for _, problem := range eval[[]string](tb, controlsFitJS) {
		t.Errorf("the form at 400 px: %s", problem)
	}
	if st := tb.click("#save"); st != http.StatusCreated {
		tb.fail("saving answered %d:\n%s", st, tb.mainHTML())
	}
	secret := eval[string](tb, `document.querySelector("#signing-secret").textContent`)
	if !strings.HasPrefix(secret, webhook.SigningSecretPrefix) {
		tb.fail("no signing secret shown: %q", secret)
	}
	if n := hookCalls.Load(); n != 1 {
		t.Errorf("the test request before saving reached the receiver %d times", n)
	}
	sig, _ := lastSignature.Load().(string)
	if !strings.HasPrefix(sig, "v1,") || !strings.Contains(sig, "Bearer e2e-bearer-secret") || !strings.HasSuffix(sig, "e2e-header-secret") {
		t.Errorf("the test request carried %q: want a signature, the token and the header", sig)
	}
	hooks, err := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: shop.Type, ScopeCode: shop.Code})
	if err != nil || len(hooks) != 1 || hooks[0].Name != "Order sync" || hooks[0].AuthType != "bearer" || hooks[0].SigningSecrets != 1 {
		tb.fail("stored: %+v, %v", hooks, err)
	}
	code := hooks[0].Code

	// 3. The list, then a test event.
	if st := tb.click("#done"); st != http.StatusOK {
		tb.fail("done answered %d", st)
	}
	html := tb.mainHTML()
	for _, want := range []string{"Order sync", "Order paid", "signed requests"} {
		if !strings.Contains(html, want) {
			tb.fail("the endpoints page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, secret) || strings.Contains(html, "e2e-bearer-secret") || strings.Contains(html, "e2e-header-secret") {
		tb.fail("the endpoints page shows a secret")
	}
	if st := tb.click("#test-" + code); st != http.StatusOK {
		tb.fail("the test event answered %d", st)
	}
	if html := tb.mainHTML(); !strings.Contains(html, "HTTP 200") || !strings.Contains(html, "received") {
		tb.fail("the test's page:\n%s", html)
	}
	if st := tb.click("#test-delivery"); st != http.StatusOK {
		tb.fail("the test's delivery answered %d", st)
	}
	html = tb.mainHTML()
	for _, want := range []string{"Test event", "Attempt 1", "[REDACTED]", "X-Team"} {
		if !strings.Contains(html, want) {
			tb.fail("the delivery page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "e2e-bearer-secret") || strings.Contains(html, "e2e-header-secret") || strings.Contains(html, secret) {
		tb.fail("the delivery page shows a secret")
	}
	for _, problem := range eval[[]string](tb, noOverflowJS) {
		t.Errorf("the delivery page at 400 px: %s", problem)
	}

	tb.checkConsole()

	// 4. Sign out: the portal needs a link again (a 401, which the console
	// reports).
	if st := tb.click("#logout"); st != http.StatusOK {
		tb.fail("signing out answered %d", st)
	}
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(portalBase))
	if err != nil || resp.Status != http.StatusUnauthorized {
		tb.fail("after signing out: %v, %v", resp, err)
	}
}
