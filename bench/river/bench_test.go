package river

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/scopehook/webhook"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The library's durable path beside River on one PostgreSQL server: the
// same rows to enqueue, the same backlog to drain to the same loopback
// receiver. Each benchmark reports its figure and its ratio to the
// reference measured in the same run:
//
//	PG_FSYNC=on scripts/with-postgres.sh sh -c 'cd bench/river && go test -run=^$ -bench=EnqueueBatch -benchtime=3x'
//	PG_FSYNC=on scripts/with-postgres.sh sh -c 'cd bench/river && go test -run=^$ -bench=DrainVsRiver -benchtime=30000x -timeout=30m'

// postgresDSNEnv names the variable holding the DSN of a PostgreSQL server
// the benchmarks may create databases on (scripts/with-postgres.sh sets it).
const postgresDSNEnv = "WEBHOOK_TEST_POSTGRES_DSN"

// batchSize is the number of deliveries (and jobs) of BenchmarkEnqueueBatch.
const batchSize = 20000

// benchScopes is the number of scopes the events go to, one subscribed
// webhook each.
const benchScopes = 4

// drainWorkers is the concurrency of both sides in BenchmarkDrainVsRiver.
const drainWorkers = 32

// privateSecret encrypts the benchmark webhooks' credentials (none).
const privateSecret = "a long random secret for the benchmarks"

// waitLimit bounds every wait for a drain.
const waitLimit = 5 * time.Minute

const events = `
version: 1
events:
  - code: template_update
    name: Template updated
    description: a template changed
`

// deliveryArgs are River's job arguments: what a delivery row holds.
type deliveryArgs struct {
	Event      json.RawMessage `json:"event"`
	ScopeType  string          `json:"scope_type"`
	ScopeCode  string          `json:"scope_code"`
	Webhook    string          `json:"webhook"`
	DeliveryID string          `json:"delivery_id"`
	Endpoint   string          `json:"endpoint"`
}

// Kind names River's job kind.
func (deliveryArgs) Kind() string { return "webhook_delivery" }

// postWorker POSTs each job's body to its endpoint, as the library's
// workers do with a delivery.
type postWorker struct {
	river.WorkerDefaults[deliveryArgs]
	client *http.Client
}

// Work sends the job's body; a non-2xx answer fails the job.
func (w *postWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	body, err := json.Marshal(struct {
		Event      json.RawMessage `json:"event"`
		DeliveryID string          `json:"delivery_id"`
	}{job.Args.Event, job.Args.DeliveryID})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.Args.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d", job.Args.Endpoint, resp.StatusCode)
	}
	return nil
}

// eventInfo is the extra info of every benchmark event.
func eventInfo(i int) map[string]any {
	return map[string]any{"template_id": "t-1234", "operator": "alice", "i": i}
}

// eventJSON is the "event" object the library stores for eventInfo(i).
func eventJSON(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"code": "template_update", "name": "Template updated",
		"description": "a template changed", "info": eventInfo(i)})
	return b
}

// adminDSN returns the server's DSN, or skips b.
func adminDSN(b *testing.B) string {
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" {
		b.Skipf("%s is not set: these benchmarks need PostgreSQL; run them with scripts/with-postgres.sh (see the commands at the top of bench_test.go)", postgresDSNEnv)
	}
	return dsn
}

// freshDatabase creates a database of its own on the server and drops it
// when b ends; it returns its DSN.
func freshDatabase(b *testing.B, admin string) string {
	b.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "webhook_river_" + hex.EncodeToString(r[:])
	exec := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q)
		return err
	}
	if err := exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		b.Fatalf("creating database %s: %v", name, err)
	}
	b.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			b.Logf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		b.Fatalf("%s must be a URL: %v", postgresDSNEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// openGorm opens a pool of its own on dsn.
func openGorm(b *testing.B, dsn string) *gorm.DB {
	b.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(40)
	sqlDB.SetMaxIdleConns(40)
	b.Cleanup(func() { sqlDB.Close() })
	return db
}

// newLibrary returns a migrated client on db with benchScopes scopes, each
// with one webhook "hook" at endpoint subscribed to every event.
func newLibrary(b *testing.B, db *gorm.DB, endpoint string, cfg webhook.Config) *webhook.Client {
	b.Helper()
	ctx := context.Background()
	cfg.PrivateSecret = privateSecret
	c, err := webhook.New(db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(events), webhook.SyncOptions{}); err != nil {
		b.Fatal(err)
	}
	for s := range benchScopes {
		code := fmt.Sprintf("s%d", s)
		if err := c.ApplyScopeWebhooks(ctx, "shop", code, []webhook.WebhookConfig{{Code: "hook", Name: "hook", Endpoint: endpoint}}); err != nil {
			b.Fatal(err)
		}
		if err := c.ApplyScopeSubscriptions(ctx, "shop", code, map[string][]string{"hook": {webhook.AllEvents}}); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// libraryEvents are n events over the scopes, one delivery each.
func libraryEvents(n int) []webhook.EnqueueEvent {
	out := make([]webhook.EnqueueEvent, n)
	for i := range out {
		out[i] = webhook.EnqueueEvent{Event: "template_update", Scopes: []webhook.Scope{{Type: "shop", Code: fmt.Sprintf("s%d", i%benchScopes)}}, ExtraInfo: eventInfo(i)}
	}
	return out
}

// riverJobs are n jobs carrying what libraryEvents(n) enqueues.
func riverJobs(n int, endpoint string) []river.InsertManyParams {
	out := make([]river.InsertManyParams, n)
	for i := range out {
		out[i] = river.InsertManyParams{Args: deliveryArgs{
			Event: eventJSON(i), ScopeType: "shop", ScopeCode: fmt.Sprintf("s%d", i%benchScopes), Webhook: "hook",
			DeliveryID: newID(), Endpoint: endpoint,
		}}
	}
	return out
}

func newID() string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// openRiver opens a pgx pool of its own on dsn and migrates River's
// tables into it (once per database: the migrator skips what is there).
func openRiver(b *testing.B, dsn string) *pgxpool.Pool {
	b.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatalf("migrating River: %v", err)
	}
	return pool
}

// figures collects the results of a benchmark's sub-benchmarks, for the
// ratios of the later ones to the earlier.
type figures map[string]float64

// ratio reports f[of]/f[to] on b in unit; nothing when the benchmark of
// to did not run (a -bench pattern that leaves it out).
func (f figures) ratio(b *testing.B, of, to, unit string) {
	if f[to] == 0 {
		return
	}
	r := f[of] / f[to]
	b.ReportMetric(r, unit)
}

// BenchmarkEnqueueBatch enqueues 20,000 deliveries in one transaction: with
// River's InsertManyTx (the reference), with a loop of EnqueueTx and with
// EnqueueManyTx; it reports ms per 20,000 and each one's ratio to River.
func BenchmarkEnqueueBatch(b *testing.B) {
	admin := adminDSN(b)
	const endpoint = "http://127.0.0.1:9/hook" // never sent to
	f := figures{}
	run := func(name string, setup func(b *testing.B) func(ctx context.Context) error, reset func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			once := setup(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := once(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				reset(b)
				b.StartTimer()
			}
			ms := float64(b.Elapsed().Microseconds()) / 1000 / float64(b.N)
			f[name] = ms
			b.ReportMetric(ms, "ms/20k")
			if name != "river_insert_many_tx" {
				f.ratio(b, name, "river_insert_many_tx", "x_river")
			}
		})
	}
	var pool *pgxpool.Pool
	var riverClient *river.Client[pgx.Tx]
	riverSetup := func(fast bool) func(b *testing.B) func(ctx context.Context) error {
		return func(b *testing.B) func(ctx context.Context) error {
			pool = openRiver(b, freshDatabase(b, admin))
			workers := river.NewWorkers()
			river.AddWorker(workers, &postWorker{})
			var err error
			riverClient, err = river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			return func(ctx context.Context) error {
				jobs := riverJobs(batchSize, endpoint) // built inside the timing, as the library builds its rows
				tx, err := pool.Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
				if fast {
					n, err := riverClient.InsertManyFastTx(ctx, tx, jobs)
					if err == nil && n != batchSize {
						err = fmt.Errorf("InsertManyFastTx inserted %d jobs, want %d", n, batchSize)
					}
					if err != nil {
						return err
					}
				} else {
					res, err := riverClient.InsertManyTx(ctx, tx, jobs)
					if err == nil && len(res) != batchSize {
						err = fmt.Errorf("InsertManyTx inserted %d jobs, want %d", len(res), batchSize)
					}
					if err != nil {
						return err
					}
				}
				return tx.Commit(ctx)
			}
		}
	}
	riverReset := func(b *testing.B) {
		if _, err := pool.Exec(context.Background(), "TRUNCATE river_job"); err != nil {
			b.Fatal(err)
		}
	}
	run("river_insert_many_tx", riverSetup(false), riverReset)
	run("river_insert_many_fast_tx", riverSetup(true), riverReset)

	var lib *webhook.Client
	libSetup := func(loop bool) func(b *testing.B) func(ctx context.Context) error {
		return func(b *testing.B) func(ctx context.Context) error {
			lib = newLibrary(b, openGorm(b, freshDatabase(b, admin)), endpoint, webhook.Config{})
			return func(ctx context.Context) error {
				evs := libraryEvents(batchSize)
				return lib.DB().Transaction(func(tx *gorm.DB) error {
					if !loop {
						ids, err := lib.EnqueueManyTx(ctx, tx, evs)
						if err == nil && len(ids) != batchSize {
							err = fmt.Errorf("EnqueueManyTx returned %d id lists, want %d", len(ids), batchSize)
						}
						return err
					}
					for _, e := range evs {
						if _, err := lib.EnqueueTx(ctx, tx, e.Event, e.Scopes, e.ExtraInfo); err != nil {
							return err
						}
					}
					return nil
				})
			}
		}
	}
	libReset := func(b *testing.B) {
		var n int64
		if err := lib.DB().Raw("SELECT COUNT(*) FROM webhook_delivery").Scan(&n).Error; err != nil || n != batchSize {
			b.Fatalf("%d deliveries written (%v), want %d", n, err, batchSize)
		}
		if err := lib.DB().Exec("TRUNCATE webhook_delivery").Error; err != nil {
			b.Fatal(err)
		}
	}
	run("loop_enqueue_tx", libSetup(true), libReset)
	run("enqueue_many_tx", libSetup(false), libReset)
	if f["enqueue_many_tx"] > 0 && f["river_insert_many_tx"] > 0 {
		b.Logf("20,000 deliveries in one transaction: loop of EnqueueTx %.0f ms, EnqueueManyTx %.0f ms, River InsertManyTx %.0f ms (InsertManyFastTx %.0f ms): EnqueueManyTx/InsertManyTx = %.2f",
			f["loop_enqueue_tx"], f["enqueue_many_tx"], f["river_insert_many_tx"], f["river_insert_many_fast_tx"], f["enqueue_many_tx"]/f["river_insert_many_tx"])
	}
}

// receiver returns a loopback server answering every request after delay.
func receiver(b *testing.B, delay time.Duration) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if delay > 0 {
			time.Sleep(delay)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"message": "ok"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// waitUntil polls done every 20 ms, failing b after waitLimit.
func waitUntil(b *testing.B, what string, done func() (bool, error)) {
	b.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		ok, err := done()
		if err != nil {
			b.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not done after %s", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drainLibrary enqueues a backlog of b.N deliveries (not timed), then times
// instances clients, each on a pool of its own, draining it with 32
// workers each, history written.
func drainLibrary(b *testing.B, admin, endpoint string, instances int) float64 {
	dsn := freshDatabase(b, admin)
	cfg := webhook.Config{PrivateSecret: privateSecret, Workers: drainWorkers, MaxInFlightPerWebhook: drainWorkers, PollInterval: 10 * time.Millisecond}
	first := newLibrary(b, openGorm(b, dsn), endpoint, cfg)
	clients := []*webhook.Client{first}
	for range instances - 1 {
		c, err := webhook.New(openGorm(b, dsn), cfg)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	ctx := context.Background()
	if _, err := first.EnqueueMany(ctx, libraryEvents(b.N)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range clients {
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	waitUntil(b, "the library's drain", func() (bool, error) {
		var left []int64
		err := first.DB().Raw("SELECT id FROM webhook_delivery WHERE status = ? LIMIT 1", webhook.StatusPending).Scan(&left).Error
		return len(left) == 0, err
	})
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	stop, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, c := range clients {
		if err := c.Stop(stop); err != nil {
			b.Fatal(err)
		}
	}
	var hist, ok int64
	first.DB().Raw("SELECT COUNT(*) FROM webhook_history").Scan(&hist)
	first.DB().Raw("SELECT COUNT(*) FROM webhook_delivery WHERE status = ?", webhook.StatusSucceeded).Scan(&ok)
	if hist != int64(b.N) || ok != int64(b.N) {
		b.Fatalf("%d history rows and %d succeeded deliveries for %d", hist, ok, b.N)
	}
	return rate
}

// drainRiver inserts b.N jobs (not timed), then times instances River
// clients, each on a pool of its own with 32 workers, working them.
func drainRiver(b *testing.B, admin, endpoint string, instances int) float64 {
	dsn := freshDatabase(b, admin)
	ctx := context.Background()
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	b.Cleanup(httpClient.CloseIdleConnections)
	var clients []*river.Client[pgx.Tx]
	var pools []*pgxpool.Pool
	for range instances {
		pool := openRiver(b, dsn)
		workers := river.NewWorkers()
		river.AddWorker(workers, &postWorker{client: httpClient})
		c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: drainWorkers}},
			Workers:           workers,
			FetchCooldown:     time.Millisecond,
			FetchPollInterval: 10 * time.Millisecond,
			Logger:            slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		clients, pools = append(clients, c), append(pools, pool)
	}
	for jobs := riverJobs(b.N, endpoint); len(jobs) > 0; {
		n := min(len(jobs), 10000)
		if _, err := clients[0].InsertManyFast(ctx, jobs[:n]); err != nil {
			b.Fatal(err)
		}
		jobs = jobs[n:]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range clients {
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}
	waitUntil(b, "River's drain", func() (bool, error) {
		var left int64
		err := pools[0].QueryRow(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM river_job WHERE state <> 'completed' LIMIT 1) x").Scan(&left)
		return left == 0, err
	})
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	stop, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var errs []error
	for _, c := range clients {
		errs = append(errs, c.Stop(stop))
	}
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var done int64
	if err := pools[0].QueryRow(ctx, "SELECT COUNT(*) FROM river_job WHERE state = 'completed' AND attempt = 1").Scan(&done); err != nil || done != int64(b.N) {
		b.Fatalf("%d jobs completed at their first attempt (%v), want %d", done, err, b.N)
	}
	return rate
}

// BenchmarkDrainVsRiver drains a backlog of b.N deliveries (use
// -benchtime=30000x) with the library's workers and with River's, 32 each,
// to a loopback receiver: one instance to a receiver that answers at once
// (ratio library/River), then one and two instances to a receiver that
// takes 5 ms per request, and to one that takes 50 ms, which bounds one
// instance at 32 / 50 ms = 640 deliveries/s, far below what the database
// takes: I/O-bound (ratios two/one, and library/River).
func BenchmarkDrainVsRiver(b *testing.B) {
	admin := adminDSN(b)
	fast, slow, slower := receiver(b, 0), receiver(b, 5*time.Millisecond), receiver(b, 50*time.Millisecond)
	f := figures{}
	backlog := 0
	run := func(name string, drain func(b *testing.B) float64, ratios func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			rate := drain(b)
			f[name], backlog = rate, b.N
			b.ReportMetric(rate, "deliveries/s")
			ratios(b)
		})
	}
	none := func(*testing.B) {}
	run("fast/river", func(b *testing.B) float64 { return drainRiver(b, admin, fast.URL+"/hook", 1) }, none)
	run("fast/library", func(b *testing.B) float64 { return drainLibrary(b, admin, fast.URL+"/hook", 1) },
		func(b *testing.B) { f.ratio(b, "fast/library", "fast/river", "x_river") })
	for _, io := range []struct {
		name string
		srv  *httptest.Server
	}{{"io5ms", slow}, {"io50ms", slower}} {
		one, two := io.name+"_one_instance/", io.name+"_two_instances/"
		url := io.srv.URL + "/hook"
		run(one+"river", func(b *testing.B) float64 { return drainRiver(b, admin, url, 1) }, none)
		run(one+"library", func(b *testing.B) float64 { return drainLibrary(b, admin, url, 1) },
			func(b *testing.B) { f.ratio(b, one+"library", one+"river", "x_river") })
		run(two+"river", func(b *testing.B) float64 { return drainRiver(b, admin, url, 2) },
			func(b *testing.B) { f.ratio(b, two+"river", one+"river", "x_one") })
		run(two+"library", func(b *testing.B) float64 { return drainLibrary(b, admin, url, 2) },
			func(b *testing.B) {
				f.ratio(b, two+"library", one+"library", "x_one")
				f.ratio(b, two+"library", two+"river", "x_river")
			})
	}
	if f["fast/river"] > 0 && f["io50ms_two_instances/library"] > 0 {
		b.Logf("drain of %d deliveries, deliveries/s: fast receiver library %.0f, River %.0f (library/River %.2f)",
			backlog, f["fast/library"], f["fast/river"], f["fast/library"]/f["fast/river"])
		for _, io := range []string{"io5ms", "io50ms"} {
			one, two := io+"_one_instance/", io+"_two_instances/"
			b.Logf("%s receiver: one instance library %.0f, River %.0f; two instances library %.0f (two/one %.2f), River %.0f (two/one %.2f)",
				strings.TrimPrefix(io, "io"), f[one+"library"], f[one+"river"],
				f[two+"library"], f[two+"library"]/f[one+"library"], f[two+"river"], f[two+"river"]/f[one+"river"])
		}
	}
}
