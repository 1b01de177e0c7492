package e2e_test

// Test helpers copied from package portal's tests (portal/helpers_test.go):
// _test.go files cannot be imported from another module.

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testSecret = "portal-test-private-secret-0123456789"

// newClient returns a migrated client on a fresh SQLite database.
func newClient(t testing.TB, cfg webhook.Config) (*webhook.Client, *gorm.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webhook.db")
	db, err := gorm.Open(sqlite.Open(path+"?_busy_timeout=10000&_journal_mode=WAL"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
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

func execSQL(t testing.TB, db *gorm.DB, sql string, args ...any) {
	t.Helper()
	if err := db.Exec(sql, args...).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
