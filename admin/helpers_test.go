package admin_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testSecret = "admin-test-private-secret-0123456789"

// Credentials stored in the seeded webhooks: no page may ever show them.
const (
	secretToken  = "tok-must-never-show-1"
	secretPass   = "pw-must-never-show-2"
	secretHeader = "hdr-must-never-show-3"
)

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

// receiver answers 200 {"ok":true} on /ok and 500 on /fail, and counts.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

func newReceiver(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{calls: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.calls[r.URL.Path]++
		n := rc.calls[r.URL.Path]
		rc.mu.Unlock()
		if handle != nil {
			handle(w, r, n)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "receiver is down")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// seed syncs two events and configures scope biz/biz1 with a webhook that
// succeeds (wh_ok) and one that fails (wh_fail), and scope biz/biz2 with one
// more, all subscribed to every event.
func seed(t testing.TB, c *webhook.Client, endpoint string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.SyncEventList(ctx, []webhook.Event{
		{Code: "template_update", Name: "Template updated", Description: "a template changed", Info: map[string]any{"source": "admin-test"}},
		{Code: "template_create", Name: "Template created"},
	}, webhook.SyncOptions{})
	if err != nil {
		t.Fatalf("SyncEventList: %v", err)
	}
	err = c.ApplyScopeWebhooks(ctx, "biz", "biz1", []webhook.WebhookConfig{
		{Code: "wh_ok", Name: "Service OK", Endpoint: endpoint + "/ok", Auth: &webhook.Auth{Type: "bearer", Token: secretToken}},
		{Code: "wh_fail", Name: "Service failing", Endpoint: endpoint + "/fail",
			Auth:    &webhook.Auth{Type: "basic", Username: "alice", Password: secretPass},
			Headers: []webhook.Header{{Key: "X-Team-Secret", Value: secretHeader}}},
	})
	if err != nil {
		t.Fatalf("ApplyScopeWebhooks: %v", err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{"wh_ok": {webhook.AllEvents}, "wh_fail": {"template_update"}}); err != nil {
		t.Fatalf("ApplyScopeSubscriptions: %v", err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "biz2", []webhook.WebhookConfig{
		{Code: "wh_other", Name: "Other service", Endpoint: endpoint + "/ok", Method: "GET"},
	}); err != nil {
		t.Fatalf("ApplyScopeWebhooks: %v", err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz2", map[string][]string{"wh_other": {"template_create"}}); err != nil {
		t.Fatalf("ApplyScopeSubscriptions: %v", err)
	}
}

// site is the admin mounted under /admin on a real server, and a browser-like
// client (cookie jar, redirects not followed).
type site struct {
	t      testing.TB
	srv    *httptest.Server
	client *http.Client
	base   string
}

func newSite(t testing.TB, c *webhook.Client, opts admin.Options) *site {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = "/admin"
	}
	if opts.Authorize == nil && opts.BasicAuthUser == "" {
		opts.Insecure = true
	}
	h, err := admin.NewHandler(c, opts)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(opts.Prefix+"/", http.StripPrefix(opts.Prefix, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &site{t: t, srv: srv, base: srv.URL + opts.Prefix, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body string
}

func (s *site) do(req *http.Request) response {
	s.t.Helper()
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{res, string(b)}
}

// get fetches an admin path ("/attempts?x=y") or a Location ("/admin/...").
func (s *site) get(path string) response {
	s.t.Helper()
	u := s.base + path
	if strings.HasPrefix(path, s.base[len(s.srv.URL):]+"/") { // a Location header: already prefixed
		u = s.srv.URL + path
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.do(req)
}

// post submits a form to an admin path.
func (s *site) post(path string, form url.Values) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token loads a page and returns the CSRF token of its forms.
func (s *site) token() string {
	s.t.Helper()
	r := s.get("/attempts")
	m := tokenRE.FindStringSubmatch(r.body)
	if m == nil {
		s.t.Fatalf("no CSRF token on the attempts page:\n%s", r.body)
	}
	return html.UnescapeString(m[1])
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL, r.StatusCode, status, r.body)
	}
}

func wantContains(t testing.TB, r response, subs ...string) {
	t.Helper()
	missing := false
	for _, s := range subs {
		if !strings.Contains(r.body, s) {
			t.Errorf("%s %s: body lacks %q", r.Request.Method, r.Request.URL, s)
			missing = true
		}
	}
	if missing && testing.Verbose() {
		t.Logf("body:\n%s", r.body)
	}
}

func wantNotContains(t testing.TB, r response, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(r.body, s) {
			t.Errorf("%s %s: body contains %q", r.Request.Method, r.Request.URL, s)
		}
	}
}

var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
	"Cache-Control":           "no-store",
}

func wantSecurityHeaders(t testing.TB, h http.Header, what string) {
	t.Helper()
	for k, v := range securityHeaders {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

// broadcast sends template_update to biz/biz1 and returns the delivery ids
// by webhook code.
func broadcast(t testing.TB, c *webhook.Client, info map[string]any) map[string]string {
	t.Helper()
	res, err := c.Broadcast(context.Background(), "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, info)
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	ids := map[string]string{}
	for _, d := range res.Deliveries {
		ids[d.WebhookCode] = d.DeliveryID
	}
	return ids
}
