package webhook

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedBacklog subscribes one webhook of url to every event and writes n
// pending deliveries for it, in bulk: what n Enqueue calls would write.
func seedBacklog(b *testing.B, c *Client, url string, n int) {
	b.Helper()
	ctx := context.Background()
	benchHook(b, c, url, benchAuth())
	ev, err := c.Event(ctx, "template_update")
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := eventPayloadJSON(ev, map[string]any{"template_id": "t-1234", "operator": "alice"})
	now := c.now().UTC()
	const chunk = 10000 // rows built and written at a time, so that a backlog of millions fits in memory
	rows := make([][]any, 0, chunk)
	for left := n; left > 0; left -= len(rows) {
		rows = rows[:0]
		for range min(left, chunk) {
			rows = append(rows, []any{newDeliveryID(), "template_update", "biz", "bench", "hook", string(payload), StatusPending, 0, now, now, nil})
		}
		if err := c.insertDeliveries(ctx, c.db.Statement.ConnPool, rows); err != nil {
			b.Fatal(err)
		}
	}
}

// rssBytes is the resident set of this process, from /proc (0 elsewhere).
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		return 0
	}
	return resident * int64(os.Getpagesize())
}

// BenchmarkDrainMemory drains a backlog of b.N deliveries (seeded first,
// not timed) on SQLite and reports the largest resident set and Go heap
// seen while the workers drain it, sampled every 50 ms after the seeding's
// garbage was returned to the system. The process also runs the receiver.
//
//	go test -run='^$' -bench=DrainMemory -benchtime=1000000x -timeout=30m .
func BenchmarkDrainMemory(b *testing.B) {
	srv := fastReceiver(b)
	c := newTestClient(b, sqliteTestDB(), Config{PollInterval: 10 * time.Millisecond})
	ctx := context.Background()
	seedBacklog(b, c, srv.URL+"/hook", b.N)
	runtime.GC()
	debug.FreeOSMemory()
	base := rssBytes()
	b.ResetTimer()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var peakRSS int64
	var peakHeap uint64
	var ms runtime.MemStats
	start := time.Now()
	deadline := start.Add(time.Duration(b.N)*time.Millisecond + 5*time.Minute)
	for {
		peakRSS = max(peakRSS, rssBytes())
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		var left []int64
		if err := c.DB().Model(&deliveryRow{}).Where("status = ?", StatusPending).Limit(1).Pluck("id", &left).Error; err != nil {
			b.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("deliveries still pending after %s", time.Since(start).Round(time.Second))
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	if err := c.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(base)/(1<<20), "RSS-before-MiB")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
}

// drainFloor is the hand-written floor of the backlog drain: the database
// work of a durable drain with nothing else, on database/sql with the
// library's tables and indexes. 32 goroutines POST the payloads; one
// writer, in one transaction at a time, records the finished ones (a
// multi-row INSERT of history-sized rows and one UPDATE marking them
// succeeded) and leases the next batch (UPDATE … RETURNING). No retries,
// no fairness between webhooks, no signatures, credentials or hooks.
func drainFloor(b *testing.B, c *Client, url string) {
	ctx := context.Background()
	seedBacklog(b, c, url, b.N)
	db, err := c.DB().DB()
	if err != nil {
		b.Fatal(err)
	}
	rebind := c.ph.rebind
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}
	type job struct {
		id               int64
		deliveryID, body string
	}
	type done struct {
		job    job
		status int
		us     int64
	}
	jobs := make(chan job, 4*DefaultClaimBatch)
	results := make(chan done, 4*DefaultClaimBatch)
	var wg sync.WaitGroup
	for range DefaultWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				start := time.Now()
				status, err := benchPost(client, url, strings.NewReader(j.body))
				if err != nil {
					b.Error(err)
					return
				}
				results <- done{j, status, time.Since(start).Microseconds()}
			}
		}()
	}
	extra := `{"request":{"url":"` + url + `","method":"POST","headers":{"Authorization":"Bearer ***","Content-Type":"application/json"},"json":` +
		string(benchBody) + `},"response":{"status_code":200,"headers":{"Content-Type":"application/json"},"body":"{\"message\": \"ok\"}"}}`
	claimQ := rebind(`UPDATE webhook_delivery SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM webhook_delivery
		WHERE scope_type = ? AND scope_code = ? AND webhook_code = ? AND status = ? AND next_attempt_at <= ? AND lease_owner IS NULL
		ORDER BY next_attempt_at LIMIT ?) RETURNING id, delivery_id, payload`)
	b.ReportAllocs()
	b.ResetTimer()
	left, queued := b.N, 0
	var finished []done
	for left > 0 {
		if len(finished) == 0 && queued >= DefaultClaimBatch || queued == left {
			finished = append(finished, <-results) // nothing else to do: wait
		}
	more:
		for {
			select {
			case r := <-results:
				finished = append(finished, r)
			default:
				break more
			}
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(finished) > 0 {
			now := time.Now().UTC()
			var ins strings.Builder
			ins.WriteString("INSERT INTO webhook_history (" + historyColumns + ") VALUES ")
			args := make([]any, 0, 13*len(finished))
			ids := make([]any, 0, len(finished)+3)
			ids = append(ids, StatusSucceeded, now, now)
			for i, r := range finished {
				if i > 0 {
					ins.WriteByte(',')
				}
				ins.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
				args = append(args, "hook", "template_update", now, true, r.status, r.job.deliveryID, "biz", "bench", extra, 1, r.us, nil, true)
				ids = append(ids, r.job.id)
			}
			if _, err := tx.ExecContext(ctx, rebind(ins.String()), args...); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, rebind(`UPDATE webhook_delivery SET status = ?, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL,
				last_status_code = 200, finished_at = ?, next_attempt_at = ? WHERE id IN (`+marks(len(finished))+`)`), ids...); err != nil {
				b.Fatal(err)
			}
			left -= len(finished)
			queued -= len(finished)
			finished = finished[:0]
		}
		var claimed []job
		if want := min(DefaultClaimBatch, left-queued); want > 0 && queued < DefaultClaimBatch {
			now := time.Now().UTC()
			rows, err := tx.QueryContext(ctx, claimQ, "floor", now.Add(time.Minute), "biz", "bench", "hook", StatusPending, now, want)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var j job
				var payload []byte
				if err := rows.Scan(&j.id, &j.deliveryID, &payload); err != nil {
					b.Fatal(err)
				}
				j.body = `{"event":` + string(payload) + `,"delivery_id":"` + j.deliveryID + `"}`
				claimed = append(claimed, j)
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		queued += len(claimed)
		for _, j := range claimed {
			jobs <- j
		}
	}
	b.StopTimer()
	close(jobs)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	client.CloseIdleConnections()
	var ok int64
	if err := db.QueryRowContext(ctx, rebind("SELECT COUNT(*) FROM webhook_delivery WHERE status = ?"), StatusSucceeded).Scan(&ok); err != nil || ok != int64(b.N) {
		b.Fatalf("%d succeeded deliveries for %d (%v)", ok, b.N, err)
	}
}

// BenchmarkBroadcastWide broadcasts to 10, 100 and 1,000 webhooks of one
// scope on one fast local receiver and reports the allocations per
// webhook, which should stay flat as the fan-out grows (the bare POST of
// BenchmarkBroadcastFloor is the reference for one request: client and
// server both allocate in this process).
//
//	go test -run='^$' -bench=BroadcastWide -benchtime=20x .
func BenchmarkBroadcastWide(b *testing.B) {
	srv := fastReceiver(b)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("webhooks=%d", n), func(b *testing.B) {
			c := newTestClient(b, sqliteTestDB(), Config{})
			ctx := context.Background()
			mustSync(b, c, twoEvents)
			hooks := make([]WebhookConfig, n)
			subs := make(map[string][]string, n)
			for i := range hooks {
				code := fmt.Sprintf("hook%04d", i)
				hooks[i] = WebhookConfig{Code: code, Name: code, Endpoint: srv.URL + "/" + code, Auth: &Auth{Type: "bearer", Token: "bench-token"}}
				subs[code] = []string{AllEvents}
			}
			if err := c.ApplyScopeWebhooks(ctx, "biz", "wide", hooks); err != nil {
				b.Fatal(err)
			}
			if err := c.ApplyScopeSubscriptions(ctx, "biz", "wide", subs); err != nil {
				b.Fatal(err)
			}
			scopes := []Scope{{"biz", "wide"}}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			bytes0, allocs0 := ms.TotalAlloc, ms.Mallocs
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := c.Broadcast(ctx, "template_update", scopes, nil)
				if err != nil || len(res.Deliveries) != n || len(res.Failed()) != 0 {
					b.Fatalf("broadcast: %v (%d deliveries, %d failed)", err, len(res.Deliveries), len(res.Failed()))
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			per := float64(b.N * n)
			b.ReportMetric(float64(ms.TotalAlloc-bytes0)/per, "B/webhook")
			b.ReportMetric(float64(ms.Mallocs-allocs0)/per, "allocs/webhook")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/per, "µs/webhook")
		})
	}
}
