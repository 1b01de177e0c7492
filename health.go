package webhook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// WebhookDisabled describes a webhook that the library disabled because it
// kept failing (Config.DisableAfterFailures, Config.DisableAfterFailingFor).
type WebhookDisabled struct {
	Scope       Scope  `json:"scope"`
	WebhookCode string `json:"webhook_code"`
	// Reason is also stored in the webhook's disabled_reason column.
	Reason              string    `json:"reason"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	FailingSince        time.Time `json:"failing_since,omitzero"`
	// DisabledAt is when it was disabled.
	DisabledAt time.Time `json:"disabled_at"`
}

// healthEvents are the changes trackHealth made that deserve a log line and
// a hook call.
type healthEvents struct {
	disabled []WebhookDisabled
	circuits []CircuitEvent
	opened   []int64 // webhook ids whose circuit opened or was paused
	changed  bool    // a webhook row changed: Broadcast must read it again
}

// webhookHealth is what a batch of attempts says about one webhook.
type webhookHealth struct {
	id  int64
	key webhookKey
	// Failed attempts after the last success, and whether a success came
	// first (then the count replaces the stored one).
	fails     int
	reset     bool
	firstFail time.Time
	// Endpoint failures after the last answer showing it up, and whether
	// such an answer came.
	down    int
	up      bool
	probed  bool // a probe of an open circuit was among the attempts
	stale   bool // an attempt whose webhook was not read healthy just before
	pause   time.Time
	lastErr string
}

// trackHealth records what outcomes (their history rows just written) say
// about their webhooks: the consecutive failure count and failing-since
// time (reset by any success), the circuit breaker (see circuit.go), and
// auto-disabling past the configured limits. Attempts that never reached
// the network do not count. It runs in the caller's transaction.
func (c *Client) trackHealth(ctx context.Context, pool gorm.ConnPool, outcomes []*attemptOutcome) (healthEvents, error) {
	var ev healthEvents
	if !supportsReturning(c.db) {
		return ev, nil
	}
	var order []int64
	states := map[int64]*webhookHealth{}
	for _, o := range outcomes {
		if !o.sent || o.webhookID == 0 {
			continue
		}
		r := &o.row
		s := states[o.webhookID]
		if s == nil {
			s = &webhookHealth{id: o.webhookID, key: webhookKey{r.ScopeType, r.ScopeCode, r.WebhookCode}}
			states[o.webhookID] = s
			order = append(order, o.webhookID)
		}
		if !o.healthy {
			s.stale = true
		}
		if r.Success {
			s.reset, s.fails, s.firstFail = true, 0, time.Time{}
		} else {
			if s.fails == 0 {
				s.firstFail = r.CreatedAt
			}
			s.fails++
			if r.ErrorMessage != nil {
				s.lastErr = *r.ErrorMessage
			}
		}
		if o.endpointDown {
			s.down++
		} else {
			s.up, s.down = true, 0
		}
		s.probed = s.probed || o.probe
		if o.pauseFor > 0 {
			if until := r.CreatedAt.Add(min(o.pauseFor, MaxRetryAfter)); until.After(s.pause) {
				s.pause = until
			}
		}
	}
	for _, id := range order {
		if s := states[id]; s.fails == 0 && s.down == 0 && !s.stale && !s.probed {
			// Successes of a webhook read healthy just before: the UPDATE
			// would find nothing to reset (a change another instance made
			// meanwhile is reset by the next success read after it).
			continue
		}
		if err := c.trackWebhook(ctx, pool, states[id], &ev); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

func (c *Client) trackWebhook(ctx context.Context, pool gorm.ConnPool, s *webhookHealth, ev *healthEvents) error {
	exec := func(q string, args ...any) (int64, error) {
		res, err := pool.ExecContext(ctx, c.ph.rebind(q), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	now := c.now().UTC()
	var set string
	var args []any
	switch {
	case s.fails == 0:
		set = "consecutive_failures = 0, failing_since = NULL"
	case s.reset:
		set, args = "consecutive_failures = ?, failing_since = ?", []any{s.fails, s.firstFail}
	default:
		set, args = "consecutive_failures = consecutive_failures + ?, failing_since = COALESCE(failing_since, ?)", []any{s.fails, s.firstFail}
	}
	if s.up {
		set += ", circuit_failures = ?"
	} else {
		set += ", circuit_failures = circuit_failures + ?"
	}
	args = append(args, s.down, s.id)
	q := "UPDATE webhook_webhook SET " + set + " WHERE id = ?"
	if s.fails == 0 && s.down == 0 {
		// The common case, a healthy webhook: write only if something is to
		// be reset.
		q += " AND (consecutive_failures <> 0 OR failing_since IS NOT NULL OR circuit_failures <> 0 OR circuit_open_until IS NOT NULL)"
	}
	var (
		count, cfails, probes int
		since, openUntil      sql.NullTime
		enabled               any
	)
	err := pool.QueryRowContext(ctx, c.ph.rebind(q+" RETURNING consecutive_failures, failing_since, enable_webhook, circuit_failures, circuit_open_until, circuit_probes"), args...).
		Scan(&count, &since, &enabled, &cfails, &openUntil, &probes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // healthy and still healthy, or deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("webhook: recording the health of %s: %w", s.key.code, err)
	}
	ev.changed = true
	scope := Scope{s.key.scopeType, s.key.scopeCode}

	// The circuit breaker.
	switch {
	case !s.pause.IsZero() && s.pause.After(now):
		reason := fmt.Sprintf("the endpoint asked for a pause until %s (Retry-After)", s.pause.Format(time.RFC3339))
		if _, err := exec(`UPDATE webhook_webhook SET circuit_open_until = CASE WHEN circuit_open_until IS NULL OR circuit_open_until < ? THEN ? ELSE circuit_open_until END,
				circuit_opened_at = COALESCE(circuit_opened_at, ?), circuit_reason = ? WHERE id = ?`, s.pause, s.pause, now, reason, s.id); err != nil {
			return fmt.Errorf("webhook: pausing %s: %w", s.key.code, err)
		}
		ev.opened = append(ev.opened, s.id)
		if !openUntil.Valid {
			ev.circuits = append(ev.circuits, CircuitEvent{Scope: scope, WebhookCode: s.key.code, State: CircuitOpen, Reason: reason, NextProbe: s.pause})
		}
	case s.up && s.down == 0 && openUntil.Valid:
		n, err := exec(`UPDATE webhook_webhook SET circuit_open_until = NULL, circuit_opened_at = NULL, circuit_probes = 0, circuit_reason = NULL
			WHERE id = ? AND circuit_open_until IS NOT NULL`, s.id)
		if err != nil {
			return fmt.Errorf("webhook: closing the circuit of %s: %w", s.key.code, err)
		}
		if n > 0 {
			ev.circuits = append(ev.circuits, CircuitEvent{Scope: scope, WebhookCode: s.key.code, State: CircuitClosed, Reason: "the endpoint answered"})
		}
	case s.down > 0 && c.cfg.CircuitBreakAfter > 0:
		if openUntil.Valid && s.probed {
			next := now.Add(c.probeDelay(probes + 1))
			if _, err := exec(`UPDATE webhook_webhook SET circuit_open_until = ?, circuit_probes = circuit_probes + 1 WHERE id = ?`, next, s.id); err != nil {
				return fmt.Errorf("webhook: rescheduling the probe of %s: %w", s.key.code, err)
			}
			ev.opened = append(ev.opened, s.id)
			c.log.Debug("webhook: circuit probe failed", "scope", scope.String(), "webhook", s.key.code, "next_probe", next, "err", s.lastErr)
			break
		}
		if openUntil.Valid || cfails < c.cfg.CircuitBreakAfter {
			break
		}
		next := now.Add(c.probeDelay(0))
		reason := fmt.Sprintf("%d consecutive endpoint failures; last: %s", cfails, s.lastErr)
		n, err := exec(`UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?, circuit_probes = 0, circuit_reason = ?
			WHERE id = ? AND circuit_open_until IS NULL`, next, now, reason, s.id)
		if err != nil {
			return fmt.Errorf("webhook: opening the circuit of %s: %w", s.key.code, err)
		}
		if n > 0 {
			ev.opened = append(ev.opened, s.id)
			ev.circuits = append(ev.circuits, CircuitEvent{Scope: scope, WebhookCode: s.key.code, State: CircuitOpen, Reason: reason, NextProbe: next})
		}
	}

	// Auto-disable, the last resort after a long outage.
	if s.fails == 0 || !truthy(enabled) {
		return nil
	}
	var reason string
	switch {
	case c.cfg.DisableAfterFailures > 0 && count >= c.cfg.DisableAfterFailures:
		reason = fmt.Sprintf("disabled after %d consecutive failed attempts", count)
	case c.cfg.DisableAfterFailingFor > 0 && since.Valid && now.Sub(since.Time) >= c.cfg.DisableAfterFailingFor:
		reason = fmt.Sprintf("disabled after failing since %s (longer than %s)", since.Time.UTC().Format(time.RFC3339), c.cfg.DisableAfterFailingFor)
	default:
		return nil
	}
	if _, err := exec(`UPDATE webhook_webhook SET enable_webhook = ?, disabled_reason = ?, disabled_at = ? WHERE id = ?`, false, reason, now, s.id); err != nil {
		return fmt.Errorf("webhook: disabling %s: %w", s.key.code, err)
	}
	if _, err := exec(`UPDATE webhook_delivery SET status = ?, last_error = ?, finished_at = ?, next_attempt_at = ?
		WHERE scope_type = ? AND scope_code = ? AND webhook_code = ? AND status = ? AND lease_owner IS NULL`,
		StatusCancelled, "the webhook was disabled: "+reason, now, now, s.key.scopeType, s.key.scopeCode, s.key.code, StatusPending); err != nil {
		return fmt.Errorf("webhook: cancelling the deliveries of disabled %s: %w", s.key.code, err)
	}
	ev.disabled = append(ev.disabled, WebhookDisabled{
		Scope: scope, WebhookCode: s.key.code, Reason: reason,
		ConsecutiveFailures: count, FailingSince: since.Time, DisabledAt: now,
	})
	return nil
}

// notifyHealth logs and reports what trackHealth changed.
// Called once what trackHealth wrote committed, so that a Broadcast
// resolving meanwhile keeps nothing it read before.
func (c *Client) notifyHealth(ctx context.Context, ev healthEvents) {
	if ev.changed {
		c.resolved.changed()
	}
	for _, e := range ev.circuits {
		c.tel.circuitChanges.Add(ctx, 1, c.tel.deliveryAttrsNoEvent(e.Scope, e.WebhookCode, attrCircuit.String(string(e.State))))
		if e.State == CircuitOpen {
			c.log.Warn("webhook: circuit opened", "scope", e.Scope.String(), "webhook", e.WebhookCode, "reason", e.Reason, "next_probe", e.NextProbe)
		} else {
			c.log.Info("webhook: circuit closed", "scope", e.Scope.String(), "webhook", e.WebhookCode)
		}
		if h := c.cfg.Hooks.CircuitChanged; h != nil {
			c.hook("CircuitChanged", func() { h(ctx, e) })
		}
	}
	for _, d := range ev.disabled {
		c.tel.autoDisables.Add(ctx, 1, c.tel.deliveryAttrsNoEvent(d.Scope, d.WebhookCode))
		c.log.Warn("webhook: webhook disabled", "scope", d.Scope.String(), "webhook", d.WebhookCode, "reason", d.Reason)
		if h := c.cfg.Hooks.WebhookDisabled; h != nil {
			c.hook("WebhookDisabled", func() { h(ctx, d) })
		}
	}
}
