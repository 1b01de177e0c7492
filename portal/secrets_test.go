package portal_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// No credential is ever rendered: with webhooks holding a bearer token, a
// basic password, a header value and a signing secret, and an endpoint
// that echoes its credentials back in its response, no page, action
// answer or error page shows any of them, nor the session's token.
func TestNoCredentialRendered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{RetryPolicy: noRetry})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	// wh_fail echoes what it is sent.
	echo := rc.URL + "/echo"
	if _, err := c.UpdateWebhook(ctx, shop1, "wh_fail", webhook.WebhookPatch{Endpoint: &echo}, webhook.ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	ids := broadcast(t, c, "order_paid", shop1, nil)
	broadcast(t, c, "order_refunded", shop1, nil)
	secrets := []string{secretToken, secretPass, secretHeader, secretSigning,
		base64.StdEncoding.EncodeToString([]byte("alice:" + secretPass)),
		strings.TrimPrefix(secretSigning, webhook.SigningSecretPrefix)}

	s := newSite(t, c, portal.Options{})
	tok := token(t, c, shop1, time.Hour)
	s.openToken(tok)
	secrets = append(secrets, tok)
	check := func(r response) {
		t.Helper()
		if r.StatusCode >= 500 {
			t.Errorf("%s %s: %d", r.Request.Method, r.Request.URL, r.StatusCode)
		}
		wantNotContains(t, r, secrets...)
	}

	// Every page.
	pages := []string{"/", "/endpoints/new", "/deliveries", "/deliveries?endpoint=wh_fail", "/nowhere", "/endpoints/nope/edit"}
	for _, code := range []string{"wh_ok", "wh_fail"} {
		pages = append(pages, "/endpoints/"+code+"/edit", "/endpoints/"+code+"/delete", "/endpoints/"+code+"/secret")
	}
	ds, err := c.Deliveries(ctx, webhook.DeliveryQuery{ScopeType: shop1.Type, ScopeCode: shop1.Code})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		pages = append(pages, "/deliveries/"+url.PathEscape(d.DeliveryID))
	}
	for _, p := range pages {
		check(s.get(p))
	}
	// The echo is really on the delivery page, redacted.
	r := s.get("/deliveries/" + ids["wh_fail"])
	wantContains(t, r, "got Authorization=")

	// Every action's answer.
	check(s.submit("/endpoints/wh_ok/test", nil))
	check(s.submit("/endpoints/wh_fail/test", nil))
	f := editForm(t, s, "wh_fail")
	f.Set("test", "on") // the echo fails the test: the form comes back
	r = s.submit("/endpoints/wh_fail/edit", f)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	check(r)
	f = editForm(t, s, "wh_fail")
	f.Set("name", "") // refused: the form comes back
	check(s.submit("/endpoints/wh_fail/edit", f))
	check(s.submit("/endpoints/wh_ok/secret", url.Values{"grace": {"1h"}, "etag": {"\"stale\""}}))
	r = s.get("/endpoints/wh_ok/secret")
	r = s.submit("/endpoints/wh_ok/secret", url.Values{"grace": {"1h"}, "etag": {etagOf(t, r)}})
	wantStatus(t, r, http.StatusOK)
	check(r) // the new secret only
	// After the test events, the deliveries again (the test's too).
	ds, _ = c.Deliveries(ctx, webhook.DeliveryQuery{ScopeType: shop1.Type, ScopeCode: shop1.Code, EventCode: webhook.TestEventCode})
	if len(ds) == 0 {
		t.Fatal("no test delivery recorded")
	}
	for _, d := range ds {
		check(s.get("/deliveries/" + url.PathEscape(d.DeliveryID)))
	}
	check(s.get("/deliveries"))
	// Error pages, with and without the session.
	check(s.post("/endpoints/wh_ok/test", url.Values{"csrf_token": {"wrong"}}))
	check(s.clone().get("/"))
	// The CSRF token is not the session's token (nor a part of it).
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(s.get("/").body)
	if m == nil || strings.Contains(tok, m[1]) {
		t.Errorf("CSRF token %v", m)
	}
}
