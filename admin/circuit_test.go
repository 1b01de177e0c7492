package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/gorm"
)

// setCircuit opens a webhook's circuit breaker by writing its columns, as
// the workers would: until in the future is open, in the past half-open.
func setCircuit(t testing.TB, db *gorm.DB, scopeType, scopeCode, code string, openedAt, until time.Time, failures, probes int, reason string) {
	t.Helper()
	res := db.Exec(`UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?, circuit_failures = ?, circuit_probes = ?, circuit_reason = ?
		WHERE scope_type = ? AND scope_code = ? AND code = ?`, until.UTC(), openedAt.UTC(), failures, probes, reason, scopeType, scopeCode, code)
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("opening the circuit of %s: %v (%d rows)", code, res.Error, res.RowsAffected)
	}
}

// circuitColumns reads a webhook's circuit columns back from the database.
type circuitColumns struct {
	CircuitOpenUntil *time.Time
	CircuitOpenedAt  *time.Time
	CircuitFailures  int
	CircuitProbes    int
	CircuitReason    *string
}

func readCircuit(t testing.TB, db *gorm.DB, scopeType, scopeCode, code string) circuitColumns {
	t.Helper()
	var c circuitColumns
	if err := db.Table("webhook_webhook").Select("circuit_open_until, circuit_opened_at, circuit_failures, circuit_probes, circuit_reason").
		Where("scope_type = ? AND scope_code = ? AND code = ?", scopeType, scopeCode, code).Scan(&c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}

func webhookIDs(t testing.TB, c *webhook.Client) map[string]int64 {
	t.Helper()
	hooks, err := c.Webhooks(context.Background(), webhook.WebhookQuery{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, h := range hooks {
		ids[h.Code] = h.ID
	}
	return ids
}

// rowOf returns the webhook's row of the webhooks page.
func rowOf(t testing.TB, body string, id int64) string {
	t.Helper()
	row := regexp.MustCompile(`(?s)<tr id="wh-` + itoa(id) + `".*?</tr>`).FindString(body)
	if row == "" {
		t.Fatalf("no row wh-%d on the page:\n%s", id, body)
	}
	return row
}

// circuitSite seeds the webhooks with a fixed clock, opens the circuit of
// wh_fail (until 10 minutes from now) and makes that of wh_other half-open
// (its probe was due a minute ago).
func circuitSite(t *testing.T, reason string) (*site, *webhook.Client, *gorm.DB, time.Time) {
	t.Helper()
	now := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c, db := newClient(t, webhook.Config{Now: clock})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	setCircuit(t, db, "biz", "biz1", "wh_fail", now.Add(-5*time.Minute), now.Add(10*time.Minute), 7, 0, reason)
	setCircuit(t, db, "biz", "biz2", "wh_other", now.Add(-2*time.Hour), now.Add(-time.Minute), 9, 3, "endpoint answered 429 Too Many Requests (Retry-After 60)")
	return newSite(t, c, admin.Options{Now: clock}), c, db, now
}

func TestCircuitDisplay(t *testing.T) {
	s, c, _, _ := circuitSite(t, "5 consecutive failures: POST http://example.invalid/fail answered 503")
	ids := webhookIDs(t, c)
	r := s.get("/webhooks")
	wantStatus(t, r, http.StatusOK)
	wantSecurityHeaders(t, r.Header, "/webhooks")
	wantContains(t, r, `<th scope="col">Circuit</th>`, `id="open-circuits"`, "2 circuits are not closed")

	open := rowOf(t, r.body, ids["wh_fail"])
	for _, want := range []string{
		"circuit-open", "✕ open", "7 consecutive endpoint failures",
		"open since 2025-06-02 09:55:00 (5 min ago)", "next probe 2025-06-02 10:10:00 (in 10 min)",
		"Reason: 5 consecutive failures: POST http://example.invalid/fail answered 503",
		`action="/admin/webhooks/close-circuit"`, `id="close-circuit-` + itoa(ids["wh_fail"]) + `"`, ">Close circuit<",
		`name="code" value="wh_fail"`, `name="csrf_token"`,
	} {
		if !strings.Contains(open, want) {
			t.Errorf("open circuit row lacks %q:\n%s", want, open)
		}
	}
	half := rowOf(t, r.body, ids["wh_other"])
	for _, want := range []string{
		"circuit-half-open", "◐ half-open", "9 consecutive endpoint failures", "open since 2025-06-02 08:00:00 (2 h ago)",
		"probe due since 2025-06-02 09:59:00 (1 min ago); 3 failed probes", "Retry-After 60", `id="close-circuit-` + itoa(ids["wh_other"]) + `"`,
	} {
		if !strings.Contains(half, want) {
			t.Errorf("half-open circuit row lacks %q:\n%s", want, half)
		}
	}
	closed := rowOf(t, r.body, ids["wh_ok"])
	if !strings.Contains(closed, "✓ closed") || !strings.Contains(closed, "circuit-closed") || strings.Contains(closed, "Close circuit") ||
		strings.Contains(closed, "endpoint failure") || strings.Contains(closed, "next probe") {
		t.Errorf("closed circuit row:\n%s", closed)
	}
	// Three states, three distinct classes and words.
	for _, cls := range []string{"pill circuit-state circuit-open", "pill circuit-state circuit-half-open", "pill circuit-state circuit-closed"} {
		if !strings.Contains(r.body, cls) {
			t.Errorf("page lacks %q", cls)
		}
	}
	css := s.get("/static/admin.css").body
	for _, sel := range []string{".pill.circuit-open", ".pill.circuit-half-open", ".pill.circuit-closed", "dashed"} {
		if !strings.Contains(css, sel) {
			t.Errorf("stylesheet lacks %q", sel)
		}
	}

	// The overview counts the circuits that are not closed and links to
	// the webhooks page.
	ov := s.get("/")
	wantStatus(t, ov, http.StatusOK)
	wantCard(t, ov.body, "open-circuits-card", "Circuits 2 open 1 of them half-open", "/admin/webhooks", true)
}

func TestCircuitCounterWhileClosed(t *testing.T) {
	c, db := newClient(t, webhook.Config{})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	if err := db.Exec(`UPDATE webhook_webhook SET circuit_failures = 2 WHERE code = 'wh_fail'`).Error; err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, admin.Options{})
	r := s.get("/webhooks")
	row := rowOf(t, r.body, webhookIDs(t, c)["wh_fail"])
	if !strings.Contains(row, "✓ closed") || !strings.Contains(row, "2 consecutive endpoint failures") || strings.Contains(row, "Close circuit") {
		t.Errorf("closed circuit with failures:\n%s", row)
	}
	wantNotContains(t, r, `id="open-circuits"`)
	wantCard(t, s.get("/").body, "open-circuits-card", "Circuits 0 open every circuit closed", "/admin/webhooks", false)
}

func TestDeliveryControls(t *testing.T) {
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	if err := c.ApplyScopeWebhooks(context.Background(), "biz", "ctl", []webhook.WebhookConfig{
		{Code: "wh_ctl", Name: "Controlled", Endpoint: rc.URL + "/ok", Ordered: true, RateLimit: 2.5, MaxInFlight: 3},
		{Code: "wh_rate", Name: "Rate only", Endpoint: rc.URL + "/ok", RateLimit: 10},
	}); err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, admin.Options{})
	r := s.get("/webhooks")
	ids := webhookIDs(t, c)
	ctl := rowOf(t, r.body, ids["wh_ctl"])
	for _, want := range []string{"Delivery:", ">ordered<", "at most 2.5 req/s per instance", "at most 3 in flight"} {
		if !strings.Contains(ctl, want) {
			t.Errorf("controlled row lacks %q:\n%s", want, ctl)
		}
	}
	rate := rowOf(t, r.body, ids["wh_rate"])
	if !strings.Contains(rate, "at most 10 req/s per instance") || strings.Contains(rate, ">ordered<") || strings.Contains(rate, "in flight") {
		t.Errorf("rate-limited row:\n%s", rate)
	}
	if plain := rowOf(t, r.body, ids["wh_ok"]); strings.Contains(plain, "Delivery:") {
		t.Errorf("a webhook without controls shows some:\n%s", plain)
	}
}

func TestCloseCircuitFromUI(t *testing.T) {
	s, c, db, _ := circuitSite(t, "5 consecutive failures")
	ids := webhookIDs(t, c)
	form := url.Values{"scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_fail"}, "anchor": {itoa(ids["wh_fail"])}, "scope": {"biz:biz1"}}
	isOpen := func() bool {
		t.Helper()
		return readCircuit(t, db, "biz", "biz1", "wh_fail").CircuitOpenUntil != nil
	}

	// Without a token, with a wrong one, or from another site: refused.
	tok := s.token()
	other := newSite(t, c, admin.Options{})
	for name, r := range map[string]response{
		"no token":                 s.post("/webhooks/close-circuit", form),
		"bad token":                s.post("/webhooks/close-circuit", withValue(form, "csrf_token", "AAAA"+tok[4:])),
		"token of another browser": s.post("/webhooks/close-circuit", withValue(form, "csrf_token", other.token())),
		"cross-site": func() response {
			req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/close-circuit", strings.NewReader(withValue(form, "csrf_token", tok).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			return s.do(req)
		}(),
	} {
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "CSRF check failed") {
			t.Errorf("%s: status %d, want 403 with the reason\n%s", name, r.StatusCode, r.body)
		}
		wantSecurityHeaders(t, r.Header, name)
	}
	if !isOpen() {
		t.Fatal("a refused POST closed the circuit")
	}
	// GET never closes it.
	if r := s.get("/webhooks/close-circuit?" + withValue(form, "csrf_token", tok).Encode()); r.StatusCode == http.StatusOK || r.StatusCode == http.StatusSeeOther {
		t.Errorf("GET close-circuit: status %d", r.StatusCode)
	}
	if !isOpen() {
		t.Fatal("a GET closed the circuit")
	}

	// With the token: closed in the database, then back to the page.
	r := s.post("/webhooks/close-circuit", withValue(form, "csrf_token", tok))
	wantStatus(t, r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/admin/webhooks?") || !strings.Contains(loc, "msg=circuit-closed") || !strings.Contains(loc, "scope=biz%3Abiz1") ||
		!strings.HasSuffix(loc, "#wh-"+itoa(ids["wh_fail"])) {
		t.Errorf("Location %q", loc)
	}
	got := readCircuit(t, db, "biz", "biz1", "wh_fail")
	if got.CircuitOpenUntil != nil || got.CircuitOpenedAt != nil || got.CircuitFailures != 0 || got.CircuitProbes != 0 || got.CircuitReason != nil {
		t.Errorf("after closing, the circuit columns are %+v", got)
	}
	if other := readCircuit(t, db, "biz", "biz2", "wh_other"); other.CircuitOpenUntil == nil {
		t.Error("closing wh_fail's circuit closed wh_other's too")
	}
	page := s.get(loc)
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page, `<p class="flash" role="status">Circuit of webhook biz/biz1 wh_fail closed: its waiting deliveries are sent at the workers&#39; next claim.</p>`)
	if row := rowOf(t, page.body, ids["wh_fail"]); !strings.Contains(row, "✓ closed") || strings.Contains(row, "Close circuit") {
		t.Errorf("row after closing:\n%s", row)
	}

	// The half-open one closes too; an unknown webhook is a 404, an
	// incomplete form a 400.
	wantStatus(t, s.post("/webhooks/close-circuit", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz2"}, "code": {"wh_other"}}), http.StatusSeeOther)
	if readCircuit(t, db, "biz", "biz2", "wh_other").CircuitOpenUntil != nil {
		t.Error("the half-open circuit is still open")
	}
	r = s.post("/webhooks/close-circuit", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"nope"}})
	wantStatus(t, r, http.StatusNotFound)
	wantContains(t, r, "Webhook not found")
	wantStatus(t, s.post("/webhooks/close-circuit", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "code": {"wh_fail"}}), http.StatusBadRequest)
	// An anchor that is not a number stays out of the Location.
	r = s.post("/webhooks/close-circuit", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_ok"}, "anchor": {`1"><x`}})
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); strings.ContainsAny(loc, "\"<>#") {
		t.Errorf("Location %q", loc)
	}
}

func withValue(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for kk, vv := range v {
		out[kk] = vv
	}
	out.Set(k, val)
	return out
}

func TestCircuitHostileReason(t *testing.T) {
	const hostile = `upstream said: <script>alert(1)</script>"><img src=x onerror=alert(2)>` + "\n" + `</td></tr><style>body{display:none}</style>`
	s, c, db, _ := circuitSite(t, hostile)
	ids := webhookIDs(t, c)
	for _, p := range []string{"/webhooks", "/webhooks?scope=biz:biz1", "/"} {
		r := s.get(p)
		wantStatus(t, r, http.StatusOK)
		wantSecurityHeaders(t, r.Header, p)
		wantNotContains(t, r, "<script", "<img", "<style", "alert(1)</")
	}
	row := rowOf(t, s.get("/webhooks").body, ids["wh_fail"])
	for _, want := range []string{
		"Reason: upstream said: &lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;",
		`title="upstream said: &lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("row lacks %q:\n%s", want, row)
		}
	}
	// A very long reason is cut on the page, whole in the title.
	long := strings.Repeat("connection refused; ", 40)
	setCircuit(t, db, "biz", "biz1", "wh_fail", time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC), time.Date(2025, 6, 2, 11, 0, 0, 0, time.UTC), 5, 0, long)
	row = rowOf(t, s.get("/webhooks").body, ids["wh_fail"])
	if !strings.Contains(row, "…</div>") || !strings.Contains(row, `title="`+strings.TrimSpace(long)) {
		t.Errorf("long reason row:\n%s", row)
	}
	// The flash message's webhook name, which the query carries, is escaped.
	r := s.get("/webhooks?msg=circuit-closed&wh=" + url.QueryEscape(`<script>alert(1)</script>`))
	wantNotContains(t, r, "<script")
	wantContains(t, r, "Circuit of webhook &lt;script&gt;alert(1)&lt;/script&gt; closed")
}

// insertInstance writes a webhook_instance row, as a worker's heartbeat
// would.
func insertInstance(t testing.TB, db *gorm.DB, id, host string, pid, workers int, started, seen time.Time) {
	t.Helper()
	if err := db.Exec(`INSERT INTO webhook_instance (id, host, pid, version, workers, started_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, host, pid, "0.1.0", workers, started.UTC(), seen.UTC()).Error; err != nil {
		t.Fatal(err)
	}
}

func TestInstancesPage(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	c, db := newClient(t, webhook.Config{LeaseDuration: 20 * time.Second})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	s := newSite(t, c, admin.Options{})

	// None yet: the page says what runs the outbox.
	r := s.get("/instances")
	wantStatus(t, r, http.StatusOK)
	wantSecurityHeaders(t, r.Header, "/instances")
	wantContains(t, r, "<h1>Instances</h1>", "No worker instance ran in the last hour", "client.Start",
		`<a href="/admin/instances" aria-current="page" class="active">Instances</a>`)
	wantCard(t, s.get("/").body, "instances-card", "Workers 0 alive 0 dead · no heartbeat in the last hour", "/admin/instances", false)

	// One alive, holding two pending deliveries; one dead; one forgotten.
	insertInstance(t, db, "inst-alive-1", "web-1.example", 4242, 8, now.Add(-2*time.Hour), now.Add(-2*time.Second))
	insertInstance(t, db, "inst-dead-2", `<b>evil-host</b>`, 77, 2, now.Add(-3*time.Hour), now.Add(-10*time.Minute))
	insertInstance(t, db, "inst-gone-3", "old-host", 1, 1, now.Add(-5*time.Hour), now.Add(-2*time.Hour))
	ds, err := c.Enqueue(context.Background(), "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, nil)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Enqueue: %v %v", ds, err)
	}
	if err := db.Exec(`UPDATE webhook_delivery SET lease_owner = 'inst-alive-1', lease_until = ?`, now.Add(time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	// As the heartbeats report them; the dead one's count is not shown.
	if err := db.Exec(`UPDATE webhook_instance SET leased = CASE id WHEN 'inst-alive-1' THEN 2 ELSE 7 END`).Error; err != nil {
		t.Fatal(err)
	}

	r = s.get("/instances")
	wantStatus(t, r, http.StatusOK)
	wantNotContains(t, r, "inst-gone-3", "<b>", "<script")
	rows := regexp.MustCompile(`(?s)<tr class="instance .*?</tr>`).FindAllString(r.body, -1)
	if len(rows) != 2 {
		t.Fatalf("%d instance rows, want 2:\n%s", len(rows), r.body)
	}
	alive, dead := rows[0], rows[1] // newest first
	for _, want := range []string{"is-alive", "inst-alive-1", "web-1.example", ">4242<", ">0.1.0<", ">8<", "✓ alive", "2 deliveries",
		now.Add(-2 * time.Hour).Format("2006-01-02 15:04:05"), now.Add(-2 * time.Second).Format("2006-01-02 15:04:05"), "2 h ago"} {
		if !strings.Contains(alive, want) {
			t.Errorf("alive row lacks %q:\n%s", want, alive)
		}
	}
	for _, want := range []string{"is-dead", "inst-dead-2", "&lt;b&gt;evil-host&lt;/b&gt;", ">77<", "✕ dead", "0 deliveries", "10 min ago"} {
		if !strings.Contains(dead, want) {
			t.Errorf("dead row lacks %q:\n%s", want, dead)
		}
	}
	wantContains(t, r, `<span class="num">1</span><span class="lbl">alive</span>`, `<span class="num">1</span><span class="lbl">dead</span>`,
		`<span class="num">2</span><span class="lbl">deliveries leased</span>`)
	// (The clock runs: the heartbeat's age is a few seconds.)
	if c := cardOf(t, s.get("/").body, "instances-card"); !regexp.MustCompile(`^Workers 1 alive 1 dead · last heartbeat \d+ s ago$`).MatchString(c.text) || c.href != "/admin/instances" {
		t.Errorf("the overview's workers card reads %q, links to %q", c.text, c.href)
	}
}

// TestInstancesOfRunningWorkers starts real workers: their instance shows
// alive while they run and goes away when they stop.
func TestInstancesOfRunningWorkers(t *testing.T) {
	c, _ := newClient(t, webhook.Config{Workers: 3, PollInterval: 20 * time.Millisecond})
	s := newSite(t, c, admin.Options{})
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Stop(ctx)
		}
	}()
	list, err := c.Instances(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Instances: %+v %v", list, err)
	}
	r := s.get("/instances")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, list[0].ID, "✓ alive", `<td data-label="Workers">3</td>`, `<td data-label="PID">`)
	if c := cardOf(t, s.get("/").body, "instances-card"); !strings.HasPrefix(c.text, "Workers 1 alive 0 dead · last heartbeat ") {
		t.Errorf("the overview's workers card reads %q", c.text)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	wantContains(t, s.get("/instances"), "No worker instance ran in the last hour")
}
