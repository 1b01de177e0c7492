package portal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// storedConfig is a webhook's configuration with its credentials.
func storedConfig(t *testing.T, c *webhook.Client, scope webhook.Scope, code string) webhook.WebhookConfig {
	t.Helper()
	all, err := c.ScopeWebhooks(context.Background(), scope.Type, scope.Code)
	if err != nil {
		t.Fatal(err)
	}
	for _, wh := range all {
		if wh.Code == code {
			return wh
		}
	}
	t.Fatalf("no webhook %s in %s", code, scope)
	return webhook.WebhookConfig{}
}

// The endpoints page shows each endpoint's health: enabled, circuit,
// signed or not, last attempt and failure rate.
func TestEndpointsList(t *testing.T) {
	t.Parallel()
	c, db := newClient(t, webhook.Config{RetryPolicy: noRetry})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	broadcast(t, c, "order_paid", shop1, nil)
	broadcast(t, c, "order_paid", shop1, nil)
	if err := db.Exec(`UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?, circuit_failures = 7, circuit_reason = 'endpoint answered 500'
		WHERE scope_type = 'shop' AND scope_code = 's1' AND code = 'wh_fail'`, "2999-01-01 00:00:00", "2026-01-01 00:00:00").Error; err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	r := s.get("/")
	wantStatus(t, r, http.StatusOK)
	ok := regexp.MustCompile(`(?s)<tr class="endpoint[^"]*" id="ep-wh_ok">.*?</tr>`).FindString(r.body)
	fail := regexp.MustCompile(`(?s)<tr class="endpoint[^"]*" id="ep-wh_fail">.*?</tr>`).FindString(r.body)
	for _, want := range []string{"Service OK", rc.URL + "/ok", "All events", "✓ healthy", "signed requests", "HTTP 200", "0.0 %", "0 of 2", "/portal/endpoints/wh_ok/edit", "/portal/deliveries?endpoint=wh_ok"} {
		if !strings.Contains(ok, want) {
			t.Errorf("wh_ok's row lacks %q:\n%s", want, ok)
		}
	}
	for _, want := range []string{"circuit-open", "✕ paused", "7 failures in a row", "订单已支付", "requests not signed", "HTTP 500", "100.0 %", "2 of 2"} {
		if !strings.Contains(fail, want) {
			t.Errorf("wh_fail's row lacks %q:\n%s", want, fail)
		}
	}
}

// newForm is a valid form for a new endpoint.
func newForm(endpoint string) url.Values {
	return url.Values{
		"code": {"ep-1"}, "name": {"我的接收端"}, "endpoint": {endpoint}, "method": {"POST"},
		"content_type": {"application/json"}, "enabled": {"on"}, "events": {"order_paid", "customer_created"},
		"nk0": {"X-Secret"}, "nv0": {"typed-header-value-9"},
		"auth_type": {"bearer"}, "auth_token": {"typed-token-value-8"}, "sign": {"on"},
	}
}

// Adding an endpoint: the form offers the catalog's events with their
// names and descriptions as stored; saving stores it with its events,
// header, auth and a signing secret shown once.
func TestCreateEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	r := s.get("/endpoints/new")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "订单已支付", "客户完成了订单付款。", "Customer created", "A customer signed up.", `name="events" value="*"`,
		`name="code" value="ep-`, `name="sign" value="on" checked`)

	r = s.submit("/endpoints", newForm(rc.URL+"/ok"))
	wantStatus(t, r, http.StatusCreated)
	m := regexp.MustCompile(`<pre class="secret" id="signing-secret">(whsec_[^<]+)</pre>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no signing secret on the answer:\n%s", r.body)
	}
	secret := html.UnescapeString(m[1]) // html/template writes '+' as &#43;
	wantContains(t, r, "shown only this once")
	wh, err := c.Webhook(ctx, shop1, "ep-1")
	if err != nil {
		t.Fatal(err)
	}
	if wh.Name != "我的接收端" || !wh.Enabled || wh.SigningSecrets != 1 || wh.AuthType != "bearer" || !wh.HasToken ||
		!slices.Equal(wh.HeaderKeys, []string{"X-Secret"}) || !slices.Equal(wh.Events, []string{"customer_created", "order_paid"}) {
		t.Errorf("stored webhook %+v", wh)
	}
	cfg := storedConfig(t, c, shop1, "ep-1")
	if cfg.Auth.Token != "typed-token-value-8" || cfg.Headers[0].Value != "typed-header-value-9" || cfg.SigningSecrets[0] != secret {
		t.Errorf("stored credentials differ from those typed")
	}
	changes, err := c.WebhookChanges(ctx, webhook.WebhookChangeQuery{Scope: shop1, WebhookCode: "ep-1"})
	if err != nil || len(changes) != 1 || changes[0].Actor != "portal:shop/s1" || changes[0].Action != webhook.ChangeCreate {
		t.Errorf("change log %+v, %v", changes, err)
	}
	// The secret is never shown again.
	for _, p := range []string{"/", "/endpoints/ep-1/edit", "/endpoints/ep-1/secret", "/endpoints/ep-1/delete", "/deliveries"} {
		r := s.get(p)
		wantStatus(t, r, http.StatusOK)
		wantNotContains(t, r, secret, "typed-token-value-8", "typed-header-value-9")
	}
	// Posting the same form again (a reload) does not add a second one.
	r = s.submit("/endpoints", newForm(rc.URL+"/ok"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r, "An endpoint with the code ep-1 already exists")

	// Without signing: a redirect with a message.
	f := newForm(rc.URL + "/ok")
	f.Set("code", "ep-2")
	f.Del("sign")
	f.Set("auth_type", "")
	r = s.submit("/endpoints", f)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/portal/?msg=created" {
		t.Errorf("Location %q", loc)
	}
	wantContains(t, s.get(r.Header.Get("Location")), "Endpoint added.")
	if wh, err := c.Webhook(ctx, shop1, "ep-2"); err != nil || wh.SigningSecrets != 0 || wh.AuthType != "" {
		t.Errorf("ep-2: %+v, %v", wh, err)
	}
}

// A form with problems is shown again with each, in words that say what to
// do, and without the secrets that were typed; nothing is saved.
func TestCreateEndpointRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	for name, tc := range map[string]struct {
		change func(url.Values)
		want   string
	}{
		"no name":           {func(f url.Values) { f.Set("name", " ") }, "Give the endpoint a name."},
		"no URL":            {func(f url.Values) { f.Set("endpoint", "") }, "Type the endpoint&#39;s URL."},
		"metadata address":  {func(f url.Values) { f.Set("endpoint", "http://169.254.169.254/latest/meta-data") }, "private or reserved network address"},
		"not a URL":         {func(f url.Values) { f.Set("endpoint", "ftp://example.com/x") }, "The URL is not valid"},
		"bad code":          {func(f url.Values) { f.Set("code", "a b") }, "The code must be"},
		"code with a dash":  {func(f url.Values) { f.Set("code", "-ab") }, "The code must be"},
		"bad method":        {func(f url.Values) { f.Set("method", "PUT") }, "Choose POST or GET."},
		"unknown event":     {func(f url.Values) { f.Add("events", "nope") }, "The event &#34;nope&#34; is not offered"},
		"bearer no token":   {func(f url.Values) { f.Set("auth_token", "") }, "Bearer authentication needs a token"},
		"basic no username": {func(f url.Values) { f.Set("auth_type", "basic") }, "Basic authentication needs a user name"},
		"header no value":   {func(f url.Values) { f.Set("nk1", "X-Other") }, "The new header X-Other has no value"},
		"value no header":   {func(f url.Values) { f.Set("nv1", "v") }, "A header value has no header name"},
		"forbidden header":  {func(f url.Values) { f.Set("nk0", "Webhook-Signature") }, "set by the library"},
	} {
		f := newForm(rc.URL + "/ok")
		tc.change(f)
		r := s.submit("/endpoints", f)
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, want 422 with %q\n%.3000s", name, r.StatusCode, tc.want, r.body)
			continue
		}
		wantContains(t, r, `id="form-errors"`, "Type the secret values again")
		wantNotContains(t, r, "typed-token-value-8", "typed-header-value-9")
	}
	if _, err := c.Webhook(ctx, shop1, "ep-1"); err == nil {
		t.Error("a refused form saved the endpoint")
	}
}

// "Send a test request before saving": a failing endpoint is not saved
// and the answer shows the test's outcome; a working one is.
func TestCreateEndpointTested(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	f := newForm(rc.URL + "/echo")
	f.Set("test", "on")
	r := s.submit("/endpoints", f)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r, `id="test-result"`, "HTTP 400", "The test request did not succeed, so nothing was saved", `name="test" value="on" checked`)
	wantNotContains(t, r, "typed-token-value-8", "typed-header-value-9")
	if rc.count("/echo") != 1 {
		t.Errorf("the test request reached the receiver %d times", rc.count("/echo"))
	}
	if _, err := c.Webhook(ctx, shop1, "ep-1"); err == nil {
		t.Error("a failed test saved the endpoint")
	}
	f = newForm(rc.URL + "/ok")
	f.Set("test", "on")
	f.Del("sign")
	r = s.submit("/endpoints", f)
	wantStatus(t, r, http.StatusSeeOther)
	if _, err := c.Webhook(ctx, shop1, "ep-1"); err != nil {
		t.Errorf("a tested endpoint was not saved: %v", err)
	}
}

// editForm reads the edit form of an endpoint as a browser would post it
// back untouched.
func editForm(t *testing.T, s *site, code string) url.Values {
	t.Helper()
	r := s.get("/endpoints/" + code + "/edit")
	wantStatus(t, r, http.StatusOK)
	f := url.Values{"etag": {etagOf(t, r)}}
	form := regexp.MustCompile(`(?s)<form class="endpoint-form".*?</form>`).FindString(r.body)
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(` ` + name + `(?:="([^"]*)")?[ >]`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return html.UnescapeString(m[1]), true
	}
	for _, tag := range regexp.MustCompile(`<input [^>]*>`).FindAllString(form, -1) {
		name, _ := attr(tag, "name")
		value, _ := attr(tag, "value")
		typ, _ := attr(tag, "type")
		if _, checked := attr(tag, "checked"); name == "csrf_token" || name == "etag" || typ == "checkbox" && !checked {
			continue
		}
		f.Add(name, value)
	}
	for _, m := range regexp.MustCompile(`(?s)<select id="[^"]*" name="([^"]+)">.*?</select>`).FindAllStringSubmatch(r.body, -1) {
		if sel := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(m[0]); sel != nil {
			f.Set(m[1], html.UnescapeString(sel[1]))
		}
	}
	return f
}

// Editing keeps write-only secrets when their fields are left empty,
// replaces those typed, removes and adds headers, and records the change
// as the portal's.
func TestEditEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)

	r := s.get("/endpoints/wh_fail/edit")
	wantContains(t, r, `<span class="mono key">X-Secret</span>`, `placeholder="••• set"`, `value="alice"`, `<option value="basic" selected>`, `value="order_paid" checked`)
	wantNotContains(t, r, secretPass, secretHeader)

	// Untouched: nothing changes, the secrets are kept.
	f := editForm(t, s, "wh_fail")
	before, _ := c.Webhook(ctx, shop1, "wh_fail")
	r = s.submit("/endpoints/wh_fail/edit", f)
	wantStatus(t, r, http.StatusSeeOther)
	cfg := storedConfig(t, c, shop1, "wh_fail")
	if cfg.Auth.Password != secretPass || cfg.Auth.Username != "alice" || len(cfg.Headers) != 1 || cfg.Headers[0].Value != secretHeader {
		t.Errorf("an untouched form changed the credentials: %+v %+v", cfg.Auth, cfg.Headers)
	}
	if after, _ := c.Webhook(ctx, shop1, "wh_fail"); after.ETag != before.ETag {
		t.Errorf("an untouched form changed the webhook: %s → %s", before.ETag, after.ETag)
	}

	// Renamed, a new password, the header replaced by another, more events,
	// disabled.
	f = editForm(t, s, "wh_fail")
	f.Set("name", "Service renamed")
	f.Set("auth_password", "new-password-7")
	f.Set("hr0", "on")
	f.Set("nk0", "X-New")
	f.Set("nv0", "new-header-6")
	f.Add("events", "order_refunded")
	f.Del("enabled")
	r = s.submit("/endpoints/wh_fail/edit", f)
	wantStatus(t, r, http.StatusSeeOther)
	wantContains(t, s.get(r.Header.Get("Location")), "Changes saved.")
	cfg = storedConfig(t, c, shop1, "wh_fail")
	wh, _ := c.Webhook(ctx, shop1, "wh_fail")
	if cfg.Name != "Service renamed" || cfg.Auth.Password != "new-password-7" || !cfg.Disabled ||
		len(cfg.Headers) != 1 || cfg.Headers[0].Key != "X-New" || cfg.Headers[0].Value != "new-header-6" ||
		!slices.Equal(wh.Events, []string{"order_paid", "order_refunded"}) {
		t.Errorf("after the edit: %+v, events %v", cfg, wh.Events)
	}
	changes, _ := c.WebhookChanges(ctx, webhook.WebhookChangeQuery{Scope: shop1, WebhookCode: "wh_fail"})
	if len(changes) == 0 || changes[0].Actor != "portal:shop/s1" || changes[0].Action != webhook.ChangeUpdate {
		t.Errorf("change log %+v", changes)
	}
	// Bearer: the token kept when left empty; auth removed with "none".
	f = editForm(t, s, "wh_ok")
	f.Set("name", "Service OK 2")
	wantStatus(t, s.submit("/endpoints/wh_ok/edit", f), http.StatusSeeOther)
	if cfg := storedConfig(t, c, shop1, "wh_ok"); cfg.Auth.Token != secretToken || cfg.Name != "Service OK 2" || len(cfg.SigningSecrets) != 1 {
		t.Errorf("wh_ok after renaming: %+v", cfg)
	}
	f = editForm(t, s, "wh_ok")
	f.Set("auth_type", "")
	wantStatus(t, s.submit("/endpoints/wh_ok/edit", f), http.StatusSeeOther)
	if cfg := storedConfig(t, c, shop1, "wh_ok"); cfg.Auth != nil {
		t.Errorf("auth kept after choosing none: %+v", cfg.Auth)
	}
	// Test before saving, with the stored secrets (the echo shows them
	// redacted; the page never shows them).
	f = editForm(t, s, "wh_fail")
	f.Set("endpoint", rc.URL+"/echo")
	f.Set("test", "on")
	r = s.submit("/endpoints/wh_fail/edit", f)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantContains(t, r, "HTTP 400", "nothing was saved")
	wantNotContains(t, r, "new-password-7", "new-header-6")
	if cfg := storedConfig(t, c, shop1, "wh_fail"); cfg.Endpoint != rc.URL+"/fail" {
		t.Errorf("a failed test saved the endpoint: %s", cfg.Endpoint)
	}
	f.Set("endpoint", rc.URL+"/ok")
	r = s.submit("/endpoints/wh_fail/edit", f)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/portal/?msg=saved-tested" {
		t.Errorf("Location %q", loc)
	}
}

// A change made on a version of an endpoint that is not the stored one any
// more is refused with "changed meanwhile, reload", and changes nothing:
// edit, delete and rotate alike.
func TestChangedMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	edit := editForm(t, s, "wh_ok")
	del := url.Values{"etag": {etagOf(t, s.get("/endpoints/wh_ok/delete"))}, "confirm": {"yes"}}
	rot := url.Values{"etag": {etagOf(t, s.get("/endpoints/wh_ok/secret"))}, "grace": {"0"}}
	// Someone else changes it.
	name := "Changed elsewhere"
	if _, err := c.UpdateWebhook(ctx, shop1, "wh_ok", webhook.WebhookPatch{Name: &name}, webhook.ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	edit.Set("name", "Mine")
	for path, f := range map[string]url.Values{"/endpoints/wh_ok/edit": edit, "/endpoints/wh_ok/delete": del, "/endpoints/wh_ok/secret": rot} {
		r := s.submit(path, f)
		wantStatus(t, r, http.StatusConflict)
		wantContains(t, r, "Changed meanwhile", "Reload the endpoint", `href="/portal/endpoints/wh_ok/edit"`)
		wantNotContains(t, r, "whsec_")
	}
	wh, err := c.Webhook(ctx, shop1, "wh_ok")
	if err != nil || wh.Name != name || wh.SigningSecrets != 1 {
		t.Errorf("after the refused changes: %+v, %v", wh, err)
	}
	// Reloaded, it works.
	edit = editForm(t, s, "wh_ok")
	edit.Set("name", "Mine")
	wantStatus(t, s.submit("/endpoints/wh_ok/edit", edit), http.StatusSeeOther)
}

func TestDeleteEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	r := s.get("/endpoints/wh_fail/delete")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "Service failing", "cannot be undone", `name="confirm" value="yes"`)
	tag := etagOf(t, r)
	r = s.submit("/endpoints/wh_fail/delete", url.Values{"etag": {tag}})
	wantStatus(t, r, http.StatusBadRequest)
	wantContains(t, r, "Tick the confirmation box")
	r = s.submit("/endpoints/wh_fail/delete", url.Values{"etag": {tag}, "confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantContains(t, s.get(r.Header.Get("Location")), "Endpoint deleted.")
	if _, err := c.Webhook(ctx, shop1, "wh_fail"); err == nil {
		t.Error("wh_fail still exists")
	}
	wantStatus(t, s.get("/endpoints/wh_fail/edit"), http.StatusNotFound)
}

// Rotating the signing secret shows the new one once, keeps the old one
// for the grace chosen, and never shows either again.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	r := s.get("/endpoints/wh_ok/secret")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "Requests are signed with 1 secret.", `<option value="24h" selected>24 hours</option>`, `<option value="0">`)
	wantNotContains(t, r, secretSigning)
	r = s.submit("/endpoints/wh_ok/secret", url.Values{"etag": {etagOf(t, r)}, "grace": {"24h"}})
	wantStatus(t, r, http.StatusOK)
	m := regexp.MustCompile(`id="signing-secret">(whsec_[^<]+)</pre>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no new secret shown:\n%s", r.body)
	}
	m[1] = html.UnescapeString(m[1])
	wantContains(t, r, "The old one keeps signing for 24 hours.", "shown only this once")
	wantNotContains(t, r, secretSigning)
	cfg := storedConfig(t, c, shop1, "wh_ok")
	if len(cfg.SigningSecrets) != 2 || cfg.SigningSecrets[0] != m[1] || cfg.SigningSecrets[1] != secretSigning {
		t.Errorf("signing secrets after the rotation: %d, the new one first: %v", len(cfg.SigningSecrets), cfg.SigningSecrets[0] == m[1])
	}
	for _, p := range []string{"/", "/endpoints/wh_ok/edit", "/endpoints/wh_ok/secret"} {
		wantNotContains(t, s.get(p), m[1], secretSigning)
	}
	// An endpoint without signing gets its first secret the same way.
	r = s.get("/endpoints/wh_fail/secret")
	wantContains(t, r, "Requests are not signed.", `name="grace" value="0"`)
	r = s.submit("/endpoints/wh_fail/secret", url.Values{"etag": {etagOf(t, r)}, "grace": {"0"}})
	wantStatus(t, r, http.StatusOK)
	if wh, _ := c.Webhook(ctx, shop1, "wh_fail"); wh.SigningSecrets != 1 {
		t.Errorf("wh_fail has %d signing secrets", wh.SigningSecrets)
	}
	wantStatus(t, s.submit("/endpoints/wh_fail/secret", url.Values{"grace": {"1y"}}), http.StatusBadRequest)
}

// Send a test event: one request, its status and response shown, recorded
// in the delivery log.
func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	r := s.submit("/endpoints/wh_ok/test", nil)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "succeeded", "HTTP 200", "&#34;ok&#34;: true", `id="test-delivery"`)
	link := regexp.MustCompile(`href="(/portal/deliveries/[^"]+)" id="test-delivery"`).FindStringSubmatch(r.body)
	if link == nil {
		t.Fatal("no link to the test delivery")
	}
	d := s.get(link[1])
	wantStatus(t, d, http.StatusOK)
	wantContains(t, d, "Test event", "webhook_test", "[REDACTED]")
	wantNotContains(t, d, secretToken)
	r = s.submit("/endpoints/wh_fail/test", nil)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "failed", "HTTP 500", "receiver is down")
	if rc.count("/ok") != 1 || rc.count("/fail") != 1 {
		t.Errorf("requests: /ok %d, /fail %d; want one each", rc.count("/ok"), rc.count("/fail"))
	}
}

// An edit keeps what the form does not show: a body type the service set
// that the form does not offer, the operators' notes on headers, the
// delivery settings.
func TestEditKeepsWhatTheFormDoesNotShow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	if err := c.ApplyScopeWebhooks(ctx, shop1.Type, shop1.Code, []webhook.WebhookConfig{
		{Code: "custom", Name: "Custom", Endpoint: rc.URL + "/ok", ContentType: "application/vnd.acme+json", RetryTimes: 7, Ordered: true,
			Params: map[string]string{"source": "shop"}, Headers: []webhook.Header{{Key: "X-Secret", Value: secretHeader, Doc: "set by ops"}}},
	}); err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	f := editForm(t, s, "custom")
	if f.Get("content_type") != "application/vnd.acme+json" {
		t.Fatalf("the form offers content type %q", f.Get("content_type"))
	}
	f.Set("name", "Custom 2")
	wantStatus(t, s.submit("/endpoints/custom/edit", f), http.StatusSeeOther)
	cfg := storedConfig(t, c, shop1, "custom")
	if cfg.Name != "Custom 2" || cfg.ContentType != "application/vnd.acme+json" || cfg.RetryTimes != 7 || !cfg.Ordered ||
		cfg.Params["source"] != "shop" || cfg.Headers[0].Doc != "set by ops" || cfg.Headers[0].Value != secretHeader {
		t.Errorf("after renaming: %+v", cfg)
	}
	// A new header value keeps the note too.
	f = editForm(t, s, "custom")
	f.Set("hv0", "new-value-5")
	wantStatus(t, s.submit("/endpoints/custom/edit", f), http.StatusSeeOther)
	if cfg := storedConfig(t, c, shop1, "custom"); cfg.Headers[0].Doc != "set by ops" || cfg.Headers[0].Value != "new-value-5" {
		t.Errorf("after a new header value: %+v", cfg.Headers)
	}
}
