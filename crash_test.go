package webhook

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The crash test runs the test binary itself as a child process that
// enqueues and delivers, kills it with SIGKILL at random points, restarts
// it, and checks at the end that every delivery reached the receiver at
// least once, none is stuck, and the duplicates are bounded by what was in
// flight at each kill.

const (
	crashChildEnv    = "WEBHOOK_CRASH_CHILD"
	crashDialectEnv  = "WEBHOOK_CRASH_DIALECT"
	crashDSNEnv      = "WEBHOOK_CRASH_DSN"
	crashTotalEnv    = "WEBHOOK_CRASH_TOTAL"
	crashLeaseEnv    = "WEBHOOK_CRASH_LEASE"
	crashDeliveries  = 3000
	crashKills       = 4
	crashLease       = 2 * time.Second
	crashChildMaxRun = 2 * time.Minute
)

// TestCrashChild is the child process of the crash test; it does nothing
// in a normal run.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("the child process of testCrashRecovery")
	}
	var db *gorm.DB
	var err error
	switch os.Getenv(crashDialectEnv) {
	case dialectSQLite:
		db, err = gorm.Open(sqlite.Open(os.Getenv(crashDSNEnv)+"?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL"), &gorm.Config{Logger: logger.Discard})
	default:
		db, err = gorm.Open(postgres.Open(os.Getenv(crashDSNEnv)), &gorm.Config{Logger: logger.Discard})
	}
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.SetMaxIdleConns(32)
	}
	total, _ := strconv.Atoi(os.Getenv(crashTotalEnv))
	lease, _ := time.ParseDuration(os.Getenv(crashLeaseEnv))
	c, err := New(db, Config{PrivateSecret: testSecret, PollInterval: 10 * time.Millisecond, Workers: 16, ClaimBatch: 50,
		Timeout: lease / 4, LeaseDuration: lease})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(crashChildMaxRun)
	for time.Now().Before(deadline) { // the parent kills us
		var n int64
		if err := db.Model(&deliveryRow{}).Count(&n).Error; err != nil {
			t.Log(err)
		}
		for i := int64(0); i < 25 && n+i < int64(total); i++ {
			if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, map[string]any{"n": n + i}); err != nil {
				t.Log(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// crashLocation tells the child where the database is.
func crashLocation(t *testing.T, tdb *testDB, db *gorm.DB) string {
	t.Helper()
	if tdb.name == dialectSQLite {
		var rows []struct{ Name, File string }
		if err := db.Raw("PRAGMA database_list").Scan(&rows).Error; err != nil || len(rows) == 0 {
			t.Fatal(err)
		}
		return rows[0].File
	}
	var name string
	if err := db.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	return strings.Replace(os.Getenv(postgresDSNEnv), "/postgres?", "/"+name+"?", 1)
}

func testCrashRecovery(t *testing.T, tdb *testDB) {
	if testing.Short() {
		t.Skip("the crash test runs child processes for about half a minute")
	}
	var mu sync.Mutex
	received := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // keep some requests in flight
		mu.Lock()
		received[deliveryIDOf(body)]++
		mu.Unlock()
	})
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	dsn := crashLocation(t, tdb, c.DB())
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spawn := func() *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDialectEnv+"="+tdb.name, crashDSNEnv+"="+dsn,
			crashTotalEnv+"="+strconv.Itoa(crashDeliveries), crashLeaseEnv+"="+crashLease.String())
		logFile, _ := os.Create(filepath.Join(t.TempDir(), "child.log"))
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	count := func(where string, args ...any) int64 {
		var n int64
		if err := c.DB().Model(&deliveryRow{}).Where(where, args...).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	start := time.Now()
	var inFlight []int64
	for kill := 0; kill < crashKills; kill++ {
		cmd := spawn()
		// Kill it at a random point after it got going.
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		// Deliveries leased by the dead process: sent or about to be, not
		// recorded. Only these may reach the receiver twice.
		inFlight = append(inFlight, count("status = ? AND lease_owner IS NOT NULL", StatusPending))
	}
	cmd := spawn()
	deadline := time.Now().Add(90 * time.Second)
	for count("status = ?", StatusSucceeded) < crashDeliveries {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("after %s: %d of %d deliveries succeeded; statuses %v", time.Since(start), count("status = ?", StatusSucceeded), crashDeliveries, deliveriesByStatus(t, c))
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	elapsed := time.Since(start)

	var ids []string
	if err := c.DB().Model(&deliveryRow{}).Pluck("delivery_id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	if len(ids) != crashDeliveries {
		t.Fatalf("%d deliveries enqueued, want %d", len(ids), crashDeliveries)
	}
	mu.Lock()
	defer mu.Unlock()
	missing, duplicates := 0, 0
	for _, id := range ids {
		switch n := received[id]; {
		case n == 0:
			missing++
		case n > 1:
			duplicates += n - 1
		}
	}
	var bound int64
	for _, n := range inFlight {
		bound += n
	}
	stuck := count("status <> ?", StatusSucceeded)
	t.Logf("crash test (%s): %d deliveries, %d SIGKILLs, in flight at each kill %v (bound %d), duplicates %d, missing %d, stuck %d, %s",
		tdb.name, crashDeliveries, crashKills, inFlight, bound, duplicates, missing, stuck, elapsed.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "crash test (%s): %d deliveries, %d SIGKILLs, in flight at kills %v, duplicates %d (bound %d), missing %d, stuck %d, %s\n",
		tdb.name, crashDeliveries, crashKills, inFlight, duplicates, bound, missing, stuck, elapsed.Round(time.Millisecond))
	if missing > 0 || stuck > 0 {
		t.Errorf("%d deliveries never reached the receiver, %d are not succeeded", missing, stuck)
	}
	if int64(duplicates) > bound {
		t.Errorf("%d duplicates, more than the %d deliveries in flight at the kills", duplicates, bound)
	}
}
