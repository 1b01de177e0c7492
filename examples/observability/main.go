// Command observability is a small service that exports the library's
// metrics to Prometheus and its traces to standard output: the wiring an
// application does once, with its own OpenTelemetry SDK, for
// webhook.Config.MeterProvider and webhook.Config.TracerProvider.
//
//	go run ./examples/observability -addr 127.0.0.1:9464
//
// then, in another shell:
//
//	curl -X POST 127.0.0.1:9464/broadcast   # a Broadcast to the demo webhook
//	curl -X POST 127.0.0.1:9464/enqueue     # an Enqueue, sent by the workers
//	curl 127.0.0.1:9464/metrics             # webhook_* and http_client_* series
//
// It lives in a module of its own so that the SDK and the exporters never
// become dependencies of the library.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scopehook/webhook"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const events = `
version: 1
events:
  - code: order_paid
    name: Order paid
`

func main() {
	addr := flag.String("addr", "127.0.0.1:9464", "address to serve /metrics, /broadcast and /enqueue on")
	dbPath := flag.String("db", "", "SQLite database file (default: a new file in a temporary directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("observability: %v", err)
	}
	if err := run(ctx, ln, *dbPath, os.Stdout); err != nil {
		log.Fatalf("observability: %v", err)
	}
}

// run serves the demo on ln until ctx ends, writing spans to traces.
func run(ctx context.Context, ln net.Listener, dbPath string, traces io.Writer) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "webhook-observability")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "app.db")
	}

	// 1. The application's own OpenTelemetry SDK: metrics read by a
	// Prometheus registry, spans printed as JSON.
	registry := prometheus.NewRegistry()
	exporter, err := otelprometheus.New(otelprometheus.WithRegisterer(registry))
	if err != nil {
		return err
	}
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer meters.Shutdown(context.Background())
	spans, err := stdouttrace.New(stdouttrace.WithWriter(traces))
	if err != nil {
		return err
	}
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tracers.Shutdown(context.Background())

	// 2. The library, given both providers (leave them nil to use the
	// global ones set with otel.SetMeterProvider / SetTracerProvider).
	db, err := gorm.Open(sqlite.Open(dbPath+"?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	c, err := webhook.New(db, webhook.Config{
		PrivateSecret:  "observability example: a long random secret",
		MeterProvider:  meters,
		TracerProvider: tracers,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	if err := setup(ctx, c); err != nil {
		return err
	}
	if err := c.Start(context.Background()); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	}()

	// 3. The service: /metrics for Prometheus, and two actions.
	scopes := []webhook.Scope{{Type: "shop", Code: "s1"}}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /broadcast", func(w http.ResponseWriter, r *http.Request) {
		res, err := c.Broadcast(r.Context(), "order_paid", scopes, map[string]any{"order": 42})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "broadcast: %d delivered, %d failed\n", len(res.Deliveries)-len(res.Failed()), len(res.Failed()))
	})
	mux.HandleFunc("POST /enqueue", func(w http.ResponseWriter, r *http.Request) {
		ids, err := c.Enqueue(r.Context(), "order_paid", scopes, map[string]any{"order": 43})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "enqueued: %v\n", ids)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("observability: serving http://%s/metrics", ln.Addr())
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setup creates the tables, the event and one webhook of scope shop/s1
// pointing at a receiver of this process on loopback.
func setup(ctx context.Context, c *webhook.Client) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	receiver := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})}
	go func() { _ = receiver.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = receiver.Close() })
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(events), webhook.SyncOptions{}); err != nil {
		return err
	}
	if err := c.ApplyScopeWebhooks(ctx, "shop", "s1", []webhook.WebhookConfig{{Code: "erp", Name: "ERP", Endpoint: "http://" + ln.Addr().String() + "/hooks"}}); err != nil {
		return err
	}
	return c.ApplyScopeSubscriptions(ctx, "shop", "s1", map[string][]string{"erp": {webhook.AllEvents}})
}
