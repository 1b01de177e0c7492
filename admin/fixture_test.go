package admin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// The database written by the Python package bkflow-django-webhook 1.2.6
// (see testdata/fixtures/README.md).
const (
	fixtureDB     = "../testdata/fixtures/bkflow-django-webhook-1.2.6.sqlite3"
	fixtureSecret = "my-private-secret"
)

// fixtureClient opens a copy of the Python package's database.
func fixtureClient(t *testing.T, now time.Time) *webhook.Client {
	t.Helper()
	src, err := os.Open(fixtureDB)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "python.sqlite3")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := webhook.New(openDB(t, path), webhook.Config{PrivateSecret: fixtureSecret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return c
}

func TestFixtureDatabase(t *testing.T) {
	// The fixture's two history rows were written at 2026-11-26 20:33 UTC.
	now := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	c := fixtureClient(t, now)
	s := newSite(t, c, admin.Options{Now: func() time.Time { return now }})
	// Credentials the Python package stored (encrypted in the webhooks, in
	// clear text in its history rows): never on a page.
	secrets := []string{"tok-shared-123", "s3cr3t-pw", "YWxpY2U6czNjcjN0LXB3", "payments"}

	pages := []struct {
		path string
		want []string
	}{
		{"/", []string{`<td>2026-11-26 20:00</td><td class="n">2</td><td class="n">2</td><td class="n">0</td>`,
			`>wh_basic</a><span class="scope">biz/biz1</span><span class="see"><a href="/admin/attempts?scope=biz%3Abiz1&amp;webhook=wh_basic">attempts</a> · <a href="/admin/deliveries?scope=biz%3Abiz1&amp;webhook=wh_basic">deliveries</a></span></td><td class="n">1</td><td class="n">0</td>`,
			`>wh_bearer</a><span class="scope">biz/biz1</span><span class="see"><a href="/admin/attempts?scope=biz%3Abiz1&amp;webhook=wh_bearer">attempts</a> · <a href="/admin/deliveries?scope=biz%3Abiz1&amp;webhook=wh_bearer">deliveries</a></span></td><td class="n">1</td><td class="n">0</td>`}},
		{"/attempts", []string{"fixture-delivery-1", "b0e1d86bdfad4113a0e816f584c96261", "wh_basic", "wh_bearer", "template_update",
			`href="/admin/deliveries/fixture-delivery-1#attempt-1"`, "2026-11-26 20:33:29."}},
		{"/attempts?delivery=fixture-delivery-1", []string{"fixture-delivery-1", `<tr id="h-1"`}},
		{"/deliveries", []string{"fixture-delivery-1", "b0e1d86bdfad4113a0e816f584c96261", "wh_basic", "wh_bearer", "template_update",
			`href="/admin/deliveries/fixture-delivery-1"`, "2026-11-26 20:33:29.", `<span class="tag sent"`, "status-succeeded"}},
		{"/deliveries/fixture-delivery-1", []string{"Attempt 1", "succeeded", "http://127.0.0.1:18765/basic", "Authorization", "[REDACTED]",
			"X-Team", "t-fixture", "模板更新", "&#34;message&#34;: &#34;ok&#34;", "Recorded without duration", "Status:</strong> 200",
			"Copy as curl", "-H &#39;Authorization: Basic [REDACTED]&#39;"}},
		{"/deliveries/b0e1d86bdfad4113a0e816f584c96261", []string{"http://127.0.0.1:18765/bearer", "[REDACTED]"}},
		{"/webhooks", []string{"biz/biz1", "biz/biz2", "wh_bearer", "wh_basic", "wh_get", "wh_off", "bearer, token set", "basic, password set",
			"X-Team (values set)", "all events (*)", "template_create", "is-disabled", "GET", "/off"}},
		{"/events", []string{"template_update", "模板更新", "a template changed", "template_create", "模板创建"}},
		{"/subscriptions", []string{"biz/biz1", "biz/biz2", "wh_get", "template_create", "wh_off"}},
		{"/scopes", []string{"biz1", "biz2", "4 (3 enabled)", "1 (1 enabled)"}},
	}
	for _, p := range pages {
		r := s.get(p.path)
		wantStatus(t, r, http.StatusOK)
		wantSecurityHeaders(t, r.Header, p.path)
		wantContains(t, r, p.want...)
		wantNotContains(t, r, secrets...)
	}
	// wh_off is the one disabled.
	hooks := s.get("/webhooks").body
	if !regexp.MustCompile(`(?s)<tr id="wh-4" class="webhook is-disabled[^"]*">.*?wh_off`).MatchString(hooks) {
		t.Error("wh_off is not shown disabled")
	}

	// Redeliver a Python delivery: the library rebuilds it from history.
	tok := s.token()
	r := s.post("/deliveries/fixture-delivery-1/redeliver", url.Values{"csrf_token": {tok}})
	wantStatus(t, r, http.StatusSeeOther)
	ds, err := c.Deliveries(context.Background(), webhook.DeliveryQuery{DeliveryID: "fixture-delivery-1"})
	if err != nil || len(ds) != 1 || ds[0].Status != webhook.StatusPending || ds[0].WebhookCode != "wh_basic" {
		t.Fatalf("Deliveries: %+v %v", ds, err)
	}
	page := s.get(r.Header.Get("Location"))
	wantContains(t, page, "Redelivery scheduled", "pending", `<span class="tag queued">queued</span>`)
	wantNotContains(t, page, secrets...)

	// Enable wh_off from the UI.
	r = s.post("/webhooks/toggle", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_off"}, "enabled": {"true"}})
	wantStatus(t, r, http.StatusSeeOther)
	infos, _ := c.Webhooks(context.Background(), webhook.WebhookQuery{ScopeType: "biz", ScopeCode: "biz1"})
	for _, wh := range infos {
		if !wh.Enabled {
			t.Errorf("%s disabled after enabling wh_off", wh.Code)
		}
	}
}
