package api

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/mount"
)

// Defaults and limits of Options and of the requests the handler takes.
const (
	// DefaultMaxBodyBytes is the largest request body when
	// Options.MaxBodyBytes is zero.
	DefaultMaxBodyBytes = 256 << 10
	// DefaultPageSize is the page size of the paged lists (deliveries,
	// changes) when a request sets no limit.
	DefaultPageSize = 50
	// MaxPageSize is the largest limit a paged list takes.
	MaxPageSize = 500
	// DefaultRotationGrace is how long the previous signing secrets keep
	// signing after POST …/rotate-secret when the body sets no grace.
	DefaultRotationGrace = 24 * time.Hour
)

// ErrNoAuthorizer means New was given no Options.Authorizer: the handler is
// never open by default.
var ErrNoAuthorizer = errors.New("api: no Authorizer: set Options.Authorizer, to PortalTokens(client) for portal links or to an AuthorizerFunc that maps your own authentication to a Principal")

// Options configures the handler New returns. Authorizer is required.
type Options struct {
	// Prefix is the path the handler is mounted under, such as "/api";
	// default "". Mount the handler there as it is,
	// mux.Handle("/api/", h): it strips the prefix itself (a request whose
	// prefix was already stripped, by http.StripPrefix, is served too).
	// The prefix's first segment must not be one of the API's own
	// (scopes, webhooks, events, openapi.json).
	Prefix string
	// Authorizer maps each request to a Principal: an operator, who may use
	// every scope, or a caller bound to one scope. Required: New returns
	// ErrNoAuthorizer without it. PortalTokens accepts the library's
	// portal tokens.
	Authorizer Authorizer
	// Logger receives the internal errors, which responses show only as a
	// reference (never with a credential). Defaults to discarding them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; a larger one gets 413. Defaults
	// to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now returns the current time, for the expiry of idempotency keys.
	// Defaults to time.Now.
	Now func() time.Time
}

// handler is the http.Handler New returns.
type handler struct {
	client  *webhook.Client
	prefix  string
	auth    Authorizer
	log     *slog.Logger
	maxBody int64
	now     func() time.Time
	mux     *http.ServeMux
	routes  []route
	idem    *idempotencyStore
}

// New returns the JSON REST API of client as an http.Handler: webhooks of a
// scope and their events, the event catalog, deliveries with their
// attempts, redelivery, test sends and signing-secret rotation, and its
// OpenAPI document at /openapi.json. It returns an error wrapping
// webhook.ErrInvalidConfig when client is nil or opts is unusable, and also
// ErrNoAuthorizer when opts.Authorizer is nil.
func New(client *webhook.Client, opts Options) (http.Handler, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: api: client is nil", webhook.ErrInvalidConfig)
	}
	if opts.Authorizer == nil {
		return nil, fmt.Errorf("%w: %w", webhook.ErrInvalidConfig, ErrNoAuthorizer)
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("%w: api: MaxBodyBytes %d is negative: use 0 for the default (%d bytes)", webhook.ErrInvalidConfig, opts.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	prefix, err := mount.Clean("api", opts.Prefix, "/api", "scopes", "webhooks", "events", "openapi.json")
	if err != nil {
		return nil, err
	}
	h := &handler{client: client, prefix: prefix, auth: opts.Authorizer, log: opts.Logger, maxBody: opts.MaxBodyBytes, now: opts.Now}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.now == nil {
		h.now = time.Now
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("api: generating the idempotency key: %w", err)
	}
	h.idem = newIdempotencyStore(key, h.now)
	h.routes = h.routeTable()
	h.mux = h.buildMux()
	return h, nil
}

// ServeHTTP sets the security headers and hands the request to its route.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	hdr.Set("Referrer-Policy", "no-referrer")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			ref := newRef()
			h.log.Error("api: panic serving a request", "ref", ref, "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			writeReply(w, internalReply(ref))
		}
	}()
	r = mount.Strip(h.prefix, r)
	if p := r.URL.EscapedPath(); p == "" || p[0] != '/' || (p != "/" && path.Clean(p) != p) {
		// The mux would redirect to the clean path, without the prefix.
		writeReply(w, errorReply(http.StatusNotFound, CodeNotFound, "the path is not in its clean form (no //, ., .. or trailing /): see /openapi.json for the routes", nil))
		return
	}
	h.mux.ServeHTTP(w, r)
}
