package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testSecret = "test-private-secret-0123456789"

// openSQLite opens a fresh SQLite database file in a temporary directory,
// with the settings the README recommends.
func openSQLite(t testing.TB, path string) *gorm.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "webhook.db")
	}
	db, err := gorm.Open(sqlite.Open(path+"?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"), &gorm.Config{
		Logger: logger.Discard,
	})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	// database/sql keeps only 2 idle connections by default: under
	// concurrent use it would open and close SQLite connections constantly.
	sqlDB.SetMaxIdleConns(32)
	sqlDB.SetConnMaxIdleTime(time.Minute)
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// newTestClient returns a migrated client on a fresh database of d.
func newTestClient(t testing.TB, d *testDB, cfg Config) *Client {
	t.Helper()
	c := newClientOn(t, d.open(t), cfg)
	if err := c.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return c
}

// newClientOn returns a client on db, not migrated.
func newClientOn(t testing.TB, db *gorm.DB, cfg Config) *Client {
	t.Helper()
	if cfg.PrivateSecret == "" {
		cfg.PrivateSecret = testSecret
	}
	c, err := New(db, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// newOfflineClient returns a client for tests that never touch its tables
// (decoding, encryption).
func newOfflineClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	return newClientOn(t, openSQLite(t, ""), cfg)
}

// received is one request as the receiver saw it.
type received struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// receiver is an httptest server that records every request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// newReceiver starts a server; handler may be nil (200 "ok").
func newReceiver(t testing.TB, handler func(w http.ResponseWriter, r *http.Request, body []byte)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		rc.mu.Unlock()
		if handler != nil {
			handler(w, r, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message": "ok"}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) byPath() map[string][]received {
	out := map[string][]received{}
	for _, r := range rc.requests() {
		out[r.Path] = append(out[r.Path], r)
	}
	return out
}

// mustSync syncs events from YAML text.
func mustSync(t testing.TB, c *Client, yamlText string) *SyncResult {
	t.Helper()
	res, err := c.SyncEventsYAML(context.Background(), "events.yaml", []byte(strings.TrimSpace(yamlText)+"\n"), SyncOptions{})
	if err != nil {
		t.Fatalf("SyncEventsYAML: %v", err)
	}
	return res
}

const twoEvents = `
version: 1
events:
  - code: template_update
    name: 模板更新
    description: a template changed
  - code: template_create
    name: 模板创建
`

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
