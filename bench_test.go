package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
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

// benchPost is the bare request of the references: a JSON POST of body to
// url, its answer read and discarded; it returns the status code.
func benchPost(client *http.Client, url string, body io.Reader) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// bareLoop is the baseline: a plain net/http POST of the same body to the
// same server, nothing recorded.
func bareLoop(b *testing.B, url string, parallel bool) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
	post := func() {
		if _, err := benchPost(client, url, bytes.NewReader(benchBody)); err != nil {
			b.Error(err)
		}
	}
	runLoop(b, parallel, post)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// runLoop calls fn b.N times, from one goroutine or, when parallel, from
// benchParallelism × GOMAXPROCS of them.
func runLoop(b *testing.B, parallel bool, fn func()) {
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for b.Loop() {
			fn()
		}
		return
	}
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn()
		}
	})
}

// benchParallelism × GOMAXPROCS goroutines call in the parallel variants,
// as the request handlers of a busy service would.
const benchParallelism = 8

// benchHook syncs the test events and subscribes the webhook "hook" of
// scope biz/bench, posting to url with auth (nil for none), to every event.
func benchHook(b *testing.B, c *Client, url string, auth *Auth) {
	b.Helper()
	ctx := context.Background()
	mustSync(b, c, twoEvents)
	if err := c.ApplyScopeWebhooks(ctx, "biz", "bench", []WebhookConfig{{Code: "hook", Name: "hook", Endpoint: url, Auth: auth}}); err != nil {
		b.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "bench", map[string][]string{"hook": {AllEvents}}); err != nil {
		b.Fatal(err)
	}
}

// benchAuth is the credential of the benchmarks' webhook.
func benchAuth() *Auth { return &Auth{Type: "bearer", Token: "bench-token"} }

func broadcastLoop(b *testing.B, c *Client, url string, parallel bool) {
	ctx := context.Background()
	benchHook(b, c, url, benchAuth())
	scopes := []Scope{{"biz", "bench"}}
	info := map[string]any{"template_id": "t-1234", "operator": "alice"}
	one := func() {
		res, err := c.Broadcast(ctx, "template_update", scopes, info)
		if err != nil || len(res.Deliveries) != 1 || !res.Deliveries[0].Success || res.HistoryErr != nil {
			b.Errorf("broadcast: %v %+v", err, res)
		}
	}
	runLoop(b, parallel, one)
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

// BenchmarkOutboxBacklog measures sustained durable delivery: b.N deliveries
// are enqueued first (not timed), then the workers send them all to a fast
// local receiver, recording history and completing each delivery in the
// outbox. It compares with a bare net/http loop of as many concurrent POSTs
// and, on each database, with drainFloor: the same database work written by
// hand.
// Run it with a backlog of 100,000:
//
//	go test -run='^$' -bench=OutboxBacklog -benchtime=100000x .
//	PG_FSYNC=on scripts/with-postgres.sh go test -run='^$' -bench=OutboxBacklog -benchtime=100000x .
func BenchmarkOutboxBacklog(b *testing.B) {
	srv := fastReceiver(b)
	b.Run("bare_net_http_concurrent", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
		work := make(chan struct{}, b.N)
		for range b.N {
			work <- struct{}{}
		}
		close(work)
		b.ResetTimer()
		var wg sync.WaitGroup
		for range DefaultWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					if _, err := benchPost(client, srv.URL+"/hook", bytes.NewReader(benchBody)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		client.CloseIdleConnections()
	})
	for _, db := range []struct {
		name string
		tdb  func(testing.TB) *testDB
	}{
		{"sqlite", func(testing.TB) *testDB { return sqliteTestDB() }},
		{"postgres", postgresTestDB},
	} {
		b.Run("floor_"+db.name, func(b *testing.B) {
			drainFloor(b, newTestClient(b, db.tdb(b), Config{}), srv.URL+"/hook")
		})
		b.Run("outbox_"+db.name, func(b *testing.B) {
			c := newTestClient(b, db.tdb(b), Config{PollInterval: 10 * time.Millisecond})
			ctx := context.Background()
			seedBacklog(b, c, srv.URL+"/hook", b.N)
			b.ReportAllocs()
			b.ResetTimer()
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for {
				var left []int64
				if err := c.DB().Model(&deliveryRow{}).Where("status = ?", StatusPending).Limit(1).Pluck("id", &left).Error; err != nil {
					b.Fatal(err)
				}
				if len(left) == 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			if err := c.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			var hist, ok int64
			c.DB().Model(&historyRow{}).Count(&hist)
			c.DB().Model(&deliveryRow{}).Where("status = ?", StatusSucceeded).Count(&ok)
			if hist != int64(b.N) || ok != int64(b.N) {
				b.Fatalf("%d history rows and %d succeeded deliveries for %d", hist, ok, b.N)
			}
		})
	}
}

// floorLoop is the hand-written floor of a one-webhook Broadcast on SQLite:
// the same work on database/sql with nothing else, one indexed SELECT
// joining event, subscription and webhook, one bare POST of the body, and
// one INSERT of a history-sized row, committed. Broadcast's figure beside
// it says what the library adds.
func floorLoop(b *testing.B, c *Client, url string) {
	ctx := context.Background()
	benchHook(b, c, url, nil)
	db, err := c.DB().DB()
	if err != nil {
		b.Fatal(err)
	}
	sel, err := db.PrepareContext(ctx, `SELECT e.name, w.endpoint, w.extra_info FROM webhook_event e
		JOIN webhook_webhook w ON w.scope_type = ? AND w.scope_code = ? AND w.enable_webhook
		WHERE e.code = ? AND EXISTS (SELECT 1 FROM webhook_subscription s WHERE s.scope_type = w.scope_type
			AND s.scope_code = w.scope_code AND s.webhook_code = w.code AND s.event_code IN (?, ?))`)
	if err != nil {
		b.Fatal(err)
	}
	defer sel.Close()
	ins, err := db.PrepareContext(ctx, "INSERT INTO webhook_history ("+historyColumns+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
	if err != nil {
		b.Fatal(err)
	}
	defer ins.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	extra := `{"request":{"url":"` + url + `","method":"POST","headers":{"Content-Type":"application/json"},"json":` + string(benchBody) + `},"response":{"status_code":200,"headers":{"Content-Type":"application/json"},"body":"{\"message\": \"ok\"}"}}`
	one := func() {
		var name, endpoint string
		var info []byte
		if err := sel.QueryRowContext(ctx, "biz", "bench", "template_update", AllEvents, "template_update").Scan(&name, &endpoint, &info); err != nil {
			b.Error(err)
			return
		}
		start := time.Now()
		status, err := benchPost(client, endpoint, bytes.NewReader(benchBody))
		if err != nil {
			b.Error(err)
			return
		}
		if _, err := ins.ExecContext(ctx, "hook", "template_update", time.Now().UTC(), true, status, "0123456789abcdef0123456789abcdef",
			"biz", "bench", extra, 1, time.Since(start).Microseconds(), nil, false); err != nil {
			b.Error(err)
		}
	}
	runLoop(b, false, one)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "broadcasts/s")
}

// BenchmarkBroadcastFloor runs the hand-written floor beside Broadcast and
// the bare POST, one caller, on SQLite:
//
//	go test -run='^$' -bench=BroadcastFloor -benchtime=3s .
func BenchmarkBroadcastFloor(b *testing.B) {
	srv := fastReceiver(b)
	b.Run("bare_net_http", func(b *testing.B) { bareLoop(b, srv.URL+"/hook", false) })
	b.Run("floor_sqlite", func(b *testing.B) { floorLoop(b, newTestClient(b, sqliteTestDB(), Config{}), srv.URL+"/hook") })
	b.Run("broadcast_sqlite", func(b *testing.B) {
		broadcastLoop(b, newTestClient(b, sqliteTestDB(), Config{}), srv.URL+"/hook", false)
	})
}
