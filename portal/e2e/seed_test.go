package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/gorm"
)

// A customer's scope as the layout test and the screenshots show it, the
// same on every run: an endpoint whose server is down (its circuit open,
// its queued deliveries retrying), two healthy ones, a disabled one, and a
// day of deliveries. Nothing is sent: rows are written as the library
// would write them, at fixed times.

// seedNow is the clock of the seeded database.
func seedNow() time.Time { return time.Date(2026, 12, 1, 14, 37, 12, 345_000_000, time.UTC) }

var (
	shop  = webhook.Scope{Type: "shop", Code: "eu-1"}
	other = webhook.Scope{Type: "shop", Code: "us-1"}
)

// seeded names what the layout test visits.
type seeded struct {
	// FailingID is a queued delivery to the failing endpoint, retrying.
	FailingID string
}

type seedHook struct {
	cfg     webhook.WebhookConfig
	events  []string
	latency time.Duration
}

func seedHooks() []seedHook {
	return []seedHook{
		{webhook.WebhookConfig{Code: "erp", Name: "ERP connector", Endpoint: "https://erp.eu.example.com/webhooks/orders",
			Auth: &webhook.Auth{Type: "bearer", Token: "seed-erp-token-not-shown"}, SigningSecrets: []string{"whsec_c2VlZC1lcnAtc2lnbmluZy1rZXktbm90LXNob3du"}},
			[]string{"order_paid", "order_refunded"}, 180 * time.Millisecond},
		{webhook.WebhookConfig{Code: "crm", Name: "CRM sync", Endpoint: "https://crm.example.com/api/v2/hooks/shop-eu",
			Headers: []webhook.Header{{Key: "X-Api-Key", Value: "seed-crm-key-not-shown"}}},
			[]string{webhook.AllEvents}, 95 * time.Millisecond},
		{webhook.WebhookConfig{Code: "analytics", Name: "Analytics pipeline", Endpoint: "https://ingest.analytics.example.net/v1/events?source=shop-eu",
			SigningSecrets: []string{"whsec_c2VlZC1hbmFseXRpY3Mtc2lnbmluZy1rZXk="}},
			[]string{"order_paid", "order_shipped", "customer_created"}, 40 * time.Millisecond},
		{webhook.WebhookConfig{Code: "slack", Name: "Slack #orders", Endpoint: "https://hooks.slack.example.com/services/T024BE7LD/B08QW9X2K/seed", Disabled: true},
			[]string{"order_paid"}, 320 * time.Millisecond},
	}
}

// seedEvents is the catalog, in English or Chinese.
func seedEvents(chinese bool) []webhook.Event {
	if chinese {
		return []webhook.Event{
			{Code: "customer_created", Name: "新客户注册", Description: "有新客户完成了注册。"},
			{Code: "invoice_issued", Name: "发票已开具", Description: "已向客户开具发票。"},
			{Code: "order_paid", Name: "订单已支付", Description: "客户完成了订单付款。"},
			{Code: "order_refunded", Name: "订单已退款", Description: "订单已部分或全部退款。"},
			{Code: "order_shipped", Name: "订单已发货", Description: "包裹已离开仓库。"},
		}
	}
	return []webhook.Event{
		{Code: "customer_created", Name: "Customer created", Description: "A customer signed up."},
		{Code: "invoice_issued", Name: "Invoice issued", Description: "An invoice was issued to a customer."},
		{Code: "order_paid", Name: "Order paid", Description: "A customer paid an order."},
		{Code: "order_refunded", Name: "Order refunded", Description: "An order was refunded, in part or in full."},
		{Code: "order_shipped", Name: "Order shipped", Description: "A parcel left the warehouse."},
	}
}

// seedDatabase fills a migrated database.
func seedDatabase(t *testing.T, c *webhook.Client, db *gorm.DB, chinese bool) seeded {
	t.Helper()
	ctx, now := context.Background(), seedNow()
	if _, err := c.SyncEventList(ctx, seedEvents(chinese), webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	hooks := seedHooks()
	var cfgs []webhook.WebhookConfig
	subs := map[string][]string{}
	for _, h := range hooks {
		cfgs = append(cfgs, h.cfg)
		subs[h.cfg.Code] = h.events
	}
	if err := c.ApplyScopeWebhooks(ctx, shop.Type, shop.Code, cfgs); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, shop.Type, shop.Code, subs); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, other.Type, other.Code, []webhook.WebhookConfig{
		{Code: "erp-us", Name: "Another customer's ERP", Endpoint: "https://erp.us.example.com/webhooks/orders"},
	}); err != nil {
		t.Fatal(err)
	}
	// erp's server has been down for over three hours: its circuit opened
	// after 12 consecutive failures.
	erpDown := "POST https://erp.eu.example.com/webhooks/orders answered 503 Service Unavailable"
	execSQL(t, db, `UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?, circuit_failures = 12, circuit_probes = 9, circuit_reason = ?,
		consecutive_failures = 12, failing_since = ? WHERE scope_code = 'eu-1' AND code = 'erp'`,
		now.Add(4*time.Minute+30*time.Second).UTC(), now.Add(-3*time.Hour-8*time.Minute).UTC(), "12 consecutive failures: "+erpDown, now.Add(-3*time.Hour-20*time.Minute).UTC())

	rng := rand.New(rand.NewPCG(20261201, 1437))
	newID := func() string { return fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()) }
	erpDownSince := now.Add(-3*time.Hour - 20*time.Minute)
	// The last 24 hours: one delivery every 20 minutes to each endpoint
	// that subscribes to the event, sent by Broadcast.
	events := []string{"order_paid", "order_paid", "order_shipped", "order_refunded", "customer_created"}
	for k := 0; k < 72; k++ {
		at := now.Add(-24*time.Hour + time.Duration(k)*20*time.Minute + time.Duration(rng.IntN(600))*time.Second)
		ev := events[rng.IntN(len(events))]
		for _, h := range hooks[:3] {
			if h.events[0] != webhook.AllEvents && !contains(h.events, ev) {
				continue
			}
			status := 200
			if h.cfg.Code == "erp" && at.After(erpDownSince) {
				continue // its deliveries are queued, below
			}
			if rng.IntN(40) == 0 {
				status = 502
			}
			writeAttempt(t, db, h, attempt{event: ev, id: newID(), at: at, try: 1, status: status,
				latency: h.latency/2 + time.Duration(rng.Int64N(int64(h.latency)))})
		}
	}
	// erp's queued deliveries: retrying while its server is down.
	var s seeded
	for k := range 5 {
		id := newID()
		created := now.Add(-time.Duration(190-35*k) * time.Minute)
		tries := 5 - k/2
		for try := 1; try <= tries; try++ {
			a := attempt{event: "order_paid", id: id, at: created.Add(time.Duration(try*try) * 45 * time.Second), try: try, queued: true,
				status: 503, err: erpDown, body: `{"error":"maintenance","retry_after":120}`, latency: 1200*time.Millisecond + time.Duration(try)*37*time.Millisecond}
			if try == 2 {
				a.status, a.err, a.body, a.latency = 0, `Post "https://erp.eu.example.com/webhooks/orders": dial tcp 203.0.113.41:443: i/o timeout`, "", 10*time.Second
			}
			writeAttempt(t, db, hooks[0], a)
		}
		payload, _ := json.Marshal(map[string]any{"code": "order_paid", "name": "Order paid"})
		execSQL(t, db, `INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, id, "order_paid", shop.Type, shop.Code, "erp", string(payload), webhook.StatusPending, tries,
			now.Add(time.Duration(90+60*k)*time.Second).UTC(), 503, erpDown, created.UTC())
		if k == 4 {
			s.FailingID = id
		}
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// attempt is one history row to write.
type attempt struct {
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

// writeAttempt writes a history row as the library records it,
// credentials redacted.
func writeAttempt(t *testing.T, db *gorm.DB, h seedHook, a attempt) {
	t.Helper()
	ok := a.status >= 200 && a.status < 300
	var status, errMsg any
	if a.status != 0 {
		status = a.status
	}
	if !ok {
		if a.err == "" {
			a.err = fmt.Sprintf("POST %s answered %d", h.cfg.Endpoint, a.status)
		}
		errMsg = a.err
	}
	body, _ := json.Marshal(map[string]any{
		"event":       map[string]any{"code": a.event, "info": map[string]any{"order_id": fmt.Sprintf("o-%d", 100000+a.at.Unix()%90000), "amount": 129.90, "currency": "EUR"}},
		"delivery_id": a.id,
	})
	headers := map[string]string{
		"Content-Type": "application/json", "User-Agent": webhook.UserAgent,
		"Webhook-Id": a.id, "Webhook-Timestamp": fmt.Sprint(a.at.Unix()),
	}
	if len(h.cfg.SigningSecrets) > 0 {
		headers["Webhook-Signature"] = "v1," + strings.Repeat("Zm9vYmFy", 5) + "c2lnbmF0dXJl="
	}
	if auth := h.cfg.Auth; auth != nil {
		headers["Authorization"] = "Bearer [REDACTED]"
	}
	for _, hd := range h.cfg.Headers {
		headers[hd.Key] = "[REDACTED]"
	}
	info := map[string]any{"request": map[string]any{"url": h.cfg.Endpoint, "method": "POST", "headers": headers, "json": json.RawMessage(body), "timeout": 10, "verify": true}}
	if a.status != 0 {
		rb := a.body
		if rb == "" {
			rb = `{"received":true}`
		}
		info["response"] = map[string]any{"status_code": a.status, "body": rb,
			"headers": map[string]string{"Content-Type": "application/json", "Date": a.at.Add(a.latency).UTC().Format(time.RFC1123)}}
	}
	extra, _ := json.Marshal(info)
	execSQL(t, db, `INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt, duration_us, error_message, queued)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, h.cfg.Code, a.event, a.at.UTC(), ok, status, a.id, shop.Type, shop.Code, string(extra), a.try, a.latency.Microseconds(), errMsg, a.queued)
}
