package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
)

// Credentials of the webhooks of the history test; none may appear in the
// output of history.
const (
	bearerToken   = "tok-CLI-bearer-7f3a91"
	headerSecret  = "hdr-CLI-apikey-55c2e0"
	basicPassword = "pw-CLI-basic-0b8d4c"
)

// seedHistory records four attempts through the library, in-process, as
// the service would: wh_ok (1 success) and wh_fail (2 failures with 500) in
// biz:biz1 under delivery "dlv-one", then wh_other (1 success) in biz:biz2.
// The endpoints echo the credentials they receive, so that a leak in what
// history records would show.
func seedHistory(t *testing.T, f *fixture) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		echo := r.Header.Get("Authorization") + " " + r.Header.Get("X-Api-Key")
		w.Header().Set("X-Echo", echo)
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = io.WriteString(w, `{"echo": "`+echo+`"}`)
	}))
	defer srv.Close()

	ctx := context.Background()
	c, err := webhook.New(openTestDB(t, f.db), webhook.Config{
		PrivateSecret: testSecret,
		RetryPolicy: func(attempt int, wh *webhook.WebhookConfig, r *webhook.AttemptResult, _ time.Duration) (bool, time.Duration) {
			retry, _ := webhook.DefaultRetryPolicy(attempt, wh, r, 0)
			return retry, time.Millisecond
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(twoEvents), webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.ApplyScopeWebhooks(ctx, "biz", "biz1", []webhook.WebhookConfig{
		{
			Code: "wh_ok", Name: "OK hook", Endpoint: srv.URL + "/ok",
			Auth:    &webhook.Auth{Type: "bearer", Token: bearerToken},
			Headers: []webhook.Header{{Key: "X-Api-Key", Value: headerSecret}},
		},
		{
			Code: "wh_fail", Name: "Failing hook", Endpoint: srv.URL + "/fail",
			Auth:       &webhook.Auth{Type: "basic", Username: "alice", Password: basicPassword},
			RetryTimes: 1, RetryInterval: time.Millisecond,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.ApplyScopeWebhooks(ctx, "biz", "biz2", []webhook.WebhookConfig{{
		Code: "wh_other", Name: "Other hook", Endpoint: srv.URL + "/other",
		Auth: &webhook.Auth{Type: "bearer", Token: bearerToken},
	}})
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]map[string][]string{
		"biz1": {"wh_ok": {webhook.AllEvents}, "wh_fail": {"template_update"}},
		"biz2": {"wh_other": {webhook.AllEvents}},
	}
	for scope, s := range subs {
		if err := c.ApplyScopeSubscriptions(ctx, "biz", scope, s); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Broadcast(ctx, "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, map[string]any{"delivery_id": "dlv-one"})
	if err != nil || len(res.Deliveries) != 2 || len(res.Failed()) != 1 || res.HistoryErr != nil {
		t.Fatalf("Broadcast to biz1 = %+v, %v; want wh_ok delivered and wh_fail failed", res, err)
	}
	res, err = c.Broadcast(ctx, "template_create", []webhook.Scope{{Type: "biz", Code: "biz2"}}, nil)
	if err != nil || len(res.Deliveries) != 1 || len(res.Failed()) != 0 || res.HistoryErr != nil {
		t.Fatalf("Broadcast to biz2 = %+v, %v; want wh_other delivered", res, err)
	}
}

// wantNoSecrets fails if out shows any credential of the seeded webhooks.
func wantNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + basicPassword))
	for _, secret := range []string{bearerToken, headerSecret, basicPassword, basic} {
		if strings.Contains(out, secret) {
			t.Errorf("%s shows the credential %q:\n%s", what, secret, out)
		}
	}
}

// historyJSON runs history --json with extra flags and decodes the rows.
func historyJSON(t *testing.T, f *fixture, flags ...string) []webhook.History {
	t.Helper()
	res := f.mustRun(append([]string{"history", "--json"}, flags...)...)
	wantNoSecrets(t, "history --json", res.stdout)
	var rows []webhook.History
	if err := json.Unmarshal([]byte(res.stdout), &rows); err != nil {
		t.Fatalf("history --json %q: %v\n%s", flags, err, res.stdout)
	}
	if rows == nil {
		t.Fatalf("history --json %q printed null, want an array", flags)
	}
	return rows
}

func TestHistoryTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	seedHistory(t, f)

	res := f.mustRun("history")
	if res.stderr != "" {
		t.Fatalf("stderr is not empty: %s", res)
	}
	wantNoSecrets(t, "history", res.stdout)
	errors := map[int64]string{} // the error of each failed attempt, as --json has it
	for _, h := range historyJSON(t, f) {
		if h.Error != "" {
			errors[h.ID] = h.Error
		}
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("want a header, 4 rows and 2 error lines, got %s", res)
	}
	for _, line := range lines {
		if n := utf8.RuneCountInString(line); n > historyWidth {
			t.Errorf("line is %d characters wide, more than %d: %q", n, historyWidth, line)
		}
	}
	header := strings.Fields(lines[0])
	wantHeader := []string{"ID", "CREATED", "DELIVERY", "SCOPE", "WEBHOOK", "EVENT", "TRY", "HTTP", "DURATION"}
	if strings.Join(header, " ") != strings.Join(wantHeader, " ") {
		t.Fatalf("header = %q, want %q", header, wantHeader)
	}
	created := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	var webhooks []string
	prevID := 0
	for i := 1; i < len(lines); i++ {
		line := lines[i]
		cols := strings.Fields(line)
		if len(cols) != len(wantHeader) {
			t.Fatalf("row has %d columns, want %d: %q", len(cols), len(wantHeader), line)
		}
		if !created.MatchString(cols[1]) {
			t.Errorf("CREATED = %q, want UTC with second precision", cols[1])
		}
		id, err := strconv.Atoi(cols[0])
		if err != nil || prevID != 0 && id >= prevID {
			t.Errorf("rows are not newest first: id %s after %d", cols[0], prevID)
		}
		prevID = id
		webhooks = append(webhooks, cols[4])
		switch cols[4] {
		case "wh_fail":
			if cols[2] != "dlv-one" || cols[3] != "biz:biz1" || cols[5] != "template_update" || cols[7] != "500" {
				t.Errorf("wh_fail row = %q", line)
			}
			// The error follows, whole, on a line of its own.
			if i+1 == len(lines) || !strings.HasPrefix(lines[i+1], historyErrorIndent) {
				t.Fatalf("wh_fail row %q is not followed by its error line", line)
			}
			i++
			errText := strings.TrimPrefix(lines[i], historyErrorIndent)
			if want := errors[int64(id)]; errText != want || !strings.Contains(errText, "500") || strings.HasSuffix(errText, "…") {
				t.Errorf("error line = %q, want the whole error %q", errText, want)
			}
		case "wh_ok", "wh_other":
			if cols[6] != "1" || cols[7] != "200" {
				t.Errorf("%s row = %q", cols[4], line)
			}
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], historyErrorIndent) {
				t.Errorf("successful attempt %q has an error line: %q", line, lines[i+1])
			}
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	// The biz1 deliveries run concurrently, so only the last broadcast's
	// place is certain.
	rest := slices.Sorted(slices.Values(webhooks[1:]))
	if webhooks[0] != "wh_other" || !slices.Equal(rest, []string{"wh_fail", "wh_fail", "wh_ok"}) {
		t.Errorf("webhooks by row = %q, want wh_other first, then the biz1 attempts", webhooks)
	}

	// --db may also follow the command; filters apply to the table too.
	res = f.runEnv(f.env, "history", "--db", f.db, "--webhook", "wh_fail", "--limit", "1")
	if lines := strings.Split(strings.TrimSpace(res.stdout), "\n"); res.code != exitOK || len(lines) != 3 || !strings.Contains(lines[1], "wh_fail") ||
		!strings.HasPrefix(lines[2], historyErrorIndent) {
		t.Fatalf("history --webhook wh_fail --limit 1: want 1 wh_fail row and its error, got %s", res)
	}
}

func TestHistoryJSONAndFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	seedHistory(t, f)

	all := historyJSON(t, f)
	if len(all) != 4 {
		t.Fatalf("history --json returned %d rows, want 4", len(all))
	}
	for i, h := range all {
		if i > 0 && h.ID >= all[i-1].ID {
			t.Errorf("rows are not newest first: %d after %d", h.ID, all[i-1].ID)
		}
		if h.Request.URL == "" || h.Request.Method != http.MethodPost {
			t.Errorf("row %d: request = %+v, want the recorded request", h.ID, h.Request)
		}
		switch h.WebhookCode {
		case "wh_ok":
			if !h.Success || h.StatusCode != 200 || h.DeliveryID != "dlv-one" || h.Request.Header["X-Api-Key"] == "" {
				t.Errorf("wh_ok row = %+v", h)
			}
		case "wh_fail":
			if h.Success || h.StatusCode != 500 || h.Error == "" || h.DeliveryID != "dlv-one" {
				t.Errorf("wh_fail row = %+v", h)
			}
		case "wh_other":
			if !h.Success || h.ScopeCode != "biz2" || h.EventCode != "template_create" {
				t.Errorf("wh_other row = %+v", h)
			}
		default:
			t.Errorf("unexpected row %+v", h)
		}
	}

	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		flags []string
		want  int
	}{
		{[]string{"--webhook", "wh_fail"}, 2},
		{[]string{"--delivery", "dlv-one"}, 3},
		{[]string{"--event", "template_create"}, 1},
		{[]string{"--event", "no_such_event"}, 0},
		{[]string{"--scope", "biz:biz2"}, 1},
		{[]string{"--success", "false"}, 2},
		{[]string{"--success=true"}, 2},
		{[]string{"--status", "500"}, 2},
		{[]string{"--status", "200", "--scope", "biz:biz1"}, 1},
		{[]string{"--limit", "3"}, 3},
		{[]string{"--since", "1h"}, 4},
		{[]string{"--since", "7d"}, 4},
		{[]string{"--since", past}, 4},
		{[]string{"--since", future}, 0},
	}
	for _, tc := range cases {
		if got := historyJSON(t, f, tc.flags...); len(got) != tc.want {
			t.Errorf("history --json %q: %d rows, want %d", tc.flags, len(got), tc.want)
		}
	}
	if got := historyJSON(t, f, "--limit", "1"); len(got) != 1 || got[0].ID != all[0].ID {
		t.Errorf("history --limit 1 = %+v, want the newest row", got)
	}
}

func TestHistoryEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	if res := f.mustRun("history", "--json"); res.stdout != "[]\n" {
		t.Errorf("history --json on no rows: want [], got %s", res)
	}
	if res := f.mustRun("history"); len(strings.Split(strings.TrimSpace(res.stdout), "\n")) != 1 {
		t.Errorf("history on no rows: want the header only, got %s", res)
	}
}

// TestHistoryOddRows checks rows the library did not write itself: an
// extra_info that is empty or not JSON must not break --json, and control
// characters must not break the table.
func TestHistoryOddRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	db := openTestDB(t, f.db)
	insert := `INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt, error_message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`
	now := time.Now().UTC()
	rows := [][]any{
		{"wh_empty", "ev", now, true, 200, "d1", "biz", "b1", "", nil},
		{"wh_text", "ev", now, false, nil, "d2", "biz", "b1", "not json", "line one\nline\ttwo\x1b[31m"},
		{"wh_null", "ev", now, true, 204, "d3", "biz", "b1", nil, nil},
	}
	for _, r := range rows {
		if err := db.Exec(insert, r...).Error; err != nil {
			t.Fatal(err)
		}
	}
	got := historyJSON(t, f)
	// Rows come newest first: wh_null, wh_text, wh_empty.
	if len(got) != 3 || got[0].WebhookCode != "wh_null" || got[1].WebhookCode != "wh_text" || !strings.HasPrefix(got[1].Error, "line one") || got[2].StatusCode != 200 {
		t.Fatalf("history --json = %+v", got)
	}
	res := f.mustRun("history")
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 5 || strings.ContainsAny(res.stdout, "\t\x1b") {
		t.Fatalf("history table broken by control characters: %q", res.stdout)
	}
	if !strings.Contains(lines[2], "wh_text") || !strings.Contains(lines[2], "  -  ") || lines[3] != historyErrorIndent+"line one line two [31m" {
		t.Errorf("wh_text rows = %q, want no status and the error on one line", lines[2:4])
	}
}

// TestHistoryTableWidth checks that rows with long codes, a long delivery
// id and a long error fit in historyWidth columns, that the error is shown
// whole, and that codes are shortened only as much as needed.
func TestHistoryTableWidth(t *testing.T) {
	t.Parallel()
	longErr := "webhook: POST https://erp.internal.example.com/hooks/orders?tenant=acme answered 503 Service Unavailable: " +
		strings.Repeat("upstream connect error or disconnect/reset before headers ", 5) + "reset reason: connection termination"
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	rows := []webhook.History{
		{ID: 123456, CreatedAt: at, DeliveryID: "3f2a9c0e5b7d4e18a6c1f0b2d3e4a5b6", ScopeType: "tenant", ScopeCode: "acme-corporation-eu-west",
			WebhookCode: "erp_orders_primary_endpoint", EventCode: "order_payment_captured_v2", Attempt: 3, StatusCode: 503,
			Duration: 1234 * time.Millisecond, Error: longErr},
		{ID: 123455, CreatedAt: at, DeliveryID: "3f2a9c0e5b7d4e18a6c1f0b2d3e4a5b7", ScopeType: "biz", ScopeCode: "biz1",
			WebhookCode: "wh_ok", EventCode: "template_update", Attempt: 1, StatusCode: 200, Success: true, Duration: 12 * time.Millisecond},
		{ID: 123454, CreatedAt: at, DeliveryID: "d3", ScopeType: "biz", ScopeCode: "biz1", WebhookCode: "wh_py", EventCode: "e", Attempt: 1},
	}
	var buf strings.Builder
	if err := writeHistoryTable(&buf, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var errLines []string
	for _, line := range lines {
		if n := utf8.RuneCountInString(line); n > historyWidth {
			t.Errorf("line is %d characters wide, more than %d: %q", n, historyWidth, line)
		}
		if strings.HasPrefix(line, historyErrorIndent) || strings.HasPrefix(line, strings.Repeat(" ", len(historyErrorIndent))) {
			errLines = append(errLines, strings.TrimSpace(strings.TrimPrefix(line, historyErrorIndent)))
		}
	}
	if len(errLines) < 3 {
		t.Fatalf("want the long error wrapped over several lines, got:\n%s", buf.String())
	}
	if got := strings.Join(errLines[:len(errLines)-1], " "); got != longErr {
		t.Errorf("the error is not shown whole:\n%s\nwant\n%s", got, longErr)
	}
	if last := errLines[len(errLines)-1]; last != "none recorded, but the attempt failed" {
		t.Errorf("a failed attempt without an error: %q", last)
	}
	row := lines[1]
	for _, whole := range []string{"123456", "2024-05-01T10:00:00Z", "3f2a9c0e5b7d4e18a6c1f0b2d3e4a5b6", "503", "1.234s"} {
		if !strings.Contains(row, whole) {
			t.Errorf("row %q lacks %q", row, whole)
		}
	}
	if !strings.Contains(row, "…") {
		t.Errorf("row %q: want the long codes shortened to fit", row)
	}
	// Ordinary codes fit as they are, with six-digit row ids.
	buf.Reset()
	if err := writeHistoryTable(&buf, rows[1:2]); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > historyWidth || strings.Contains(line, "…") {
			t.Errorf("line %q (%d characters): want the short codes whole, within %d", line, n, historyWidth)
		}
	}
}
