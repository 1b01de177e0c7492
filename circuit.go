package webhook

import (
	"math/rand/v2"
	"time"
)

// The circuit breaker of a webhook lives in its row of webhook_webhook, so
// that every instance sees the same state:
//
//   - closed (circuit_open_until is NULL): deliveries are sent; every
//     consecutive endpoint failure (a network error, a timeout, a 5xx or a
//     429) adds to circuit_failures, and any other answer resets it.
//   - open (circuit_open_until in the future): the webhook's deliveries are
//     neither claimed nor attempted, so they keep their attempts; Broadcast
//     fails them at once with ErrCircuitOpen.
//   - half-open (circuit_open_until has passed): one instance takes the probe
//     by moving circuit_open_until a lease ahead, and sends one delivery. If
//     the endpoint answers, the circuit closes and the backlog drains; if
//     not, it opens again for twice as long (up to
//     Config.CircuitMaxProbeInterval).
//
// A 429 or 503 answer with Retry-After opens (or extends) the circuit until
// then: it pauses the whole endpoint, not just one delivery.

// CircuitState is the state of a webhook's circuit breaker.
type CircuitState string

// The states of a circuit breaker.
const (
	// CircuitClosed: deliveries are sent.
	CircuitClosed CircuitState = "closed"
	// CircuitOpen: deliveries wait, without spending attempts, until the
	// next probe.
	CircuitOpen CircuitState = "open"
	// CircuitHalfOpen: the next probe is due, or one is in flight.
	CircuitHalfOpen CircuitState = "half-open"
)

// Circuit is the circuit breaker of one webhook.
type Circuit struct {
	State CircuitState `json:"state"`
	// Failures is the number of consecutive endpoint failures counted
	// (network errors, timeouts, 5xx, 429).
	Failures int `json:"failures"`
	// Since is when the circuit opened; zero when closed.
	Since time.Time `json:"since,omitzero"`
	// NextProbe is when one delivery will be tried again; zero when closed.
	NextProbe time.Time `json:"next_probe,omitzero"`
	// Probes is how many probes failed since it opened.
	Probes int `json:"probes"`
	// Reason says why it opened.
	Reason string `json:"reason,omitempty"`
}

// circuitOf reads the circuit of a webhook row at time now.
func circuitOf(r *webhookRow, now time.Time) Circuit {
	ci := Circuit{State: CircuitClosed, Failures: r.CircuitFailures}
	if r.CircuitOpenUntil == nil {
		return ci
	}
	ci.State = CircuitOpen
	if !r.CircuitOpenUntil.After(now) {
		ci.State = CircuitHalfOpen
	}
	ci.NextProbe = *r.CircuitOpenUntil
	if r.CircuitOpenedAt != nil {
		ci.Since = *r.CircuitOpenedAt
	}
	ci.Probes = r.CircuitProbes
	if r.CircuitReason != nil {
		ci.Reason = *r.CircuitReason
	}
	return ci
}

// CircuitEvent reports that a webhook's circuit opened or closed, to
// Hooks.CircuitChanged and the log.
type CircuitEvent struct {
	Scope       Scope
	WebhookCode string
	// State is CircuitOpen or CircuitClosed.
	State CircuitState
	// Reason says why it opened: the failures counted, or the pause an
	// endpoint asked for.
	Reason string
	// NextProbe is when an open circuit is probed.
	NextProbe time.Time
}

// Defaults of the circuit breaker.
const (
	// DefaultCircuitBreakAfter is the default Config.CircuitBreakAfter.
	DefaultCircuitBreakAfter = 5
	// DefaultCircuitProbeInterval is the default Config.CircuitProbeInterval.
	DefaultCircuitProbeInterval = 5 * time.Second
	// DefaultCircuitMaxProbeInterval is the default
	// Config.CircuitMaxProbeInterval.
	DefaultCircuitMaxProbeInterval = time.Minute
)

// probeDelay is the time from a failure to the next probe after n failed
// probes: CircuitProbeInterval doubling, at most CircuitMaxProbeInterval,
// with ±10% jitter so that circuits opened together do not probe together.
func (c *Client) probeDelay(n int) time.Duration {
	d := c.cfg.CircuitProbeInterval
	for i := 0; i < n && d < c.cfg.CircuitMaxProbeInterval; i++ {
		d *= 2
	}
	d = min(d, c.cfg.CircuitMaxProbeInterval)
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// endpointDown reports whether a failed attempt says the endpoint is down
// or overloaded, which is what the circuit breaker counts: no answer (a
// network error or a timeout), a 5xx or a 429. Any other answer shows it is
// up.
func endpointDown(ar *AttemptResult) bool {
	if ar.Success {
		return false
	}
	if ar.StatusCode == 0 {
		return retryable(ar) // not a refused address or an invalid configuration
	}
	return ar.StatusCode >= 500 || ar.StatusCode == 429
}
