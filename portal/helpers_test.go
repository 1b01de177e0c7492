package portal_test

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
	"github.com/scopehook/webhook/portal"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const testSecret = "portal-test-private-secret-0123456789"

// Credentials stored in the seeded webhooks: no page may ever show them.
const (
	secretToken  = "tok-must-never-show-1"
	secretPass   = "pw-must-never-show-2"
	secretHeader = "hdr-must-never-show-3"
	// secretSigning is a valid signing secret (whsec_ + base64 of 32 bytes).
	secretSigning = "whsec_c2lnbmluZy1zZWNyZXQtbXVzdC1uZXZlci1zaG93"
)

var (
	shop1 = webhook.Scope{Type: "shop", Code: "s1"}
	shop2 = webhook.Scope{Type: "shop", Code: "s2"}
)

// openDB opens (or creates) a SQLite database file.
func openDB(t testing.TB) *gorm.DB {
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
	return db
}

// newClient returns a migrated client on a fresh database.
func newClient(t testing.TB, cfg webhook.Config) (*webhook.Client, *gorm.DB) {
	t.Helper()
	db := openDB(t)
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

// receiver answers 200 {"ok":true} on /ok, 500 on /fail, and on /echo
// echoes the request's Authorization and X-Secret headers in its body; it
// counts the requests by path.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	rc := &receiver{calls: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.calls[r.URL.Path]++
		rc.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/fail"):
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "receiver is down")
		case strings.HasPrefix(r.URL.Path, "/echo"):
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "got Authorization="+r.Header.Get("Authorization")+" X-Secret="+r.Header.Get("X-Secret"))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls[path]
}

// seed syncs three events (two with Chinese names) and configures scope
// shop/s1 with wh_ok (bearer, signed), wh_fail (basic auth and a secret
// header) and scope shop/s2 with wh_other.
func seed(t testing.TB, c *webhook.Client, endpoint string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.SyncEventList(ctx, []webhook.Event{
		{Code: "order_paid", Name: "订单已支付", Description: "客户完成了订单付款。"},
		{Code: "order_refunded", Name: "订单已退款", Description: "订单已部分或全部退款。"},
		{Code: "customer_created", Name: "Customer created", Description: "A customer signed up."},
	}, webhook.SyncOptions{}); err != nil {
		t.Fatalf("SyncEventList: %v", err)
	}
	if err := c.ApplyScopeWebhooks(ctx, shop1.Type, shop1.Code, []webhook.WebhookConfig{
		{Code: "wh_ok", Name: "Service OK", Endpoint: endpoint + "/ok", Auth: &webhook.Auth{Type: "bearer", Token: secretToken},
			SigningSecrets: []string{secretSigning}},
		{Code: "wh_fail", Name: "Service failing", Endpoint: endpoint + "/fail",
			Auth:    &webhook.Auth{Type: "basic", Username: "alice", Password: secretPass},
			Headers: []webhook.Header{{Key: "X-Secret", Value: secretHeader}}},
	}); err != nil {
		t.Fatalf("ApplyScopeWebhooks: %v", err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, shop1.Type, shop1.Code, map[string][]string{"wh_ok": {webhook.AllEvents}, "wh_fail": {"order_paid"}}); err != nil {
		t.Fatalf("ApplyScopeSubscriptions: %v", err)
	}
	if err := c.ApplyScopeWebhooks(ctx, shop2.Type, shop2.Code, []webhook.WebhookConfig{
		{Code: "wh_other", Name: "Other shop's service", Endpoint: endpoint + "/ok"},
	}); err != nil {
		t.Fatalf("ApplyScopeWebhooks: %v", err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, shop2.Type, shop2.Code, map[string][]string{"wh_other": {"order_paid"}}); err != nil {
		t.Fatalf("ApplyScopeSubscriptions: %v", err)
	}
}

// site is the portal mounted under /portal on a real server, and a
// browser-like client (cookie jar, redirects not followed).
type site struct {
	t      testing.TB
	c      *webhook.Client
	srv    *httptest.Server
	client *http.Client
	base   string
	// lang is the Accept-Language header sent, if any.
	lang string
}

func newSite(t testing.TB, c *webhook.Client, opts portal.Options) *site {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = "/portal"
	}
	h, err := portal.New(c, opts)
	if err != nil {
		t.Fatalf("portal.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(opts.Prefix+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &site{t: t, c: c, srv: srv, base: srv.URL + opts.Prefix}
	s.reset()
	return s
}

// reset forgets the browser's cookies.
func (s *site) reset() {
	jar, _ := cookiejar.New(nil)
	s.client = &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clone is another browser on the same site.
func (s *site) clone() *site {
	s2 := *s
	s2.reset()
	return &s2
}

type response struct {
	*http.Response
	body string
}

func (s *site) do(req *http.Request) response {
	s.t.Helper()
	if s.lang != "" {
		req.Header.Set("Accept-Language", s.lang)
	}
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

// url is the absolute address of a portal path ("/deliveries?x=y") or of
// a Location ("/portal/...").
func (s *site) url(path string) string {
	prefix := s.base[len(s.srv.URL):]
	if strings.HasPrefix(path, prefix+"/") {
		return s.srv.URL + path
	}
	return s.base + path
}

func (s *site) get(path string) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url(path), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.do(req)
}

// post submits a form as it is.
func (s *site) post(path string, form url.Values) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.do(req)
}

// submit posts a form with the session's CSRF token.
func (s *site) submit(path string, form url.Values) response {
	s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", s.csrf())
	return s.post(path, form)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads the endpoints page and returns the CSRF token of its forms.
func (s *site) csrf() string {
	s.t.Helper()
	r := s.get("/")
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		s.t.Fatalf("no CSRF token on the endpoints page (%d):\n%s", r.StatusCode, r.body)
	}
	return html.UnescapeString(m[1])
}

// token mints a portal token.
func token(t testing.TB, c *webhook.Client, scope webhook.Scope, ttl time.Duration) string {
	t.Helper()
	tok, err := c.PortalToken(scope, ttl)
	if err != nil {
		t.Fatalf("PortalToken: %v", err)
	}
	return tok
}

// open follows a portal link for scope and checks that a session started.
func (s *site) open(scope webhook.Scope) {
	s.t.Helper()
	s.openToken(token(s.t, s.c, scope, time.Hour))
}

func (s *site) openToken(tok string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, portal.Link(s.base+"/", tok), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	r := s.do(req)
	wantStatus(s.t, r, http.StatusOK)
	wantContains(s.t, r, `http-equiv="refresh"`)
}

// etag reads the etag field of a form.
func etagOf(t testing.TB, r response) string {
	t.Helper()
	m := regexp.MustCompile(`name="etag" value="([^"]*)"`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no etag field in %s:\n%s", r.Request.URL, r.body)
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

// wantNotContains checks that none of subs appears in the body, as it is
// or as html/template escapes text ('+' becomes &#43;, quotes entities).
func wantNotContains(t testing.TB, r response, subs ...string) {
	t.Helper()
	for _, s := range subs {
		escaped := strings.NewReplacer("+", "&#43;", "\"", "&#34;", "'", "&#39;").Replace(html.EscapeString(s))
		if strings.Contains(r.body, s) || strings.Contains(r.body, escaped) {
			t.Errorf("%s %s: body contains %q", r.Request.Method, r.Request.URL, s)
		}
	}
}

// broadcast sends an event to a scope and returns the delivery ids by
// webhook code.
func broadcast(t testing.TB, c *webhook.Client, event string, scope webhook.Scope, info map[string]any) map[string]string {
	t.Helper()
	res, err := c.Broadcast(context.Background(), event, []webhook.Scope{scope}, info)
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	ids := map[string]string{}
	for _, d := range res.Deliveries {
		ids[d.WebhookCode] = d.DeliveryID
	}
	return ids
}

// noRetry makes every delivery one attempt.
func noRetry(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
	return false, 0
}
