package admin_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

func TestNewHandlerOptions(t *testing.T) {
	c, _ := newClient(t, webhook.Config{})
	if _, err := admin.NewHandler(nil, admin.Options{Insecure: true}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("nil client: err = %v, want ErrInvalidConfig", err)
	}
	_, err := admin.NewHandler(c, admin.Options{})
	if !errors.Is(err, admin.ErrNoAccessControl) || !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("no access control: err = %v, want ErrNoAccessControl and ErrInvalidConfig", err)
	}
	if _, err := admin.NewHandler(c, admin.Options{BasicAuthUser: "ops"}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("user without password: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := admin.NewHandler(c, admin.Options{BasicAuthPassword: "pw"}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("password without user: err = %v, want ErrInvalidConfig", err)
	}
	for _, p := range []string{"admin", "//evil.example", "/a b", "/a?b", `/a"b`, "http://x/admin"} {
		if _, err := admin.NewHandler(c, admin.Options{Insecure: true, Prefix: p}); !errors.Is(err, webhook.ErrInvalidConfig) {
			t.Errorf("Prefix %q: err = %v, want ErrInvalidConfig", p, err)
		}
	}
	if _, err := admin.NewHandler(c, admin.Options{Insecure: true, PageSize: -1}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("negative PageSize: err = %v", err)
	}
	for _, o := range []admin.Options{
		{Insecure: true},
		{Authorize: func(*http.Request) bool { return true }},
		{BasicAuthUser: "ops", BasicAuthPassword: "pw"},
		{Insecure: true, Prefix: "/admin/", PageSize: 100000},
	} {
		if _, err := admin.NewHandler(c, o); err != nil {
			t.Errorf("NewHandler(%+v): %v", o, err)
		}
	}
}

func TestAuth(t *testing.T) {
	c, _ := newClient(t, webhook.Config{})
	get := func(h http.Handler, set func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if set != nil {
			set(req)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	basic, err := admin.NewHandler(c, admin.Options{BasicAuthUser: "ops", BasicAuthPassword: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	for name, set := range map[string]func(*http.Request){
		"no credentials": nil,
		"wrong password": func(r *http.Request) { r.SetBasicAuth("ops", "wrong") },
		"wrong user":     func(r *http.Request) { r.SetBasicAuth("root", "correct horse") },
		"empty":          func(r *http.Request) { r.SetBasicAuth("", "") },
		"bearer":         func(r *http.Request) { r.Header.Set("Authorization", "Bearer correct horse") },
	} {
		rec := get(basic, set)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("basic auth, %s: status %d, want 401", name, rec.Code)
		}
		if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("basic auth, %s: WWW-Authenticate = %q", name, rec.Header().Get("WWW-Authenticate"))
		}
		if strings.Contains(rec.Body.String(), "<html") || rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("basic auth, %s: a refused request got a page or a cookie", name)
		}
		wantSecurityHeaders(t, rec.Header(), "401 "+name)
	}
	if rec := get(basic, func(r *http.Request) { r.SetBasicAuth("ops", "correct horse") }); rec.Code != http.StatusOK {
		t.Errorf("basic auth, right credentials: status %d", rec.Code)
	}

	var allow bool
	authz, err := admin.NewHandler(c, admin.Options{Authorize: func(r *http.Request) bool { return allow }})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(authz, nil); rec.Code != http.StatusForbidden {
		t.Errorf("Authorize false: status %d, want 403", rec.Code)
	} else {
		wantSecurityHeaders(t, rec.Header(), "403")
	}
	allow = true
	if rec := get(authz, nil); rec.Code != http.StatusOK {
		t.Errorf("Authorize true: status %d, want 200", rec.Code)
	}

	both, err := admin.NewHandler(c, admin.Options{BasicAuthUser: "ops", BasicAuthPassword: "pw",
		Authorize: func(r *http.Request) bool { return r.Header.Get("X-Session") == "ok" }})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(both, func(r *http.Request) { r.SetBasicAuth("ops", "pw") }); rec.Code != http.StatusForbidden {
		t.Errorf("basic auth passed, Authorize false: status %d, want 403", rec.Code)
	}
	if rec := get(both, func(r *http.Request) { r.Header.Set("X-Session", "ok") }); rec.Code != http.StatusUnauthorized {
		t.Errorf("Authorize true, no basic auth: status %d, want 401", rec.Code)
	}
	if rec := get(both, func(r *http.Request) { r.SetBasicAuth("ops", "pw"); r.Header.Set("X-Session", "ok") }); rec.Code != http.StatusOK {
		t.Errorf("both passed: status %d, want 200", rec.Code)
	}
}

// seededSite is a client with the seed configuration, one broadcast (wh_ok
// succeeded, wh_fail failed) and the admin on a server.
func seededSite(t *testing.T, opts admin.Options) (*site, *webhook.Client, map[string]string) {
	t.Helper()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	ids := broadcast(t, c, map[string]any{"template_id": "t-42"})
	return newSite(t, c, opts), c, ids
}

func TestPages(t *testing.T) {
	s, _, ids := seededSite(t, admin.Options{Title: "Acme hooks"})
	pages := []struct {
		path string
		want []string
	}{
		{"/", []string{"Acme hooks", "Overview", `id="hourly-chart"`, `id="rates-chart"`, "<svg", "<rect", "hour (UTC)",
			"Numbers per hour", "Failure rate per webhook", "wh_fail", "100.0 %", "0.0 %", `id="health"`, "Delivery engine", "pending deliveries", "out of retries", "Last 24 hours",
			`<a href="/admin/webhooks?scope=biz%3Abiz1#wh-`, `href="/admin/attempts?scope=biz%3Abiz1&amp;webhook=wh_fail"`}},
		{"/deliveries", []string{"<h1>Deliveries</h1>", ids["wh_ok"], ids["wh_fail"], "template_update", "biz/biz1",
			`href="/admin/deliveries/` + ids["wh_fail"] + `"`, `<span class="tag sent"`, "status-failed", "status-succeeded",
			`<select id="f-webhook" name="webhook">`, `<option value="wh_fail">wh_fail</option>`, `<option value="biz:biz2">biz/biz2</option>`,
			`<option value="template_create">template_create</option>`, `<option value="pending">pending</option>`, `id="f-queued"`}},
		{"/deliveries?webhook=wh_fail&status=failed&scope=biz:biz1&event=template_update", []string{ids["wh_fail"],
			`<option value="wh_fail" selected>`, `<option value="failed" selected>`, `<option value="biz:biz1" selected>`,
			"Redeliver failed deliveries", `name="back" value="deliveries"`}},
		{"/attempts", []string{"<h1>Attempts</h1>", ids["wh_ok"], ids["wh_fail"], "template_update", "biz/biz1",
			`href="/admin/deliveries/` + ids["wh_fail"] + `#attempt-`, "Redeliver failed deliveries", `name="csrf_token"`, "answered 500 Internal Server Error", `<span class="pill bad">failed</span>`}},
		{"/attempts?webhook=wh_fail&success=no&status=500&scope=biz:biz1&event=template_update&since=2000-01-01T00:00&until=2999-01-01T00:00:00Z",
			[]string{ids["wh_fail"], "failed queued deliveries with scope biz:biz1, webhook wh_fail, event template_update, created since 2000-01-01T00:00",
				`<option value="500" selected>500</option>`, `<option value="no" selected>failed</option>`}},
		{"/deliveries/" + ids["wh_fail"], []string{"Attempt 1", "HTTP 500", "receiver is down", "/fail", "template_update", "t-42",
			"[REDACTED]", "X-Team-Secret", `id="redeliver"`, "Response", "Request", "failed", `<span class="tag sent">sent</span>`,
			"Copy as curl", "credentials stay redacted", `<pre class="curl-command">curl -X POST &#39;http://127.0.0.1:`,
			`-H &#39;Authorization: Basic [REDACTED]&#39;`, `-H &#39;X-Team-Secret: [REDACTED]&#39;`, "--data-raw &#39;{&#34;event&#34;:"}},
		{"/deliveries/" + ids["wh_ok"], []string{"succeeded", "HTTP 200", "&#34;ok&#34;: true", "Authorization"}},
		{"/deliveries?queued=1", []string{"<h1>Deliveries</h1>", "No delivery matches.", `id="f-queued" type="checkbox" name="queued" value="1" checked`}},
		{"/webhooks", []string{"Scope <span class=\"mono\">biz/biz1</span>", "biz/biz2", "wh_ok", "Service OK", "wh_fail", "wh_other",
			"bearer, token set", "basic, password set", "X-Team-Secret (values set)", "all events (*)", "template_update", "template_create",
			"enabled", "Disable", "100.0 %", "0.0 %", "GET", `href="/admin/attempts?scope=biz%3Abiz1&amp;webhook=wh_fail"`}},
		{"/events", []string{"template_update", "Template updated", "a template changed", "admin-test", "template_create", `href="/admin/attempts?event=template_update"`}},
		{"/subscriptions", []string{"biz/biz1", "biz/biz2", "wh_ok", "all events (*)", "wh_fail", "template_update"}},
		{"/subscriptions?scope=biz:biz2", []string{"wh_other", "template_create"}},
		{"/scopes", []string{"biz1", "biz2", "2 (2 enabled)", "webhooks", "deliveries", "attempts"}},
		{"/instances", []string{"Instances", "No worker instance ran in the last hour"}},
	}
	for _, p := range pages {
		r := s.get(p.path)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p.path, ct)
		}
		wantSecurityHeaders(t, r.Header, p.path)
		wantContains(t, r, p.want...)
		wantContains(t, r, `<meta name="viewport"`, `href="/admin/static/admin.css"`, `href="/admin/webhooks"`, `href="/admin/instances"`,
			`<a href="/admin/deliveries"`, `<a href="/admin/attempts"`)
		// Credentials never reach a page.
		wantNotContains(t, r, secretToken, secretPass, secretHeader, "<script")
	}
	css := s.get("/static/admin.css")
	wantStatus(t, css, http.StatusOK)
	wantSecurityHeaders(t, css.Header, "stylesheet")
	if ct := css.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("stylesheet Content-Type %q", ct)
	}
	if !strings.Contains(css.body, "@media") {
		t.Error("stylesheet has no media query")
	}
	// No inline style or script anywhere: the CSP would block them.
	for _, p := range pages {
		r := s.get(p.path)
		if strings.Contains(r.body, "style=") || strings.Contains(r.body, "<style") || strings.Contains(r.body, "<script") || strings.Contains(r.body, " on") && regexp.MustCompile(` on[a-z]+=`).MatchString(r.body) {
			t.Errorf("%s: inline style or script", p.path)
		}
	}
	// The scope filter narrows the webhooks page.
	r := s.get("/webhooks?scope=biz:biz2")
	wantContains(t, r, "wh_other", `<option value="biz:biz2" selected>`)
	wantNotContains(t, r, "<strong class=\"mono\">wh_fail")
	// Times to the millisecond.
	if !regexp.MustCompile(`<td data-label="Time" class="time">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}</td>`).MatchString(s.get("/attempts").body) {
		t.Error("the attempts list shows no time to the millisecond")
	}
	if !regexp.MustCompile(`<dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC</dd>`).MatchString(s.get("/deliveries/" + ids["wh_fail"]).body) {
		t.Error("the delivery page shows no attempt time to the millisecond")
	}
}

func TestBadRequestsAndNotFound(t *testing.T) {
	s, _, _ := seededSite(t, admin.Options{})
	for _, p := range []string{
		"/attempts?status=abc", "/attempts?status=42", "/attempts?before=-3", "/attempts?before=x",
		"/attempts?since=yesterday", "/attempts?until=2024-13-45", "/attempts?success=maybe",
		"/attempts?since=2024-05-02T00:00&until=2024-05-01T00:00",
		"/attempts?webhook=" + strings.Repeat("x", 300), "/attempts?event=a%00b", "/attempts?scope=%ff",
		"/deliveries?status=abc", "/deliveries?status=lost&queued=1", "/deliveries?queued=maybe", "/deliveries?since=yesterday",
		"/deliveries?since=2024-05-02T00:00&until=2024-05-01T00:00", "/deliveries?cursor=abc", "/deliveries?webhook=" + strings.Repeat("x", 300),
		"/webhooks?scope=" + strings.Repeat("y", 300), "/subscriptions?scope=%ff",
	} {
		r := s.get(p)
		wantStatus(t, r, http.StatusBadRequest)
		wantSecurityHeaders(t, r.Header, p)
		wantContains(t, r, "Bad request")
	}
	for _, p := range []string{"/deliveries/no-such-delivery", "/nope", "/deliveries/x/y", "/static/other.css"} {
		r := s.get(p)
		wantStatus(t, r, http.StatusNotFound)
		wantSecurityHeaders(t, r.Header, p)
	}
	r := s.get("/deliveries/" + strings.Repeat("z", 300))
	wantStatus(t, r, http.StatusBadRequest)

	req, _ := http.NewRequest(http.MethodDelete, s.base+"/", nil)
	if r := s.do(req); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: status %d", r.StatusCode)
	}
	tok := s.token()
	if r := s.post("/webhooks", url.Values{"csrf_token": {tok}}); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a GET page: status %d, want 405", r.StatusCode)
	}
	if r := s.post("/deliveries/no-such-delivery/redeliver", url.Values{"csrf_token": {tok}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("redeliver unknown: status %d, want 404", r.StatusCode)
	}
	if r := s.post("/webhooks/toggle", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"nope"}, "enabled": {"false"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("toggle unknown: status %d, want 404", r.StatusCode)
	}
	if r := s.post("/webhooks/toggle", url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_ok"}, "enabled": {"maybe"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("toggle bad value: status %d, want 400", r.StatusCode)
	}
	if r := s.post("/deliveries/redeliver-failed", url.Values{"csrf_token": {tok}, "since": {"soon"}, "confirm": {"yes"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("bulk bad since: status %d, want 400", r.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	s, c, ids := seededSite(t, admin.Options{})
	ctx := context.Background()
	enabled := func() bool {
		hooks, err := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "biz", ScopeCode: "biz1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			if h.Code == "wh_ok" {
				return h.Enabled
			}
		}
		t.Fatal("wh_ok missing")
		return false
	}
	toggle := url.Values{"scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_ok"}, "enabled": {"false"}}
	with := func(v url.Values, k, val string) url.Values {
		out := url.Values{}
		for kk, vv := range v {
			out[kk] = vv
		}
		out.Set(k, val)
		return out
	}

	tok := s.token()
	other := newSite(t, c, admin.Options{}) // another browser: its own cookie
	otherTok := other.token()

	cases := map[string]func() response{
		"no token":    func() response { return s.post("/webhooks/toggle", toggle) },
		"empty token": func() response { return s.post("/webhooks/toggle", with(toggle, "csrf_token", "")) },
		"bad token":   func() response { return s.post("/webhooks/toggle", with(toggle, "csrf_token", "AAAA"+tok[4:])) },
		"token of another browser": func() response {
			return s.post("/webhooks/toggle", with(toggle, "csrf_token", otherTok))
		},
		"token in the query string": func() response {
			return s.post("/webhooks/toggle?csrf_token="+url.QueryEscape(tok), toggle)
		},
		"no cookie": func() response {
			req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/toggle", strings.NewReader(with(toggle, "csrf_token", tok).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return response{Response: res}
		},
		"cross-site": func() response {
			req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/toggle", strings.NewReader(with(toggle, "csrf_token", tok).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			return s.do(req)
		},
		"redeliver without token": func() response { return s.post("/deliveries/"+ids["wh_fail"]+"/redeliver", nil) },
		"bulk without token":      func() response { return s.post("/deliveries/redeliver-failed", nil) },
	}
	for name, do := range cases {
		r := do()
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, r.StatusCode)
		}
		wantSecurityHeaders(t, r.Header, name)
		if r.body != "" && !strings.Contains(r.body, "CSRF check failed") {
			t.Errorf("%s: the refusal does not say why:\n%s", name, r.body)
		}
	}
	if !enabled() {
		t.Fatal("a refused POST disabled the webhook")
	}
	if ds, err := c.Deliveries(ctx, webhook.DeliveryQuery{QueuedOnly: true}); err != nil || len(ds) != 0 {
		t.Fatalf("a refused POST redelivered: %v %v", ds, err)
	}
	// GET never changes anything, even with a token.
	if r := s.get("/webhooks/toggle?" + with(toggle, "csrf_token", tok).Encode()); r.StatusCode == http.StatusOK || r.StatusCode == http.StatusSeeOther {
		t.Errorf("GET toggle: status %d", r.StatusCode)
	}
	if !enabled() {
		t.Fatal("a GET disabled the webhook")
	}
	// The right token works.
	r := s.post("/webhooks/toggle", with(toggle, "csrf_token", tok))
	wantStatus(t, r, http.StatusSeeOther)
	if enabled() {
		t.Fatal("toggle with a valid token did not disable the webhook")
	}
}

func TestCSRFCookie(t *testing.T) {
	c, _ := newClient(t, webhook.Config{})
	h, err := admin.NewHandler(c, admin.Options{Insecure: true, Prefix: "/admin"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	for _, tlsOn := range []bool{false, true} {
		var srv *httptest.Server
		if tlsOn {
			srv = httptest.NewTLSServer(mux)
		} else {
			srv = httptest.NewServer(mux)
		}
		res, err := srv.Client().Get(srv.URL + "/admin/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var ck *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == admin.CSRFCookieName {
				ck = k
			}
		}
		if ck == nil {
			t.Fatalf("tls=%v: no %s cookie", tlsOn, admin.CSRFCookieName)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin/" || ck.Secure != tlsOn || len(ck.Value) < 40 {
			t.Errorf("tls=%v: cookie %+v", tlsOn, ck)
		}
		srv.Close()
	}
}

func TestEscaping(t *testing.T) {
	const hostileName = `<script>alert(1)</script>`
	const hostileInfo = `"><img src=x onerror=alert(1)>`
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Evil", `"><script>alert(3)</script>`)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`<script>alert(2)</script>` + hostileInfo))
	})
	ctx := context.Background()
	if _, err := c.SyncEventList(ctx, []webhook.Event{{Code: "evil_event", Name: hostileName, Description: hostileInfo,
		Info: map[string]any{"payload": hostileInfo}}}, webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "evil", []webhook.WebhookConfig{{
		Code: "wh_evil", Name: hostileName, Endpoint: rc.URL + "/hook?q=%22%3E%3Cimg%20src=x%3E",
		Headers: []webhook.Header{{Key: "X-Name", Value: "v"}}, Params: map[string]string{"p": hostileInfo},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "evil", map[string][]string{"wh_evil": {webhook.AllEvents}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "evil_event", []webhook.Scope{{Type: "biz", Code: "evil"}}, map[string]any{"more": hostileName})
	if err != nil || len(res.Deliveries) != 1 {
		t.Fatalf("Broadcast: %v %v", res, err)
	}
	id := res.Deliveries[0].DeliveryID
	// A delivery id with a slash, quotes and markup still has a working page.
	const oddID = `d/1 "><img src=x>`
	if _, err := c.Broadcast(ctx, "evil_event", []webhook.Scope{{Type: "biz", Code: "evil"}}, map[string]any{"delivery_id": oddID}); err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, admin.Options{Title: hostileName})
	odd := s.get("/deliveries?delivery=" + url.QueryEscape(oddID))
	wantStatus(t, odd, http.StatusOK)
	wantContains(t, odd, `href="/admin/deliveries/d%2F1%20%22%3E%3Cimg%20src=x%3E"`)
	oddPage := s.get("/deliveries/" + url.PathEscape(oddID))
	wantStatus(t, oddPage, http.StatusOK)
	wantContains(t, oddPage, "d/1 &#34;&gt;&lt;img src=x&gt;", `action="/admin/deliveries/d%2F1%20%22%3E%3Cimg%20src=x%3E/redeliver"`)
	wantNotContains(t, oddPage, "<img", "<script")
	r := s.post("/deliveries/"+url.PathEscape(oddID)+"/redeliver", url.Values{"csrf_token": {s.token()}})
	wantStatus(t, r, http.StatusSeeOther)
	if ds, err := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: oddID}); err != nil || len(ds) != 1 {
		t.Fatalf("redelivering %q: %v %v", oddID, ds, err)
	}
	wantStatus(t, s.get(r.Header.Get("Location")), http.StatusOK)
	for _, p := range []string{"/", "/deliveries", "/attempts", "/deliveries/" + id, "/webhooks", "/events", "/subscriptions", "/scopes", "/instances",
		"/deliveries?webhook=" + url.QueryEscape(hostileName), "/deliveries?event=" + url.QueryEscape(hostileInfo),
		"/attempts?webhook=" + url.QueryEscape(hostileName), "/attempts?event=" + url.QueryEscape(hostileInfo),
		"/attempts?since=" + url.QueryEscape(hostileInfo), "/deliveries?cursor=" + url.QueryEscape(hostileInfo),
		"/deliveries?scope=" + url.QueryEscape(hostileInfo), "/subscriptions?scope=" + url.QueryEscape(hostileName),
		"/deliveries?msg=disabled&wh=" + url.QueryEscape(hostileName), "/webhooks?scope=" + url.QueryEscape(hostileInfo),
		"/deliveries/" + url.PathEscape(hostileInfo), "/deliveries?since=" + url.QueryEscape(hostileInfo),
	} {
		r := s.get(p)
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d", p, r.StatusCode)
		}
		wantNotContains(t, r, "<script", "<img", "alert(1)</")
	}
	// The hostile text is there, escaped.
	wantContains(t, s.get("/webhooks"), "&lt;script&gt;alert(1)&lt;/script&gt;")
	wantContains(t, s.get("/events"), "&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;")
	detail := s.get("/deliveries/" + id)
	wantContains(t, detail, "&lt;script&gt;alert(2)&lt;/script&gt;", "&lt;script&gt;alert(3)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;")
	wantContains(t, s.get("/deliveries?msg=disabled&wh="+url.QueryEscape(hostileName)), "Webhook &lt;script&gt;alert(1)&lt;/script&gt; disabled.")
	// Unknown flash codes show nothing.
	wantNotContains(t, s.get("/deliveries?msg=Your+password+expired"), "password expired")
}

func TestRedeliverFromUI(t *testing.T) {
	s, c, ids := seededSite(t, admin.Options{})
	ctx := context.Background()
	id := ids["wh_fail"]
	tok := s.token()
	r := s.post("/deliveries/"+id+"/redeliver", url.Values{"csrf_token": {tok}})
	wantStatus(t, r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if loc != "/admin/deliveries/"+id+"?msg=redelivered" {
		t.Fatalf("Location %q", loc)
	}
	ds, err := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id})
	if err != nil || len(ds) != 1 || ds[0].Status != webhook.StatusPending || ds[0].WebhookCode != "wh_fail" {
		t.Fatalf("Deliveries after redeliver: %+v %v", ds, err)
	}
	// No workers run here: the page says it is pending and why.
	page := s.get(loc)
	wantStatus(t, page, http.StatusOK)
	wantContains(t, page, "Redelivery scheduled", `id="pending-hint"`, "client.Start", "pending", `<span class="tag queued">queued</span>`, "Next retry")
	// The queued deliveries list it, with its next retry.
	list := s.get("/deliveries?queued=1&status=pending")
	wantContains(t, list, id, `<span class="tag queued"`, `<td data-label="Next retry" class="time">`)
	wantNotContains(t, list, ids["wh_ok"])
}

func TestToggleFromUI(t *testing.T) {
	s, c, _ := seededSite(t, admin.Options{})
	ctx := context.Background()
	hooks, _ := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "biz", ScopeCode: "biz1"})
	var id int64
	for _, h := range hooks {
		if h.Code == "wh_fail" {
			id = h.ID
		}
	}
	tok := s.token()
	form := url.Values{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_fail"}, "enabled": {"false"}, "anchor": {"12"}}
	r := s.post("/webhooks/toggle", form)
	wantStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/webhooks?") || !strings.HasSuffix(loc, "#wh-12") {
		t.Errorf("Location %q", loc)
	}
	hooks, _ = c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "biz", ScopeCode: "biz1"})
	for _, h := range hooks {
		if h.Enabled != (h.Code != "wh_fail") {
			t.Errorf("%s enabled = %v", h.Code, h.Enabled)
		}
	}
	page := s.get(r.Header.Get("Location"))
	wantContains(t, page, "Webhook biz/biz1 wh_fail disabled.")
	row := regexp.MustCompile(`(?s)<tr id="wh-` + itoa(id) + `".*?</tr>`).FindString(page.body)
	if !strings.Contains(row, "is-disabled") || !strings.Contains(row, ">disabled<") || !strings.Contains(row, ">Enable<") {
		t.Errorf("disabled row:\n%s", row)
	}
	form.Set("enabled", "true")
	wantStatus(t, s.post("/webhooks/toggle", form), http.StatusSeeOther)
	hooks, _ = c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "biz", ScopeCode: "biz1"})
	for _, h := range hooks {
		if !h.Enabled {
			t.Errorf("%s still disabled", h.Code)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestBulkRedeliver(t *testing.T) {
	c, _ := newClient(t, webhook.Config{
		PollInterval: 20 * time.Millisecond,
		RetryPolicy: func(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
			return false, 0
		},
	})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	ctx := context.Background()
	var enqueued []string
	for range 3 {
		ids, err := c.Enqueue(ctx, "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		enqueued = append(enqueued, ids...)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		failed, _ := c.Deliveries(ctx, webhook.DeliveryQuery{Status: webhook.StatusFailed})
		ok, _ := c.Deliveries(ctx, webhook.DeliveryQuery{Status: webhook.StatusSucceeded})
		if len(failed) == 3 && len(ok) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not done: %d failed, %d succeeded", len(failed), len(ok))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s := newSite(t, c, admin.Options{})
	// The overview counts them.
	wantCard(t, s.get("/").body, "failed-card", "Failed 3 deliveries out of retries", "/admin/deliveries?queued=1&status=failed", true)
	// A filter that matches nothing reschedules nothing.
	tok := s.token()
	// Without the confirmation box: refused, nothing rescheduled.
	r := s.post("/deliveries/redeliver-failed", url.Values{"csrf_token": {tok}, "webhook": {"wh_fail"}})
	wantStatus(t, r, http.StatusBadRequest)
	if pending, _ := c.Deliveries(ctx, webhook.DeliveryQuery{Status: webhook.StatusPending}); len(pending) != 0 {
		t.Fatalf("%d pending after an unconfirmed bulk redelivery", len(pending))
	}
	r = s.post("/deliveries/redeliver-failed", url.Values{"csrf_token": {tok}, "webhook": {"wh_ok"}, "confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantContains(t, s.get(r.Header.Get("Location")), "No failed queued delivery matched")
	// The form on the page carries the filter.
	page := s.get("/attempts?webhook=wh_fail&scope=biz:biz1&success=no")
	wantContains(t, page, `name="webhook" value="wh_fail"`, `name="scope" value="biz:biz1"`)
	r = s.post("/deliveries/redeliver-failed", url.Values{"csrf_token": {tok}, "webhook": {"wh_fail"}, "scope": {"biz:biz1"}, "confirm": {"yes"}})
	wantStatus(t, r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/admin/attempts?") || !strings.Contains(loc, "msg=bulk") || !strings.Contains(loc, "n=3") || !strings.Contains(loc, "webhook=wh_fail") {
		t.Errorf("Location %q", loc)
	}
	wantContains(t, s.get(loc), "3 failed deliveries were rescheduled")
	pending, _ := c.Deliveries(ctx, webhook.DeliveryQuery{Status: webhook.StatusPending})
	if len(pending) != 3 {
		t.Fatalf("%d pending after the bulk redelivery, want 3", len(pending))
	}
	for _, d := range pending {
		if d.WebhookCode != "wh_fail" {
			t.Errorf("rescheduled %s", d.WebhookCode)
		}
	}
	_ = enqueued
}

func TestOverviewChart(t *testing.T) {
	now := time.Date(2025, 3, 10, 15, 30, 0, 0, time.UTC)
	c, db := newClient(t, webhook.Config{Now: func() time.Time { return now }})
	// 2 successes at 15:xx, 3 attempts (2 failed) at 14:xx, 1 success at
	// 03:xx, and one row too old.
	rows := []struct {
		at      time.Time
		success bool
		code    string
	}{
		{now.Add(-20 * time.Minute), true, "a"}, {now.Add(-25 * time.Minute), true, "a"}, {now.Add(-40 * time.Minute), true, "b"},
		{now.Add(-45 * time.Minute), false, "b"}, {now.Add(-50 * time.Minute), false, "b"},
		{time.Date(2025, 3, 10, 3, 5, 0, 0, time.UTC), true, "a"},
		{now.Add(-30 * time.Hour), false, "a"},
	}
	for i, r := range rows {
		status := 200
		if !r.success {
			status = 503
		}
		if err := db.Exec(`INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt)
			VALUES (?, 'ev', ?, ?, ?, ?, 'biz', 'b1', '{}', 1)`, r.code, r.at, r.success, status, "d"+itoa(int64(i))).Error; err != nil {
			t.Fatal(err)
		}
	}
	s := newSite(t, c, admin.Options{Now: func() time.Time { return now }})
	r := s.get("/")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r,
		"2025-03-09 16:00:00 – 2025-03-10 15:30:00",
		`<td>2025-03-10 14:00</td><td class="n">3</td><td class="n">1</td><td class="n">2</td>`,
		`<td>2025-03-10 15:00</td><td class="n">2</td><td class="n">2</td><td class="n">0</td>`,
		`<td>2025-03-10 03:00</td><td class="n">1</td><td class="n">1</td><td class="n">0</td>`,
		`<td>2025-03-09 16:00</td><td class="n">0</td><td class="n">0</td><td class="n">0</td>`,
		"2025-03-10 14:00–15:00 UTC: 3 attempts, 2 failed",
		`<span class="num">6</span><span class="lbl">attempts</span>`,
		"33.3 %",                           // 2 of 6 failed overall
		"biz/b1 b: 2 of 3 attempts failed", // the rate chart
		`>b</a><span class="scope">biz/b1</span><span class="see"><a href="/admin/attempts?scope=biz%3Ab1&amp;webhook=b">attempts</a> · <a href="/admin/deliveries?scope=biz%3Ab1&amp;webhook=b">deliveries</a></span></td><td class="n">3</td><td class="n">2</td>`,
		`class="fail"`, `class="ok"`, "16:00", "22:00", "hour (UTC)", "attempts")
	if n := strings.Count(r.body, `<g class="bar">`); n != 24 {
		t.Errorf("%d bars, want 24", n)
	}
	if strings.Contains(r.body, "2025-03-09 09:00") {
		t.Error("a row older than 24 h is in the chart")
	}
}

// TestLibraryErrors closes the database under the handler: pages answer with
// a generic message and the error is logged.
func TestLibraryErrors(t *testing.T) {
	c, db := newClient(t, webhook.Config{})
	var logBuf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf, mu: &mu}, nil))
	s := newSite(t, c, admin.Options{Logger: logger})
	sqlDB, _ := db.DB()
	sqlDB.Close()
	for _, p := range []string{"/", "/deliveries", "/deliveries?queued=1", "/attempts", "/deliveries/x", "/webhooks", "/events", "/subscriptions", "/scopes", "/instances"} {
		r := s.get(p)
		wantStatus(t, r, http.StatusInternalServerError)
		wantSecurityHeaders(t, r.Header, p)
		wantContains(t, r, "Something went wrong", "reference", "The admin could not ", "service&#39;s log")
		wantNotContains(t, r, "sql: database is closed", "database is closed")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logBuf.String(), "database is closed") {
		t.Errorf("the error was not logged:\n%s", logBuf.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestOddInput sends malformed and extreme parameters: the handler answers
// each with a 4xx or a page, never a server error.
func TestOddInput(t *testing.T) {
	s, _, ids := seededSite(t, admin.Options{})
	paths := []string{
		"/deliveries?before=9223372036854775807", "/deliveries?before=99999999999999999999999",
		"/deliveries?before=0", "/deliveries?status=999", "/deliveries?status=%20500%20",
		"/deliveries?since=2024-01-01T00:00:00%2B14:00&until=2999-01-01", "/deliveries?since=2024-01-01",
		"/deliveries?success=YES&success=no", "/deliveries?scope=:", "/deliveries?scope=biz", "/deliveries?scope=/biz1",
		"/deliveries?delivery=%E2%80%AE", "/deliveries/%00", "/deliveries/..%2f..%2fetc", "/deliveries/%2e%2e",
		"/deliveries/" + ids["wh_ok"] + "/", "/deliveries/" + ids["wh_ok"] + "/redeliver",
		"/webhooks?scope=a:b:c", "/subscriptions?scope=%ff%fe", "/outbox?status=ANY", "/outbox?scope=x:y&webhook=z",
		"/attempts?before=9223372036854775807", "/attempts?before=0", "/attempts?status=999", "/attempts?status=%20500%20",
		"/attempts?success=YES&success=no", "/attempts?scope=:", "/attempts?scope=biz", "/attempts?scope=/biz1",
		"/deliveries?status=PENDING", "/deliveries?queued=1&queued=0", "/deliveries?cursor=", "/deliveries?scope=biz&queued=yes",
		"/attempts?msg=bulk&n=-5", "/attempts?" + strings.Repeat("a=b&", 2000),
		"/deliveries?msg=bulk&n=-5", "/deliveries?msg=bulk&n=99999999999999999999", "/?x=" + strings.Repeat("%", 10),
		"/static/", "/static/../admin.go", "//", "/deliveries//", "/deliveries?" + strings.Repeat("a=b&", 2000),
	}
	for _, p := range paths {
		r := s.get(p)
		if r.StatusCode >= 500 {
			t.Errorf("%s: status %d\n%s", p, r.StatusCode, r.body)
		}
		if r.StatusCode/100 != 3 { // the service's mux redirects unclean paths before the admin sees them
			wantSecurityHeaders(t, r.Header, p)
		}
	}
	tok := s.token()
	for _, form := range []url.Values{
		{"csrf_token": {tok}},
		{"csrf_token": {tok}, "scope_type": {strings.Repeat("x", 1000)}, "scope_code": {"b"}, "code": {"c"}, "enabled": {"true"}},
		{"csrf_token": {tok}, "scope_type": {"biz"}, "scope_code": {"biz1"}, "code": {"wh_ok"}, "enabled": {"false"}, "anchor": {"1\"><x"}},
	} {
		r := s.post("/webhooks/toggle", form)
		if r.StatusCode >= 500 {
			t.Errorf("toggle %v: status %d", form, r.StatusCode)
		}
		if loc := r.Header.Get("Location"); strings.ContainsAny(loc, "\"<>") {
			t.Errorf("toggle %v: Location %q", form, loc)
		}
	}
	big := url.Values{"csrf_token": {tok}, "pad": {strings.Repeat("x", 100<<10)}}
	if r := s.post("/webhooks/toggle", big); r.StatusCode != http.StatusForbidden {
		t.Errorf("oversized form: status %d, want 403", r.StatusCode)
	}
}

// TestNetworkErrorAttempt shows an attempt that got no response.
func TestNetworkErrorAttempt(t *testing.T) {
	c, _ := newClient(t, webhook.Config{Timeout: 2 * time.Second})
	down := httptest.NewServer(http.NotFoundHandler())
	endpoint := down.URL
	down.Close() // nothing listens there any more
	seed(t, c, endpoint)
	ids := broadcast(t, c, nil)
	s := newSite(t, c, admin.Options{})
	r := s.get("/deliveries/" + ids["wh_ok"])
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "No response arrived.", "Error:", "failed", "connect")
}
