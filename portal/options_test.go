package portal_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// New refuses unusable options with ErrInvalidConfig and a message that
// says what to use.
func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	if _, err := portal.New(nil, portal.Options{}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
	for name, tc := range map[string]struct {
		opts portal.Options
		want string
	}{
		"relative prefix":  {portal.Options{Prefix: "portal"}, "absolute URL path"},
		"page prefix":      {portal.Options{Prefix: "/endpoints"}, "choose another"},
		"language":         {portal.Options{Language: "fr"}, `use "en", "zh-CN"`},
		"logo":             {portal.Options{LogoURL: "javascript:alert(1)"}, "LogoURL"},
		"logo quote":       {portal.Options{LogoURL: `/logo.png" onerror="x`}, "LogoURL"},
		"frame":            {portal.Options{FrameAncestors: []string{"*"}}, "FrameAncestors"},
		"frame path":       {portal.Options{FrameAncestors: []string{"https://a.example/x"}}, "FrameAncestors"},
		"theme injection":  {portal.Options{Theme: portal.Theme{Accent: "red; } body { display: none"}}, "Theme value"},
		"theme url":        {portal.Options{Theme: portal.Theme{Background: "url(https://x/y.png)"}}, "Theme value"},
		"theme comment":    {portal.Options{Theme: portal.Theme{Font: "a /* b"}}, "Theme value"},
		"negative pages":   {portal.Options{PageSize: -1}, "PageSize"},
		"negative session": {portal.Options{SessionTTL: -time.Second}, "SessionTTL"},
	} {
		_, err := portal.New(c, tc.opts)
		if !errors.Is(err, webhook.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalidConfig mentioning %q", name, err, tc.want)
		}
	}
	for _, lang := range []string{"", "en", "zh-CN", "zh", "en-US"} {
		if _, err := portal.New(c, portal.Options{Language: lang}); err != nil {
			t.Errorf("Language %q: %v", lang, err)
		}
	}
}

// The theme is a stylesheet of its own, with the variables set; the page
// links it after the portal's own, with the title and the logo.
func TestTheme(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	s := newSite(t, c, portal.Options{Title: "Acme 商店", LogoURL: "/assets/logo.svg",
		Theme: portal.Theme{Accent: "#e4572e", Font: `"Inter", sans-serif`, Radius: "2px"}})
	css := s.get("/static/theme.css")
	wantStatus(t, css, http.StatusOK)
	for _, want := range []string{"--portal-accent: #e4572e;", `--portal-font: "Inter", sans-serif;`, "--portal-radius: 2px;"} {
		if !strings.Contains(css.body, want) {
			t.Errorf("theme.css lacks %q:\n%s", want, css.body)
		}
	}
	if strings.Contains(css.body, "--portal-bg") {
		t.Errorf("theme.css sets a variable left empty:\n%s", css.body)
	}
	// Revalidated by ETag.
	req, _ := http.NewRequest(http.MethodGet, s.url("/static/theme.css"), nil)
	req.Header.Set("If-None-Match", css.Header.Get("ETag"))
	if r := s.do(req); r.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET of theme.css: %d", r.StatusCode)
	}
	s.open(shop1)
	r := s.get("/")
	wantContains(t, r, `<link rel="stylesheet" href="/portal/static/portal.css">
<link rel="stylesheet" href="/portal/static/theme.css">`, "<title>Endpoints · Acme 商店</title>", `<img class="logo" src="/assets/logo.svg" alt="">`)
}

// The handler mounts in one line: as it is or behind http.StripPrefix,
// its links and its cookie carry the prefix either way.
func TestMount(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	h, err := portal.New(c, portal.Options{Prefix: "/account/webhooks/"})
	if err != nil {
		t.Fatal(err)
	}
	plain := http.NewServeMux()
	plain.Handle("/account/webhooks/", h)
	stripped := http.NewServeMux()
	stripped.Handle("/account/webhooks/", http.StripPrefix("/account/webhooks", h))
	tok, _ := c.PortalToken(shop1, time.Hour)
	for name, mux := range map[string]*http.ServeMux{"as it is": plain, "behind StripPrefix": stripped} {
		srv := httptest.NewServer(mux)
		res, err := http.Get(portal.Link(srv.URL+"/account/webhooks/", tok))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `content="0;url=/account/webhooks/"`) ||
			!strings.Contains(res.Header.Get("Set-Cookie"), "Path=/account/webhooks/") {
			t.Errorf("%s: %d %q\n%s", name, res.StatusCode, res.Header.Get("Set-Cookie"), body)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/account/webhooks/deliveries", nil)
		req.AddCookie(&http.Cookie{Name: portal.SessionCookieName, Value: tok})
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `href="/account/webhooks/static/portal.css"`) {
			t.Errorf("%s: deliveries %d", name, res.StatusCode)
		}
		srv.Close()
	}
}
