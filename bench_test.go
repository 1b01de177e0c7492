package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fastReceiver answers every request at once, as a well-behaved endpoint on
// the same machine would.
func fastReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"message": "ok"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchBody is the size and shape of the body Broadcast sends below.
var benchBody = []byte(`{"event":{"code":"template_update","name":"模板更新","description":"a template changed","info":{"operator":"alice","template_id":"t-1234"}},"delivery_id":"0123456789abcdef0123456789abcdef"}`)

// bareLoop is the baseline: a plain net/http POST of the same body to the
// same server, nothing recorded.
func bareLoop(b *testing.B, url string, parallel bool) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
	post := func() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(benchBody))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post()
			}
		})
	} else {
		for b.Loop() {
			post()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// benchParallelism × GOMAXPROCS goroutines call in the parallel variants,
// as the request handlers of a busy service would.
const benchParallelism = 8

func broadcastLoop(b *testing.B, c *Client, url string, parallel bool) {
	ctx := context.Background()
	mustSync(b, c, twoEvents)
	if err := c.ApplyScopeWebhooks(ctx, "biz", "bench", []WebhookConfig{{
		Code: "hook", Name: "hook", Endpoint: url, Auth: &Auth{Type: "bearer", Token: "bench-token"},
	}}); err != nil {
		b.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "bench", map[string][]string{"hook": {AllEvents}}); err != nil {
		b.Fatal(err)
	}
	scopes := []Scope{{"biz", "bench"}}
	info := map[string]any{"template_id": "t-1234", "operator": "alice"}
	one := func() {
		res, err := c.Broadcast(ctx, "template_update", scopes, info)
		if err != nil || len(res.Deliveries) != 1 || !res.Deliveries[0].Success || res.HistoryErr != nil {
			b.Errorf("broadcast: %v %+v", err, res)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
	} else {
		for b.Loop() {
			one()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "broadcasts/s")
	var n int64
	c.DB().Model(&historyRow{}).Count(&n)
	if n < int64(b.N) {
		b.Fatalf("%d history rows for %d broadcasts", n, b.N)
	}
}

// BenchmarkBroadcastOneWebhook compares Broadcast to one local webhook, with
// every attempt recorded in history, on SQLite and (when
// WEBHOOK_TEST_POSTGRES_DSN is set) PostgreSQL, to a bare net/http POST of a
// body of the same size to the same server, one caller at a time
// ("sequential") and from 8 goroutines per core ("parallel").
//
//	go test -run='^$' -bench=BroadcastOneWebhook -benchtime=3s .
//	PG_FSYNC=on scripts/with-postgres.sh go test -run='^$' -bench=BroadcastOneWebhook -benchtime=3s .
func BenchmarkBroadcastOneWebhook(b *testing.B) {
	srv := fastReceiver(b)
	for _, parallel := range []bool{false, true} {
		mode := "sequential"
		if parallel {
			mode = "parallel"
		}
		b.Run("bare_net_http/"+mode, func(b *testing.B) { bareLoop(b, srv.URL+"/hook", parallel) })
		b.Run("broadcast_sqlite/"+mode, func(b *testing.B) {
			broadcastLoop(b, newTestClient(b, sqliteTestDB(), Config{}), srv.URL+"/hook", parallel)
		})
		b.Run("broadcast_postgres/"+mode, func(b *testing.B) {
			broadcastLoop(b, newTestClient(b, postgresTestDB(b), Config{}), srv.URL+"/hook", parallel)
		})
	}
}

// BenchmarkBroadcastFanout sends one broadcast to 20 endpoints that each take
// 50 ms to answer: concurrent delivery makes it cost about 50 ms, where
// sending one after another would cost a second.
//
//	go test -run='^$' -bench=BroadcastFanout -benchtime=20x .
func BenchmarkBroadcastFanout(b *testing.B) {
	const endpoints = 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(50 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	c := newTestClient(b, sqliteTestDB(), Config{})
	mustSync(b, c, twoEvents)
	ctx := context.Background()
	var hooks []WebhookConfig
	subs := map[string][]string{}
	for i := range endpoints {
		code := fmt.Sprintf("hook%02d", i)
		hooks = append(hooks, WebhookConfig{Code: code, Name: code, Endpoint: srv.URL + "/" + code})
		subs[code] = []string{"template_update"}
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "fan", hooks); err != nil {
		b.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "fan", subs); err != nil {
		b.Fatal(err)
	}
	scopes := []Scope{{"biz", "fan"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Broadcast(ctx, "template_update", scopes, nil)
		if err != nil || len(res.Deliveries) != endpoints || len(res.Failed()) != 0 {
			b.Fatalf("broadcast: %v %+v", err, res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/broadcast")
}
