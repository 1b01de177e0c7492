package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// The benchmarks of the delivery engine under misbehaving endpoints: a
// noisy neighbour (one webhook's endpoint hangs, fails, throttles or resets
// connections while another's is healthy) and an endpoint outage. They run
// once per b.N (use -benchtime=1x) and report figures, not timings of a
// loop:
//
//	go test -run='^$' -bench='NoisyNeighbour' -benchtime=1x .
//	WEBHOOK_BENCH_OUTAGE=10m go test -run='^$' -bench='EndpointOutage' -benchtime=1x -timeout=30m .

// arrivals records, for the deliveries of one endpoint, the delay from
// enqueue (the "t" of the event info, in Unix nanoseconds) to arrival.
type arrivals struct {
	mu      sync.Mutex
	delays  []time.Duration
	first   time.Time
	last    time.Time
	started time.Time // deliveries enqueued before it count from it
}

func (a *arrivals) record(body []byte) {
	var msg struct {
		Event struct {
			Info struct {
				T int64 `json:"t"`
			} `json:"info"`
		} `json:"event"`
	}
	now := time.Now()
	_ = json.Unmarshal(body, &msg)
	at := time.Unix(0, msg.Event.Info.T)
	a.mu.Lock()
	defer a.mu.Unlock()
	if at.Before(a.started) {
		at = a.started
	}
	a.delays = append(a.delays, now.Sub(at))
	if a.first.IsZero() {
		a.first = now
	}
	a.last = now
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.delays)
}

// p99 and rate: the 99th percentile delay and the deliveries per second from
// the start to the last arrival.
func (a *arrivals) figures() (p99 time.Duration, perSecond float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.delays) == 0 {
		return 0, 0
	}
	d := slices.Clone(a.delays)
	slices.Sort(d)
	p99 = d[min(len(d)-1, len(d)*99/100)]
	return p99, float64(len(d)) / a.last.Sub(a.started).Seconds()
}

// noisyEndpoint is how endpoint A misbehaves.
type noisyEndpoint struct {
	name    string
	handler func(w http.ResponseWriter, r *http.Request)
}

var noisyEndpoints = []noisyEndpoint{
	{"healthy", func(w http.ResponseWriter, r *http.Request) {}},
	{"hangs", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	{"answers_500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }},
	{"answers_429_retry_after", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}},
	{"resets_connections", func(w http.ResponseWriter, r *http.Request) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
	}},
}

// noisySetup makes a client with webhooks A (scope biz/a, misbehaving) and
// B (scope biz/b, healthy) on a fresh database, default Config.
func noisySetup(b *testing.B, tdb *testDB, a noisyEndpoint, bArr *arrivals) *Client {
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a.handler(w, r)
	}))
	b.Cleanup(srvA.Close)
	srvB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		bArr.record(body)
	}))
	b.Cleanup(srvB.Close)
	c := newTestClient(b, tdb, Config{})
	mustSync(b, c, twoEvents)
	ctx := context.Background()
	for _, wh := range []struct{ scope, url string }{{"a", srvA.URL}, {"b", srvB.URL}} {
		if err := c.ApplyScopeWebhooks(ctx, "biz", wh.scope, []WebhookConfig{{Code: wh.scope, Name: wh.scope, Endpoint: wh.url}}); err != nil {
			b.Fatal(err)
		}
		if err := c.ApplyScopeSubscriptions(ctx, "biz", wh.scope, map[string][]string{wh.scope: {AllEvents}}); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// enqueueBurst enqueues n deliveries to each of A and B, interleaved, in
// transactions of 500.
func enqueueBurst(b *testing.B, c *Client, n int) {
	ctx := context.Background()
	for done := 0; done < n; done += 500 {
		err := c.DB().Transaction(func(tx *gorm.DB) error {
			for i := done; i < min(n, done+500); i++ {
				for _, s := range []string{"a", "b"} {
					if _, err := c.EnqueueTx(ctx, tx, "template_update", []Scope{{"biz", s}}, map[string]any{"t": time.Now().UnixNano()}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoisyNeighbour measures webhook B's throughput and p99 delay
// from enqueue to arrival while webhook A's endpoint hangs, answers 500,
// answers 429 with Retry-After, or resets connections, beside the run where
// A is healthy: a burst (2,000 deliveries each, enqueued before the workers
// start) and a steady load (100 per second each for
// WEBHOOK_BENCH_STEADY, 10 s by default).
func BenchmarkNoisyNeighbour(b *testing.B) {
	steady := 10 * time.Second
	if v, err := time.ParseDuration(os.Getenv("WEBHOOK_BENCH_STEADY")); err == nil {
		steady = v
	}
	for _, db := range []struct {
		name string
		tdb  func(testing.TB) *testDB
	}{
		{"sqlite", func(testing.TB) *testDB { return sqliteTestDB() }},
		{"postgres", postgresTestDB},
	} {
		for _, a := range noisyEndpoints {
			b.Run(db.name+"/burst/A_"+a.name, func(b *testing.B) {
				bArr := &arrivals{}
				c := noisySetup(b, db.tdb(b), a, bArr)
				const n = 2000
				enqueueBurst(b, c, n)
				b.ResetTimer()
				bArr.started = time.Now()
				if err := c.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				reportB(b, c, bArr, n, 5*time.Minute)
			})
			b.Run(db.name+"/steady/A_"+a.name, func(b *testing.B) {
				bArr := &arrivals{}
				c := noisySetup(b, db.tdb(b), a, bArr)
				bArr.started = time.Now()
				if err := c.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				ctx := context.Background()
				tick := time.NewTicker(10 * time.Millisecond) // one each per tick: 100 per second each
				end := time.Now().Add(steady)
				sent := 0
				for time.Now().Before(end) {
					<-tick.C
					for _, s := range []string{"a", "b"} {
						if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", s}}, map[string]any{"t": time.Now().UnixNano()}); err != nil {
							b.Fatal(err)
						}
					}
					sent++
				}
				tick.Stop()
				reportB(b, c, bArr, sent, time.Minute)
			})
		}
	}
}

// reportB waits, up to timeout, for B's n deliveries, stops the workers and
// reports B's throughput and p99 delay.
func reportB(b *testing.B, c *Client, bArr *arrivals, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for bArr.count() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	stopQuick(b, c)
	p99, rate := bArr.figures()
	b.ReportMetric(rate, "B_deliveries/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "B_p99_ms")
	if bArr.count() < n {
		b.Errorf("B got %d of %d deliveries", bArr.count(), n)
	}
}

// stopQuick stops the workers, aborting A's hanging requests after a second.
func stopQuick(b *testing.B, c *Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Stop(ctx)
}

// BenchmarkEndpointOutage takes an endpoint down (it answers 503) for
// WEBHOOK_BENCH_OUTAGE (1 minute by default; the README's figure is for 10
// minutes) while 20 deliveries per second are enqueued for it, then brings
// it back, and reports the requests it received while down (the probes
// once its circuit opened), the attempts spent per delivery, and the time
// from its recovery to its backlog drained.
func BenchmarkEndpointOutage(b *testing.B) {
	outage := time.Minute
	if v, err := time.ParseDuration(os.Getenv("WEBHOOK_BENCH_OUTAGE")); err == nil {
		outage = v
	}
	for _, db := range []struct {
		name string
		tdb  func(testing.TB) *testDB
	}{
		{"sqlite", func(testing.TB) *testDB { return sqliteTestDB() }},
		{"postgres", postgresTestDB},
	} {
		b.Run(db.name, func(b *testing.B) {
			var down atomic.Bool
			var whileDown, total atomic.Int64
			down.Store(true)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				total.Add(1)
				if down.Load() {
					whileDown.Add(1)
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			b.Cleanup(srv.Close)
			c := newTestClient(b, db.tdb(b), Config{})
			mustSync(b, c, twoEvents)
			ctx := context.Background()
			if err := c.ApplyScopeWebhooks(ctx, "biz", "a", []WebhookConfig{{Code: "a", Name: "a", Endpoint: srv.URL}}); err != nil {
				b.Fatal(err)
			}
			if err := c.ApplyScopeSubscriptions(ctx, "biz", "a", map[string][]string{"a": {AllEvents}}); err != nil {
				b.Fatal(err)
			}
			if err := c.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer stopQuick(b, c)
			b.ResetTimer()
			tick := time.NewTicker(50 * time.Millisecond)
			end := time.Now().Add(outage)
			enqueued := 0
			for time.Now().Before(end) {
				<-tick.C
				if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "a"}}, nil); err != nil {
					b.Fatal(err)
				}
				enqueued++
			}
			tick.Stop()
			var spentDown int64
			c.DB().Model(&deliveryRow{}).Select("COALESCE(SUM(attempts), 0)").Scan(&spentDown)
			down.Store(false)
			back := time.Now()
			deadline := back.Add(10 * time.Minute)
			for deliveriesByStatus(b, c)[StatusSucceeded] < enqueued && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			drained := time.Since(back)
			b.StopTimer()
			var spent int64
			c.DB().Model(&deliveryRow{}).Select("COALESCE(SUM(attempts), 0)").Scan(&spent)
			b.ReportMetric(float64(whileDown.Load()), "requests_while_down")
			b.ReportMetric(float64(spentDown)/float64(enqueued), "attempts_spent_per_delivery_while_down")
			b.ReportMetric(drained.Seconds(), "s_recovery_to_drained")
			b.ReportMetric(float64(enqueued), "deliveries")
			fmt.Fprintf(os.Stderr, "outage (%s, %s): %d deliveries enqueued while down; %d requests while down; %d attempts spent while down; drained %s after recovery; %d requests in all\n",
				db.name, outage, enqueued, whileDown.Load(), spentDown, drained.Round(time.Millisecond), total.Load())
			if got := deliveriesByStatus(b, c)[StatusSucceeded]; got < enqueued {
				b.Errorf("%d of %d delivered", got, enqueued)
			}
		})
	}
}
