package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Version is the library's version, sent in the User-Agent header.
const Version = "0.1.0"

// UserAgent is the User-Agent header sent with every request.
const UserAgent = "scopehook-webhook/" + Version

// Defaults used where a Config field is left at its zero value.
const (
	// DefaultTimeout bounds one request of a webhook that sets no timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConcurrency bounds how many webhooks of one broadcast are in
	// flight at once.
	DefaultMaxConcurrency = 32
	// DefaultMaxResponseBodyBytes is how much of a response body history keeps.
	DefaultMaxResponseBodyBytes = 64 << 10
	// DefaultMaxResponseHeaderBytes bounds the response headers read and
	// kept in history.
	DefaultMaxResponseHeaderBytes = 8 << 10
	// DefaultRetryInterval is the first delay between attempts of a webhook
	// whose interval is zero or unset.
	DefaultRetryInterval = 2 * time.Second
	// DefaultMaxRetryDelay is the longest Broadcast waits for a retry.
	DefaultMaxRetryDelay = 30 * time.Second
	// DefaultHistoryLimit is the number of rows History returns when the
	// query sets no limit.
	DefaultHistoryLimit = 100
	// MaxHistoryLimit is the largest number of rows one History call returns.
	MaxHistoryLimit = 10000
)

// Config configures a Client. The zero value of every field but PrivateSecret
// means its documented default; WithDefaults returns the configuration with
// the defaults filled in, as the Client uses it.
type Config struct {
	// PrivateSecret encrypts credentials at rest (auth tokens, passwords and
	// header values). Required, and at least MinPrivateSecretBytes (16)
	// bytes long. Use a long random string (NewPrivateSecret, or
	// `openssl rand -base64 32`) and keep it out of the source; it plays the
	// role of the Python package's PRIVATE_SECRET, and using the same value
	// lets both read each other's credentials. Client.CheckSecret tells
	// whether it decrypts what the database holds.
	PrivateSecret string

	// OldPrivateSecrets are tried, after PrivateSecret, to decrypt
	// credentials written before a change of secret. Nothing is ever
	// written with them. Each must be at least MinPrivateSecretBytes long.
	// Defaults to none.
	OldPrivateSecrets []string

	// AllowShortPrivateSecret makes New accept a PrivateSecret or
	// OldPrivateSecrets entry shorter than MinPrivateSecretBytes (never an
	// empty one). It is an escape hatch for a database whose credentials
	// are already encrypted under such a secret: one shared with a Python
	// service whose PRIVATE_SECRET is short, or the time of a rotation away
	// from it (the short secret in OldPrivateSecrets, a new long one in
	// PrivateSecret, ReencryptCredentials, then drop both the old secret and
	// this flag). A short secret can be guessed offline by anyone holding a
	// copy of the database. Defaults to false.
	AllowShortPrivateSecret bool

	// LegacyFernet makes new credentials use the Python package's Fernet
	// format, so that a Python service sharing the database can read them.
	// Defaults to false: XChaCha20-Poly1305 under an HKDF-derived key.
	LegacyFernet bool

	// HTTPClient sends the requests. The library uses a copy that never
	// follows redirects and dials through the SSRF guard. Its Transport
	// must be an *http.Transport without Proxy, DialTLSContext or DialTLS
	// (use EgressProxy for a proxy); with a nil Transport a copy of
	// http.DefaultTransport without its Proxy (so HTTP_PROXY and
	// HTTPS_PROXY are ignored) is used. Defaults to a client with a pooled
	// transport sized for concurrent delivery.
	HTTPClient *http.Client

	// Timeout bounds one request of a webhook that sets no timeout of its
	// own. Defaults to DefaultTimeout.
	Timeout time.Duration

	// MaxConcurrency bounds how many webhooks of one broadcast are sent at
	// once. Defaults to DefaultMaxConcurrency.
	MaxConcurrency int

	// MaxResponseBodyBytes is how much of each response body is read and
	// kept in history; the rest is discarded. Defaults to
	// DefaultMaxResponseBodyBytes.
	MaxResponseBodyBytes int

	// MaxResponseHeaderBytes caps the status line and headers of each
	// response: it is the transport's MaxResponseHeaderBytes (a smaller
	// limit on HTTPClient's transport is kept), so no more than this is read
	// or held in memory, and a response whose headers are longer fails the
	// attempt, as an endpoint failure, with an error naming this limit. The
	// history row keeps at most this many bytes of headers, as JSON: those
	// that do not fit (escaping can make JSON longer than the wire form)
	// are left out and HistoryResponse.HeaderTruncated is set. Defaults to
	// DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int

	// MaxRetryDelay is the longest Broadcast waits for a retry. Broadcast
	// follows RetryPolicy like the workers do, but its caller waits: when
	// the policy (or an endpoint's Retry-After) asks for a longer delay,
	// Broadcast stops there and reports the delivery failed. Use Enqueue
	// for schedules of minutes or hours. Defaults to DefaultMaxRetryDelay.
	MaxRetryDelay time.Duration

	// Logger receives the library's log lines. Credentials never appear in
	// them. Defaults to a logger that discards everything.
	Logger *slog.Logger

	// Now returns the current time, for history timestamps. Defaults to
	// time.Now.
	Now func() time.Time

	// Hooks are called around broadcasts and delivery attempts, in the place
	// of the Python package's signals. Each may be nil. Defaults to none.
	Hooks Hooks

	// Workers is how many deliveries of the durable path (Enqueue) this
	// instance sends at once once Start is called. Defaults to
	// DefaultWorkers.
	Workers int

	// ClaimBatch is the largest number of due deliveries claimed by one
	// query. Defaults to DefaultClaimBatch.
	ClaimBatch int

	// PollInterval is how often idle workers look for due deliveries (an
	// Enqueue in this process wakes them at once). Defaults to
	// DefaultPollInterval.
	PollInterval time.Duration

	// LeaseDuration bounds how long the deliveries of an instance that died
	// stay reserved to it. A live instance renews its leases with one
	// heartbeat every LeaseDuration/4, however long its requests take; the
	// deliveries of an instance whose heartbeat is older than LeaseDuration
	// (claimed but unsent, or in flight) are claimable by any instance.
	// Keep the clocks of instances sharing a database within a fraction of
	// it. Defaults to DefaultLeaseDuration.
	LeaseDuration time.Duration

	// MaxInFlightPerWebhook caps how many durable deliveries of one webhook
	// an instance sends at once (WebhookConfig.MaxInFlight overrides it per
	// webhook), so that an endpoint that hangs holds at most that many
	// workers and every other webhook keeps the rest. Claims are fair
	// across webhooks: a backlog of one does not delay another's. Defaults
	// to a quarter of Workers (at least 1).
	MaxInFlightPerWebhook int

	// CircuitBreakAfter is the number of consecutive endpoint failures
	// (network errors, timeouts, 5xx and 429 answers) that open a webhook's
	// circuit breaker: its deliveries then wait, without spending attempts,
	// while single probes, spaced from CircuitProbeInterval doubling up to
	// CircuitMaxProbeInterval, test the endpoint; the first answer closes
	// it. The state is shared by all instances through the database.
	// Defaults to DefaultCircuitBreakAfter; a negative value turns the
	// breaker off (a Retry-After pause still applies).
	CircuitBreakAfter int

	// CircuitProbeInterval is the delay before the first probe of an open
	// circuit. Defaults to DefaultCircuitProbeInterval.
	CircuitProbeInterval time.Duration

	// CircuitMaxProbeInterval caps the delay between probes. Defaults to
	// DefaultCircuitMaxProbeInterval; a value below CircuitProbeInterval is
	// raised to it.
	CircuitMaxProbeInterval time.Duration

	// RetryPolicy schedules the retries of both paths: the workers follow
	// it to its end, Broadcast while each delay is at most MaxRetryDelay.
	// Defaults to DefaultRetryPolicy.
	RetryPolicy RetryPolicy

	// DisableAfterFailures disables a webhook after that many consecutive
	// failed attempts (Hooks.WebhookDisabled is called). Zero (the default)
	// never does.
	DisableAfterFailures int

	// DisableAfterFailingFor disables a webhook that has failed, with no
	// success since, for that long. Zero (the default) never does.
	DisableAfterFailingFor time.Duration

	// RetainHistory makes the workers delete, every hour, history rows and
	// finished deliveries older than it. Zero (the default) keeps
	// everything.
	RetainHistory time.Duration

	// DenyPrivateNetworks makes the SSRF guard also refuse loopback,
	// private (RFC 1918), carrier-grade NAT, unique local and site-local
	// IPv6 addresses and the IANA special-purpose ranges (192.0.0.0/24,
	// documentation, benchmarking, 192.88.99.0/24, 100::/64, ::/96), and
	// their IPv4-mapped, IPv4-compatible, 6to4, NAT64 and Teredo forms.
	// Link-local, cloud metadata and host-agent addresses (AWS, GCP, Azure,
	// Oracle, Alibaba), unspecified, multicast, broadcast and reserved
	// addresses are always refused. Turn it on when users type endpoints.
	// Defaults to false.
	DenyPrivateNetworks bool

	// EgressProxy is the URL of a proxy every request goes through
	// (http://, https://, socks5:// or socks5h://, like
	// "http://127.0.0.1:4750"; user:password@ in it authenticates to the
	// proxy). It is the only proxy the library ever uses: HTTP_PROXY,
	// HTTPS_PROXY and NO_PROXY are never read (when HTTPClient.Transport is
	// nil, the copy of http.DefaultTransport has its Proxy cleared), and
	// New refuses an HTTPClient whose Transport sets Proxy. Empty (the
	// default) means no proxy.
	//
	// Through a proxy the library connects only to the proxy, which
	// resolves and connects to the endpoints: the SSRF protection of names
	// then moves to the proxy, which must enforce the policy itself (an
	// egress proxy such as Stripe's smokescreen, never an open proxy). The
	// library still refuses, before asking the proxy, an endpoint whose
	// host is an IP address the guard refuses or no valid host name, and
	// the guard checks the proxy's own address like any other: one the
	// policy refuses (a proxy on loopback or a private network under
	// DenyPrivateNetworks) must be listed in AllowNetworks, and New fails
	// when it is a literal address. An https:// proxy's certificate is
	// checked with the transport's TLS settings, so not for webhooks saved
	// with verify: false.
	EgressProxy string

	// AllowNetworks are CIDRs (or single addresses) the SSRF guard lets
	// through even when they fall in a refused range. Defaults to none.
	AllowNetworks []string

	// Resolver resolves endpoint hosts for the SSRF guard. Defaults to
	// net.DefaultResolver.
	Resolver Resolver

	// CheckEndpointsOnApply makes ApplyScopeWebhooks resolve every endpoint
	// and refuse, with ErrInvalidWebhook, one the SSRF guard would refuse.
	// Deliveries are checked at dial time either way. Defaults to false.
	CheckEndpointsOnApply bool

	// MaxPayloadBytes bounds a request body; a larger one fails its
	// delivery with ErrPayloadTooLarge (Enqueue refuses it up front).
	// Defaults to DefaultMaxPayloadBytes.
	MaxPayloadBytes int

	// MeterProvider provides the library's metrics (docs/observability.md
	// lists them). Defaults to the global provider (otel.GetMeterProvider),
	// a no-op until the application installs an OpenTelemetry SDK.
	MeterProvider metric.MeterProvider
	// TracerProvider provides the spans of Broadcast, Enqueue, EnqueueTx
	// and each attempt. Defaults to the global provider
	// (otel.GetTracerProvider).
	TracerProvider trace.TracerProvider
	// MetricWebhookAttributes adds the scope code and the webhook code to
	// the attributes of the delivery metrics. Off by default: a platform
	// with many tenants would get time series per webhook, which metric
	// backends bill for or struggle with; spans always carry both.
	MetricWebhookAttributes bool
	// DisableTraceparent stops sending the W3C traceparent header of the
	// attempt's span with each request (WebhookConfig.NoTraceparent does it
	// for one webhook). Defaults to false.
	DisableTraceparent bool

	// ResolveCacheTTL is how long Broadcast may reuse the webhooks it
	// resolved for an event and scopes (their rows, subscriptions and
	// decrypted configuration) before reading them again. A change made
	// through this Client (Apply*, SyncEvents*, the one-webhook calls,
	// SetWebhookEnabled, CloseCircuit, a circuit or auto-disable its own
	// deliveries caused) takes effect at once; a change by another
	// instance or by the Python package takes effect within this time.
	// Enqueue and EnqueueTx always read afresh, in the caller's
	// transaction. Defaults to DefaultResolveCacheTTL; negative turns the
	// cache off.
	ResolveCacheTTL time.Duration
}

// DefaultMaxPayloadBytes is the default Config.MaxPayloadBytes.
const DefaultMaxPayloadBytes = 1 << 20

// DefaultResolveCacheTTL is the default Config.ResolveCacheTTL: the
// longest another instance's change to a webhook goes unseen by Broadcast.
const DefaultResolveCacheTTL = time.Second

// Defaults of the durable path.
const (
	// DefaultWorkers is the default Config.Workers.
	DefaultWorkers = 32
	// DefaultClaimBatch is the default Config.ClaimBatch.
	DefaultClaimBatch = 200
	// DefaultPollInterval is the default Config.PollInterval.
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultLeaseDuration is the default Config.LeaseDuration: the
	// deliveries of a crashed instance are sent again within it.
	DefaultLeaseDuration = 20 * time.Second
)

// Client sends webhooks and manages their configuration in the database. It
// is safe for concurrent use; build one per database and share it.
type Client struct {
	db             *gorm.DB // the caller's handle in a session with cached prepared statements
	callerDB       *gorm.DB
	cfg            Config
	vault          *vault
	http           *http.Client // TLS verification on
	insecureHTTP   *http.Client // for webhooks saved with verify: false
	log            *slog.Logger
	now            func() time.Time
	maxConcurrency int
	history        historyCommitter
	resolved       resolveCache
	ph             placeholders

	policy   *addressPolicy
	resolver Resolver

	wake     chan struct{} // wakes the workers when this process enqueues
	woken    atomic.Bool   // set with wake, for a worker too busy to wait on it
	limiters sync.Map      // webhook id → *rateLimiter, for WebhookConfig.RateLimit
	// writeGate serialises this client's own writes on SQLite, which has
	// one write lock: a sync.Mutex queues writers fairly, where SQLite's
	// busy handler lets the workers' back-to-back transactions starve an
	// Enqueue for seconds. Nil elsewhere.
	writeGate *sync.Mutex
	workerMu  sync.Mutex
	worker    *worker // nil unless started
	tel       *telemetry
	// History rows written and failed since New, reported with the
	// heartbeat (Instance.HistoryRows, Health).
	histRows, histFailures atomic.Int64
}

// New returns a Client that stores its data through db. db may use any GORM
// dialect; the library never opens a database itself. For SQLite, open the
// database with a busy timeout, WAL and immediate transactions (for example
// "file.db?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate") so that
// concurrent deliveries can record history and EnqueueTx's transactions do
// not fail when the workers write. New validates cfg, then fills in its
// defaults with Config.WithDefaults. It does not touch the database: call
// Migrate once at start-up.
func New(db *gorm.DB, cfg Config) (*Client, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: db is nil: pass the *gorm.DB of the service", ErrInvalidConfig)
	}
	if err := checkPrivateSecret("PrivateSecret", cfg.PrivateSecret, cfg.AllowShortPrivateSecret); err != nil {
		return nil, err
	}
	for i, s := range cfg.OldPrivateSecrets {
		if err := checkPrivateSecret(fmt.Sprintf("OldPrivateSecrets[%d]", i), s, cfg.AllowShortPrivateSecret); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout is negative (%s)", ErrInvalidConfig, cfg.Timeout)
	case cfg.MaxConcurrency < 0:
		return nil, fmt.Errorf("%w: MaxConcurrency is negative (%d)", ErrInvalidConfig, cfg.MaxConcurrency)
	case cfg.MaxResponseBodyBytes < 0:
		return nil, fmt.Errorf("%w: MaxResponseBodyBytes is negative (%d)", ErrInvalidConfig, cfg.MaxResponseBodyBytes)
	case cfg.MaxResponseHeaderBytes < 0:
		return nil, fmt.Errorf("%w: MaxResponseHeaderBytes is negative (%d)", ErrInvalidConfig, cfg.MaxResponseHeaderBytes)
	case cfg.MaxRetryDelay < 0:
		return nil, fmt.Errorf("%w: MaxRetryDelay is negative (%s)", ErrInvalidConfig, cfg.MaxRetryDelay)
	case cfg.MaxPayloadBytes < 0:
		return nil, fmt.Errorf("%w: MaxPayloadBytes is negative (%d)", ErrInvalidConfig, cfg.MaxPayloadBytes)
	case cfg.Workers < 0 || cfg.ClaimBatch < 0 || cfg.DisableAfterFailures < 0:
		return nil, fmt.Errorf("%w: Workers, ClaimBatch and DisableAfterFailures must not be negative", ErrInvalidConfig)
	case cfg.PollInterval < 0 || cfg.LeaseDuration < 0 || cfg.DisableAfterFailingFor < 0 || cfg.RetainHistory < 0:
		return nil, fmt.Errorf("%w: PollInterval, LeaseDuration, DisableAfterFailingFor and RetainHistory must not be negative", ErrInvalidConfig)
	case cfg.MaxInFlightPerWebhook < 0 || cfg.CircuitProbeInterval < 0 || cfg.CircuitMaxProbeInterval < 0:
		return nil, fmt.Errorf("%w: MaxInFlightPerWebhook, CircuitProbeInterval and CircuitMaxProbeInterval must not be negative", ErrInvalidConfig)
	case cfg.LeaseDuration != 0 && cfg.LeaseDuration < time.Second:
		return nil, fmt.Errorf("%w: LeaseDuration %s is too short for a heartbeat: use 1s or more (the default is %s)", ErrInvalidConfig, cfg.LeaseDuration, DefaultLeaseDuration)
	}
	cfg = cfg.WithDefaults()
	c := &Client{
		db:             db.Session(&gorm.Session{PrepareStmt: true, SkipDefaultTransaction: true}),
		callerDB:       db,
		cfg:            cfg,
		log:            cfg.Logger,
		now:            cfg.Now,
		maxConcurrency: cfg.MaxConcurrency,
		resolver:       cfg.Resolver,
	}
	c.ph = newPlaceholders(c.db)
	if db.Dialector.Name() == dialectSQLite {
		c.writeGate = &sync.Mutex{}
	}
	c.wake = make(chan struct{}, 1)
	v, err := newVault(append([]string{cfg.PrivateSecret}, cfg.OldPrivateSecrets...), cfg.LegacyFernet)
	if err != nil {
		return nil, err
	}
	c.vault = v
	if c.policy, err = newAddressPolicy(cfg.DenyPrivateNetworks, cfg.AllowNetworks); err != nil {
		return nil, err
	}
	if c.http, c.insecureHTTP, err = c.httpClients(cfg.HTTPClient); err != nil {
		return nil, err
	}
	if c.tel, err = newTelemetry(cfg.MeterProvider, cfg.TracerProvider, cfg.MetricWebhookAttributes); err != nil {
		return nil, fmt.Errorf("%w: creating the OpenTelemetry instruments: %v", ErrInvalidConfig, err)
	}
	return c, nil
}

// WithDefaults returns a copy of cfg with every field left at its zero
// value set to its documented default: the configuration a Client built from
// cfg works with, which New derives this way and nowhere else. Call it to
// see the effective settings. Fields whose zero value is a setting of its
// own (PrivateSecret, the Disable thresholds, RetainHistory, EgressProxy,
// the booleans) are kept, and so is a negative CircuitBreakAfter;
// CircuitMaxProbeInterval is raised to CircuitProbeInterval when below it.
// HTTPClient, when nil, becomes a new client with a pooled transport each
// time. WithDefaults does not validate: New does, before applying it.
func (cfg Config) WithDefaults() Config {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	orDefault(&cfg.Timeout, DefaultTimeout)
	orDefault(&cfg.MaxConcurrency, DefaultMaxConcurrency)
	orDefault(&cfg.MaxResponseBodyBytes, DefaultMaxResponseBodyBytes)
	orDefault(&cfg.MaxResponseHeaderBytes, DefaultMaxResponseHeaderBytes)
	orDefault(&cfg.MaxRetryDelay, DefaultMaxRetryDelay)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	orDefault(&cfg.Workers, DefaultWorkers)
	orDefault(&cfg.ClaimBatch, DefaultClaimBatch)
	orDefault(&cfg.PollInterval, DefaultPollInterval)
	orDefault(&cfg.ResolveCacheTTL, DefaultResolveCacheTTL)
	orDefault(&cfg.LeaseDuration, DefaultLeaseDuration)
	orDefault(&cfg.MaxInFlightPerWebhook, max(1, cfg.Workers/4))
	orDefault(&cfg.CircuitBreakAfter, DefaultCircuitBreakAfter)
	orDefault(&cfg.CircuitProbeInterval, DefaultCircuitProbeInterval)
	orDefault(&cfg.CircuitMaxProbeInterval, DefaultCircuitMaxProbeInterval)
	cfg.CircuitMaxProbeInterval = max(cfg.CircuitMaxProbeInterval, cfg.CircuitProbeInterval)
	if cfg.RetryPolicy == nil {
		cfg.RetryPolicy = DefaultRetryPolicy
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	orDefault(&cfg.MaxPayloadBytes, DefaultMaxPayloadBytes)
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	return cfg
}

// orDefault sets *v to def when it is the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// defaultHTTPClient is the default Config.HTTPClient: no proxy (through a
// proxy the SSRF guard would check the proxy's address, not the
// endpoint's) and a connection pool sized for concurrent delivery.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// httpClients returns the client used for deliveries and its twin that skips
// TLS verification, both refusing to follow redirects and dialling through
// the SSRF guard, with no proxy but Config.EgressProxy: a copied
// http.DefaultTransport loses its Proxy (environment proxies), and a
// caller's transport with Proxy, DialTLSContext or DialTLS set is refused.
// base is Config.HTTPClient with its default applied: never nil.
func (c *Client) httpClients(base *http.Client) (secure, insecure *http.Client, err error) {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var t *http.Transport
	switch {
	case base.Transport == nil:
		// A copy of http.DefaultTransport without its Proxy, which reads
		// HTTP_PROXY and HTTPS_PROXY: environment proxies are never used.
		dt, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, nil, fmt.Errorf("%w: HTTPClient.Transport is nil and http.DefaultTransport is a %T: set HTTPClient.Transport to an *http.Transport so that the SSRF guard can check every connection", ErrInvalidConfig, http.DefaultTransport)
		}
		t = dt.Clone()
		t.Proxy = nil
		if err := checkTransport(t, "http.DefaultTransport"); err != nil {
			return nil, nil, err
		}
	default:
		bt, ok := base.Transport.(*http.Transport)
		if !ok {
			return nil, nil, fmt.Errorf("%w: HTTPClient.Transport is a %T: it must be an *http.Transport (or nil) so that the SSRF guard can check every connection", ErrInvalidConfig, base.Transport)
		}
		// A Proxy, DialTLSContext or DialTLS would connect around the guard.
		if err := checkTransport(bt, "HTTPClient.Transport"); err != nil {
			return nil, nil, err
		}
		t = bt.Clone()
	}
	if c.cfg.EgressProxy != "" {
		if t.Proxy, err = c.egressProxy(c.cfg.EgressProxy); err != nil {
			return nil, nil, err
		}
	}
	dial := t.DialContext
	//lint:ignore SA1019 the deprecated Dial is read to route it through the guard
	if dial == nil && t.Dial != nil {
		// The deprecated Dial goes through the guard like DialContext.
		//lint:ignore SA1019 the deprecated Dial is read to route it through the guard
		d := t.Dial
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return d(network, addr) }
	}
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = (&guardedDialer{policy: c.policy, resolver: c.resolver, dial: dial}).DialContext
	//lint:ignore SA1019 the deprecated Dial is cleared so that only the guarded dialer is used
	t.Dial = nil
	if n := int64(c.cfg.MaxResponseHeaderBytes); t.MaxResponseHeaderBytes <= 0 || t.MaxResponseHeaderBytes > n {
		t.MaxResponseHeaderBytes = n // read no more response header than history keeps
	}
	s := *base
	s.Transport = t
	s.CheckRedirect = noRedirect
	in := s
	t2 := t.Clone()
	if t2.TLSClientConfig == nil {
		t2.TLSClientConfig = &tls.Config{}
	}
	t2.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // only for webhooks saved with verify: false
	in.Transport = t2
	return &s, &in, nil
}

// lockWrites takes the SQLite write gate (see Client.writeGate) and
// returns its release.
func (c *Client) lockWrites() func() {
	if c.writeGate == nil {
		return func() {}
	}
	c.writeGate.Lock()
	return c.writeGate.Unlock
}

// DB returns the *gorm.DB the client was built with.
func (c *Client) DB() *gorm.DB { return c.callerDB }

func (c *Client) dbCtx(ctx context.Context) *gorm.DB { return c.db.WithContext(ctx) }

// transaction runs fn in a transaction, again (up to 5 times, with a short
// growing pause) when it failed only because of a concurrent transaction.
func (c *Client) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = c.dbCtx(ctx).Transaction(fn)
		if err == nil || attempt == 5 || !retryableTxError(err) || ctx.Err() != nil {
			return err
		}
		c.log.Debug("webhook: retrying a transaction that met a concurrent one", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
		}
	}
}
