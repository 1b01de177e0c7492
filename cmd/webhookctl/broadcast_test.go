package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

func TestBroadcast(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)

	// template_create reaches wh_ok only in biz1 (wh_fail subscribes to
	// template_update); flags may follow the event.
	res := f.run("broadcast", "template_create", "--scope", "biz:biz1", "--info", `{"template_id": "t1", "n": 12345678901234567890}`)
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("broadcast template_create: want exit 0 and no stderr, got %s", res)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "WEBHOOK SCOPE DELIVERY STATUS ATTEMPTS DURATION RESULT" {
		t.Fatalf("want a header and 1 row, got %s", res)
	}
	if !regexp.MustCompile(`^wh_ok +biz:biz1 +[0-9a-f]{32} +200 +1 +\S+ +ok$`).MatchString(lines[1]) {
		t.Errorf("row = %q", lines[1])
	}
	got := rcv.requests("/ok")
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests at /ok, want 1", len(got))
	}
	ev := got[0].event(t)
	if info, _ := ev["info"].(map[string]any); ev["code"] != "template_create" || info["template_id"] != "t1" || info["n"] != 12345678901234567890.0 {
		t.Errorf("event sent = %v", ev)
	}
	if h := got[0].Header; h.Get("Authorization") != "Bearer "+applyToken || h.Get("X-Api-Key") != applyHeader || h.Get("Webhook-Signature") == "" {
		t.Errorf("headers sent = %v", h)
	}

	// template_update also reaches wh_fail, which answers 500 (twice: the
	// default retry policy retries once within Broadcast's MaxRetryDelay):
	// exit 1.
	res = f.run("broadcast", "--scope", "biz:biz1", "template_update", "--scope", "biz:biz2")
	if res.code != exitFailure {
		t.Fatalf("broadcast to a failing receiver: want exit 1, got %s", res)
	}
	wantNoApplySecrets(t, "broadcast", res.stdout+res.stderr)
	lines = strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rows, got %s", res)
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		rows[strings.Fields(l)[0]] = l
	}
	if !regexp.MustCompile(`^wh_ok +biz:biz1 +\S+ +200 +1 +\S+ +ok$`).MatchString(rows["wh_ok"]) ||
		!regexp.MustCompile(`^wh_fail +biz:biz1 +\S+ +500 +2 +\S+ +error: webhook: POST http://127\.0\.0\.1:\d+/fail answered 500 Internal Server Error`).MatchString(rows["wh_fail"]) {
		t.Errorf("rows = %q", lines[1:])
	}
	for _, want := range []string{"webhookctl: broadcast: 1 of 2 deliveries failed", "history --delivery ID", "redeliver ID"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if len(historyJSON(t, f, "--event", "template_update")) != 3 {
		t.Error("the attempts of broadcast are not in history")
	}

	// Unknown event, bad --info: exit 3, nothing sent.
	n := len(rcv.requests(""))
	wantFailure(t, f.run("broadcast", "no_such_event", "--scope", "biz:biz1"), exitInvalidInput,
		"webhook: event not found", "sync-events")
	for _, info := range []string{`{"a": `, `[1, 2]`, `null`, `{"a": 1} {}`} {
		wantFailure(t, f.run("broadcast", "template_update", "--scope", "biz:biz1", "--info", info), exitInvalidInput,
			"--info is not a JSON object", `--info '{"template_id": "t1"}'`)
	}
	if len(rcv.requests("")) != n {
		t.Error("a failed broadcast sent requests")
	}

	// No subscriber: nothing to do, exit 0.
	res = f.mustRun("broadcast", "template_create", "--scope", "biz:nobody")
	wantStdout(t, res, "no enabled webhook of biz:nobody subscribes to template_create: nothing was sent\n")
}

func TestBroadcastEnqueue(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)

	res := f.run("broadcast", "template_update", "--scope", "biz:biz1", "--enqueue", "--info", `{"template_id": "t2"}`)
	if res.code != exitOK {
		t.Fatalf("broadcast --enqueue: %s", res)
	}
	ids := strings.Fields(res.stdout)
	if len(ids) != 2 || !strings.Contains(res.stderr, "note: enqueued 2 deliveries of template_update") ||
		!strings.Contains(res.stderr, "workers of the service") {
		t.Fatalf("want 2 delivery ids and a note about the workers, got %s", res)
	}
	if len(rcv.requests("")) != 0 {
		t.Error("broadcast --enqueue sent requests itself")
	}
	rows := deliveriesJSON(t, f, "--status", "pending")
	var gotIDs, webhooks []string
	for _, d := range rows {
		gotIDs = append(gotIDs, d.DeliveryID)
		webhooks = append(webhooks, d.WebhookCode)
		if d.Status != webhook.StatusPending || d.EventCode != "template_update" || d.ScopeType != "biz" || d.ScopeCode != "biz1" || d.Attempts != 0 {
			t.Errorf("delivery = %+v", d)
		}
	}
	slices.Sort(gotIDs)
	slices.Sort(ids)
	slices.Sort(webhooks)
	if !slices.Equal(gotIDs, ids) || !slices.Equal(webhooks, []string{"wh_fail", "wh_ok"}) {
		t.Errorf("pending deliveries %q to %q, want ids %q", gotIDs, webhooks, ids)
	}
	if got := deliveriesJSON(t, f, "--status", "failed"); len(got) != 0 {
		t.Errorf("failed deliveries = %+v, want none", got)
	}
	if got := deliveriesJSON(t, f, "--webhook", "wh_ok", "--scope", "biz:biz1"); len(got) != 1 || got[0].WebhookCode != "wh_ok" {
		t.Errorf("deliveries --webhook wh_ok = %+v", got)
	}

	// The table shows the same.
	res = f.mustRun("deliveries", "--status", "pending")
	// One row per delivery, its next attempt on a line under it.
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "CREATED DELIVERY SCOPE WEBHOOK EVENT QUEUED STATUS TRY HTTP" {
		t.Fatalf("deliveries table: %s", res)
	}
	for i, l := range lines[1:] {
		if i%2 == 1 {
			if !strings.HasPrefix(strings.TrimSpace(l), "next attempt: ") {
				t.Errorf("line under a pending row = %q", l)
			}
			continue
		}
		if cols := strings.Fields(l); len(cols) != 9 || cols[6] != "pending" || cols[7] != "0" || cols[4] != "template_update" || cols[5] != "yes" || len(l) > 120 {
			t.Errorf("row = %q", l)
		}
	}
	if res := f.mustRun("deliveries", "--json", "--status", "cancelled"); res.stdout != "[]\n" {
		t.Errorf("deliveries --json on no rows: want [], got %s", res)
	}
}

// failDeliveries enqueues template_update in biz1 from the service's side
// and runs its workers, without retries, until both deliveries finished:
// wh_ok's succeeded and wh_fail's failed. It returns the failed one's id.
func failDeliveries(t *testing.T, f *fixture) (failedID, succeededID string) {
	t.Helper()
	ctx := context.Background()
	c := libClient(t, f, webhook.Config{
		RetryPolicy: func(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
			return false, 0
		},
		PollInterval: 10 * time.Millisecond,
	})
	ids, err := c.Enqueue(ctx, "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, nil)
	if err != nil || len(ids) != 2 {
		t.Fatalf("Enqueue = %v, %v", ids, err)
	}
	runWorkers(t, c, func() bool {
		for _, id := range ids {
			ds, err := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id})
			if err != nil || len(ds) != 1 || ds[0].Status == webhook.StatusPending {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		ds, _ := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id})
		switch {
		case ds[0].WebhookCode == "wh_fail" && ds[0].Status == webhook.StatusFailed:
			failedID = id
		case ds[0].WebhookCode == "wh_ok" && ds[0].Status == webhook.StatusSucceeded:
			succeededID = id
		default:
			t.Fatalf("delivery %+v", ds[0])
		}
	}
	return failedID, succeededID
}

// runWorkers runs the client's workers until done holds.
func runWorkers(t *testing.T, c *webhook.Client, done func() bool) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the workers", done)
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRedeliver(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)

	wantFailure(t, f.run("redeliver", "no-such-delivery"), exitInvalidInput,
		`webhookctl: redeliver: webhook: delivery not found: "no-such-delivery" is neither in the outbox nor in history`,
		"1 of 1 unknown", "deliveries")

	failedID, okID := failDeliveries(t, f)
	if got := deliveriesJSON(t, f, "--status", "failed"); len(got) != 1 || got[0].DeliveryID != failedID || got[0].LastStatusCode != 500 || got[0].LastError == "" {
		t.Fatalf("failed deliveries = %+v", got)
	}

	res := f.run("redeliver", failedID)
	if res.code != exitOK || res.stdout != "scheduled "+failedID+"\n" || !strings.Contains(res.stderr, "workers of the service") {
		t.Fatalf("redeliver %s: %s", failedID, res)
	}
	got := deliveriesJSON(t, f, "--delivery", failedID)
	if len(got) != 1 || got[0].Status != webhook.StatusPending || got[0].Attempts != 0 || got[0].LastError != "" {
		t.Fatalf("after redeliver: %+v, want pending again", got)
	}

	// Several ids, one unknown: the others are scheduled, exit 3.
	res = f.run("redeliver", okID, "nope")
	if res.code != exitInvalidInput || res.stdout != "[1/2] scheduled "+okID+"\n" ||
		!strings.Contains(res.stderr, `webhookctl: redeliver: [2/2] webhook: delivery not found: "nope"`) ||
		!strings.Contains(res.stderr, "1 of 2 unknown") {
		t.Fatalf("redeliver with an unknown id: %s", res)
	}
	if got := deliveriesJSON(t, f, "--delivery", okID); len(got) != 1 || got[0].Status != webhook.StatusPending {
		t.Fatalf("after redeliver: %+v, want pending again", got)
	}

	// --failed with filters.
	failDeliveries(t, f) // two more, and the redelivered ones fail or succeed again
	c := libClient(t, f, webhook.Config{
		RetryPolicy: func(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
			return false, 0
		},
		PollInterval: 10 * time.Millisecond,
	})
	runWorkers(t, c, func() bool {
		ds, err := c.Deliveries(context.Background(), webhook.DeliveryQuery{Status: webhook.StatusPending})
		return err == nil && len(ds) == 0
	})
	if got := deliveriesJSON(t, f, "--status", "failed"); len(got) != 2 {
		t.Fatalf("failed deliveries = %+v, want 2", got)
	}
	res = f.run("redeliver", "--failed", "--webhook", "wh_ok")
	if res.code != exitOK || res.stdout != "rescheduled 0 failed deliveries\n" {
		t.Fatalf("redeliver --failed --webhook wh_ok: %s", res)
	}
	res = f.run("redeliver", "--failed", "--webhook", "wh_fail", "--scope", "biz:biz1", "--event", "template_update", "--since", "1h")
	if res.code != exitOK || res.stdout != "rescheduled 2 failed deliveries\n" ||
		!strings.Contains(res.stderr, "rescheduling the failed deliveries of webhook wh_fail, scope biz:biz1, event template_update, created since ") ||
		!strings.Contains(res.stderr, "workers of the service") {
		t.Fatalf("redeliver --failed: %s", res)
	}
	if got := deliveriesJSON(t, f, "--status", "failed"); len(got) != 0 {
		t.Errorf("failed deliveries after redeliver --failed = %+v", got)
	}
	if got := deliveriesJSON(t, f, "--status", "pending", "--webhook", "wh_fail"); len(got) != 2 {
		t.Errorf("pending deliveries of wh_fail = %+v, want 2", got)
	}
}

// TestRedeliverFromHistory redelivers what a plain broadcast sent, which
// only history knows.
func TestRedeliverFromHistory(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	res := f.run("broadcast", "template_create", "--scope", "biz:biz1", "--info", `{"delivery_id": "dlv-cli-1"}`)
	if res.code != exitOK {
		t.Fatalf("broadcast: %s", res)
	}
	// A plain broadcast is a delivery that was not queued: listed, with its
	// attempt, but not in the outbox.
	if got := deliveriesJSON(t, f); len(got) != 1 || got[0].Queued || got[0].ID != 0 || got[0].Status != webhook.StatusSucceeded || got[0].Attempts != 1 {
		t.Fatalf("a plain broadcast wrote to the outbox, or is not listed: %+v", got)
	}
	f.mustRun("redeliver", "dlv-cli-1")
	if got := deliveriesJSON(t, f, "--delivery", "dlv-cli-1"); len(got) != 1 || got[0].WebhookCode != "wh_ok" || got[0].Status != webhook.StatusPending {
		t.Errorf("outbox after redeliver = %+v", got)
	}
}

func TestBroadcastJSON(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)

	// One delivery fails: the JSON document still goes to stdout, the
	// error to stderr, and the exit status is 1.
	res := f.run("broadcast", "template_update", "--scope", "biz:biz1", "--json")
	if res.code != exitFailure || !strings.Contains(res.stderr, "webhookctl: broadcast: 1 of 2 deliveries failed") {
		t.Fatalf("broadcast --json to a failing receiver: want exit 1 and the error on stderr, got %s", res)
	}
	wantNoApplySecrets(t, "broadcast --json", res.stdout+res.stderr)
	var got broadcastJSON
	decodeOne(t, res.stdout, &got)
	if got.Event != "template_update" || got.Enqueue || got.Failed != 1 || len(got.Deliveries) != 2 || len(got.DeliveryIDs) != 2 ||
		!slices.Equal(got.Scopes, []scopeJSON{{"biz", "biz1"}}) {
		t.Fatalf("broadcast --json = %+v", got)
	}
	for i, d := range got.Deliveries {
		if d.DeliveryID != got.DeliveryIDs[i] || d.Scope != (scopeJSON{"biz", "biz1"}) || d.DurationUS <= 0 {
			t.Errorf("delivery %+v", d)
		}
		switch d.Webhook {
		case "wh_ok":
			if !d.Success || d.StatusCode != 200 || d.Attempts != 1 || d.Error != "" {
				t.Errorf("wh_ok = %+v", d)
			}
		case "wh_fail":
			if d.Success || d.StatusCode != 500 || d.Attempts != 2 || !strings.Contains(d.Error, "answered 500") {
				t.Errorf("wh_fail = %+v", d)
			}
		default:
			t.Errorf("unexpected delivery %+v", d)
		}
	}
	if strings.Contains(res.stdout, `"error": ""`) || !strings.Contains(res.stdout, `"duration_us": `) {
		t.Errorf("field names:\n%s", res.stdout)
	}

	// No subscriber: an empty document, exit 0.
	res = f.mustRun("broadcast", "template_create", "--scope", "biz:nobody", "--json")
	got = broadcastJSON{}
	decodeOne(t, res.stdout, &got)
	if res.stderr != "" || got.Failed != 0 || got.Deliveries == nil || len(got.Deliveries) != 0 || got.DeliveryIDs == nil {
		t.Errorf("broadcast --json to nobody: %s", res)
	}

	// --enqueue: the ids, no results; the note stays on stderr.
	res = f.runEnv([]string{envDB + "=" + f.db}, "broadcast", "template_update", "--scope", "biz:biz1", "--enqueue", "--json")
	got = broadcastJSON{}
	decodeOne(t, res.stdout, &got)
	if res.code != exitOK || !got.Enqueue || len(got.DeliveryIDs) != 2 || len(got.Deliveries) != 0 || !strings.Contains(res.stderr, "note: enqueued 2 deliveries") {
		t.Errorf("broadcast --enqueue --json: %s", res)
	}
	pending := deliveriesJSON(t, f, "--status", "pending")
	var pendingIDs []string
	for _, d := range pending {
		pendingIDs = append(pendingIDs, d.DeliveryID)
	}
	if slices.Sort(pendingIDs); !slices.Equal(pendingIDs, slices.Sorted(slices.Values(got.DeliveryIDs))) {
		t.Errorf("enqueued %q, pending %q", got.DeliveryIDs, pendingIDs)
	}

	// Errors: stderr only, same exit statuses.
	wantFailure(t, f.run("broadcast", "no_such_event", "--scope", "biz:biz1", "--json"), exitInvalidInput, "webhook: event not found")
	wantFailure(t, f.run("broadcast", "template_update", "--json"), exitUsage, "no --scope given")
}

// TestBroadcastNetworkFlags checks that broadcast sends under the SSRF
// settings given, and refuses them with --enqueue.
func TestBroadcastNetworkFlags(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)

	n := len(rcv.requests(""))
	res := f.run("broadcast", "template_create", "--scope", "biz:biz1", "--deny-private")
	if res.code != exitFailure || !strings.Contains(res.stdout, "endpoint address is forbidden: 127.0.0.1 is a loopback address") ||
		!strings.Contains(res.stderr, "--allow-network CIDR lets through") {
		t.Fatalf("broadcast --deny-private to a loopback receiver: want the SSRF guard to refuse it, got %s", res)
	}
	if len(rcv.requests("")) != n {
		t.Error("the SSRF guard let a request through")
	}
	res = f.run("broadcast", "template_create", "--scope", "biz:biz1", "--deny-private", "--allow-network", "127.0.0.0/8", "--allow-network", "::1")
	if res.code != exitOK || len(rcv.requests("/ok")) != 1 {
		t.Fatalf("broadcast --deny-private --allow-network 127.0.0.0/8: want it sent, got %s", res)
	}

	wantFailure(t, f.run("broadcast", "template_create", "--scope", "biz:biz1", "--enqueue", "--deny-private"), exitUsage,
		"--deny-private set how webhookctl sends, but with --enqueue the workers of the service send")
	wantFailure(t, f.run("broadcast", "template_create", "--scope", "biz:biz1", "--allow-network", "10.1.0.0/33"), exitUsage,
		`--allow-network "10.1.0.0/33": want a CIDR such as 10.1.0.0/16`)
	wantFailure(t, f.run("broadcast", "template_create", "--scope", "biz:biz1", "--egress-proxy", "http://proxy-user:proxy-pass-0c1d@127.0.0.1:1"), exitUsage,
		"--egress-proxy http://proxy-user:xxxxx@127.0.0.1:1: the URL holds a password, which ps would show", "--egress-proxy-env")
}
