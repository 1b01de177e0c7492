package webhook

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"
)

// BenchmarkQueriesAtAMillion runs every query the admin UI and webhookctl
// make on a database seeded with a million outbox rows and a million
// history rows (WEBHOOK_BENCH_ROWS of each; 1000000 by default), on SQLite
// (a file in WAL mode) and, when WEBHOOK_TEST_POSTGRES_DSN is set, on
// PostgreSQL:
//
//	go test -run '^$' -bench QueriesAtAMillion -benchtime 20x .
//	scripts/with-postgres.sh go test -run '^$' -bench 'QueriesAtAMillion/postgres' -benchtime 20x .
//	WEBHOOK_BENCH_ROWS=20000 go test -run '^$' -bench QueriesAtAMillion -benchtime 5x .
//
// The seed (outside the timed part) has 300 webhooks in 50 scopes and 12
// events; the outbox is 95 % succeeded, 3 % failed, 1 % pending and 1 %
// cancelled; history is half the outbox's attempts and half broadcast
// deliveries, 10 % of the attempts failed; both spread over the last 30
// days; on PostgreSQL, vacuumed and analysed. Each sub-benchmark reports
// ms/op; a query over 2 s runs once, one over 20 s is given up (reported
// as 20000 ms/op).
func BenchmarkQueriesAtAMillion(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("WEBHOOK_BENCH_ROWS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("WEBHOOK_BENCH_ROWS=%q: want a number of rows, at least 1000", s)
		}
		n = v
	}
	b.Run("sqlite", func(b *testing.B) {
		benchQueries(b, openSQLite(b, ""), n)
	})
	if dsn := os.Getenv(postgresDSNEnv); dsn != "" {
		b.Run("postgres", func(b *testing.B) {
			benchQueries(b, openPostgres(b, dsn), n)
		})
	}
}

// Shape of the seed.
const (
	benchScopes          = 50
	benchHooksPerScope   = 6
	benchEvents          = 12
	benchSpan            = 30 * 24 * 3600   // seconds of history
	benchAdminPageRows   = 51               // the admin's page size and one row more
	benchAttemptsPerPage = 500              // the delivery page's attempts (maxAttemptsShown)
	benchSlow            = 2 * time.Second  // a query this slow runs once
	benchTimeout         = 20 * time.Second // a query this slow is given up
)

func benchQueries(b *testing.B, db *gorm.DB, n int) {
	ctx := context.Background()
	c := newClientOn(b, db, Config{})
	if err := c.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	seedMillion(b, db, n, now)
	b.Logf("%s: seeded %d outbox and %d history rows in %s", db.Dialector.Name(), n, n, time.Since(start).Round(time.Millisecond))

	// Places to page from: the first page's last row, and the middle of
	// the tables (found through the outbox's index on created_at alone).
	mid := now.Add(-benchSpan / 2 * time.Second)
	firstPage := mustDeliveries(b, c, DeliveryQuery{QueuedOnly: true, Limit: benchAdminPageRows})
	deep := mustDeliveries(b, c, DeliveryQuery{QueuedOnly: true, Until: mid, Limit: 1})
	midHistory := int64(n / 2) // history's ids are 1 to n
	sc, hook := fmt.Sprintf("s%02d", 7), fmt.Sprintf("hook%d", 1)
	detailID := firstPage[len(firstPage)/2].DeliveryID
	var sentID string
	if err := db.Raw("SELECT delivery_id FROM webhook_history WHERE id = ?", n-n%2-1).Scan(&sentID).Error; err != nil {
		b.Fatal(err)
	}
	since24h := now.Add(-24 * time.Hour)
	no, yes := false, true

	type query struct {
		name string
		fn   func(ctx context.Context) error
	}
	deliveries := func(q DeliveryQuery) func(context.Context) error {
		return func(ctx context.Context) error {
			if q.Limit == 0 {
				q.Limit = benchAdminPageRows
			}
			_, err := c.Deliveries(ctx, q)
			return err
		}
	}
	history := func(q HistoryQuery) func(context.Context) error {
		return func(ctx context.Context) error {
			if q.Limit == 0 {
				q.Limit = benchAdminPageRows
			}
			_, err := c.History(ctx, q)
			return err
		}
	}
	// pages are the first page of q and the next one, whose cursor the
	// first call reads (untimed).
	pages := func(name string, q DeliveryQuery) []query {
		q.Limit = benchAdminPageRows
		var next *DeliveryQuery
		return []query{{name, deliveries(q)}, {name + "/page2", func(ctx context.Context) error {
			if next == nil {
				ds, err := c.Deliveries(ctx, q)
				if err != nil {
					return err
				}
				if len(ds) == 0 {
					return fmt.Errorf("%s: no deliveries in the seed", name)
				}
				n := q
				n.Cursor = ds[len(ds)-1].Cursor
				next = &n
			}
			return deliveries(*next)(ctx)
		}}}
	}
	overview := []func(context.Context) error{
		func(ctx context.Context) error {
			_, err := c.HourlyHistory(ctx, since24h.Truncate(time.Hour))
			return err
		},
		func(ctx context.Context) error { _, err := c.WebhookStats(ctx, since24h); return err },
		func(ctx context.Context) error { _, err := c.Webhooks(ctx, WebhookQuery{}); return err },
		func(ctx context.Context) error { _, err := c.Health(ctx); return err },
	}
	var qs []query
	qs = append(qs, pages("deliveries", DeliveryQuery{})...)
	qs = append(qs, query{"deliveries/deep", deliveries(DeliveryQuery{Cursor: deep[0].Cursor})})
	for _, st := range []string{StatusPending, StatusSucceeded, StatusFailed, StatusCancelled} {
		qs = append(qs, pages("deliveries/status="+st, DeliveryQuery{Status: st})...)
	}
	qs = append(qs, pages("deliveries/queued", DeliveryQuery{QueuedOnly: true})...)
	qs = append(qs, query{"deliveries/queued/deep", deliveries(DeliveryQuery{QueuedOnly: true, Cursor: deep[0].Cursor})})
	qs = append(qs, pages("deliveries/queued/status=pending", DeliveryQuery{QueuedOnly: true, Status: StatusPending})...)
	qs = append(qs, pages("deliveries/queued/status=failed", DeliveryQuery{QueuedOnly: true, Status: StatusFailed})...)
	qs = append(qs, pages("deliveries/event", DeliveryQuery{EventCode: "ev03"})...)
	qs = append(qs, pages("deliveries/scope", DeliveryQuery{ScopeType: "biz", ScopeCode: sc})...)
	qs = append(qs, pages("deliveries/webhook", DeliveryQuery{ScopeType: "biz", ScopeCode: sc, WebhookCode: hook})...)
	qs = append(qs, query{"deliveries/webhook/deep", deliveries(DeliveryQuery{ScopeType: "biz", ScopeCode: sc, WebhookCode: hook, Cursor: deep[0].Cursor})})
	qs = append(qs, pages("deliveries/webhook_code", DeliveryQuery{WebhookCode: hook})...)
	qs = append(qs, pages("deliveries/webhook/status=failed", DeliveryQuery{ScopeType: "biz", ScopeCode: sc, WebhookCode: hook, Status: StatusFailed})...)
	qs = append(qs, pages("deliveries/event/status=failed", DeliveryQuery{EventCode: "ev03", Status: StatusFailed})...)
	qs = append(qs, pages("deliveries/since=24h", DeliveryQuery{Since: since24h})...)
	qs = append(qs,
		query{"deliveries/delivery_id", deliveries(DeliveryQuery{DeliveryID: detailID, Limit: 100})},
		query{"deliveries/delivery_id/sent", deliveries(DeliveryQuery{DeliveryID: sentID, Limit: 100})},
		query{"history", history(HistoryQuery{})},
		query{"history/page2", history(HistoryQuery{BeforeID: int64(n - benchAdminPageRows + 1)})},
		query{"history/deep", history(HistoryQuery{BeforeID: midHistory})},
		query{"history/newer", history(HistoryQuery{AfterID: midHistory})},
		query{"history/failures", history(HistoryQuery{Success: &no})},
		query{"history/failures/deep", history(HistoryQuery{Success: &no, BeforeID: midHistory})},
		query{"history/successes", history(HistoryQuery{Success: &yes})},
		query{"history/failures/since=24h", history(HistoryQuery{Success: &no, Since: since24h})},
		query{"history/since=24h", history(HistoryQuery{Since: since24h})},
		query{"history/status_code=500", history(HistoryQuery{StatusCode: 500})},
		query{"history/webhook", history(HistoryQuery{ScopeType: "biz", ScopeCode: sc, WebhookCode: hook})},
		query{"history/webhook/deep", history(HistoryQuery{ScopeType: "biz", ScopeCode: sc, WebhookCode: hook, BeforeID: midHistory})},
		query{"history/webhook/failures", history(HistoryQuery{ScopeType: "biz", ScopeCode: sc, WebhookCode: hook, Success: &no})},
		query{"history/webhook_code", history(HistoryQuery{WebhookCode: hook})},
		query{"history/scope", history(HistoryQuery{ScopeType: "biz", ScopeCode: sc})},
		query{"history/event", history(HistoryQuery{EventCode: "ev03"})},
		query{"history/event/failures", history(HistoryQuery{EventCode: "ev03", Success: &no})},
		query{"history/delivery_id", history(HistoryQuery{DeliveryID: detailID, Limit: benchAttemptsPerPage})},
		query{"delivery_detail", func(ctx context.Context) error {
			if err := deliveries(DeliveryQuery{DeliveryID: detailID, Limit: 100})(ctx); err != nil {
				return err
			}
			return history(HistoryQuery{DeliveryID: detailID, Limit: benchAttemptsPerPage})(ctx)
		}},
		query{"delivery_detail/sent", func(ctx context.Context) error {
			if err := deliveries(DeliveryQuery{DeliveryID: sentID, Limit: 100})(ctx); err != nil {
				return err
			}
			return history(HistoryQuery{DeliveryID: sentID, Limit: benchAttemptsPerPage})(ctx)
		}},
		query{"webhooks", overview[2]},
		query{"webhook_changes", func(ctx context.Context) error { _, err := c.WebhookChanges(ctx, WebhookChangeQuery{}); return err }},
		query{"instances", func(ctx context.Context) error { _, err := c.Instances(ctx); return err }},
		query{"overview/hourly_history", overview[0]},
		query{"overview/webhook_stats", overview[1]},
		query{"overview/health", overview[3]},
		query{"overview_total", func(ctx context.Context) error {
			// The admin overview's calls, in its order.
			for _, fn := range overview {
				if err := fn(ctx); err != nil {
					return err
				}
			}
			return nil
		}},
		query{"count_deliveries", func(ctx context.Context) error { _, err := c.CountDeliveries(ctx); return err }},
		query{"webhook_stats/7d", func(ctx context.Context) error { _, err := c.WebhookStats(ctx, now.Add(-7*24*time.Hour)); return err }},
	)
	for _, q := range qs {
		b.Run(q.name, func(b *testing.B) {
			// A first call, untimed: it warms the cache, reads what the
			// query needs (a cursor) and gives up on a query too slow to
			// measure.
			wctx, cancel := context.WithTimeout(ctx, benchTimeout)
			defer cancel()
			start := time.Now()
			err := q.fn(wctx)
			if wctx.Err() != nil {
				b.Logf("over %s: given up", benchTimeout)
				b.ReportMetric(float64(benchTimeout.Milliseconds()), "ms/op")
				return
			}
			if err != nil {
				b.Fatal(err)
			}
			if d := time.Since(start); d > benchSlow {
				// Too slow to repeat: the one call is the figure.
				b.ReportMetric(float64(d.Microseconds())/1000, "ms/op")
				return
			}
			b.ResetTimer()
			for b.Loop() {
				if err := q.fn(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}

func mustDeliveries(b *testing.B, c *Client, q DeliveryQuery) []Delivery {
	b.Helper()
	ds, err := c.Deliveries(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	if len(ds) == 0 {
		b.Fatalf("Deliveries(%+v): no deliveries in the seed", q)
	}
	return ds
}

// seedMillion writes n outbox rows and n history rows with one INSERT ...
// SELECT each, over a row generator (a recursive CTE on SQLite,
// generate_series on PostgreSQL), the webhooks, events and one live
// instance. Row i is created at now - 30 days + i × 30 days / n.
func seedMillion(b testing.TB, db *gorm.DB, n int, now time.Time) {
	b.Helper()
	startUnix := now.Unix() - benchSpan
	pg := db.Dialector.Name() == dialectPostgres
	// The SQL of each dialect for: the row generator, a timestamp at a
	// number of seconds since the Unix epoch, a formatted string.
	var gen func(n int) string
	var ts func(secs string) string
	if pg {
		gen = func(n int) string { return fmt.Sprintf("FROM generate_series(1::bigint, %d) AS g(i)", n) }
		ts = func(secs string) string { return "to_timestamp(" + secs + ")" }
	} else {
		gen = func(n int) string {
			return fmt.Sprintf("FROM (WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d) SELECT i FROM g)", n)
		}
		// The text the SQLite driver writes for a UTC time.Time of whole
		// seconds, so that the library's comparisons hold.
		ts = func(secs string) string {
			return "(strftime('%Y-%m-%d %H:%M:%S', " + secs + ", 'unixepoch') || '+00:00')"
		}
	}
	// A number on two digits.
	pad2 := func(expr string) string {
		if pg {
			return "lpad((" + expr + ")::text, 2, '0')"
		}
		return "printf('%02d', " + expr + ")"
	}
	txt := func(expr string) string {
		if pg {
			return "(" + expr + ")::text"
		}
		return "(" + expr + ")"
	}
	jsonCol := func(expr string) string { // a jsonb column on PostgreSQL
		if pg {
			return "(" + expr + ")::jsonb"
		}
		return expr
	}
	boolean := func(expr string) string {
		if pg {
			return "(" + expr + ")"
		}
		return "(CASE WHEN " + expr + " THEN 1 ELSE 0 END)"
	}
	exec := func(what, q string, args ...any) {
		start := time.Now()
		if err := db.Exec(q, args...).Error; err != nil {
			b.Fatalf("seeding %s: %v\n%s", what, err, q)
		}
		b.Logf("seeded %s in %s", what, time.Since(start).Round(time.Millisecond))
	}
	if !pg {
		exec("cache", "PRAGMA cache_size = -262144") // 256 MiB while seeding
	}
	secs := func(i string) string { return fmt.Sprintf("(%d + (%s) * %d / %d)", startUnix, i, benchSpan, n) }
	// Delivery k goes to webhook hook(k) of scope s(k), for event ev(k).
	scope := func(k string) string { return "'s' || " + pad2("("+k+") % 50") }
	hook := func(k string) string { return "'hook' || " + txt("("+k+") / 50 % 6") }
	event := func(k string) string { return "'ev' || " + pad2("("+k+") / 7 % 12") }

	// Events and webhooks.
	exec("events", "INSERT INTO webhook_event (code, name) SELECT 'ev' || "+pad2("i - 1")+", 'event ' || "+txt("i")+" "+gen(benchEvents))
	exec("webhooks", "INSERT INTO webhook_webhook (code, name, endpoint, scope_type, scope_code, extra_info, method, enable_webhook) SELECT "+
		"'hook' || "+txt("(i - 1) / 50")+", 'hook', 'https://example.com/hook', 'biz', 's' || "+pad2("(i - 1) % 50")+", '{}', 'POST', "+boolean("true")+" "+
		gen(benchScopes*benchHooksPerScope))
	if err := db.Create(&instanceRow{ID: "bench", Host: "bench", PID: 1, Version: "bench", Workers: 4, StartedAt: now.Add(-time.Hour), LastSeenAt: now}).Error; err != nil {
		b.Fatal(err)
	}

	// The outbox: r, a pseudo-random 0-999, decides the status.
	r := "((i * 7919) % 1000)"
	status := "(CASE WHEN " + r + " < 10 THEN 'pending' WHEN " + r + " < 40 THEN 'failed' WHEN " + r + " < 50 THEN 'cancelled' ELSE 'succeeded' END)"
	created := ts(secs("i"))
	exec("outbox", `INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status,
		attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at) SELECT
		'd' || `+txt("i")+`, `+event("i")+`, 'biz', `+scope("i")+`, `+hook("i")+`,
		'{"code":"' || `+event("i")+` || '","name":"event","description":"something happened","info":{"id":' || `+txt("i")+` || ',"operator":"alice"}}',
		`+status+`,
		(CASE WHEN `+r+` < 10 THEN 1 WHEN `+r+` < 40 THEN 6 WHEN `+r+` < 50 THEN 0 ELSE 1 END),
		(CASE WHEN `+r+` < 10 THEN `+ts(secs("i")+" + 3600")+` ELSE `+ts(secs("i")+" + 1")+` END),
		(CASE WHEN `+r+` < 10 THEN 503 WHEN `+r+` < 40 THEN 500 WHEN `+r+` < 50 THEN NULL ELSE 200 END),
		(CASE WHEN `+r+` < 40 THEN 'POST https://example.com/hook answered 500 Internal Server Error' END),
		`+created+`,
		(CASE WHEN `+r+` < 10 THEN NULL ELSE `+ts(secs("i")+" + 1")+` END)
		`+gen(n))

	// History: even rows are attempts of the outbox's deliveries (row i of
	// history is an attempt of delivery i/2, at about the same time), odd
	// rows broadcast deliveries of one attempt; one attempt in ten failed.
	fail := "(((i * 7907) % 100) < 10)"
	extra := `'{"request":{"url":"https://example.com/hook","method":"POST","headers":{"Content-Type":"application/json"},"json":{"event":{"code":"' || ` + event("i / 2") +
		` || '"},"delivery_id":"' || ` + txt("i") + ` || '"}},"response":{"status_code":200,"body":"{\"ok\":true}"}}'`
	exec("history", `INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code,
		extra_info, attempt, duration_us, error_message, queued) SELECT
		`+hook("i / 2")+`, `+event("i / 2")+`, `+created+`, `+boolean("NOT "+fail)+`,
		(CASE WHEN `+fail+` THEN 500 ELSE 200 END),
		(CASE WHEN i % 2 = 0 THEN 'd' || `+txt("i / 2")+` ELSE 'b' || `+txt("i")+` END),
		'biz', `+scope("i / 2")+`, `+jsonCol(extra)+`, 1, 1000 + i % 5000,
		(CASE WHEN `+fail+` THEN 'POST https://example.com/hook answered 500 Internal Server Error' END),
		`+boolean("i % 2 = 0")+`
		`+gen(n))
	if pg {
		// As autovacuum leaves tables at rest: statistics, and the
		// visibility map that index-only scans skip the heap by (the
		// VACUUM right after the load sets hint bits, the second the map).
		exec("vacuum analyze", "VACUUM ANALYZE webhook_delivery, webhook_history")
		exec("vacuum", "VACUUM webhook_delivery, webhook_history")
	} else {
		exec("checkpoint", "PRAGMA wal_checkpoint(TRUNCATE)")
	}
}
