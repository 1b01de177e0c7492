package admin_test

import (
	"context"
	"html"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// TestDeliveriesList shows queued and broadcast deliveries together, each
// tagged, with its status, attempts, last HTTP status, last error (clipped,
// whole in the title), the last attempt's latency and, when pending, its
// next retry.
func TestDeliveriesList(t *testing.T) {
	now := time.Date(2026, 12, 1, 15, 4, 5, 123_000_000, time.UTC)
	c, db := newClient(t, webhook.Config{})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	sent := broadcast(t, c, nil)
	longErr := "endpoint answered 503 Service Unavailable: " + strings.Repeat("upstream timeout; ", 30)
	if err := db.Exec(`INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at)
		VALUES ('queued-1', 'template_update', 'biz', 'biz1', 'wh_fail', '{}', 'pending', 3, ?, 503, ?, ?)`,
		now.Add(90*time.Second), longErr, now.Add(-time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	// queued-2 succeeded at its second attempt, which took 230 ms.
	if err := db.Exec(`INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, last_status_code, created_at, finished_at)
		VALUES ('queued-2', 'template_update', 'biz', 'biz1', 'wh_ok', '{}', 'succeeded', 2, ?, 200, ?, ?)`,
		now.Add(-2*time.Minute), now.Add(-3*time.Minute), now.Add(-2*time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	for i, us := range []int64{10_000_000, 230_000} {
		if err := db.Exec(`INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt, duration_us, queued)
			VALUES ('wh_ok', 'template_update', ?, ?, ?, 'queued-2', 'biz', 'biz1', '{}', ?, ?, ?)`,
			now.Add(time.Duration(i-3)*time.Minute), i == 1, []int{504, 200}[i], i+1, us, true).Error; err != nil {
			t.Fatal(err)
		}
	}
	s := newSite(t, c, admin.Options{Now: func() time.Time { return now }})
	r := s.get("/deliveries")
	wantStatus(t, r, http.StatusOK)
	rows := regexp.MustCompile(`(?s)<tr id="d-[^"]+" class="delivery [^"]*">.*?</tr>`).FindAllString(r.body, -1)
	rowWith := func(s string) string {
		for _, r := range rows {
			if strings.Contains(r, s) {
				return r
			}
		}
		t.Fatalf("no row has %q:\n%s", s, r.body)
		return ""
	}
	// The last attempt's latency, formatted as in the attempts list; a
	// delivery not attempted yet has none (the cell is left out on a phone).
	if row := rowWith("queued-2"); !strings.Contains(row, `<td data-label="Latency" class="p2 n">230 ms</td>`) {
		t.Errorf("queued-2's row lacks its latency:\n%s", row)
	}
	if row := rowWith(sent["wh_ok"]); !regexp.MustCompile(`<td data-label="Latency" class="p2 n">[0-9.]+ (µs|ms|s)</td>`).MatchString(row) {
		t.Errorf("the broadcast delivery's row lacks its latency:\n%s", row)
	}
	wantContains(t, r, `<th scope="col" class="p2 n" title="how long the last attempt took">Latency</th>`)
	row := rowWith("queued-1")
	if !strings.Contains(row, `<td data-label="Latency" class="p2 n empty"><span class="muted">—</span></td>`) {
		t.Errorf("queued-1, never attempted, shows a latency:\n%s", row)
	}
	for _, want := range []string{"queued-1", `<span class="tag queued"`, "status-pending", `<td data-label="Tries" class="n">3</td>`,
		"2026-12-01 15:05:35.123", "in 1 min", `<td data-label="HTTP" class="n">503</td>`, `title="endpoint answered 503 Service Unavailable: upstream timeout;`,
		"2026-12-01 15:03:05.123", "…</span>"} {
		if !strings.Contains(row, want) {
			t.Errorf("the queued delivery's row lacks %q:\n%s", want, row)
		}
	}
	for code, id := range sent {
		if !strings.Contains(r.body, id) {
			t.Errorf("the list lacks %s's delivery %s", code, id)
		}
	}
	if n := strings.Count(r.body, `<span class="tag sent"`); n != 2 {
		t.Errorf("%d deliveries tagged sent, want 2", n)
	}
	// Queued only: the old outbox view.
	q := s.get("/deliveries?queued=1")
	wantContains(t, q, "queued-1")
	wantNotContains(t, q, sent["wh_ok"], `<span class="tag sent"`)
	// The rows come in the library's order, newest first.
	ds, err := c.Deliveries(context.Background(), webhook.DeliveryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range ds {
		want = append(want, d.Cursor)
	}
	var got []string
	for _, m := range deliveryRowRE.FindAllStringSubmatch(r.body, -1) {
		got = append(got, m[1])
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows %v, want the library's order %v", got, want)
	}
	// The delivery's page: its summary with the next retry.
	d := s.get("/deliveries/queued-1")
	wantStatus(t, d, http.StatusOK)
	wantContains(t, d, `<span class="pill status-pending">pending</span>`, `<span class="tag queued">queued</span>`,
		"<dt>Next retry</dt><dd>2026-12-01 15:05:35.123 UTC <span class=\"muted\">(in 1 min)</span></dd>",
		"<dt>Attempts</dt><dd>3</dd>", "<dt>Created</dt><dd>2026-12-01 15:03:05.123 UTC</dd>", "not yet", "Last error:", "No attempt recorded yet.")
}

// TestOldAddresses sends the outbox's address and the history filters that
// lived under /deliveries to their new pages, query kept.
func TestOldAddresses(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	s := newSite(t, c, admin.Options{})
	for path, loc := range map[string]string{
		"/outbox":                                 "/admin/deliveries?queued=1",
		"/outbox?status=pending&webhook=wh":       "/admin/deliveries?queued=1&status=pending&webhook=wh",
		"/deliveries?success=no&webhook=wh":       "/admin/attempts?success=no&webhook=wh",
		"/deliveries?status=500":                  "/admin/attempts?status=500",
		"/deliveries?before=42":                   "/admin/attempts?before=42",
		"/deliveries?after=42&scope=biz%3Abiz1":   "/admin/attempts?after=42&scope=biz%3Abiz1",
		"/deliveries?delivery=d1&success=yes&x=1": "/admin/attempts?delivery=d1&success=yes&x=1",
	} {
		r := s.get(path)
		wantStatus(t, r, http.StatusPermanentRedirect)
		wantSecurityHeaders(t, r.Header, path)
		if got := r.Header.Get("Location"); got != loc {
			t.Errorf("%s: Location %q, want %q", path, got, loc)
		}
	}
	for _, path := range []string{"/deliveries?status=failed", "/deliveries?delivery=d1&webhook=wh", "/deliveries?queued=1"} {
		wantStatus(t, s.get(path), http.StatusOK)
	}
}

// TestCopyAsCurl checks each attempt's curl command: a shell reads it back
// as the recorded request (method, URL with parameters, headers, body),
// credentials redacted as recorded, never their values.
func TestCopyAsCurl(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the command line in")
	}
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t, nil)
	ctx := context.Background()
	if _, err := c.SyncEventList(ctx, []webhook.Event{{Code: "ev", Name: "Event"}}, webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "q", []webhook.WebhookConfig{{
		Code: "wh_q", Name: "Quotes", Endpoint: rc.URL + "/ok?it's=1",
		Auth:    &webhook.Auth{Type: "bearer", Token: secretToken},
		Headers: []webhook.Header{{Key: "X-Team-Secret", Value: secretHeader}},
		Params:  map[string]string{"tenant": `o'brien "$(id)"`},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "q", map[string][]string{"wh_q": {webhook.AllEvents}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "ev", []webhook.Scope{{Type: "biz", Code: "q"}}, map[string]any{"note": "it's `id` $HOME \\ \n done"})
	if err != nil || len(res.Deliveries) != 1 {
		t.Fatalf("Broadcast: %+v %v", res, err)
	}
	id := res.Deliveries[0].DeliveryID
	hist, err := c.History(ctx, webhook.HistoryQuery{DeliveryID: id})
	if err != nil || len(hist) != 1 {
		t.Fatalf("History: %v %v", hist, err)
	}
	s := newSite(t, c, admin.Options{})
	page := s.get("/deliveries/" + id)
	wantStatus(t, page, http.StatusOK)
	wantNotContains(t, page, secretToken, secretHeader)
	m := regexp.MustCompile(`(?s)<pre class="curl-command">(.*?)</pre>`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no curl command on the page:\n%s", page.body)
	}
	cmd := html.UnescapeString(m[1])
	for _, secret := range []string{secretToken, secretHeader} {
		if strings.Contains(cmd, secret) {
			t.Fatalf("the curl command shows a credential:\n%s", cmd)
		}
	}
	script := `curl() { for a in "$@"; do printf '%s\0' "$a"; done; }` + "\n" + cmd + "\n"
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, cmd)
	}
	args := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	req := hist[0].Request
	if len(args) < 3 || args[0] != "-X" || args[1] != "POST" {
		t.Fatalf("arguments %q", args)
	}
	if !strings.HasPrefix(args[2], rc.URL+"/ok?") || !strings.Contains(args[2], "tenant=o%27brien+%22%24%28id%29%22") {
		t.Errorf("URL %q", args[2])
	}
	headers := map[string]string{}
	var body string
	for i := 3; i+1 < len(args); i += 2 {
		switch args[i] {
		case "-H":
			k, v, _ := strings.Cut(args[i+1], ": ")
			headers[k] = v
		case "--data-raw":
			body = args[i+1]
		default:
			t.Errorf("unexpected argument %q", args[i])
		}
	}
	if len(headers) != len(req.Header) {
		t.Errorf("headers %v, recorded %v", headers, req.Header)
	}
	for k, v := range req.Header {
		if headers[k] != v {
			t.Errorf("header %s = %q, recorded %q", k, headers[k], v)
		}
	}
	if headers["Authorization"] != "Bearer [REDACTED]" || headers["X-Team-Secret"] != "[REDACTED]" {
		t.Errorf("credentials in the command: %v", headers)
	}
	if body != string(req.JSON) {
		t.Errorf("body %q, recorded %q", body, req.JSON)
	}
}
