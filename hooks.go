package webhook

import (
	"context"
	"net/http"
	"time"
)

// Hooks are functions called around broadcasts and delivery attempts; they
// stand in for the Python package's signals. Attempt hooks run on the
// delivery goroutines, several at once, so they must be safe for concurrent
// use and should return quickly. A hook that panics is recovered and logged;
// it never stops a delivery.
type Hooks struct {
	// BeforeBroadcast is called once the event is found, before webhooks
	// are resolved.
	BeforeBroadcast func(ctx context.Context, b *BroadcastInfo)
	// AfterBroadcast is called when every delivery of the broadcast is over.
	AfterBroadcast func(ctx context.Context, b *BroadcastInfo, r *BroadcastResult)
	// BeforeAttempt is called before each request is sent.
	BeforeAttempt func(ctx context.Context, a *AttemptInfo)
	// AfterAttempt is called after each request with its outcome, which the
	// Python package never exposed.
	AfterAttempt func(ctx context.Context, a *AttemptInfo, r *AttemptResult)
	// WebhookDisabled is called when the library disables a webhook that
	// kept failing (Config.DisableAfterFailures, DisableAfterFailingFor).
	// It is never silent: the event is also logged at warning level.
	WebhookDisabled func(ctx context.Context, d WebhookDisabled)
	// CircuitChanged is called when a webhook's circuit breaker opens
	// (repeated endpoint failures, or a pause asked for with Retry-After)
	// or closes again. It is also logged.
	CircuitChanged func(ctx context.Context, e CircuitEvent)
}

// BroadcastInfo describes a broadcast to the hooks.
type BroadcastInfo struct {
	Event     Event
	Scopes    []Scope
	ExtraInfo map[string]any
}

// AttemptInfo describes one request of a delivery to the hooks.
type AttemptInfo struct {
	EventCode   string
	WebhookCode string
	Scope       Scope
	DeliveryID  string
	// Attempt is 1 for the first request of a delivery.
	Attempt int
	Method  string
	URL     string
	// Header is the request's header with credentials redacted.
	Header http.Header
	Body   []byte
}

// AttemptResult is the outcome of one request.
type AttemptResult struct {
	// StatusCode is 0 when no response arrived.
	StatusCode int
	Success    bool
	Duration   time.Duration
	// Err is nil on success; it names the status or the network failure.
	Err error
	// ResponseBody holds up to Config.MaxResponseBodyBytes of the body.
	ResponseBody []byte
	// WillRetry reports whether another attempt follows, after RetryIn.
	WillRetry bool
	RetryIn   time.Duration
}

// hook calls f and recovers a panic in it.
func (c *Client) hook(name string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("webhook: hook panicked", "hook", name, "panic", r)
		}
	}()
	f()
}
