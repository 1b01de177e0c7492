package main

// What the telemetry costs: Broadcast and the backlog drain with the default
// no-op providers and with the OpenTelemetry SDK installed (every metric
// aggregated by a reader, every span sampled and exported in batches to a
// discarding exporter), and with the SDK for metrics or traces alone, side
// by side in one run on SQLite.
//
//	cd examples/observability && go test -run '^$' -bench . -benchtime 3s
//
// The no-op figures are to be compared with the root package's
// BenchmarkBroadcastOneWebhook/sqlite and BenchmarkOutboxBacklog/sqlite.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// discardExporter exports spans nowhere.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// providers are the two settings compared.
func providers(b *testing.B) map[string]func() (metric.MeterProvider, trace.TracerProvider) {
	return map[string]func() (metric.MeterProvider, trace.TracerProvider){
		"noop": func() (metric.MeterProvider, trace.TracerProvider) {
			return metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
		},
		"sdk-metrics": func() (metric.MeterProvider, trace.TracerProvider) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			return mp, tracenoop.NewTracerProvider()
		},
		"sdk-traces": func() (metric.MeterProvider, trace.TracerProvider) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			return metricnoop.NewMeterProvider(), tp
		},
		"sdk": func() (metric.MeterProvider, trace.TracerProvider) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			b.Cleanup(func() {
				_ = mp.Shutdown(context.Background())
				_ = tp.Shutdown(context.Background())
			})
			return mp, tp
		},
	}
}

func benchClient(b *testing.B, mp metric.MeterProvider, tp trace.TracerProvider) (*webhook.Client, *gorm.DB) {
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := gorm.Open(sqlite.Open(path+"?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxIdleConns(16)
	b.Cleanup(func() { sqlDB.Close() })
	c, err := webhook.New(db, webhook.Config{PrivateSecret: "benchmark: a long random secret", MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	ctx := context.Background()
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(testEvents), webhook.SyncOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "shop", "s1", []webhook.WebhookConfig{{Code: "erp", Name: "ERP", Endpoint: srv.URL}}); err != nil {
		b.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "s1", map[string][]string{"erp": {webhook.AllEvents}}); err != nil {
		b.Fatal(err)
	}
	return c, db
}

// BenchmarkBroadcastTelemetry: one caller broadcasting to one webhook.
func BenchmarkBroadcastTelemetry(b *testing.B) {
	for _, name := range []string{"noop", "sdk-metrics", "sdk-traces", "sdk"} {
		b.Run(name, func(b *testing.B) {
			mp, tp := providers(b)[name]()
			c, _ := benchClient(b, mp, tp)
			ctx := context.Background()
			scopes := []webhook.Scope{{Type: "shop", Code: "s1"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Broadcast(ctx, "order_paid", scopes, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "broadcasts/s")
		})
	}
}

// BenchmarkBacklogTelemetry: the workers drain a backlog of b.N deliveries.
func BenchmarkBacklogTelemetry(b *testing.B) {
	for _, name := range []string{"noop", "sdk-metrics", "sdk-traces", "sdk"} {
		b.Run(name, func(b *testing.B) {
			mp, tp := providers(b)[name]()
			c, _ := benchClient(b, mp, tp)
			ctx := context.Background()
			scopes := []webhook.Scope{{Type: "shop", Code: "s1"}}
			err := c.DB().Transaction(func(tx *gorm.DB) error {
				for range b.N {
					if _, err := c.EnqueueTx(ctx, tx, "order_paid", scopes, nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
				left, err := c.Deliveries(ctx, webhook.DeliveryQuery{Status: webhook.StatusPending, QueuedOnly: true, Limit: 1})
				if err != nil {
					b.Fatal(err)
				}
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("deliveries still pending after 10 minutes")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Stop(sctx)
		})
	}
}
