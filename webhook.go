package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

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
// means its documented default.
type Config struct {
	// PrivateSecret encrypts credentials at rest (auth tokens, passwords and
	// header values). Required. Use a long random string and keep it out of
	// the source; it plays the role of the Python package's PRIVATE_SECRET,
	// and using the same value lets both read each other's credentials.
	PrivateSecret string

	// OldPrivateSecrets are tried, after PrivateSecret, to decrypt
	// credentials written before a change of secret. Nothing is ever
	// written with them.
	OldPrivateSecrets []string

	// LegacyFernet makes new credentials use the Python package's Fernet
	// format, so that a Python service sharing the database can read them.
	// Defaults to false: XChaCha20-Poly1305 under an HKDF-derived key.
	LegacyFernet bool

	// HTTPClient sends the requests. The library uses a copy that never
	// follows redirects. Defaults to a client with a pooled transport sized
	// for concurrent delivery.
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
	// of the Python package's signals. Each may be nil.
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
	// DefaultCircuitMaxProbeInterval.
	CircuitMaxProbeInterval time.Duration

	// RetryPolicy schedules the retries of both paths: the workers follow
	// it to its end, Broadcast while each delay is at most MaxRetryDelay.
	// Defaults to DefaultRetryPolicy.
	RetryPolicy RetryPolicy

	// DisableAfterFailures disables a webhook after that many consecutive
	// failed attempts (Hooks.WebhookDisabled is called). Zero never does.
	DisableAfterFailures int

	// DisableAfterFailingFor disables a webhook that has failed, with no
	// success since, for that long. Zero never does.
	DisableAfterFailingFor time.Duration

	// RetainHistory makes the workers delete, every hour, history rows and
	// finished deliveries older than it. Zero keeps everything.
	RetainHistory time.Duration

	// DenyPrivateNetworks makes the SSRF guard also refuse loopback,
	// private (RFC 1918), carrier-grade NAT and unique local IPv6
	// addresses, and their IPv4-mapped, 6to4, NAT64 and Teredo forms.
	// Link-local, cloud metadata, unspecified, multicast and broadcast
	// addresses are always refused. Turn it on when users type endpoints.
	DenyPrivateNetworks bool

	// AllowNetworks are CIDRs (or single addresses) the SSRF guard lets
	// through even when they fall in a refused range.
	AllowNetworks []string

	// Resolver resolves endpoint hosts for the SSRF guard. Defaults to
	// net.DefaultResolver.
	Resolver Resolver

	// CheckEndpointsOnApply makes ApplyScopeWebhooks resolve every endpoint
	// and refuse, with ErrInvalidWebhook, one the SSRF guard would refuse.
	// Deliveries are checked at dial time either way.
	CheckEndpointsOnApply bool

	// MaxPayloadBytes bounds a request body; a larger one fails its
	// delivery with ErrPayloadTooLarge (Enqueue refuses it up front).
	// Defaults to DefaultMaxPayloadBytes.
	MaxPayloadBytes int
}

// DefaultMaxPayloadBytes is the default Config.MaxPayloadBytes.
const DefaultMaxPayloadBytes = 1 << 20

// ErrPayloadTooLarge means a request body exceeds Config.MaxPayloadBytes.
var ErrPayloadTooLarge = errors.New("webhook: payload too large")

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
}

// New returns a Client that stores its data through db. db may use any GORM
// dialect; the library never opens a database itself. For SQLite, open the
// database with a busy timeout, WAL and immediate transactions (for example
// "file.db?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate") so that
// concurrent deliveries can record history and EnqueueTx's transactions do
// not fail when the workers write. New does not touch the database: call
// Migrate once at start-up.
func New(db *gorm.DB, cfg Config) (*Client, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: db is nil: pass the *gorm.DB of the service", ErrInvalidConfig)
	}
	if cfg.PrivateSecret == "" {
		return nil, fmt.Errorf("%w: PrivateSecret is empty: set it to a long random string kept out of the source", ErrInvalidConfig)
	}
	for i, s := range cfg.OldPrivateSecrets {
		if s == "" {
			return nil, fmt.Errorf("%w: OldPrivateSecrets[%d] is empty", ErrInvalidConfig, i)
		}
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout is negative (%s)", ErrInvalidConfig, cfg.Timeout)
	case cfg.MaxConcurrency < 0:
		return nil, fmt.Errorf("%w: MaxConcurrency is negative (%d)", ErrInvalidConfig, cfg.MaxConcurrency)
	case cfg.MaxResponseBodyBytes < 0:
		return nil, fmt.Errorf("%w: MaxResponseBodyBytes is negative (%d)", ErrInvalidConfig, cfg.MaxResponseBodyBytes)
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
	orDefault(&cfg.MaxPayloadBytes, DefaultMaxPayloadBytes)
	orDefault(&cfg.Workers, DefaultWorkers)
	orDefault(&cfg.ClaimBatch, DefaultClaimBatch)
	orDefault(&cfg.PollInterval, DefaultPollInterval)
	orDefault(&cfg.LeaseDuration, DefaultLeaseDuration)
	orDefault(&cfg.MaxInFlightPerWebhook, max(1, cfg.Workers/4))
	orDefault(&cfg.CircuitBreakAfter, DefaultCircuitBreakAfter)
	orDefault(&cfg.CircuitProbeInterval, DefaultCircuitProbeInterval)
	orDefault(&cfg.CircuitMaxProbeInterval, DefaultCircuitMaxProbeInterval)
	orDefault(&cfg.Timeout, DefaultTimeout)
	orDefault(&cfg.MaxConcurrency, DefaultMaxConcurrency)
	orDefault(&cfg.MaxResponseBodyBytes, DefaultMaxResponseBodyBytes)
	orDefault(&cfg.MaxRetryDelay, DefaultMaxRetryDelay)
	if cfg.RetryPolicy == nil {
		cfg.RetryPolicy = DefaultRetryPolicy
	}
	cfg.CircuitMaxProbeInterval = max(cfg.CircuitMaxProbeInterval, cfg.CircuitProbeInterval)
	c := &Client{
		db:             db.Session(&gorm.Session{PrepareStmt: true, SkipDefaultTransaction: true}),
		callerDB:       db,
		cfg:            cfg,
		log:            cfg.Logger,
		now:            cfg.Now,
		maxConcurrency: cfg.MaxConcurrency,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
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
	c.resolver = cfg.Resolver
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	if c.http, c.insecureHTTP, err = c.httpClients(cfg.HTTPClient); err != nil {
		return nil, err
	}
	return c, nil
}

// orDefault sets *v to def when it is the zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// httpClients returns the client used for deliveries and its twin that skips
// TLS verification, both refusing to follow redirects and dialling through
// the SSRF guard.
func (c *Client) httpClients(base *http.Client) (secure, insecure *http.Client, err error) {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var t *http.Transport
	switch {
	case base == nil:
		// No proxy by default: through a proxy the guard would check the
		// proxy's address, not the endpoint's.
		t = &http.Transport{
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		base = &http.Client{}
	case base.Transport == nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	default:
		bt, ok := base.Transport.(*http.Transport)
		if !ok {
			return nil, nil, fmt.Errorf("%w: HTTPClient.Transport is a %T: it must be an *http.Transport (or nil) so that the SSRF guard can check every connection", ErrInvalidConfig, base.Transport)
		}
		t = bt.Clone()
	}
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = (&guardedDialer{policy: c.policy, resolver: c.resolver, dial: dial}).DialContext
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
