package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
	"github.com/scopehook/webhook/internal/mount"
)

// Defaults and limits of Options.
const (
	// DefaultTitle is the header title when Options.Title is empty.
	DefaultTitle = "Webhooks"
	// DefaultPageSize is the page size of the delivery log when
	// Options.PageSize is zero.
	DefaultPageSize = 25
	// MaxPageSize is the largest Options.PageSize; larger values are
	// lowered to it.
	MaxPageSize = 200
)

// SessionCookieName is the name of the cookie that holds a browser's
// portal session: the portal token itself, which is signed and expiring.
const SessionCookieName = "webhook_portal"

// TokenParam is the query parameter of a portal link that carries the
// token (see Link).
const TokenParam = "token"

// Languages the portal speaks, for Options.Language.
const (
	// English is the portal in English.
	English = "en"
	// SimplifiedChinese is the portal in Simplified Chinese.
	SimplifiedChinese = "zh-CN"
)

// maxFormBytes bounds the body of a POST.
const maxFormBytes = 64 << 10

// Options configures the portal handler. The zero value works: the portal
// is then served from "/", titled DefaultTitle, in the language the
// browser asks for, and may not be framed.
type Options struct {
	// Prefix is the path the handler is mounted under, e.g. "/webhooks";
	// default "". Mount the handler there as it is,
	// mux.Handle("/webhooks/", h): it strips the prefix itself (a request
	// whose prefix was already stripped, by http.StripPrefix, is served
	// too). The session cookie is scoped to it.
	Prefix string
	// Title is shown in the header and the window title; default
	// DefaultTitle.
	Title string
	// ServiceName names the service in the messages that send the user
	// back to it ("this link has expired: ask Acme for a new one");
	// default a phrase that names none.
	ServiceName string
	// LogoURL is an image shown before the title: an absolute http(s) URL
	// or a path starting with "/"; default none. Its origin is added to
	// the Content-Security-Policy's img-src.
	LogoURL string
	// Theme sets the CSS variables of the portal's stylesheet, so that it
	// matches the host's pages; an empty field keeps the default.
	Theme Theme
	// Language is the portal's language: English ("en") or
	// SimplifiedChinese ("zh-CN"). Default "": the browser's
	// Accept-Language decides, English otherwise.
	Language string
	// FrameAncestors are the origins allowed to show the portal in a
	// frame ("https://app.example.com", or "'self'"), written into the
	// Content-Security-Policy's frame-ancestors. Default none: the portal
	// may not be framed (frame-ancestors 'none', X-Frame-Options: DENY).
	// The session cookie is SameSite=Strict, so a frame works only inside
	// a page of the same site as the portal.
	FrameAncestors []string
	// SessionTTL bounds how long a browser keeps the session cookie
	// (Max-Age); default, and at most, until the token expires. The
	// token's own expiry is what every request is checked against.
	SessionTTL time.Duration
	// SecureCookie marks the session cookie Secure even when the request
	// arrived without TLS (behind a proxy that terminates TLS); default
	// false: Secure exactly when the request came over TLS.
	SecureCookie bool
	// PageSize of the delivery log; default DefaultPageSize, at most
	// MaxPageSize.
	PageSize int
	// Now returns the current time (the window of the failure rates);
	// default time.Now.
	Now func() time.Time
	// Logger receives the errors the pages show only as a generic message,
	// with their reference, and one line per change; default discards
	// them.
	Logger *slog.Logger
}

// Theme holds the CSS variables of the portal's stylesheet. Each value is
// a CSS value ("#0b5cad", "rgb(11 92 173)", `"Inter", sans-serif`, "6px");
// one holding ';', '{', '}', '<', '>', '\', "/*", "url(" or "@" is refused
// by New.
type Theme struct {
	// Accent colours links, buttons and the current page (--portal-accent).
	Accent string
	// AccentText is the text on accent-coloured buttons
	// (--portal-accent-text).
	AccentText string
	// Background is the page's background (--portal-bg).
	Background string
	// Surface is the background of panels and tables (--portal-surface).
	Surface string
	// Foreground is the text colour (--portal-fg).
	Foreground string
	// Muted is the colour of secondary text (--portal-muted).
	Muted string
	// Border colours lines and borders (--portal-border).
	Border string
	// Header is the header bar's background (--portal-header-bg), and
	// HeaderText its text (--portal-header-fg).
	Header, HeaderText string
	// Font is the font-family (--portal-font).
	Font string
	// Radius rounds panels, fields and buttons (--portal-radius).
	Radius string
}

// vars lists the theme's variables in stylesheet order.
func (t Theme) vars() [][2]string {
	return [][2]string{
		{"--portal-accent", t.Accent}, {"--portal-accent-text", t.AccentText},
		{"--portal-bg", t.Background}, {"--portal-surface", t.Surface},
		{"--portal-fg", t.Foreground}, {"--portal-muted", t.Muted},
		{"--portal-border", t.Border}, {"--portal-header-bg", t.Header},
		{"--portal-header-fg", t.HeaderText}, {"--portal-font", t.Font},
		{"--portal-radius", t.Radius},
	}
}

// Link returns the portal link that hands token (from
// webhook.Client.PortalToken) to its owner: base, the portal's absolute
// address such as "https://app.example.com/webhooks/", with the token in
// its query. Opening it starts a session and removes the token from the
// address bar.
func Link(base, token string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	if i := strings.IndexByte(base, '#'); i >= 0 {
		base = base[:i]
	}
	return base + sep + TokenParam + "=" + url.QueryEscape(token)
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/portal.css
var staticFS embed.FS

type handler struct {
	client     *webhook.Client
	prefix     string
	title      string
	service    string
	logo       string
	language   string
	ttl        time.Duration
	secure     bool
	pageSize   int
	now        func() time.Time
	log        *slog.Logger
	csp        string
	frameDeny  bool
	catalogs   map[string]map[string]string
	mux        *http.ServeMux
	pages      map[string]*template.Template
	css, theme []byte
	cssTag     string
	themeTag   string
}

// New returns the portal of client as an http.Handler: the web pages where
// the owner of one scope, holding a portal token, manages that scope's
// endpoints and reads its delivery log. It returns an error wrapping
// webhook.ErrInvalidConfig when client is nil or opts is unusable.
func New(client *webhook.Client, opts Options) (http.Handler, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: portal: client is nil", webhook.ErrInvalidConfig)
	}
	h := &handler{client: client, title: opts.Title, service: strings.TrimSpace(opts.ServiceName), ttl: opts.SessionTTL,
		secure: opts.SecureCookie, now: opts.Now, log: opts.Logger}
	var err error
	if h.prefix, err = mount.Clean("portal", opts.Prefix, "/webhooks", "endpoints", "deliveries", "static", "logout"); err != nil {
		return nil, err
	}
	if h.title == "" {
		h.title = DefaultTitle
	}
	switch opts.Language {
	case "":
	case English, SimplifiedChinese:
		h.language = opts.Language
	default:
		if l, ok := matchLanguage(opts.Language); ok {
			h.language = l
		} else {
			return nil, fmt.Errorf("%w: portal: Language %q is not one the portal speaks: use %q, %q, or \"\" to follow the browser", webhook.ErrInvalidConfig, opts.Language, English, SimplifiedChinese)
		}
	}
	switch {
	case opts.PageSize < 0:
		return nil, fmt.Errorf("%w: portal: PageSize is negative", webhook.ErrInvalidConfig)
	case opts.PageSize == 0:
		h.pageSize = DefaultPageSize
	default:
		h.pageSize = min(opts.PageSize, MaxPageSize)
	}
	if opts.SessionTTL < 0 {
		return nil, fmt.Errorf("%w: portal: SessionTTL is negative", webhook.ErrInvalidConfig)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	imgSrc := "'self' data:"
	if opts.LogoURL != "" {
		origin, err := checkLogo(opts.LogoURL)
		if err != nil {
			return nil, err
		}
		h.logo = opts.LogoURL
		if origin != "" {
			imgSrc += " " + origin
		}
	}
	frame := "'none'"
	h.frameDeny = len(opts.FrameAncestors) == 0
	if !h.frameDeny {
		for _, a := range opts.FrameAncestors {
			if err := checkFrameAncestor(a); err != nil {
				return nil, err
			}
		}
		frame = strings.Join(opts.FrameAncestors, " ")
	}
	h.csp = "default-src 'none'; style-src 'self'; img-src " + imgSrc + "; form-action 'self'; frame-ancestors " + frame + "; base-uri 'none'"
	if h.theme, err = themeCSS(opts.Theme); err != nil {
		return nil, err
	}
	h.catalogs = map[string]map[string]string{English: catalogEN(), SimplifiedChinese: catalogZH()}
	if h.pages, err = htmlview.ParseTemplates("portal", templateFS, h.funcs()); err != nil {
		return nil, err
	}
	if h.css, err = fs.ReadFile(staticFS, "static/portal.css"); err != nil {
		return nil, fmt.Errorf("portal: reading the stylesheet: %w", err)
	}
	h.cssTag, h.themeTag = etagOf(h.css), etagOf(h.theme)
	h.routes()
	return h, nil
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// checkLogo validates Options.LogoURL and returns the origin to allow in
// img-src ("" for a path of the portal's own site).
func checkLogo(s string) (string, error) {
	bad := fmt.Errorf("%w: portal: LogoURL %q is not an absolute http(s) URL or a path starting with \"/\"", webhook.ErrInvalidConfig, s)
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"'<>\;`+"`", r) {
			return "", bad
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", bad
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//"):
		return "", nil
	case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil:
		return u.Scheme + "://" + u.Host, nil
	}
	return "", bad
}

// checkFrameAncestor validates one source of Options.FrameAncestors.
func checkFrameAncestor(s string) error {
	if s == "'self'" {
		return nil
	}
	u, err := url.Parse(s)
	ok := err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == ""
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"'<>\;,`+"`", r) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: portal: FrameAncestors entry %q is not an origin such as \"https://app.example.com\" or \"'self'\"", webhook.ErrInvalidConfig, s)
	}
	return nil
}

// themeCSS is the stylesheet of a theme: the variables it sets.
func themeCSS(t Theme) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("/* the host's theme (portal.Options.Theme) */\n:root {")
	for _, v := range t.vars() {
		val := strings.TrimSpace(v[1])
		if val == "" {
			continue
		}
		if !safeCSSValue(val) {
			return nil, fmt.Errorf("%w: portal: Theme value %q of %s is not a plain CSS value (no ; { } < > \\ /* url( or @)", webhook.ErrInvalidConfig, val, v[0])
		}
		fmt.Fprintf(&b, " %s: %s;", v[0], val)
	}
	b.WriteString(" }\n")
	return b.Bytes(), nil
}

func safeCSSValue(s string) bool {
	if len(s) > 200 {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || strings.ContainsRune(";{}<>\\@", r) {
			return false
		}
	}
	l := strings.ToLower(s)
	return !strings.Contains(l, "/*") && !strings.Contains(l, "url(") && !strings.Contains(l, "image(") && !strings.Contains(l, "expression(")
}

func (h *handler) routes() {
	m := http.NewServeMux()
	for _, rt := range []struct {
		pattern string
		fn      handlerFunc
	}{
		{"GET /{$}", h.endpoints},
		{"GET /endpoints/new", h.newEndpoint},
		{"POST /endpoints", h.createEndpoint},
		{"GET /endpoints/{code}/edit", h.editEndpoint},
		{"POST /endpoints/{code}/edit", h.updateEndpoint},
		{"GET /endpoints/{code}/delete", h.confirmDelete},
		{"POST /endpoints/{code}/delete", h.deleteEndpoint},
		{"GET /endpoints/{code}/secret", h.secretForm},
		{"POST /endpoints/{code}/secret", h.rotateSecret},
		{"POST /endpoints/{code}/test", h.testEndpoint},
		{"GET /deliveries", h.deliveries},
		{"GET /deliveries/{id}", h.delivery},
		{"POST /deliveries/{id}/redeliver", h.redeliver},
		{"POST /logout", h.logout},
		{"/", h.notFound},
	} {
		m.HandleFunc(rt.pattern, h.serve(rt.fn))
	}
	h.mux = m
}

// ServeHTTP sets the security headers, serves the stylesheets, starts a
// session from a portal link, checks the session and, for a POST, the CSRF
// token, then serves the page.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if h.frameDeny {
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	}
	hdr.Set("Cache-Control", "no-store")
	r = mount.Strip(h.prefix, r)
	st := &reqState{lang: h.lang(r)}
	r = r.WithContext(withState(r.Context(), st))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			ref := htmlview.NewRef()
			h.log.Error("portal: panic serving a request", "ref", ref, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			http.Error(w, "Internal error (reference "+ref+"); it was logged.", http.StatusInternalServerError)
		}
	}()

	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		switch r.URL.Path {
		case "/static/portal.css":
			h.static(w, r, "portal.css", h.css, h.cssTag)
			return
		case "/static/theme.css":
			h.static(w, r, "theme.css", h.theme, h.themeTag)
			return
		}
	}
	if h.language == "" {
		hdr.Add("Vary", "Accept-Language")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		hdr.Set("Allow", "GET, HEAD, POST")
		h.fail(w, r, &requestError{status: http.StatusMethodNotAllowed, heading: "err.method.heading", msg: st.lang.T("err.method.msg")})
		return
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has(TokenParam) {
		h.land(w, r)
		return
	}
	if !h.authenticate(w, r, st) {
		return
	}
	if r.Method == http.MethodPost {
		if problem := h.checkCSRF(r, st); problem != "" {
			h.fail(w, r, &requestError{status: http.StatusForbidden, heading: "err.csrf.heading", msg: problem})
			return
		}
	}
	if err := h.checkScopeParams(r, st); err != nil {
		h.fail(w, r, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// static serves one of the stylesheets, which any page may load without a
// session; they hold nothing private. They are revalidated by ETag.
func (h *handler) static(w http.ResponseWriter, r *http.Request, name string, b []byte, tag string) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", tag)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) error {
	// A known path asked with the wrong method is a 405, not a 404.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		probe := r.Clone(r.Context())
		probe.Method = http.MethodGet
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			w.Header().Set("Allow", "GET, HEAD")
			return &requestError{status: http.StatusMethodNotAllowed, heading: "err.method.heading", msg: stateOf(r).lang.T("err.readonly.msg")}
		}
	}
	return &requestError{status: http.StatusNotFound, heading: "err.notfound.heading", msg: stateOf(r).lang.T("err.notfound.msg")}
}
