package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Fault tests: the delivery engine under the failures it is built to
// survive, with its default configuration (so the default 20 s lease):
//
//   - TestKillWithDefaultLease: a process running the workers is killed
//     with SIGKILL mid-drain and another is started at once;
//   - TestPostgresSurvivorTakesOver: one of two instances sharing a
//     PostgreSQL database is killed and the other finishes alone;
//   - TestPostgresRestartMidDrain: the PostgreSQL server itself dies
//     (pg_ctl stop -m immediate) mid-drain and comes back 20 s later;
//   - TestPostgresFrozenStop: the PostgreSQL server is frozen (SIGSTOP)
//     and Stop must still return on its context's deadline.
//
// The worker processes are the test binary itself, re-run as
// TestFaultChild. The last two tests run a private PostgreSQL server of
// their own (privatePostgres), never the shared one of
// WEBHOOK_TEST_POSTGRES_DSN.

const (
	faultChildEnv   = "WEBHOOK_FAULT_CHILD"
	faultDialectEnv = "WEBHOOK_FAULT_DIALECT"
	faultDSNEnv     = "WEBHOOK_FAULT_DSN"
	// faultChildMaxRun bounds a child that nobody kills.
	faultChildMaxRun = 3 * time.Minute
	// faultDrainBudget is how long after the fault everything must be
	// delivered: the default lease (20 s) plus margin.
	faultDrainBudget = 30 * time.Second
)

// TestFaultChild is the worker process of the fault tests: it starts the
// workers with the default configuration on the database the parent names
// and runs until it is killed (or its parent is gone). It does nothing in a
// normal run.
func TestFaultChild(t *testing.T) {
	if os.Getenv(faultChildEnv) != "1" {
		t.Skip("the child process of the fault tests (faults_test.go)")
	}
	parent := os.Getppid()
	var db *gorm.DB
	var err error
	switch os.Getenv(faultDialectEnv) {
	case dialectSQLite:
		db, err = gorm.Open(sqlite.Open(os.Getenv(faultDSNEnv)+"?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL"), &gorm.Config{Logger: logger.Discard})
	case dialectPostgres:
		db, err = gorm.Open(postgres.Open(os.Getenv(faultDSNEnv)), &gorm.Config{Logger: logger.Discard})
	default:
		t.Fatalf("%s=%q: want sqlite or postgres", faultDialectEnv, os.Getenv(faultDialectEnv))
	}
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.SetMaxIdleConns(32)
	}
	// The default configuration; the logger only makes the child's log
	// useful when a test fails.
	c, err := New(db, Config{PrivateSecret: testSecret, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "fault child %d: workers started (lease %s)\n", os.Getpid(), c.cfg.LeaseDuration)
	deadline := time.Now().Add(faultChildMaxRun)
	for time.Now().Before(deadline) && os.Getppid() == parent {
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Stop(ctx)
}

// faultChild is a running TestFaultChild process.
type faultChild struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process exited
}

// startFaultChild starts a worker process on the database dsn of dialect;
// it is killed when t ends.
func startFaultChild(t *testing.T, dialect, dsn, name string) *faultChild {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ch := &faultChild{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(ch.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	ch.cmd = exec.Command(exe, "-test.run=^TestFaultChild$", "-test.count=1", "-test.v")
	ch.cmd.Env = append(os.Environ(), faultChildEnv+"=1", faultDialectEnv+"="+dialect, faultDSNEnv+"="+dsn)
	ch.cmd.Stdout, ch.cmd.Stderr = logFile, logFile
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = ch.cmd.Wait()
		close(ch.done)
	}()
	t.Cleanup(ch.kill)
	return ch
}

// kill sends SIGKILL and waits until the process is gone.
func (ch *faultChild) kill() {
	_ = ch.cmd.Process.Signal(syscall.SIGKILL)
	<-ch.done
}

func (ch *faultChild) exited() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// tail is the end of the child's log.
func (ch *faultChild) tail() string {
	data, _ := os.ReadFile(ch.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return fmt.Sprintf("--- log of child %s (pid %d) ---\n%s", ch.name, ch.cmd.Process.Pid, data)
}

// faultReceiver is a loopback endpoint that takes a few milliseconds per
// request (so that requests are in flight when a fault strikes) and counts
// the requests of each delivery id.
type faultReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	counts   map[string]int
	requests atomic.Int64
	distinct atomic.Int64
}

func newFaultReceiver(t testing.TB) *faultReceiver {
	t.Helper()
	rc := &faultReceiver{counts: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		id := deliveryIDOf(body)
		if err != nil || id == "" {
			// Cut off mid-request (its sender died): not received.
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.counts[id]++
		first := rc.counts[id] == 1
		rc.mu.Unlock()
		rc.requests.Add(1)
		if first {
			rc.distinct.Add(1)
		}
		time.Sleep(time.Duration(2000+rand.IntN(3000)) * time.Microsecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message": "ok"}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// tally counts the ids that never arrived and the requests beyond the
// first of each id.
func (rc *faultReceiver) tally(ids []string) (missing, duplicates int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range ids {
		switch n := rc.counts[id]; {
		case n == 0:
			missing++
		case n > 1:
			duplicates += n - 1
		}
	}
	return missing, duplicates
}

// waitArrived waits until n distinct deliveries arrived; it fails t after
// timeout, or if a child it watches exited.
func (rc *faultReceiver) waitArrived(t *testing.T, n int64, timeout time.Duration, children ...*faultChild) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for rc.distinct.Load() < n {
		for _, ch := range children {
			if ch.exited() {
				t.Fatalf("child %s exited before %d deliveries arrived (%d did)\n%s", ch.name, n, rc.distinct.Load(), ch.tail())
			}
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, ch := range children {
				logs = append(logs, ch.tail())
			}
			t.Fatalf("after %s only %d of the %d deliveries awaited arrived\n%s", timeout, rc.distinct.Load(), n, strings.Join(logs, "\n"))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// enqueueBacklog enqueues n deliveries of template_update in scope biz/one
// (one webhook: one delivery each), 500 per transaction, and returns their
// ids.
func enqueueBacklog(t testing.TB, c *Client, n int) []string {
	t.Helper()
	ctx := testCtx(t)
	ids := make([]string, 0, n)
	for len(ids) < n {
		var batch []string
		err := c.DB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			batch = batch[:0]
			for i := 0; i < 500 && len(ids)+len(batch) < n; i++ {
				got, err := c.EnqueueTx(ctx, tx, "template_update", []Scope{{"biz", "one"}}, map[string]any{"n": len(ids) + i})
				if err != nil {
					return err
				}
				batch = append(batch, got...)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("enqueueing the backlog: %v", err)
		}
		if len(batch) == 0 {
			t.Fatal("enqueueing the backlog: no webhook subscribes to template_update in biz/one")
		}
		ids = append(ids, batch...)
	}
	return ids
}

// countDeliveries counts the rows of webhook_delivery that match where.
func countDeliveries(db *gorm.DB, where string, args ...any) (int64, error) {
	var n int64
	err := db.Model(&deliveryRow{}).Where(where, args...).Count(&n).Error
	return n, err
}

func mustCountDeliveries(t testing.TB, db *gorm.DB, where string, args ...any) int64 {
	t.Helper()
	n, err := countDeliveries(db, where, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// faultDSN tells a child process where the database of db is.
func faultDSN(t testing.TB, tdb *testDB, db *gorm.DB) string {
	t.Helper()
	if tdb.name == dialectSQLite {
		var rows []struct{ Name, File string }
		if err := db.Raw("PRAGMA database_list").Scan(&rows).Error; err != nil || len(rows) == 0 || rows[0].File == "" {
			t.Fatalf("sqlite: no file behind the database: %v", err)
		}
		return rows[0].File
	}
	var name string
	if err := db.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(postgresDSNEnv))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// report prints a test's figures to the test log and to stderr, for CI.
func report(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf(format, args...)
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// waitDrained waits until every one of n deliveries succeeded and arrived,
// until deadline; it returns whether they did. Database errors are
// tolerated (the database may just be coming back).
func waitDrained(db *gorm.DB, rc *faultReceiver, n int64, deadline time.Time) bool {
	for {
		ok, err := countDeliveries(db, "status = ?", StatusSucceeded)
		if err == nil && ok == n && rc.distinct.Load() >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusesOf is deliveriesByStatus plus the count of leased deliveries,
// for failure messages.
func statusesOf(t testing.TB, c *Client) string {
	t.Helper()
	leased, _ := countDeliveries(c.DB(), "status = ? AND lease_owner IS NOT NULL", StatusPending)
	var owners []struct {
		LeaseOwner string
		N          int
	}
	c.DB().Raw("SELECT lease_owner, COUNT(*) AS n FROM webhook_delivery WHERE status = ? AND lease_owner IS NOT NULL GROUP BY lease_owner", StatusPending).Scan(&owners)
	var inst []instanceRow
	c.DB().Find(&inst)
	return fmt.Sprintf("statuses %v, %d pending leased (by owner %+v), instances %+v", deliveriesByStatus(t, c), leased, owners, inst)
}

// TestKillWithDefaultLease kills a worker process with SIGKILL mid-drain,
// with the default lease, and starts another at once: everything is
// delivered within the lease plus margin, and the duplicates are bounded by
// what the dead process held.
func TestKillWithDefaultLease(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills and restarts worker processes for about half a minute")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		faultKillRestart(t, sqliteTestDB())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		faultKillRestart(t, postgresTestDB(t))
	})
}

func faultKillRestart(t *testing.T, tdb *testDB) {
	const total = 2000
	rc := newFaultReceiver(t)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ids := enqueueBacklog(t, c, total)
	dsn := faultDSN(t, tdb, c.DB())

	first := startFaultChild(t, tdb.name, dsn, "first")
	rc.waitArrived(t, total/3, time.Minute, first)
	killedAt := time.Now()
	first.kill()
	arrivedAtKill := rc.distinct.Load()
	// What the dead process leased and did not record: only these may
	// reach the receiver twice.
	inFlight := mustCountDeliveries(t, c.DB(), "status = ? AND lease_owner IS NOT NULL", StatusPending)
	second := startFaultChild(t, tdb.name, dsn, "second")

	if !waitDrained(c.DB(), rc, total, killedAt.Add(faultDrainBudget)) {
		t.Fatalf("%s after the kill: %d of %d deliveries arrived; %s\n%s\n%s", time.Since(killedAt).Round(time.Millisecond),
			rc.distinct.Load(), total, statusesOf(t, c), first.tail(), second.tail())
	}
	drained := time.Since(killedAt)
	if second.exited() {
		t.Errorf("the second child exited by itself\n%s", second.tail())
	}
	second.kill()

	missing, duplicates := rc.tally(ids)
	stuck := mustCountDeliveries(t, c.DB(), "status <> ?", StatusSucceeded)
	report(t, "fault kill (%s, default lease %s): %d deliveries, %d arrived at the SIGKILL, in flight %d, duplicates %d, missing %d, not succeeded %d, kill to drained %s",
		tdb.name, DefaultLeaseDuration, total, arrivedAtKill, inFlight, duplicates, missing, stuck, drained.Round(time.Millisecond))
	if missing > 0 || stuck > 0 {
		t.Errorf("%d deliveries never arrived, %d are not succeeded", missing, stuck)
	}
	if int64(duplicates) > inFlight {
		t.Errorf("%d duplicates, more than the %d deliveries leased by the killed process", duplicates, inFlight)
	}
}

// TestPostgresSurvivorTakesOver runs two instances on one PostgreSQL
// database and kills one mid-drain: the survivor alone delivers everything,
// the dead one's leased deliveries included, within the lease plus margin.
func TestPostgresSurvivorTakesOver(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a worker process and waits for its lease to expire")
	}
	tdb := postgresTestDB(t)
	const total = 3000
	rc := newFaultReceiver(t)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ids := enqueueBacklog(t, c, total)
	dsn := faultDSN(t, tdb, c.DB())

	victim := startFaultChild(t, tdb.name, dsn, "victim")
	survivor := startFaultChild(t, tdb.name, dsn, "survivor")
	// Both instances registered, and a third delivered.
	waitFor(t, "both instances to register", time.Minute, func() bool {
		if victim.exited() || survivor.exited() {
			t.Fatalf("a child exited\n%s\n%s", victim.tail(), survivor.tail())
		}
		var n int64
		c.DB().Model(&instanceRow{}).Where("pid IN ?", []int{victim.cmd.Process.Pid, survivor.cmd.Process.Pid}).Count(&n)
		return n == 2
	})
	rc.waitArrived(t, total/3, time.Minute, victim, survivor)
	var owners []string
	if err := c.DB().Model(&instanceRow{}).Where("pid = ?", victim.cmd.Process.Pid).Pluck("id", &owners).Error; err != nil || len(owners) != 1 {
		t.Fatalf("the victim's instance row: %v %v", owners, err)
	}
	victimOwner := owners[0]
	survivorLeases := mustCountDeliveries(t, c.DB(), "status = ? AND lease_owner IS NOT NULL AND lease_owner <> ?", StatusPending, victimOwner)

	killedAt := time.Now()
	victim.kill()
	arrivedAtKill := rc.distinct.Load()
	held := mustCountDeliveries(t, c.DB(), "status = ? AND lease_owner = ?", StatusPending, victimOwner)

	if !waitDrained(c.DB(), rc, total, killedAt.Add(faultDrainBudget)) {
		t.Fatalf("%s after the kill: %d of %d deliveries arrived, the dead instance still leases %d; %s\n%s\n%s",
			time.Since(killedAt).Round(time.Millisecond), rc.distinct.Load(), total,
			mustCountDeliveries(t, c.DB(), "status = ? AND lease_owner = ?", StatusPending, victimOwner),
			statusesOf(t, c), victim.tail(), survivor.tail())
	}
	drained := time.Since(killedAt)
	if survivor.exited() {
		t.Fatalf("the survivor exited\n%s", survivor.tail())
	}
	survivor.kill()

	missing, duplicates := rc.tally(ids)
	stuck := mustCountDeliveries(t, c.DB(), "status <> ?", StatusSucceeded)
	report(t, "fault survivor (postgres, default lease %s): %d deliveries, %d arrived at the SIGKILL, dead instance held %d (the survivor %d), duplicates %d, missing %d, not succeeded %d, kill to drained %s",
		DefaultLeaseDuration, total, arrivedAtKill, held, survivorLeases, duplicates, missing, stuck, drained.Round(time.Millisecond))
	if missing > 0 || stuck > 0 {
		t.Errorf("%d deliveries never arrived, %d are not succeeded", missing, stuck)
	}
	if int64(duplicates) > held {
		t.Errorf("%d duplicates, more than the %d deliveries the dead instance held", duplicates, held)
	}
}

// privateFaultSetup starts a private PostgreSQL server and a migrated
// client on it (default Config, logging to logs) with one webhook to a
// fault receiver.
func privateFaultSetup(t *testing.T) (*privatePostgres, *Client, *syncBuffer, *faultReceiver) {
	t.Helper()
	pg := startPrivatePostgres(t)
	logs := &syncBuffer{}
	c := newClientOn(t, pg.open(t), Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err := c.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rc := newFaultReceiver(t)
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	return pg, c, logs, rc
}

// TestPostgresRestartMidDrain kills the PostgreSQL server mid-drain
// (immediate shutdown: no checkpoint, connections cut) and brings it back
// 20 s later: the in-process workers keep the outcomes of what they sent
// and write them again, so everything is delivered once, and history has
// one row per request.
func TestPostgresRestartMidDrain(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("keeps a PostgreSQL server down for 20 s")
	}
	const (
		total    = 5000
		downTime = 20 * time.Second
	)
	pg, c, logs, rc := privateFaultSetup(t)
	ids := enqueueBacklog(t, c, total)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	rc.waitArrived(t, total/3, time.Minute)
	if err := pg.stop("immediate"); err != nil {
		t.Fatalf("stopping PostgreSQL: %v", err)
	}
	downAt := time.Now()
	arrivedAtStop := rc.distinct.Load()
	time.Sleep(downTime)
	arrivedWhileDown := rc.distinct.Load() - arrivedAtStop
	if err := pg.start(); err != nil {
		t.Fatalf("restarting PostgreSQL: %v", err)
	}
	backAt := time.Now()
	down := backAt.Sub(downAt)

	if !waitDrained(c.DB(), rc, total, backAt.Add(faultDrainBudget)) {
		t.Fatalf("%s after PostgreSQL came back: %d of %d deliveries arrived; %s\nworker log:\n%s",
			time.Since(backAt).Round(time.Millisecond), rc.distinct.Load(), total, statusesOf(t, c), logTail(logs.String()))
	}
	drained := time.Since(backAt)
	missing, duplicates := rc.tally(ids)
	var history int64
	if err := c.DB().Table("webhook_history").Count(&history).Error; err != nil {
		t.Fatal(err)
	}
	requests := rc.requests.Load()
	failures := strings.Count(logs.String(), "recording outcomes or claiming deliveries failed")
	report(t, "fault postgres restart: %d deliveries, %d arrived at the stop (%d more while down), down %s, back to drained %s, requests %d, history rows %d, duplicates %d, missing %d, write-failure log lines %d",
		total, arrivedAtStop, arrivedWhileDown, down.Round(time.Millisecond), drained.Round(time.Millisecond), requests, history, duplicates, missing, failures)
	if missing > 0 {
		t.Errorf("%d deliveries never arrived", missing)
	}
	if duplicates > 0 {
		t.Errorf("%d deliveries were sent again although their outcome was kept in memory\nworker log:\n%s", duplicates, logTail(logs.String()))
	}
	if history != requests {
		t.Errorf("%d history rows for %d requests: every attempt must have exactly one row", history, requests)
	}
}

// TestPostgresFrozenStop freezes the PostgreSQL server (SIGSTOP on the
// postmaster and every backend) mid-drain: Stop must still return on its
// context's deadline, with its error.
func TestPostgresFrozenStop(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("freezes a PostgreSQL server")
	}
	const (
		total    = 3000
		deadline = 5 * time.Second
	)
	pg, c, logs, rc := privateFaultSetup(t)
	enqueueBacklog(t, c, total)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.workerMu.Lock()
	w := c.worker
	c.workerMu.Unlock()
	rc.waitArrived(t, total/10, time.Minute)

	frozen, err := pg.freeze()
	t.Cleanup(pg.thaw) // registered before anything can fail: never leave the server frozen
	if err != nil {
		t.Fatalf("freezing PostgreSQL: %v", err)
	}
	arrivedAtFreeze := rc.distinct.Load()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	began := time.Now()
	stopErr := c.Stop(ctx)
	took := time.Since(began)
	pg.thaw()

	// Once the server runs again the worker's goroutines end.
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Errorf("the workers did not end within 30 s of the server thawing\nworker log:\n%s", logTail(logs.String()))
	}
	leftLeased := strings.Contains(logs.String(), "workers stopped without recording everything")
	report(t, "fault frozen stop: %d processes frozen, %d deliveries arrived at the freeze, Stop(%s deadline) returned after %s with %v, warned of deliveries left leased: %v",
		frozen, arrivedAtFreeze, deadline, took.Round(time.Millisecond), stopErr, leftLeased)
	if took > deadline+time.Second {
		t.Errorf("Stop took %s with a %s deadline on a frozen database", took, deadline)
	}
	if !errors.Is(stopErr, context.DeadlineExceeded) {
		t.Errorf("Stop returned %v, want context.DeadlineExceeded", stopErr)
	}
}

func logTail(s string) string {
	if len(s) > 6000 {
		s = "…" + s[len(s)-6000:]
	}
	return s
}

// privatePostgres is a PostgreSQL server of one test, in a temporary
// directory, on a loopback port, as scripts/with-postgres.sh starts one:
// initdb and pg_ctl run as the unprivileged 'postgres' OS user when the test
// runs as root. The test may stop, start and freeze it; it is thawed,
// stopped and removed when the test ends.
type privatePostgres struct {
	t     testing.TB
	bin   string
	dir   string
	data  string
	port  int
	runas []string

	mu     sync.Mutex
	frozen map[int]bool
}

// postgresBin finds the newest PostgreSQL server binaries (PGBIN wins).
func postgresBin() string {
	if bin := os.Getenv("PGBIN"); bin != "" {
		return bin
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) == 0 {
		return ""
	}
	return dirs[len(dirs)-1]
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin := postgresBin()
	for _, tool := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); bin == "" || err != nil {
			msg := fmt.Sprintf("this test runs a PostgreSQL server of its own and needs its binaries: %s not found under %q "+
				"(apt-get install postgresql, or set PGBIN)", tool, bin)
			if os.Getenv("WEBHOOK_TEST_REQUIRE_POSTGRES") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	p := &privatePostgres{t: t, bin: bin, frozen: map[int]bool{}}
	dir, err := os.MkdirTemp("", "webhook-fault-pg.")
	if err != nil {
		t.Fatal(err)
	}
	p.dir, p.data = dir, filepath.Join(dir, "data")
	t.Cleanup(func() {
		p.thaw()
		_ = p.pgctl(time.Minute, "-D", p.data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(p.dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		name := os.Getenv("PGUSER_OS")
		if name == "" {
			name = "postgres"
		}
		u, err := user.Lookup(name)
		if err != nil {
			if out, err := exec.Command("useradd", "--system", "--no-create-home", name).CombinedOutput(); err != nil {
				t.Fatalf("creating the OS user %s for PostgreSQL: %v %s", name, err, out)
			}
			if u, err = user.Lookup(name); err != nil {
				t.Fatal(err)
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.runas = []string{"runuser", "-u", name, "--"}
	}
	initdb := func(locale string) error {
		return p.run(2*time.Minute, filepath.Join(dir, "initdb.log"), filepath.Join(bin, "initdb"),
			"-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale="+locale)
	}
	if err := initdb("C.UTF-8"); err != nil {
		os.RemoveAll(p.data)
		if err := initdb("C"); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "initdb.log"))
			t.Fatalf("initdb: %v\n%s", err, log)
		}
	}
	for attempt := 0; ; attempt++ {
		p.port = freeLoopbackPort(t)
		if err = p.start(); err == nil {
			break
		}
		if attempt == 4 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("PostgreSQL did not start: %v\n%s", err, log)
		}
	}
	return p
}

// freeLoopbackPort returns a port of 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	for {
		port := 20000 + rand.IntN(20000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return port
		}
	}
}

// run runs a PostgreSQL tool as the server's OS user, its output appended
// to logPath (a file, not a pipe: the postmaster pg_ctl starts must not
// inherit a pipe Wait would wait on).
func (p *privatePostgres) run(timeout time.Duration, logPath, tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append(append([]string{}, p.runas...), tool), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = p.dir
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w (see %s)", filepath.Base(tool), strings.Join(args, " "), err, logPath)
	}
	return nil
}

func (p *privatePostgres) pgctl(timeout time.Duration, args ...string) error {
	return p.run(timeout, filepath.Join(p.dir, "pg_ctl.log"), filepath.Join(p.bin, "pg_ctl"), args...)
}

// start starts the server on its port and waits until it accepts
// connections. fsync is off (the tests kill processes, never the machine,
// so the OS keeps what was written); synchronous_commit stays on, or an
// immediate shutdown could lose transactions it reported committed.
func (p *privatePostgres) start() error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = p.pgctl(90*time.Second, "-D", p.data, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60",
			"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off -c full_page_writes=off -c synchronous_commit=on", p.port, p.dir),
			"start")
		if err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// stop stops the server with pg_ctl's mode (smart, fast or immediate).
func (p *privatePostgres) stop(mode string) error {
	return p.pgctl(time.Minute, "-D", p.data, "-m", mode, "-w", "stop")
}

func (p *privatePostgres) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// open connects to the server's postgres database.
func (p *privatePostgres) open(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(p.dsn()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(20)
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// postmasterPID reads the first line of postmaster.pid.
func (p *privatePostgres) postmasterPID() (int, error) {
	data, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// childPIDs lists the processes whose parent is pid, from /proc/*/stat.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// freeze stops the postmaster (first, so that it forks no more) and every
// process it started, and returns how many it stopped.
func (p *privatePostgres) freeze() (int, error) {
	pm, err := p.postmasterPID()
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		return 0, err
	}
	p.frozen[pm] = true
	for range 2 { // again, for a child forked while the postmaster stopped
		for _, pid := range childPIDs(pm) {
			if !p.frozen[pid] && syscall.Kill(pid, syscall.SIGSTOP) == nil {
				p.frozen[pid] = true
			}
		}
	}
	return len(p.frozen), nil
}

// thaw continues every process freeze stopped, and any child of the
// postmaster. It is safe to call at any time, more than once.
func (p *privatePostgres) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := map[int]bool{}
	for pid := range p.frozen {
		pids[pid] = true
	}
	if pm, err := p.postmasterPID(); err == nil && len(p.frozen) > 0 {
		pids[pm] = true
		for _, pid := range childPIDs(pm) {
			pids[pid] = true
		}
	}
	for pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	p.frozen = map[int]bool{}
}
