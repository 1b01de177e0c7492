package admin_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/gorm"
)

// overviewCard is one card of the overview: its classes, its link and its
// text (tags dropped, entities decoded, spaces collapsed).
type overviewCard struct {
	class, href, text string
}

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
	hrefRE  = regexp.MustCompile(`<a href="([^"]*)"`)
)

// textOf is the text of an HTML fragment, as a reader sees it.
func textOf(fragment string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(fragment, " ")), " "))
}

// cardOf returns the overview card with the given id.
func cardOf(t testing.TB, body, id string) overviewCard {
	t.Helper()
	m := regexp.MustCompile(`(?s)<div class="(card[^"]*)" id="` + id + `"[^>]*>(.*?)</div>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no card %s on the overview:\n%s", id, body)
	}
	c := overviewCard{class: m[1], text: textOf(m[2])}
	if a := hrefRE.FindStringSubmatch(m[2]); a != nil {
		c.href = html.UnescapeString(a[1])
	}
	return c
}

// wantCard checks an overview card's text, link and whether it is marked
// bad.
func wantCard(t testing.TB, body, id, text, href string, bad bool) {
	t.Helper()
	c := cardOf(t, body, id)
	if c.text != text {
		t.Errorf("card %s reads %q, want %q", id, c.text, text)
	}
	if c.href != href {
		t.Errorf("card %s links to %q, want %q", id, c.href, href)
	}
	if got := strings.Contains(c.class, "card-bad"); got != bad {
		t.Errorf("card %s: class %q, card-bad %v", id, c.class, bad)
	}
}

// warningsOf returns the warnings of the overview's banner, "" when there
// is none.
func warningsOf(body string) []string {
	banner := regexp.MustCompile(`(?s)<div class="alert" role="alert" id="health-warnings">(.*?)</div>`).FindStringSubmatch(body)
	if banner == nil {
		return nil
	}
	var out []string
	for _, li := range regexp.MustCompile(`(?s)<li>(.*?)</li>`).FindAllStringSubmatch(banner[1], -1) {
		out = append(out, textOf(li[1]))
	}
	return out
}

// setInstanceHistory sets the history counters an instance's heartbeat
// reports.
func setInstanceHistory(t testing.TB, db *gorm.DB, id string, rows, failures int64) {
	t.Helper()
	if err := db.Exec(`UPDATE webhook_instance SET history_rows = ?, history_failures = ? WHERE id = ?`, rows, failures, id).Error; err != nil {
		t.Fatal(err)
	}
}

// healthClient is a seeded client and its admin on a fixed clock.
func healthClient(t *testing.T) (*site, *webhook.Client, *gorm.DB, time.Time) {
	t.Helper()
	now := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c, db := newClient(t, webhook.Config{Now: clock})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	return newSite(t, c, admin.Options{Now: clock}), c, db, now
}

// TestHealthNoWorker: deliveries due and no worker to send them: the
// overview says so in a banner at its top, and the navigation counts it.
func TestHealthNoWorker(t *testing.T) {
	s, c, db, now := healthClient(t)

	// All is well: no banner, no badge, the cards say nothing is waiting.
	r := s.get("/")
	wantStatus(t, r, http.StatusOK)
	if w := warningsOf(r.body); w != nil {
		t.Errorf("warnings with nothing queued: %q", w)
	}
	wantNotContains(t, r, `class="nav-badge"`)
	wantCard(t, r.body, "instances-card", "Workers 0 alive 0 dead · no heartbeat in the last hour", "/admin/instances", false)
	wantCard(t, r.body, "due-card", "Due now 0 none waiting for a worker", "/admin/deliveries?queued=1&status=pending", false)

	// Three deliveries queued (wh_ok and wh_fail subscribe to
	// template_update in biz1, wh_other does not; one more in biz2), due
	// now, and no worker ever ran.
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(ctx, "template_create", []webhook.Scope{{Type: "biz", Code: "biz2"}}, nil); err != nil {
		t.Fatal(err)
	}
	r = s.get("/")
	wantStatus(t, r, http.StatusOK)
	want := "3 deliveries are due, and no worker has run in the last hour: start the workers (Client.Start, or webhookctl serve-admin --workers)"
	if w := warningsOf(r.body); len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q, want [%q]", w, want)
	}
	// The banner comes first, right under the page's title.
	if i, j := strings.Index(r.body, "<h1>Overview</h1>"), strings.Index(r.body, `id="health-warnings"`); i < 0 || j < i || strings.Contains(r.body[i:j], "<section") {
		t.Error("the warning banner is not at the top of the overview")
	}
	wantContains(t, r, `role="alert"`, `<span class="nav-badge" title="1 health warning: see the overview">⚠ 1</span>`)
	wantCard(t, r.body, "instances-card", "Workers 0 alive 0 dead · no heartbeat in the last hour", "/admin/instances", true)
	wantCard(t, r.body, "pending-card", "Outbox 3 pending deliveries", "/admin/deliveries?queued=1&status=pending", false)
	wantCard(t, r.body, "due-card", "Due now 3 the oldest has waited 0 s", "/admin/deliveries?queued=1&status=pending", true)
	wantCard(t, r.body, "failed-card", "Failed 0 deliveries out of retries", "/admin/deliveries?queued=1&status=failed", false)
	// Only the overview reads the health: no badge elsewhere.
	wantNotContains(t, s.get("/deliveries"), `class="nav-badge"`)

	// A worker that stopped beating ten minutes ago: the warning says
	// since when; the deliveries have waited five minutes.
	insertInstance(t, db, "inst-dead-1", "web-1.example", 41, 4, now.Add(-3*time.Hour), now.Add(-10*time.Minute))
	if err := db.Exec(`UPDATE webhook_delivery SET next_attempt_at = ?`, now.Add(-5*time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	r = s.get("/")
	want = "3 deliveries are due, and no worker has been seen for 10m0s (the last heartbeat was at 2025-06-02T09:50:00Z): start the workers, or look at why they stopped"
	if w := warningsOf(r.body); len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q, want [%q]", w, want)
	}
	wantCard(t, r.body, "instances-card", "Workers 0 alive 1 dead · last heartbeat 10 min ago", "/admin/instances", true)
	wantCard(t, r.body, "due-card", "Due now 3 the oldest has waited 5 min", "/admin/deliveries?queued=1&status=pending", true)
}

// TestHealthLiveInstance: a worker alive; its history writes are added
// up, and failing ones are a warning.
func TestHealthLiveInstance(t *testing.T) {
	s, _, db, now := healthClient(t)
	insertInstance(t, db, "inst-alive-1", "web-1.example", 4242, 8, now.Add(-2*time.Hour), now.Add(-2*time.Second))
	insertInstance(t, db, "inst-dead-2", "web-2.example", 77, 2, now.Add(-3*time.Hour), now.Add(-10*time.Minute))
	setInstanceHistory(t, db, "inst-alive-1", 1200, 0)
	setInstanceHistory(t, db, "inst-dead-2", 5000, 9) // a dead instance's counters do not count

	r := s.get("/")
	wantStatus(t, r, http.StatusOK)
	if w := warningsOf(r.body); w != nil {
		t.Errorf("warnings with a live worker and nothing due: %q", w)
	}
	wantCard(t, r.body, "instances-card", "Workers 1 alive 1 dead · last heartbeat 2 s ago", "/admin/instances", false)
	if c := cardOf(t, r.body, "instances-card"); !strings.Contains(c.class, "card-warn") {
		t.Errorf("a dead instance does not mark the workers card: %q", c.class)
	}
	wantCard(t, r.body, "history-card", "History writes 1200 written · 0 failed", "", false)

	setInstanceHistory(t, db, "inst-alive-1", 1197, 3)
	r = s.get("/")
	wantCard(t, r.body, "history-card", "History writes 1197 written · 3 failed (0.25 %)", "", true)
	want := `3 history rows could not be written to history since the live instances started (1197 rows written): look for "recording history failed" in their logs`
	if w := warningsOf(r.body); len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q, want [%q]", w, want)
	}
}

// TestHealthCircuitsAndDisabled: the circuits not closed and the webhooks
// the library disabled in the last day are listed, each linked to its row
// of the webhooks page.
func TestHealthCircuitsAndDisabled(t *testing.T) {
	s, c, db, now := circuitSite(t, "5 consecutive failures: POST http://example.invalid/fail answered 503")
	ids := webhookIDs(t, c)
	r := s.get("/")
	wantStatus(t, r, http.StatusOK)
	wantCard(t, r.body, "open-circuits-card", "Circuits 2 open 1 of them half-open", "/admin/webhooks", true)
	wantCard(t, r.body, "disabled-card", "Auto-disabled 0 in the last 24 hours", "/admin/webhooks", false)
	wantNotContains(t, r, `id="health-disabled"`)

	circuits := regexp.MustCompile(`(?s)<table class="list health-circuits" id="health-circuits">.*?</table>`).FindString(r.body)
	rows := regexp.MustCompile(`(?s)<tr class="circuit-.*?</tr>`).FindAllString(circuits, -1)
	if len(rows) != 2 {
		t.Fatalf("%d circuit rows, want 2:\n%s", len(rows), circuits)
	}
	for i, want := range []struct{ link, text string }{
		{"/admin/webhooks?scope=biz%3Abiz1#wh-" + itoa(ids["wh_fail"]),
			"wh_fail biz/biz1 ✕ open 7 failures 2025-06-02 09:55:00 5 min ago 2025-06-02 10:10:00 in 10 min 5 consecutive failures: POST http://example.invalid/fail answered 503"},
		{"/admin/webhooks?scope=biz%3Abiz2#wh-" + itoa(ids["wh_other"]),
			"wh_other biz/biz2 ◐ half-open 9 failures 2025-06-02 08:00:00 2 h ago 2025-06-02 09:59:00 due 1 min ago endpoint answered 429 Too Many Requests (Retry-After 60)"},
	} {
		if got := textOf(rows[i]); got != want.text {
			t.Errorf("circuit row %d reads %q, want %q", i, got, want.text)
		}
		if !strings.Contains(rows[i], `<a href="`+strings.ReplaceAll(want.link, "&", "&amp;")+`">`) {
			t.Errorf("circuit row %d does not link to %s:\n%s", i, want.link, rows[i])
		}
	}

	// wh_other (its circuit still half-open) disabled by the library two
	// hours ago; wh_ok two days ago (too old); wh_fail by an operator (no
	// disabled_at).
	disable := func(code string, at time.Time, reason string) {
		t.Helper()
		if err := db.Exec(`UPDATE webhook_webhook SET enable_webhook = ?, disabled_reason = ?, disabled_at = ?, consecutive_failures = 50, failing_since = ? WHERE code = ?`,
			false, reason, at.UTC(), at.Add(-time.Hour).UTC(), code).Error; err != nil {
			t.Fatal(err)
		}
	}
	disable("wh_other", now.Add(-2*time.Hour), "disabled after 50 consecutive failed attempts")
	disable("wh_ok", now.Add(-50*time.Hour), "disabled after 50 consecutive failed attempts")
	if err := c.SetWebhookEnabled(context.Background(), "biz", "biz1", "wh_fail", false); err != nil {
		t.Fatal(err)
	}
	r = s.get("/")
	wantStatus(t, r, http.StatusOK)
	wantCard(t, r.body, "disabled-card", "Auto-disabled 1 in the last 24 hours", "/admin/webhooks", true)
	disabled := regexp.MustCompile(`(?s)<table class="list health-disabled" id="health-disabled">.*?</table>`).FindString(r.body)
	rows = regexp.MustCompile(`(?s)<tr class="row-fail">.*?</tr>`).FindAllString(disabled, -1)
	if len(rows) != 1 {
		t.Fatalf("%d disabled rows, want 1:\n%s", len(rows), disabled)
	}
	want := "wh_other biz/biz2 2025-06-02 08:00:00 2 h ago disabled after 50 consecutive failed attempts 50 consecutive failures, failing since 2025-06-02 07:00:00"
	if got := textOf(rows[0]); got != want {
		t.Errorf("disabled row reads %q, want %q", got, want)
	}
	if link := `<a href="/admin/webhooks?scope=biz%3Abiz2#wh-` + itoa(ids["wh_other"]) + `">wh_other</a>`; !strings.Contains(rows[0], link) {
		t.Errorf("disabled row lacks %s:\n%s", link, rows[0])
	}
	// The links lead to the webhooks' rows.
	hooks := s.get("/webhooks").body
	for _, code := range []string{"wh_other", "wh_fail"} {
		rowOf(t, hooks, ids[code])
	}
}
