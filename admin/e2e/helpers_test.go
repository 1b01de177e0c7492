package e2e_test

// Test helpers copied from package admin's tests (admin/helpers_test.go and
// admin/circuit_test.go): _test.go files cannot be imported from another
// module.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testSecret = "admin-test-private-secret-0123456789"

// openDB opens (or creates) a SQLite database file.
func openDB(t testing.TB, path string) *gorm.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "webhook.db")
	}
	db, err := gorm.Open(sqlite.Open(path+"?_busy_timeout=10000&_journal_mode=WAL"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxIdleConns(16)
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// newClient returns a migrated client on a fresh database.
func newClient(t testing.TB, cfg webhook.Config) (*webhook.Client, *gorm.DB) {
	t.Helper()
	db := openDB(t, "")
	if cfg.PrivateSecret == "" {
		cfg.PrivateSecret = testSecret
	}
	c, err := webhook.New(db, cfg)
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return c, db
}

// setCircuit opens a webhook's circuit breaker by writing its columns, as
// the workers would: until in the future is open, in the past half-open.
func setCircuit(t testing.TB, db *gorm.DB, scopeType, scopeCode, code string, openedAt, until time.Time, failures, probes int, reason string) {
	t.Helper()
	res := db.Exec(`UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?, circuit_failures = ?, circuit_probes = ?, circuit_reason = ?
		WHERE scope_type = ? AND scope_code = ? AND code = ?`, until.UTC(), openedAt.UTC(), failures, probes, reason, scopeType, scopeCode, code)
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("opening the circuit of %s: %v (%d rows)", code, res.Error, res.RowsAffected)
	}
}

// circuitColumns reads a webhook's circuit columns back from the database.
type circuitColumns struct {
	CircuitOpenUntil *time.Time
	CircuitOpenedAt  *time.Time
	CircuitFailures  int
	CircuitProbes    int
	CircuitReason    *string
}

func readCircuit(t testing.TB, db *gorm.DB, scopeType, scopeCode, code string) circuitColumns {
	t.Helper()
	var c circuitColumns
	if err := db.Table("webhook_webhook").Select("circuit_open_until, circuit_opened_at, circuit_failures, circuit_probes, circuit_reason").
		Where("scope_type = ? AND scope_code = ? AND code = ?", scopeType, scopeCode, code).Scan(&c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}

// insertInstance writes a webhook_instance row, as a worker's heartbeat
// would.
func insertInstance(t testing.TB, db *gorm.DB, id, host string, pid, workers int, started, seen time.Time) {
	t.Helper()
	if err := db.Exec(`INSERT INTO webhook_instance (id, host, pid, version, workers, started_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, host, pid, "0.1.0", workers, started.UTC(), seen.UTC()).Error; err != nil {
		t.Fatal(err)
	}
}
