package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testSecret = "api-test-private-secret-0123456789"

// Credentials stored in the seeded webhooks: no response and no log line
// may ever hold them.
const (
	secretToken  = "tok-must-never-show-1"
	secretPass   = "pw-must-never-show-2"
	secretHeader = "hdr-must-never-show-3"
)

// operatorToken is the bearer token the test Authorizer maps to an operator.
const operatorToken = "operator-test-token"

// The scopes of the tests: own is the one the portal tokens are bound to,
// other is another tenant's.
var (
	own   = webhook.Scope{Type: "shop", Code: "s1"}
	other = webhook.Scope{Type: "shop", Code: "s2"}
)

// postgresDSNEnv names the server of the PostgreSQL runs, as in the
// library's suite (scripts/with-postgres.sh sets it).
const postgresDSNEnv = "WEBHOOK_TEST_POSTGRES_DSN"

// database is one kind of database a test runs on.
type database struct {
	name string
	open func(t *testing.T) *gorm.DB
}

// databases are SQLite, and PostgreSQL when WEBHOOK_TEST_POSTGRES_DSN is set.
func databases() []database {
	dbs := []database{{"sqlite", openSQLite}}
	if os.Getenv(postgresDSNEnv) != "" {
		dbs = append(dbs, database{"postgres", openPostgres})
	}
	return dbs
}

func openSQLite(t *testing.T) *gorm.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webhook.db")
	db, err := gorm.Open(sqlite.Open(path+"?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// openPostgres returns a fresh database on the server of
// WEBHOOK_TEST_POSTGRES_DSN, dropped when t ends.
func openPostgres(t *testing.T) *gorm.DB {
	t.Helper()
	adminDSN := os.Getenv(postgresDSNEnv)
	admin, err := gorm.Open(postgres.Open(adminDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	sqlAdmin, _ := admin.DB()
	t.Cleanup(func() { sqlAdmin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "api_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin.WithContext(ctx).Exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'").Error; err != nil {
		t.Fatalf("postgres: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin.WithContext(ctx).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Logf("postgres: dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatalf("postgres: %s must be a URL: %v", postgresDSNEnv, err)
	}
	u.Path = "/" + name
	db, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// env is a migrated client on a fresh database, its API handler, and a
// receiver for the webhooks' requests.
type env struct {
	t      *testing.T
	client *webhook.Client
	db     *gorm.DB
	h      http.Handler
	rcv    *httptest.Server
	logs   *syncBuffer
	mu     sync.Mutex
	// seen collects every response of do, for the checks that look at
	// all of them.
	seen []response
	// hits counts the receiver's requests by path.
	hits map[string]int
	// The bearer tokens of the tests.
	ownToken, otherToken, expiredToken, tamperedToken string
}

// newLogger logs everything to w.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hitsOf returns how many requests the receiver got on path.
func (e *env) hitsOf(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[path]
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (the logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testAuthorizer lets operatorToken in as an operator and portal tokens as
// their scope.
func testAuthorizer(c *webhook.Client) api.Authorizer {
	portal := api.PortalTokens(c)
	return api.AuthorizerFunc(func(r *http.Request) (api.Principal, error) {
		if r.Header.Get("Authorization") == "Bearer "+operatorToken {
			return api.Principal{Operator: true, Actor: "api:test-operator"}, nil
		}
		return portal.Authorize(r)
	})
}

// newEnv builds an env on db (SQLite when nil) with opts (Authorizer
// defaulting to testAuthorizer).
func newEnv(t *testing.T, db *gorm.DB, cfg webhook.Config, opts api.Options) *env {
	t.Helper()
	if db == nil {
		db = openSQLite(t)
	}
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
	e := &env{t: t, client: c, db: db, logs: &syncBuffer{}, hits: map[string]int{}}
	if opts.Authorizer == nil {
		opts.Authorizer = testAuthorizer(c)
	}
	if opts.Logger == nil {
		opts.Logger = newLogger(e.logs)
	}
	if e.h, err = api.New(c, opts); err != nil {
		t.Fatalf("api.New: %v", err)
	}
	e.rcv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		e.mu.Lock()
		e.hits[r.URL.Path]++
		e.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/gone"):
			w.WriteHeader(http.StatusGone)
		case strings.HasPrefix(r.URL.Path, "/fail"):
			http.Error(w, "receiver is down", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(e.rcv.Close)
	e.ownToken = e.token(c, own, time.Hour)
	e.otherToken = e.token(c, other, time.Hour)
	// Expired: minted by a client whose clock is two hours behind, valid
	// for one.
	past, err := webhook.New(db, webhook.Config{PrivateSecret: cfg.PrivateSecret, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	e.expiredToken = e.token(past, own, time.Hour)
	// Tampered: the body of a token of another scope under the signature
	// of one of this scope.
	ob, _, _ := strings.Cut(strings.TrimPrefix(e.otherToken, "whp1."), ".")
	_, sig, _ := strings.Cut(strings.TrimPrefix(e.ownToken, "whp1."), ".")
	e.tamperedToken = "whp1." + ob + "." + sig
	return e
}

func (e *env) token(c *webhook.Client, s webhook.Scope, ttl time.Duration) string {
	e.t.Helper()
	tok, err := c.PortalToken(s, ttl)
	if err != nil {
		e.t.Fatalf("PortalToken: %v", err)
	}
	return tok
}

// seed syncs two events and gives each scope a webhook with every kind of
// credential (wh1) and one more (wh2).
func (e *env) seed() {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.client.SyncEventList(ctx, []webhook.Event{
		{Code: "order_paid", Name: "Order paid", Description: "an order was paid"},
		{Code: "order_refunded", Name: "Order refunded"},
	}, webhook.SyncOptions{}); err != nil {
		e.t.Fatalf("SyncEventList: %v", err)
	}
	for _, s := range []webhook.Scope{own, other} {
		if _, err := e.client.CreateWebhook(ctx, s, webhook.WebhookConfig{
			Code: "wh1", Name: "Orders", Endpoint: e.rcv.URL + "/ok",
			Auth:    &webhook.Auth{Type: "bearer", Token: secretToken},
			Headers: []webhook.Header{{Key: "X-Team-Secret", Value: secretHeader}},
		}, []string{"order_paid"}, webhook.ChangeOptions{}); err != nil {
			e.t.Fatalf("CreateWebhook: %v", err)
		}
		if _, err := e.client.CreateWebhook(ctx, s, webhook.WebhookConfig{
			Code: "wh2", Name: "Refunds", Endpoint: e.rcv.URL + "/gone",
			Auth: &webhook.Auth{Type: "basic", Username: "alice", Password: secretPass},
		}, []string{webhook.AllEvents}, webhook.ChangeOptions{}); err != nil {
			e.t.Fatalf("CreateWebhook: %v", err)
		}
	}
}

// broadcast sends an event to a scope and returns the delivery ids.
func (e *env) broadcast(s webhook.Scope, extra map[string]any) []string {
	e.t.Helper()
	res, err := e.client.Broadcast(context.Background(), "order_paid", []webhook.Scope{s}, extra)
	if err != nil {
		e.t.Fatalf("Broadcast: %v", err)
	}
	var ids []string
	for _, d := range res.Deliveries {
		ids = append(ids, d.DeliveryID)
	}
	return ids
}

// response is an answer of the handler.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return http.StatusText(r.status) + " " + string(r.body) }

// json decodes the body into a generic value.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return v
}

// errCode is the error code of an error answer, "" for another one.
func (r response) errCode() string {
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &v)
	return v.Error.Code
}

// req describes a request to the handler.
type req struct {
	method, path, token string
	body                any // string, []byte or a value to encode as JSON
	header              map[string]string
}

// do sends a request to the handler in process.
func (e *env) do(q req) response {
	e.t.Helper()
	var body io.Reader
	contentType := ""
	switch b := q.body.(type) {
	case nil:
	case string:
		body, contentType = strings.NewReader(b), "application/json"
	case []byte:
		body, contentType = bytes.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	}
	r := httptest.NewRequest(q.method, "http://api.test"+q.path, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, body: b}
	e.mu.Lock()
	e.seen = append(e.seen, out)
	e.mu.Unlock()
	return out
}

// want fails the test unless the response has the status (and, for an
// error, the code).
func want(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.errCode() != code {
		t.Fatalf("%s: got %d %s, want %d %q", what, r.status, r.body, status, code)
	}
}

// scopePath is the path of a scope.
func scopePath(s webhook.Scope) string { return "/scopes/" + s.Type + "/" + s.Code }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
