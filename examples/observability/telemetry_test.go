package main

// The library's metrics and spans, read with the SDK's in-memory reader and
// span recorder, on SQLite and (with WEBHOOK_TEST_POSTGRES_DSN) PostgreSQL.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testEvents = `
version: 1
events:
  - code: order_paid
    name: Order paid
  - code: order_shipped
    name: Order shipped
`

// databases returns the databases to run on: SQLite always, PostgreSQL
// when its DSN is set (and required when WEBHOOK_TEST_REQUIRE_POSTGRES=1).
func databases(t *testing.T) map[string]func(t *testing.T) *gorm.DB {
	dbs := map[string]func(t *testing.T) *gorm.DB{"sqlite": openSQLite}
	if dsn := os.Getenv("WEBHOOK_TEST_POSTGRES_DSN"); dsn != "" {
		dbs["postgres"] = func(t *testing.T) *gorm.DB { return openPostgres(t, dsn) }
	} else if os.Getenv("WEBHOOK_TEST_REQUIRE_POSTGRES") == "1" {
		t.Fatal("WEBHOOK_TEST_REQUIRE_POSTGRES=1 but WEBHOOK_TEST_POSTGRES_DSN is not set: run under scripts/with-postgres.sh")
	}
	return dbs
}

func openSQLite(t *testing.T) *gorm.DB {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := gorm.Open(sqlite.Open(path+"?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxIdleConns(8)
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// openPostgres creates a database of its own and drops it at the end.
func openPostgres(t *testing.T, adminDSN string) *gorm.DB {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "otel_test_" + hex.EncodeToString(b[:])
	admin, err := gorm.Open(postgres.Open(adminDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	adminSQL, _ := admin.DB()
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		adminSQL.Close()
	})
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// observed is a client with its own in-memory metric reader and span
// recorder.
type observed struct {
	c      *webhook.Client
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	logs   *syncBuffer
}

func newObserved(t *testing.T, db *gorm.DB, cfg webhook.Config) *observed {
	o := &observed{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), logs: &syncBuffer{}}
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	cfg.PrivateSecret = "telemetry tests: a long random secret"
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader))
	cfg.TracerProvider = o.tp
	cfg.Logger = slog.New(slog.NewJSONHandler(o.logs, nil))
	c, err := webhook.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.c = c
	return o
}

// collect returns the metrics gathered so far, by name.
func (o *observed) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// value sums the data points of a counter, gauge or histogram (its count)
// whose attributes include want. A metric not recorded is an error.
func value(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) float64 {
	t.Helper()
	v, ok := sum(t, ms, name, want...)
	if !ok {
		t.Errorf("no metric %s", name)
		return -1
	}
	return v
}

// current is value for a condition polled until it holds: a metric not
// recorded yet (a counter before its first add) counts 0.
func current(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) float64 {
	t.Helper()
	v, _ := sum(t, ms, name, want...)
	return v
}

// sum is value's sum, and whether the metric was recorded at all.
func sum(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) (float64, bool) {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return 0, false
	}
	has := func(set attribute.Set) bool {
		for _, kv := range want {
			if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
				return false
			}
		}
		return true
	}
	var total float64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes) {
				total += float64(p.Value)
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes) {
				total += float64(p.Value)
			}
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes) {
				total += p.Value
			}
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if has(p.Attributes) {
				total += float64(p.Count)
			}
		}
	default:
		t.Fatalf("%s: unexpected data %T", name, m.Data)
	}
	return total, true
}

// wantValue checks value(name, attrs) == want.
func wantValue(t *testing.T, ms map[string]metricdata.Metrics, want float64, name string, attrs ...attribute.KeyValue) {
	t.Helper()
	if got := value(t, ms, name, attrs...); got != want {
		t.Errorf("%s%v = %v, want %v", name, attrs, got, want)
	}
}

// receiver records the traceparent header of each request and answers 500
// on /down.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	parents map[string][]string // path → traceparent headers
	hold    chan struct{}       // /slow waits on it
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{parents: map[string][]string{}, hold: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.parents[req.URL.Path] = append(r.parents[req.URL.Path], req.Header.Get("traceparent"))
		r.mu.Unlock()
		switch req.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusInternalServerError)
		case "/slow":
			select {
			case <-r.hold:
			case <-time.After(10 * time.Second):
			}
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) traceparents(path string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.parents[path]...)
}

func setupWebhooks(t *testing.T, c *webhook.Client, hooks []webhook.WebhookConfig) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(testEvents), webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "shop", "s1", hooks); err != nil {
		t.Fatal(err)
	}
	subs := map[string][]string{}
	for _, h := range hooks {
		subs[h.Code] = []string{webhook.AllEvents}
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "s1", subs); err != nil {
		t.Fatal(err)
	}
}

func noRetry(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
	return false, 0
}

func stop(t *testing.T, c *webhook.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// waitFor polls cond every 20 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func spanNamed(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func TestTelemetry(t *testing.T) {
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("Broadcast", func(t *testing.T) { testBroadcastTelemetry(t, open(t)) })
			t.Run("EnqueueLinksToAnotherInstance", func(t *testing.T) { testEnqueueTelemetry(t, open(t)) })
			t.Run("Gauges", func(t *testing.T) { testGauges(t, open(t)) })
			t.Run("Options", func(t *testing.T) { testTelemetryOptions(t, open(t)) })
		})
	}
}

// testBroadcastTelemetry: a broadcast to a webhook that answers and one
// that fails is a span with a client span per attempt, whose traceparent
// the receivers got; it counts attempts, deliveries and their latency, the
// broadcast's duration and the HTTP requests; the log line of each attempt
// has its trace id; a history write failure is counted.
func testBroadcastTelemetry(t *testing.T, db *gorm.DB) {
	rcv := newReceiver(t)
	o := newObserved(t, db, webhook.Config{RetryPolicy: noRetry, CircuitBreakAfter: 1, DisableAfterFailures: 1})
	setupWebhooks(t, o.c, []webhook.WebhookConfig{
		{Code: "erp", Name: "ERP", Endpoint: rcv.URL + "/erp"},
		{Code: "crm", Name: "CRM", Endpoint: rcv.URL + "/down"},
	})
	ctx, parent := o.tp.Tracer("app").Start(context.Background(), "checkout")
	res, err := o.c.Broadcast(ctx, "order_paid", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil)
	parent.End()
	if err != nil || len(res.Deliveries) != 2 || len(res.Failed()) != 1 {
		t.Fatalf("Broadcast: %+v %v", res, err)
	}

	ms := o.collect(t)
	host := attribute.String("server.address", "127.0.0.1")
	wantValue(t, ms, 1, "http.client.request.duration", attribute.String("http.request.method", "POST"), attribute.Int("http.response.status_code", 200), host)
	wantValue(t, ms, 1, "http.client.request.duration", attribute.Int("http.response.status_code", 500), attribute.String("error.type", "500"), host)
	wantValue(t, ms, 0, "http.client.active_requests")
	wantValue(t, ms, 1, "webhook.attempts", attribute.String("webhook.outcome", "succeeded"), attribute.Bool("webhook.queued", false))
	wantValue(t, ms, 1, "webhook.attempts", attribute.String("webhook.outcome", "failed"), attribute.String("webhook.event", "order_paid"))
	wantValue(t, ms, 1, "webhook.deliveries", attribute.String("webhook.outcome", "succeeded"), attribute.String("webhook.scope.type", "shop"))
	wantValue(t, ms, 1, "webhook.deliveries", attribute.String("webhook.outcome", "failed"))
	wantValue(t, ms, 1, "webhook.delivery.duration", attribute.Bool("webhook.queued", false))
	wantValue(t, ms, 1, "webhook.broadcast.duration", attribute.String("webhook.event", "order_paid"), attribute.String("webhook.outcome", "failed"))
	wantValue(t, ms, 1, "webhook.circuit.changes", attribute.String("webhook.circuit.state", "open"))
	wantValue(t, ms, 1, "webhook.auto_disables", attribute.String("webhook.scope.type", "shop"))
	// Low cardinality by default: no webhook or scope code.
	for _, m := range []string{"webhook.deliveries", "webhook.attempts"} {
		if value(t, ms, m, attribute.String("webhook.code", "erp")) != 0 {
			t.Errorf("%s carries webhook.code without MetricWebhookAttributes", m)
		}
	}

	spans := o.spans.Ended()
	bs := spanNamed(spans, "webhook.Broadcast")
	posts := spanNamed(spans, "POST")
	if len(bs) != 1 || len(posts) != 2 {
		t.Fatalf("spans: %d Broadcast, %d POST", len(bs), len(posts))
	}
	if bs[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("the Broadcast span is not a child of the caller's span")
	}
	for _, p := range posts {
		if p.Parent().SpanID() != bs[0].SpanContext().SpanID() || p.SpanKind() != trace.SpanKindClient {
			t.Errorf("attempt span %v is not a client span under the Broadcast span", p.Attributes())
		}
		path := "/erp"
		if attr(p, "webhook.code").AsString() == "crm" {
			path = "/down"
			if attr(p, "error.type").AsString() != "500" || p.Status().Code.String() != "Error" {
				t.Errorf("the failed attempt's span: %v %v", p.Attributes(), p.Status())
			}
		}
		tp := rcv.traceparents(path)
		want := "00-" + p.SpanContext().TraceID().String() + "-" + p.SpanContext().SpanID().String() + "-01"
		if len(tp) != 1 || tp[0] != want {
			t.Errorf("%s got traceparent %q, want the attempt span's %q", path, tp, want)
		}
		for _, k := range []attribute.Key{"http.request.method", "url.full", "server.address", "server.port", "webhook.delivery_id", "webhook.attempt"} {
			if attr(p, k).Type() == attribute.EMPTY {
				t.Errorf("attempt span lacks %s", k)
			}
		}
	}
	// History keeps the traceparent with the other request headers.
	hist, err := o.c.History(context.Background(), webhook.HistoryQuery{WebhookCode: "erp"})
	if err != nil || len(hist) != 1 || hist[0].Request.Header["Traceparent"] == "" && hist[0].Request.Header["traceparent"] == "" {
		t.Errorf("history of erp: %+v %v", hist, err)
	}
	// The log lines keep their shape and gain the trace id.
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(o.logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "webhook: delivery attempt" {
			continue
		}
		found = true
		if rec["trace_id"] != parent.SpanContext().TraceID().String() || rec["delivery_id"] == nil {
			t.Errorf("attempt log line: %s", line)
		}
	}
	if !found {
		t.Error("no attempt log line")
	}

	// A history write that fails is counted.
	if err := db.Exec("ALTER TABLE webhook_history RENAME TO webhook_history_away").Error; err != nil {
		t.Fatal(err)
	}
	res, err = o.c.Broadcast(context.Background(), "order_shipped", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil)
	if err != nil || res.HistoryErr == nil {
		t.Fatalf("Broadcast without a history table: %v, HistoryErr %v", err, res.HistoryErr)
	}
	wantValue(t, o.collect(t), 1, "webhook.history.write_failures", attribute.Bool("webhook.queued", false))
}

// testEnqueueTelemetry: an enqueue in the caller's span, sent by the
// workers of another client (another instance): the attempt's span links
// to the enqueue span; the enqueue and the outcome are counted by the
// instance that did each.
func testEnqueueTelemetry(t *testing.T, db *gorm.DB) {
	rcv := newReceiver(t)
	producer := newObserved(t, db, webhook.Config{})
	setupWebhooks(t, producer.c, []webhook.WebhookConfig{{Code: "erp", Name: "ERP", Endpoint: rcv.URL + "/erp"}})
	ctx, parent := producer.tp.Tracer("app").Start(context.Background(), "checkout")
	err := db.Transaction(func(tx *gorm.DB) error {
		_, err := producer.c.EnqueueTx(ctx, tx, "order_paid", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil)
		return err
	})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	enq := spanNamed(producer.spans.Ended(), "webhook.EnqueueTx")
	if len(enq) != 1 || enq[0].Parent().SpanID() != parent.SpanContext().SpanID() || enq[0].SpanKind() != trace.SpanKindProducer {
		t.Fatalf("EnqueueTx spans: %d", len(enq))
	}
	wantValue(t, producer.collect(t), 1, "webhook.enqueued", attribute.String("webhook.event", "order_paid"), attribute.Bool("webhook.queued", true))

	worker := newObserved(t, db, webhook.Config{})
	if err := worker.c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stop(t, worker.c)
	waitFor(t, "the attempt span", func() bool { return len(spanNamed(worker.spans.Ended(), "POST")) == 1 })
	post := spanNamed(worker.spans.Ended(), "POST")[0]
	links := post.Links()
	if len(links) != 1 || links[0].SpanContext.SpanID() != enq[0].SpanContext().SpanID() || links[0].SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("the worker's attempt span links to %v, want the EnqueueTx span %v", links, enq[0].SpanContext())
	}
	if post.Parent().IsValid() {
		t.Error("the worker's attempt span has a parent: it should start a trace of its own, linked")
	}
	waitFor(t, "the delivery's outcome", func() bool {
		return current(t, worker.collect(t), "webhook.deliveries", attribute.String("webhook.outcome", "succeeded")) == 1
	})
	ms := worker.collect(t)
	wantValue(t, ms, 1, "webhook.delivery.duration", attribute.Bool("webhook.queued", true))
	wantValue(t, ms, 1, "webhook.attempts", attribute.String("webhook.outcome", "succeeded"), attribute.Bool("webhook.queued", true))
	tp := rcv.traceparents("/erp")
	if len(tp) != 1 || !strings.Contains(tp[0], post.SpanContext().SpanID().String()) {
		t.Errorf("the receiver got traceparent %q, want the worker's attempt span", tp)
	}
}

// testGauges: the outbox gauges, read while the workers run, follow the
// database: a failed delivery, a pending one waiting for a retry, due ones
// held back by an open circuit; requests in flight are counted.
func testGauges(t *testing.T, db *gorm.DB) {
	rcv := newReceiver(t)
	retryLater := func(attempt int, _ *webhook.WebhookConfig, _ *webhook.AttemptResult, _ time.Duration) (bool, time.Duration) {
		return true, time.Hour
	}
	o := newObserved(t, db, webhook.Config{RetryPolicy: retryLater, CircuitBreakAfter: 1, CircuitProbeInterval: time.Hour, CircuitMaxProbeInterval: time.Hour})
	setupWebhooks(t, o.c, []webhook.WebhookConfig{
		{Code: "crm", Name: "CRM", Endpoint: rcv.URL + "/down"},
		{Code: "slow", Name: "Slow", Endpoint: rcv.URL + "/slow"},
	})
	ctx := context.Background()
	if _, err := o.c.Enqueue(ctx, "order_paid", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stop(t, o.c)
	defer close(rcv.hold)
	// crm answers 500: its circuit opens, its delivery waits an hour.
	waitFor(t, "the open circuit and the request in flight", func() bool {
		ms := o.collect(t)
		return current(t, ms, "webhook.circuits.open") == 1 && current(t, ms, "http.client.active_requests") == 1
	})
	// Due deliveries for crm now wait behind its open circuit.
	for range 2 {
		if _, err := o.c.Enqueue(ctx, "order_shipped", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// slow's two new ones join its first in flight.
	waitFor(t, "three requests in flight", func() bool {
		return current(t, o.collect(t), "http.client.active_requests", attribute.String("server.address", "127.0.0.1")) == 3
	})
	ms := o.collect(t)
	// Pending: crm's retry and its two new ones; slow's first (in flight)
	// and its two new ones.
	wantValue(t, ms, 6, "webhook.outbox.deliveries", attribute.String("webhook.delivery.status", "pending"))
	wantValue(t, ms, 0, "webhook.outbox.deliveries", attribute.String("webhook.delivery.status", "failed"))
	if age := value(t, ms, "webhook.outbox.oldest_due_age"); age <= 0 || age > 60 {
		t.Errorf("oldest due age %v s, want a few milliseconds (crm's deliveries behind its circuit)", age)
	}
	wantValue(t, ms, 1, "webhook.attempts", attribute.String("webhook.outcome", "retried"))
	wantValue(t, ms, 1, "webhook.deliveries", attribute.String("webhook.outcome", "retried"))
}

// testTelemetryOptions: webhook attributes when asked for, and the
// traceparent header turned off globally or per webhook.
func testTelemetryOptions(t *testing.T, db *gorm.DB) {
	rcv := newReceiver(t)
	o := newObserved(t, db, webhook.Config{RetryPolicy: noRetry, MetricWebhookAttributes: true})
	setupWebhooks(t, o.c, []webhook.WebhookConfig{
		{Code: "erp", Name: "ERP", Endpoint: rcv.URL + "/erp"},
		{Code: "quiet", Name: "Quiet", Endpoint: rcv.URL + "/quiet", NoTraceparent: true},
	})
	if _, err := o.c.Broadcast(context.Background(), "order_paid", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil); err != nil {
		t.Fatal(err)
	}
	ms := o.collect(t)
	wantValue(t, ms, 1, "webhook.deliveries", attribute.String("webhook.code", "erp"), attribute.String("webhook.scope.code", "s1"))
	if tp := rcv.traceparents("/erp"); len(tp) != 1 || tp[0] == "" {
		t.Errorf("erp got traceparent %q", tp)
	}
	if tp := rcv.traceparents("/quiet"); len(tp) != 1 || tp[0] != "" {
		t.Errorf("a webhook with NoTraceparent got %q", tp)
	}

	off := newObserved(t, db, webhook.Config{RetryPolicy: noRetry, DisableTraceparent: true})
	if _, err := off.c.Broadcast(context.Background(), "order_paid", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil); err != nil {
		t.Fatal(err)
	}
	if tp := rcv.traceparents("/erp"); len(tp) != 2 || tp[1] != "" {
		t.Errorf("with DisableTraceparent erp got %q", tp)
	}
	if len(spanNamed(off.spans.Ended(), "POST")) != 2 {
		t.Error("DisableTraceparent turned the spans off too")
	}

}
