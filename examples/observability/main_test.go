package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the exporter's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServiceExportsMetricsAndTraces runs the example service, makes a
// broadcast and an enqueue through it, scrapes /metrics as Prometheus would
// and checks the series and their labels, and the spans printed.
func TestServiceExportsMetricsAndTraces(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var traces syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, "", &traces) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the service did not stop")
		}
	})
	base := "http://" + ln.Addr().String()
	post := func(path string) string {
		t.Helper()
		resp, err := http.Post(base+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post("/broadcast"); !strings.Contains(got, "1 delivered, 0 failed") {
		t.Fatalf("broadcast: %s", got)
	}
	post("/enqueue")

	// The enqueued delivery is sent by the workers: wait for its success.
	// (One scrape reads the gauges before the counters, so the outbox gauge
	// may trail the counter by a scrape.)
	queued := regexp.MustCompile(`(?m)^webhook_deliveries_total\{[^}]*webhook_outcome="succeeded"[^}]*webhook_queued="true"[^}]*\} 1$`)
	drained := regexp.MustCompile(`(?m)^webhook_outbox_deliveries\{[^}]*webhook_delivery_status="pending"[^}]*\} 0$`)
	var metrics string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if metrics = scrape(); queued.MatchString(metrics) && drained.MatchString(metrics) {
			break
		}
	}
	for _, want := range []string{
		// The HTTP client histogram of the semantic conventions.
		`(?m)^http_client_request_duration_seconds_count\{[^}]*http_request_method="POST"[^}]*http_response_status_code="200"[^}]*server_address="127\.0\.0\.1"[^}]*\} 2$`,
		// Deliveries by outcome, queued or not, with low-cardinality labels.
		`(?m)^webhook_deliveries_total\{[^}]*webhook_event="order_paid"[^}]*webhook_outcome="succeeded"[^}]*webhook_queued="false"[^}]*webhook_scope_type="shop"[^}]*\} 1$`,
		queued.String(),
		`(?m)^webhook_attempts_total\{[^}]*webhook_outcome="succeeded"[^}]*\} 1$`,
		`(?m)^webhook_delivery_duration_seconds_count\{[^}]*webhook_queued="true"[^}]*\} 1$`,
		`(?m)^webhook_broadcast_duration_seconds_count\{[^}]*webhook_event="order_paid"[^}]*webhook_outcome="succeeded"[^}]*\} 1$`,
		`(?m)^webhook_enqueued_total\{[^}]*webhook_event="order_paid"[^}]*\} 1$`,
		`(?m)^http_client_active_requests\{[^}]*\} 0$`,
		// The database-wide gauges.
		`(?m)^webhook_outbox_deliveries\{[^}]*webhook_delivery_status="pending"[^}]*\} 0$`,
		`(?m)^webhook_outbox_oldest_due_age_seconds\{[^}]*\} 0$`,
		`(?m)^webhook_circuits_open\{[^}]*\} 0$`,
	} {
		if !regexp.MustCompile(want).MatchString(metrics) {
			t.Errorf("/metrics has no series matching %s", want)
		}
	}
	// No webhook or scope code in the labels unless asked for.
	if strings.Contains(metrics, `webhook_code="erp"`) || strings.Contains(metrics, `webhook_scope_code="s1"`) {
		t.Error("/metrics carries webhook codes by default")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
	// The spans: the broadcast, the enqueue and the two requests.
	out := traces.String()
	for _, name := range []string{`"Name":"webhook.Broadcast"`, `"Name":"webhook.Enqueue"`, `"Name":"POST"`} {
		if !strings.Contains(out, name) {
			t.Errorf("the traces lack a span %s", name)
		}
	}
}
