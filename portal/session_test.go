package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

func TestLink(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ base, want string }{
		{"https://app.example.com/webhooks/", "https://app.example.com/webhooks/?token=whp1.a-b_c.d"},
		{"https://app.example.com/webhooks/?lang=zh", "https://app.example.com/webhooks/?lang=zh&token=whp1.a-b_c.d"},
		{"https://app.example.com/webhooks/#top", "https://app.example.com/webhooks/?token=whp1.a-b_c.d"},
	} {
		if got := portal.Link(c.base, "whp1.a-b_c.d"); got != c.want {
			t.Errorf("Link(%q) = %q, want %q", c.base, got, c.want)
		}
	}
}

// A portal link starts a session: the token goes into an HttpOnly,
// SameSite=Strict cookie scoped to the prefix, and the answer moves on to
// the address without the token by a page of its own (a redirect would
// lose a Strict cookie after a navigation from another site).
func TestLinkStartsSession(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{SessionTTL: 20 * time.Minute})
	tok := token(t, c, shop1, time.Hour)
	r := s.get("/deliveries?status=failed&token=" + url.QueryEscape(tok))
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, `<meta http-equiv="refresh" content="0;url=/portal/deliveries?status=failed">`, `href="/portal/deliveries?status=failed"`)
	wantNotContains(t, r, tok)
	var cookie *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == portal.SessionCookieName {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatalf("no session cookie: %v", r.Header["Set-Cookie"])
	}
	if cookie.Value != tok || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/portal/" || cookie.Secure {
		t.Errorf("session cookie %+v: want the token, HttpOnly, SameSite=Strict, Path=/portal/, not Secure over plain HTTP", cookie)
	}
	if cookie.MaxAge != 20*60 {
		t.Errorf("Max-Age %d, want SessionTTL (1200)", cookie.MaxAge)
	}
	// The session shows the scope's endpoints, and no other scope's.
	r = s.get("/")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "Service OK", "Service failing", "shop/s1")
	wantNotContains(t, r, "wh_other", "Other shop")

	// A path like "//host" stays in the portal (the handler served as it
	// is, without a mux that would clean the path first).
	bare, err := portal.New(c, portal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "//evil.example/x?token="+url.QueryEscape(tok), nil))
	if body := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(body, `content="0;url=/evil.example/x"`) {
		t.Errorf("landing on //evil.example/x: %d\n%s", rec.Code, body)
	}

	// Signing out ends it.
	r = s.submit("/logout", nil)
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "Signed out")
	wantStatus(t, s.get("/"), http.StatusUnauthorized)
}

// A session's Max-Age ends with its token; SecureCookie marks it Secure.
func TestSessionCookieLifetime(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	s := newSite(t, c, portal.Options{SecureCookie: true})
	r := s.get("/?token=" + url.QueryEscape(token(t, c, shop1, 10*time.Minute)))
	wantStatus(t, r, http.StatusOK)
	for _, ck := range r.Cookies() {
		if ck.Name == portal.SessionCookieName {
			if ck.MaxAge < 590 || ck.MaxAge > 600 || !ck.Secure {
				t.Errorf("cookie %+v: want Max-Age about 600 and Secure", ck)
			}
			return
		}
	}
	t.Fatal("no session cookie")
}

// Every route refuses a request without a valid session: no cookie, an
// expired token, a tampered one, garbage; the link itself too.
func TestRefusedWithoutSession(t *testing.T) {
	t.Parallel()
	c, db := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	ids := broadcast(t, c, "order_paid", shop1, nil)
	// A client whose clock is two hours behind mints a token that has
	// expired by this one's.
	past, err := webhook.New(db, webhook.Config{PrivateSecret: testSecret, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired := token(t, past, shop1, time.Hour)
	good := token(t, c, shop1, time.Hour)
	tampered := good[:len(good)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(good, "AA")]
	otherKey, _ := newClient(t, webhook.Config{PrivateSecret: "another-private-secret-0123456789"})
	foreign := token(t, otherKey, shop1, time.Hour)

	routes := []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/endpoints/new"}, {"POST", "/endpoints"},
		{"GET", "/endpoints/wh_ok/edit"}, {"POST", "/endpoints/wh_ok/edit"},
		{"GET", "/endpoints/wh_ok/delete"}, {"POST", "/endpoints/wh_ok/delete"},
		{"GET", "/endpoints/wh_ok/secret"}, {"POST", "/endpoints/wh_ok/secret"},
		{"POST", "/endpoints/wh_ok/test"},
		{"GET", "/deliveries"}, {"GET", "/deliveries/" + ids["wh_ok"]}, {"POST", "/deliveries/" + ids["wh_ok"] + "/redeliver"},
		{"POST", "/logout"}, {"GET", "/nowhere"},
	}
	s := newSite(t, c, portal.Options{ServiceName: "Acme"})
	for _, cookie := range []struct{ name, value, want string }{
		{"none", "", "This portal opens with a personal link"},
		{"expired", expired, "This link has expired: ask Acme for a new one."},
		{"tampered", tampered, "This link is not valid"},
		{"another secret's", foreign, "This link is not valid"},
		{"garbage", "whp1.%%%", "This link is not valid"},
	} {
		for _, rt := range routes {
			req, err := http.NewRequest(rt.method, s.url(rt.path), strings.NewReader("csrf_token=x&confirm=yes&grace=0"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if cookie.value != "" {
				req.AddCookie(&http.Cookie{Name: portal.SessionCookieName, Value: cookie.value})
			}
			r := s.do(req)
			if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, cookie.want) {
				t.Errorf("%s cookie: %s %s = %d, want 401 with %q\n%.600s", cookie.name, rt.method, rt.path, r.StatusCode, cookie.want, r.body)
			}
		}
	}
	// The links themselves.
	for _, link := range []struct{ token, want string }{
		{expired, "This link has expired: ask Acme for a new one."},
		{tampered, "This link is not valid"},
		{"", "This link is not valid"},
	} {
		r := s.get("/?token=" + url.QueryEscape(link.token))
		wantStatus(t, r, http.StatusUnauthorized)
		wantContains(t, r, link.want)
		for _, ck := range r.Cookies() {
			if ck.Name == portal.SessionCookieName && ck.Value != "" {
				t.Errorf("a refused link set a session cookie")
			}
		}
	}
	// Nothing changed.
	if _, err := c.Webhook(context.Background(), shop1, "wh_ok"); err != nil {
		t.Errorf("wh_ok after the refused requests: %v", err)
	}
	if rc.count("/ok") != 1 {
		t.Errorf("the receiver got %d requests, want only the broadcast's", rc.count("/ok"))
	}
}

// A session of one scope cannot see or change another's endpoints or
// deliveries: they are not found (404), and a query or form naming another
// scope is refused (403).
func TestScopeIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newClient(t, webhook.Config{RetryPolicy: noRetry})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	ids1 := broadcast(t, c, "order_paid", shop1, nil)
	ids2 := broadcast(t, c, "order_paid", shop2, nil)
	s := newSite(t, c, portal.Options{})
	s.open(shop2) // the other shop

	for _, rt := range []struct{ method, path string }{
		{"GET", "/endpoints/wh_ok/edit"}, {"POST", "/endpoints/wh_ok/edit"},
		{"GET", "/endpoints/wh_ok/delete"}, {"POST", "/endpoints/wh_ok/delete"},
		{"GET", "/endpoints/wh_ok/secret"}, {"POST", "/endpoints/wh_ok/secret"},
		{"POST", "/endpoints/wh_ok/test"},
		{"GET", "/deliveries/" + ids1["wh_ok"]}, {"POST", "/deliveries/" + ids1["wh_ok"] + "/redeliver"},
	} {
		var r response
		if rt.method == "GET" {
			r = s.get(rt.path)
		} else {
			r = s.submit(rt.path, url.Values{"confirm": {"yes"}, "grace": {"0"}, "name": {"x"}, "endpoint": {rc.URL + "/ok"}, "method": {"POST"}, "content_type": {"application/json"}})
		}
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("shop/s2's session: %s %s = %d, want 404\n%.600s", rt.method, rt.path, r.StatusCode, r.body)
		}
	}
	// Its own pages show only its own.
	r := s.get("/")
	wantContains(t, r, "Other shop&#39;s service")
	wantNotContains(t, r, "wh_ok", "wh_fail")
	r = s.get("/deliveries")
	wantContains(t, r, ids2["wh_other"])
	wantNotContains(t, r, ids1["wh_ok"], ids1["wh_fail"])
	// Filtering on another scope's endpoint finds nothing.
	r = s.get("/deliveries?endpoint=wh_ok")
	wantNotContains(t, r, ids1["wh_ok"])
	// A scope in a query or a form that is not the session's is refused.
	wantStatus(t, s.get("/?scope_type=shop&scope_code=s1"), http.StatusForbidden)
	wantStatus(t, s.get("/deliveries?scope=shop:s1"), http.StatusForbidden)
	wantStatus(t, s.submit("/endpoints/wh_other/test", url.Values{"scope_code": {"s1"}}), http.StatusForbidden)
	wantStatus(t, s.get("/?scope_type=shop&scope_code=s2"), http.StatusOK)
	// Nothing of shop/s1 changed.
	wh, err := c.Webhook(ctx, shop1, "wh_ok")
	if err != nil || wh.SigningSecrets != 1 || wh.Name != "Service OK" {
		t.Errorf("wh_ok after shop/s2's requests: %+v, %v", wh, err)
	}
	if n := rc.count("/ok"); n != 2 {
		t.Errorf("the receiver's /ok got %d requests, want the two broadcasts' only", n)
	}
}

// A POST passes only with the session's CSRF token, from the same site.
func TestCSRF(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	other := s.clone()
	other.openToken(token(t, c, shop1, 2*time.Hour)) // another session of the same scope
	form := func(tok string) url.Values { return url.Values{"csrf_token": {tok}, "confirm": {"yes"}} }

	for name, f := range map[string]url.Values{
		"no token":               {"confirm": {"yes"}},
		"a wrong token":          form("not-the-token"),
		"another session's":      form(other.csrf()),
		"an empty token":         form(""),
		"the token with a space": form(s.csrf() + " "),
	} {
		r := s.post("/endpoints/wh_ok/test", f)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "Request refused") {
			t.Errorf("%s: %d, want 403\n%.500s", name, r.StatusCode, r.body)
		}
	}
	// From another site, even with the right token.
	req, _ := http.NewRequest(http.MethodPost, s.url("/endpoints/wh_ok/test"), strings.NewReader(form(s.csrf()).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := s.do(req); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "another site") {
		t.Errorf("cross-site POST: %d, want 403", r.StatusCode)
	}
	if n := rc.count("/ok"); n != 0 {
		t.Errorf("refused POSTs sent %d test requests", n)
	}
	// The right one passes.
	wantStatus(t, s.submit("/endpoints/wh_ok/test", nil), http.StatusOK)
	if n := rc.count("/ok"); n != 1 {
		t.Errorf("the test event sent %d requests, want 1", n)
	}
}

// Every response carries the security headers; FrameAncestors and LogoURL
// change the CSP as documented.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	s := newSite(t, c, portal.Options{})
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	}
	check := func(r response, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", r.Request.URL.Path, k, got, v)
			}
		}
	}
	check(s.get("/"), want) // 401
	s.open(shop1)
	check(s.get("/"), want)
	check(s.get("/deliveries"), want)
	check(s.get("/nowhere"), want)
	css := s.get("/static/portal.css")
	wantStatus(t, css, http.StatusOK)
	if ct := css.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("stylesheet Content-Type %q", ct)
	}
	if strings.Contains(s.get("/").body, "<script") || strings.Contains(s.get("/").body, " style=") {
		t.Error("a page has a script or an inline style")
	}

	framed := newSite(t, c, portal.Options{FrameAncestors: []string{"'self'", "https://app.example.com"}, LogoURL: "https://cdn.example.com/logo.svg"})
	r := framed.get("/")
	if csp := r.Header.Get("Content-Security-Policy"); csp != "default-src 'none'; style-src 'self'; img-src 'self' data: https://cdn.example.com; form-action 'self'; frame-ancestors 'self' https://app.example.com; base-uri 'none'" {
		t.Errorf("CSP with FrameAncestors and LogoURL: %q", csp)
	}
	if xfo := r.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options %q with FrameAncestors set, want none", xfo)
	}
	wantContains(t, r, `<img class="logo" src="https://cdn.example.com/logo.svg" alt="">`)
}

// A method the portal does not answer is a 405; a GET-only page POSTed too.
func TestMethods(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	s := newSite(t, c, portal.Options{})
	s.open(shop1)
	req, _ := http.NewRequest(http.MethodDelete, s.url("/"), nil)
	r := s.do(req)
	wantStatus(t, r, http.StatusMethodNotAllowed)
	wantStatus(t, s.submit("/deliveries", nil), http.StatusMethodNotAllowed)
	wantStatus(t, s.get("/endpoints/wh_ok/test"), http.StatusNotFound)
}
