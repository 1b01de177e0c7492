package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/gorm"
)

// A realistic database for the layout test and the documentation's
// screenshots, the same on every run: several scopes, a webhook whose
// endpoint is down (its circuit open, its queued deliveries retrying), one
// the library disabled after 50 consecutive failures, one that succeeded
// after retries, a busy hour of more than ten thousand attempts, worker
// instances alive and dead, and deliveries due that the one worker left
// has not claimed for minutes (the overview warns of it). Nothing is sent:
// rows are written as the library would write them, at fixed times.

// seedNow is the clock of the seeded database.
func seedNow() time.Time { return time.Date(2026, 12, 1, 14, 37, 12, 345_000_000, time.UTC) }

// seeded names what the layout test visits.
type seeded struct {
	// PendingID is a queued delivery to the failing webhook, retrying.
	PendingID string
	// RetriedID is a queued delivery that succeeded at its third attempt.
	RetriedID string
}

type seedHook struct {
	scope    webhook.Scope
	cfg      webhook.WebhookConfig
	events   []string
	weight   int     // share of the traffic
	failRate float64 // of its attempts before the outage
	latency  time.Duration
}

func seedHooks() []seedHook {
	eu, us := webhook.Scope{Type: "shop", Code: "eu-1"}, webhook.Scope{Type: "shop", Code: "us-1"}
	acme, globex := webhook.Scope{Type: "tenant", Code: "acme-corp"}, webhook.Scope{Type: "tenant", Code: "globex-industries"}
	return []seedHook{
		{eu, webhook.WebhookConfig{Code: "erp", Name: "ERP connector", Endpoint: "https://erp.eu.example.com/webhooks/orders",
			Auth: &webhook.Auth{Type: "bearer", Token: "seed-erp-token-not-shown"}, RetryTimes: 8},
			[]string{"order_paid", "order_refunded"}, 22, 0.02, 180 * time.Millisecond},
		{eu, webhook.WebhookConfig{Code: "crm", Name: "CRM sync", Endpoint: "https://crm.example.com/api/v2/hooks/shop-eu",
			Headers: []webhook.Header{{Key: "X-Api-Key", Value: "seed-crm-key-not-shown"}}, Ordered: true, RateLimit: 5, MaxInFlight: 2},
			[]string{webhook.AllEvents}, 18, 0.01, 95 * time.Millisecond},
		{eu, webhook.WebhookConfig{Code: "analytics", Name: "Analytics pipeline", Endpoint: "https://ingest.analytics.example.net/v1/events?source=shop-eu",
			SigningSecrets: []string{"whsec_c2VlZC1hbmFseXRpY3Mtc2lnbmluZy1rZXk="}},
			[]string{webhook.AllEvents}, 25, 0.004, 40 * time.Millisecond},
		{us, webhook.WebhookConfig{Code: "erp-us", Name: "ERP connector (US)", Endpoint: "https://erp.us.example.com/webhooks/orders",
			Auth: &webhook.Auth{Type: "bearer", Token: "seed-erp-us-token-not-shown"}},
			[]string{"order_paid", "order_refunded", "order_shipped"}, 15, 0.01, 210 * time.Millisecond},
		{us, webhook.WebhookConfig{Code: "slack", Name: "Slack #orders", Endpoint: "https://hooks.slack.example.com/services/T024BE7LD/B08QW9X2K/seed"},
			[]string{"order_paid"}, 8, 0.03, 320 * time.Millisecond},
		{acme, webhook.WebhookConfig{Code: "billing", Name: "Billing", Endpoint: "https://billing.acme-corp.example/hooks/invoices",
			Auth: &webhook.Auth{Type: "basic", Username: "webhooks", Password: "seed-billing-password-not-shown"}, RetryTimes: 5},
			[]string{"invoice_issued", "customer_created"}, 9, 0.08, 260 * time.Millisecond},
		{globex, webhook.WebhookConfig{Code: "audit-log", Name: "Audit log sink", Endpoint: "https://audit.globex-industries.example/ingest/webhooks"},
			[]string{webhook.AllEvents}, 3, 0.0, 60 * time.Millisecond},
	}
}

// seedDatabase fills a migrated database.
func seedDatabase(t *testing.T, c *webhook.Client, db *gorm.DB) seeded {
	t.Helper()
	ctx, now := context.Background(), seedNow()
	if _, err := c.SyncEventList(ctx, []webhook.Event{
		{Code: "order_paid", Name: "Order paid", Description: "A customer paid an order.", Info: map[string]any{"version": 3}},
		{Code: "order_refunded", Name: "Order refunded", Description: "An order was refunded, in part or in full."},
		{Code: "order_shipped", Name: "Order shipped", Description: "A parcel left the warehouse."},
		{Code: "customer_created", Name: "Customer created"},
		{Code: "invoice_issued", Name: "Invoice issued", Description: "An invoice was issued to a customer."},
	}, webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	hooks := seedHooks()
	byScope := map[webhook.Scope][]seedHook{}
	var scopes []webhook.Scope
	for _, h := range hooks {
		if _, ok := byScope[h.scope]; !ok {
			scopes = append(scopes, h.scope)
		}
		byScope[h.scope] = append(byScope[h.scope], h)
	}
	for _, s := range scopes {
		var cfgs []webhook.WebhookConfig
		subs := map[string][]string{}
		for _, h := range byScope[s] {
			cfgs = append(cfgs, h.cfg)
			subs[h.cfg.Code] = h.events
		}
		if err := c.ApplyScopeWebhooks(ctx, s.Type, s.Code, cfgs); err != nil {
			t.Fatal(err)
		}
		if err := c.ApplyScopeSubscriptions(ctx, s.Type, s.Code, subs); err != nil {
			t.Fatal(err)
		}
	}
	// erp's endpoint has been down for over three hours: its circuit opened
	// after 12 consecutive failures and stays open until the next probe.
	erpDown := "POST https://erp.eu.example.com/webhooks/orders answered 503 Service Unavailable"
	setCircuit(t, db, "shop", "eu-1", "erp", now.Add(-3*time.Hour-8*time.Minute), now.Add(4*time.Minute+30*time.Second), 12, 9,
		"12 consecutive failures: "+erpDown)
	execSQL(t, db, `UPDATE webhook_webhook SET consecutive_failures = 12, failing_since = ? WHERE code = 'erp' AND scope_code = 'eu-1'`, now.Add(-3*time.Hour-20*time.Minute))
	insertInstance(t, db, "7c1e5a90b3d24f6e", "web-1.shop.internal", 4121, 16, now.Add(-26*time.Hour), now.Add(-2*time.Second))
	insertInstance(t, db, "0d9f4b2c6a1e8f37", "web-2.shop.internal", 3870, 16, now.Add(-26*time.Hour), now.Add(-7*time.Minute))
	execSQL(t, db, `UPDATE webhook_instance SET history_rows = 48211 WHERE id = '7c1e5a90b3d24f6e'`)
	execSQL(t, db, `UPDATE webhook_instance SET history_rows = 51377 WHERE id = '0d9f4b2c6a1e8f37'`)

	rng := rand.New(rand.NewPCG(20261201, 1437))
	newID := func() string { return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()) }
	w := &historyWriter{t: t, db: db}
	erpDownSince := now.Add(-3*time.Hour - 20*time.Minute)
	// audit-log's endpoint went down at 05:25; the library disabled it
	// after 50 consecutive failed attempts (Config.DisableAfterFailures).
	const auditDisableAfter = 50
	auditDownSince := now.Truncate(time.Hour).Add(-9*time.Hour + 25*time.Minute)
	var auditFails int
	var auditFailingSince, auditDisabledAt time.Time

	// The last 24 hours' traffic, hour by hour, sent by Broadcast; the
	// hour of a sale has more than ten thousand attempts.
	perHour := []int{310, 240, 190, 160, 150, 180, 260, 420, 690, 880, 940, 1020, 12480, 2650, 1240, 1110, 980, 1050, 930, 860, 720, 610, 520}
	total := 0
	for _, h := range hooks {
		total += h.weight
	}
	hourStart := now.Truncate(time.Hour)
	for i, n := range perHour {
		start := hourStart.Add(time.Duration(i-len(perHour)) * time.Hour)
		for k := range n {
			at := start.Add(time.Duration(k) * time.Hour / time.Duration(n))
			pick := rng.IntN(total)
			var h seedHook
			for _, h = range hooks {
				if pick < h.weight {
					break
				}
				pick -= h.weight
			}
			if h.cfg.Code == "audit-log" && !auditDisabledAt.IsZero() { // disabled since
				continue
			}
			ok := rng.Float64() >= h.failRate
			if h.cfg.Code == "erp" && at.After(erpDownSince) {
				ok = false
			}
			status := 200
			if !ok {
				status = []int{500, 502, 503, 503, 504}[rng.IntN(5)]
			}
			a := attempt{hook: h, event: h.event(rng), id: newID(), at: at, try: 1, status: status,
				latency: h.latency/2 + time.Duration(rng.Int64N(int64(h.latency)))}
			if status == 503 && h.cfg.Code == "erp" {
				a.err = erpDown
			}
			if h.cfg.Code == "audit-log" && at.After(auditDownSince) {
				a.status = 502
				if auditFails++; auditFails == 1 {
					auditFailingSince = at
				}
				if auditFails == auditDisableAfter {
					auditDisabledAt = at.Add(a.latency)
				}
			}
			w.add(a)
		}
	}

	if auditDisabledAt.IsZero() {
		t.Fatalf("audit-log failed %d times, not the %d that disable it", auditFails, auditDisableAfter)
	}
	execSQL(t, db, `UPDATE webhook_webhook SET enable_webhook = ?, disabled_reason = ?, disabled_at = ?, consecutive_failures = ?, failing_since = ?
		WHERE scope_type = 'tenant' AND scope_code = 'globex-industries' AND code = 'audit-log'`,
		false, fmt.Sprintf("disabled after %d consecutive failed attempts", auditDisableAfter), auditDisabledAt.UTC(), auditDisableAfter, auditFailingSince.UTC())

	// The hour so far, in detail: what an operator looks at.
	var s seeded
	for k := 0; k < 60; k++ {
		at := hourStart.Add(time.Duration(k) * (now.Sub(hourStart) - time.Minute) / 60)
		h := hooks[1+rng.IntN(len(hooks)-2)] // erp's are queued, below; audit-log is disabled
		status := []int{200, 200, 200, 202, 204}[rng.IntN(5)]
		a := attempt{hook: h, event: h.event(rng), id: newID(), at: at, try: 1, status: status,
			latency: h.latency/2 + time.Duration(rng.Int64N(int64(h.latency)))}
		if h.cfg.Code == "billing" && k%9 == 0 {
			a.status, a.err = 422, "POST https://billing.acme-corp.example/hooks/invoices answered 422 Unprocessable Entity"
			a.body = `{"error":"unknown customer","customer_id":"c-88213"}`
		}
		w.add(a.detailed())
	}
	// erp's queued deliveries: retrying while its endpoint is down.
	erp := hooks[0]
	for k := range 6 {
		id := newID()
		created := now.Add(-time.Duration(38-6*k) * time.Minute)
		tries := 5 - k/2
		for try := 1; try <= tries; try++ {
			a := attempt{hook: erp, event: "order_paid", id: id, at: created.Add(time.Duration(try*try) * 45 * time.Second), try: try, queued: true,
				status: 503, err: erpDown, body: `{"error":"maintenance","retry_after":120}`, latency: 1200*time.Millisecond + time.Duration(try)*37*time.Millisecond}
			if try == 2 {
				a.status, a.err, a.body, a.latency = 0, `Post "https://erp.eu.example.com/webhooks/orders": dial tcp 203.0.113.41:443: i/o timeout`, "", 10*time.Second
			}
			w.add(a.detailed())
		}
		last := int64(503)
		w.outbox(outboxRow{id: id, hook: erp, event: "order_paid", status: webhook.StatusPending, attempts: tries,
			next: now.Add(time.Duration(90+60*k) * time.Second), lastStatus: &last, lastErr: erpDown, created: created})
		if k == 0 {
			s.PendingID = id
		}
	}
	// Five queued deliveries to analytics, due for minutes: web-2 stopped
	// beating seven minutes ago and web-1 has not claimed them yet.
	analytics := hooks[2]
	for k := range 5 {
		created := now.Add(-3*time.Minute - 40*time.Second + time.Duration(k)*35*time.Second)
		w.outbox(outboxRow{id: newID(), hook: analytics, event: []string{"order_paid", "order_shipped"}[k%2], status: webhook.StatusPending,
			next: created, created: created})
	}
	// A queued delivery to crm that succeeded at its third attempt.
	crm := hooks[1]
	s.RetriedID = newID()
	created := now.Add(-52 * time.Minute)
	for try, st := range []int{500, 429, 200} {
		a := attempt{hook: crm, event: "order_refunded", id: s.RetriedID, at: created.Add(time.Duration(try*try) * time.Minute), try: try + 1, queued: true,
			status: st, latency: time.Duration(140+try*30) * time.Millisecond}
		switch st {
		case 500:
			a.err, a.body = "POST https://crm.example.com/api/v2/hooks/shop-eu answered 500 Internal Server Error", `{"error":"internal"}`
		case 429:
			a.err, a.body = "POST https://crm.example.com/api/v2/hooks/shop-eu answered 429 Too Many Requests (Retry-After 60)", `{"error":"rate limited"}`
		}
		w.add(a.detailed())
	}
	finished := created.Add(4*time.Minute + 200*time.Millisecond)
	ok := int64(200)
	w.outbox(outboxRow{id: s.RetriedID, hook: crm, event: "order_refunded", status: webhook.StatusSucceeded, attempts: 3,
		next: finished, lastStatus: &ok, created: created, finished: &finished})
	// One to billing that ran out of retries yesterday.
	billing := hooks[5]
	failedID := newID()
	fcreated := now.Add(-20 * time.Hour)
	bad := int64(422)
	for try := 1; try <= 6; try++ {
		w.add(attempt{detail: true, hook: billing, event: "invoice_issued", id: failedID, at: fcreated.Add(time.Duration(try*try) * 2 * time.Minute), try: try, queued: true,
			status: 422, err: "POST https://billing.acme-corp.example/hooks/invoices answered 422 Unprocessable Entity",
			body: `{"error":"invoice already exists","invoice":"INV-2026-11873"}`, latency: 230 * time.Millisecond})
	}
	ffinished := fcreated.Add(72 * time.Minute)
	w.outbox(outboxRow{id: failedID, hook: billing, event: "invoice_issued", status: webhook.StatusFailed, attempts: 6,
		next: ffinished, lastStatus: &bad, lastErr: "POST https://billing.acme-corp.example/hooks/invoices answered 422 Unprocessable Entity",
		created: fcreated, finished: &ffinished})
	w.flush()
	return s
}

// event picks one of the events the webhook subscribes to.
func (h seedHook) event(rng *rand.Rand) string {
	evs := h.events
	if evs[0] == webhook.AllEvents {
		evs = []string{"order_paid", "order_paid", "order_shipped", "order_refunded", "customer_created", "invoice_issued"}
	}
	return evs[rng.IntN(len(evs))]
}

// attempt is one history row to write.
type attempt struct {
	detail  bool // with the request and response in full, else a short record
	hook    seedHook
	event   string
	id      string
	at      time.Time
	try     int
	queued  bool
	status  int // 0: no response
	err     string
	body    string // the response's
	latency time.Duration
}

// detailed returns a with its request and response in full.
func (a attempt) detailed() attempt {
	a.detail = true
	return a
}

// historyWriter collects history rows and writes them in time order (as
// the library would have, ids growing with time), in multi-row INSERTs,
// and writes outbox rows.
type historyWriter struct {
	t    *testing.T
	db   *gorm.DB
	rows []attempt
}

func (w *historyWriter) add(a attempt) { w.rows = append(w.rows, a) }

func (w *historyWriter) flush() {
	w.t.Helper()
	slices.SortStableFunc(w.rows, func(a, b attempt) int { return a.at.Compare(b.at) })
	for len(w.rows) > 0 {
		n := min(len(w.rows), 400)
		w.insert(w.rows[:n])
		w.rows = w.rows[n:]
	}
}

func (w *historyWriter) insert(rows []attempt) {
	w.t.Helper()
	var sb strings.Builder
	sb.WriteString("INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt, duration_us, error_message, queued) VALUES ")
	args := make([]any, 0, len(rows)*13)
	for i, a := range rows {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
		ok := a.status >= 200 && a.status < 300
		var status, errMsg any
		if a.status != 0 {
			status = a.status
		}
		if !ok {
			msg := a.err
			if msg == "" {
				msg = fmt.Sprintf("%s %s answered %d %s", "POST", a.hook.cfg.Endpoint, a.status, statusText(a.status))
			}
			errMsg = msg
		}
		args = append(args, a.hook.cfg.Code, a.event, a.at.UTC(), ok, status, a.id, a.hook.scope.Type, a.hook.scope.Code,
			w.extraInfo(a), a.try, a.latency.Microseconds(), errMsg, a.queued)
	}
	execSQL(w.t, w.db, sb.String(), args...)
}

// extraInfo is the request and response of an attempt as the library
// records them, credentials redacted.
func (w *historyWriter) extraInfo(a attempt) string {
	req := map[string]any{"url": a.hook.cfg.Endpoint, "method": "POST"}
	if !a.detail {
		b, _ := json.Marshal(map[string]any{"request": req})
		return string(b)
	}
	body := map[string]any{
		"event": map[string]any{"code": a.event, "name": eventName(a.event),
			"info": map[string]any{"order_id": fmt.Sprintf("o-%d", 100000+a.at.Unix()%90000), "amount": 129.90, "currency": "EUR", "version": 3}},
		"delivery_id": a.id,
	}
	rawBody, _ := json.Marshal(body)
	headers := map[string]string{
		"Content-Type": "application/json", "User-Agent": webhook.UserAgent,
		"Webhook-Id": a.id, "Webhook-Timestamp": fmt.Sprint(a.at.Unix()),
		"Webhook-Signature": "v1," + strings.Repeat("Zm9vYmFy", 5) + "c2lnbmF0dXJl=",
	}
	if auth := a.hook.cfg.Auth; auth != nil {
		headers["Authorization"] = map[string]string{"bearer": "Bearer", "basic": "Basic"}[auth.Type] + " [REDACTED]"
	}
	for _, h := range a.hook.cfg.Headers {
		headers[h.Key] = "[REDACTED]"
	}
	req["headers"] = headers
	req["json"] = json.RawMessage(rawBody)
	req["timeout"] = 10
	req["verify"] = true
	info := map[string]any{"request": req}
	if a.status != 0 {
		rb := a.body
		if rb == "" {
			rb = `{"received":true}`
		}
		rh := map[string]string{"Content-Type": "application/json", "Date": a.at.Add(a.latency).UTC().Format(time.RFC1123)}
		if a.status == 503 || a.status == 429 {
			rh["Retry-After"] = "120"
		}
		info["response"] = map[string]any{"status_code": a.status, "headers": rh, "body": rb}
	}
	b, err := json.Marshal(info)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

func eventName(code string) string {
	return map[string]string{"order_paid": "Order paid", "order_refunded": "Order refunded", "order_shipped": "Order shipped",
		"customer_created": "Customer created", "invoice_issued": "Invoice issued"}[code]
}

func statusText(code int) string {
	return map[int]string{500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[code]
}

// outboxRow is a queued delivery to write.
type outboxRow struct {
	id         string
	hook       seedHook
	event      string
	status     string
	attempts   int
	next       time.Time
	lastStatus *int64
	lastErr    string
	created    time.Time
	finished   *time.Time
}

func (w *historyWriter) outbox(o outboxRow) {
	w.t.Helper()
	var lastErr any
	if o.lastErr != "" {
		lastErr = o.lastErr
	}
	var finished any
	if o.finished != nil {
		finished = o.finished.UTC()
	}
	payload, _ := json.Marshal(map[string]any{"code": o.event, "name": eventName(o.event)})
	execSQL(w.t, w.db, `INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, o.id, o.event, o.hook.scope.Type, o.hook.scope.Code, o.hook.cfg.Code, string(payload), o.status, o.attempts,
		o.next.UTC(), o.lastStatus, lastErr, o.created.UTC(), finished)
}

func execSQL(t *testing.T, db *gorm.DB, sql string, args ...any) {
	t.Helper()
	if err := db.Exec(sql, args...).Error; err != nil {
		t.Fatalf("seeding: %v\n%.200s", err, sql)
	}
}
