package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
	"github.com/scopehook/webhook/internal/mount"
)

// ErrNoAccessControl means NewHandler was given no way to restrict access:
// none of Options.Authorize, Options.BasicAuthUser with
// Options.BasicAuthPassword, or Options.Insecure is set.
var ErrNoAccessControl = errors.New("admin: no access control: set Options.Authorize, Options.BasicAuthUser and Options.BasicAuthPassword, or Options.Insecure")

// Defaults and limits of Options.
const (
	// DefaultTitle is the header title when Options.Title is empty.
	DefaultTitle = "Webhooks"
	// DefaultPageSize is the page size of the deliveries and attempts
	// lists when Options.PageSize is zero.
	DefaultPageSize = 50
	// MaxPageSize is the largest Options.PageSize; larger values are
	// lowered to it.
	MaxPageSize = 500
)

// CSRFCookieName is the name of the per-browser cookie the CSRF tokens of the
// admin's forms are bound to.
const CSRFCookieName = "webhook_admin_csrf"

// csrfField is the name of the hidden form field carrying the CSRF token.
const csrfField = "csrf_token"

// ContentSecurityPolicy is the Content-Security-Policy of every response.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxFormBytes bounds the body of a POST.
const maxFormBytes = 64 << 10

// maxFieldLen bounds a search field.
const maxFieldLen = 255

// Options configures the admin handler. At least one of Authorize,
// BasicAuthUser with BasicAuthPassword, or Insecure must be set.
type Options struct {
	// Authorize decides whether a request may use the admin (e.g. check a
	// session). A request it refuses gets 403 Forbidden.
	Authorize func(r *http.Request) bool
	// BasicAuthUser and BasicAuthPassword enable HTTP basic auth (compared
	// in constant time). Both must be set; a request without them or with
	// wrong ones gets 401 Unauthorized. When Authorize is also set, both
	// checks apply.
	BasicAuthUser, BasicAuthPassword string
	// Insecure allows a handler with no access control at all (local
	// development, tests).
	Insecure bool
	// Prefix is the path the handler is mounted under, e.g. "/admin" (links
	// are built with it); default "". Mount the handler there as it is,
	// mux.Handle("/admin/", h): it strips the prefix itself (a request whose
	// prefix was already stripped, by http.StripPrefix, is served too). The
	// prefix's first segment must not be one of the admin's own pages.
	Prefix string
	// Title shown in the header; default "Webhooks".
	Title string
	// PageSize of the deliveries and attempts lists; default 50, at most
	// 500.
	PageSize int
	// Now returns the current time (for the overview chart); default
	// time.Now.
	Now func() time.Time
	// Logger receives the errors the pages show only as a generic message;
	// default discards them.
	Logger *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

type handler struct {
	client   *webhook.Client
	opts     Options
	prefix   string
	title    string
	pageSize int
	now      func() time.Time
	log      *slog.Logger
	basic    bool
	userHash [32]byte
	passHash [32]byte
	csrfKey  []byte
	mux      *http.ServeMux
	pages    map[string]*template.Template
	css      []byte
}

// NewHandler returns the admin UI of client as an http.Handler. It returns an
// error wrapping webhook.ErrInvalidConfig when client is nil or opts is
// unusable, and also ErrNoAccessControl when opts sets no access control.
func NewHandler(client *webhook.Client, opts Options) (http.Handler, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: admin: client is nil", webhook.ErrInvalidConfig)
	}
	if (opts.BasicAuthUser == "") != (opts.BasicAuthPassword == "") {
		return nil, fmt.Errorf("%w: admin: set both BasicAuthUser and BasicAuthPassword, or neither", webhook.ErrInvalidConfig)
	}
	h := &handler{client: client, opts: opts, basic: opts.BasicAuthUser != "" && opts.BasicAuthPassword != ""}
	if opts.Authorize == nil && !h.basic && !opts.Insecure {
		return nil, fmt.Errorf("%w: %w", webhook.ErrInvalidConfig, ErrNoAccessControl)
	}
	prefix, err := mount.Clean("admin", opts.Prefix, "/admin", "deliveries", "attempts", "outbox", "webhooks", "instances", "events", "subscriptions", "scopes", "static")
	if err != nil {
		return nil, err
	}
	h.prefix = prefix
	h.title = opts.Title
	if h.title == "" {
		h.title = DefaultTitle
	}
	switch {
	case opts.PageSize < 0:
		return nil, fmt.Errorf("%w: admin: PageSize is negative", webhook.ErrInvalidConfig)
	case opts.PageSize == 0:
		h.pageSize = DefaultPageSize
	default:
		h.pageSize = min(opts.PageSize, MaxPageSize)
	}
	h.now = opts.Now
	if h.now == nil {
		h.now = time.Now
	}
	h.log = opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.basic {
		h.userHash = sha256.Sum256([]byte(opts.BasicAuthUser))
		h.passHash = sha256.Sum256([]byte(opts.BasicAuthPassword))
	}
	h.csrfKey = make([]byte, 32)
	if _, err := rand.Read(h.csrfKey); err != nil {
		return nil, fmt.Errorf("admin: generating the CSRF key: %w", err)
	}
	if h.pages, err = htmlview.ParseTemplates("admin", templateFS, h.funcs()); err != nil {
		return nil, err
	}
	if h.css, err = fs.ReadFile(staticFS, "static/admin.css"); err != nil {
		return nil, fmt.Errorf("admin: reading the stylesheet: %w", err)
	}
	h.routes()
	return h, nil
}

func (h *handler) routes() {
	m := http.NewServeMux()
	for _, rt := range []struct {
		pattern string
		fn      handlerFunc
	}{
		{"GET /{$}", h.overview},
		{"GET /deliveries", h.deliveries},
		{"GET /deliveries/{id}", h.delivery},
		{"POST /deliveries/{id}/redeliver", h.redeliver},
		{"POST /deliveries/redeliver-failed", h.redeliverFailed},
		{"GET /attempts", h.attempts},
		{"GET /outbox", h.outbox},
		{"GET /webhooks", h.webhooks},
		{"POST /webhooks/toggle", h.toggleWebhook},
		{"POST /webhooks/close-circuit", h.closeCircuit},
		{"GET /events", h.events},
		{"GET /subscriptions", h.subscriptions},
		{"GET /scopes", h.scopes},
		{"GET /instances", h.instances},
		{"GET /static/admin.css", h.stylesheet},
		{"/", h.notFound},
	} {
		m.HandleFunc(rt.pattern, h.serve(rt.fn))
	}
	h.mux = m
}

// ServeHTTP sets the security headers, checks access and, for a POST, the
// CSRF token, then serves the page.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			ref := htmlview.NewRef()
			h.log.Error("admin: panic serving a request", "ref", ref, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			http.Error(w, "Internal error (reference "+ref+"); it was logged.", http.StatusInternalServerError)
		}
	}()

	r = mount.Strip(h.prefix, r)
	if !h.authenticate(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		hdr.Set("Allow", "GET, HEAD, POST")
		h.fail(w, r, &requestError{status: http.StatusMethodNotAllowed, heading: "Method not allowed", msg: "The admin answers GET and POST only."})
		return
	}
	token := h.ensureCSRFCookie(w, r)
	r = r.WithContext(context.WithValue(r.Context(), csrfCtxKey{}, token))
	if r.Method == http.MethodPost {
		if problem := h.checkCSRF(r, token); problem != "" {
			h.fail(w, r, &requestError{status: http.StatusForbidden, heading: "Request refused (CSRF check failed)", msg: problem})
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// authenticate applies basic auth and Authorize; it writes the refusal and
// returns false when the request may not proceed.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if h.basic {
		user, pass, ok := r.BasicAuth()
		uh, ph := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		userOK := subtle.ConstantTimeCompare(uh[:], h.userHash[:])
		passOK := subtle.ConstantTimeCompare(ph[:], h.passHash[:])
		if !ok || userOK&passOK != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="webhook admin", charset="UTF-8"`)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "401 Unauthorized: this admin needs a user name and password.\n")
			return false
		}
	}
	if h.opts.Authorize != nil && !h.opts.Authorize(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "403 Forbidden: you are not allowed to use this admin.\n")
		return false
	}
	return true
}

func (h *handler) stylesheet(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	http.ServeContent(w, r, "admin.css", time.Time{}, bytes.NewReader(h.css))
	return nil
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) error {
	// A known path asked with the wrong method is a 405, not a 404.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		probe := r.Clone(r.Context())
		probe.Method = http.MethodGet
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			w.Header().Set("Allow", "GET, HEAD")
			return &requestError{status: http.StatusMethodNotAllowed, heading: "Method not allowed", msg: "This page is read-only: use GET."}
		}
	}
	return &requestError{status: http.StatusNotFound, heading: "Page not found", msg: "There is no admin page at this address: start again from the navigation above."}
}
