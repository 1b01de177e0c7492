package webhook

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// WebhookDisabled describes a webhook that the library disabled because it
// kept failing (Config.DisableAfterFailures, Config.DisableAfterFailingFor).
type WebhookDisabled struct {
	Scope       Scope
	WebhookCode string
	// Reason is also stored in the webhook's disabled_reason column.
	Reason              string
	ConsecutiveFailures int
	FailingSince        time.Time
}

// trackHealth counts consecutive failed attempts per webhook from history
// rows just written, resets the count on success, and disables the webhooks
// that cross the configured limits. Rows of attempts that never reached the
// network (a credential that does not decrypt) do not count. It returns the
// webhooks it disabled.
func (c *Client) trackHealth(ctx context.Context, pool gorm.ConnPool, rows []*historyRow) ([]WebhookDisabled, error) {
	if !supportsReturning(c.db) {
		return nil, nil
	}
	type state struct {
		key        webhookKey
		prior      int
		reset      bool
		failures   int // failed attempts after the last success in rows
		firstFail  time.Time
		hasFailure bool
	}
	var order []webhookKey
	states := map[webhookKey]*state{}
	for _, r := range rows {
		if r.DurationUS == nil || r.webhookID == 0 {
			continue
		}
		k := webhookKey{r.ScopeType, r.ScopeCode, r.WebhookCode}
		s := states[k]
		if s == nil {
			s = &state{key: k, prior: r.priorFailures}
			states[k] = s
			order = append(order, k)
		}
		if r.Success {
			s.reset, s.failures, s.firstFail = true, 0, time.Time{}
			continue
		}
		if s.failures == 0 {
			s.firstFail = r.CreatedAt
		}
		s.failures++
		s.hasFailure = true
	}
	var disabled []WebhookDisabled
	for _, k := range order {
		s := states[k]
		if !s.hasFailure && s.prior == 0 {
			continue // the common case: healthy and still healthy
		}
		where := " WHERE scope_type = ? AND scope_code = ? AND code = ?"
		keyArgs := []any{k.scopeType, k.scopeCode, k.code}
		if s.failures == 0 {
			if _, err := pool.ExecContext(ctx, c.ph.rebind(`UPDATE webhook_webhook SET consecutive_failures = 0, failing_since = NULL`+where+` AND consecutive_failures <> 0`), keyArgs...); err != nil {
				return disabled, fmt.Errorf("webhook: resetting the failure count of %s: %w", k.code, err)
			}
			continue
		}
		var q string
		var args []any
		if s.reset {
			q = `UPDATE webhook_webhook SET consecutive_failures = ?, failing_since = ?` + where
			args = append([]any{s.failures, s.firstFail}, keyArgs...)
		} else {
			q = `UPDATE webhook_webhook SET consecutive_failures = consecutive_failures + ?, failing_since = COALESCE(failing_since, ?)` + where
			args = append([]any{s.failures, s.firstFail}, keyArgs...)
		}
		var count int
		var since time.Time
		var enabled any
		err := pool.QueryRowContext(ctx, c.ph.rebind(q+` RETURNING consecutive_failures, failing_since, enable_webhook`), args...).Scan(&count, &since, &enabled)
		if err != nil {
			return disabled, fmt.Errorf("webhook: counting the failures of %s: %w", k.code, err)
		}
		if !truthy(enabled) {
			continue
		}
		var reason string
		switch {
		case c.cfg.DisableAfterFailures > 0 && count >= c.cfg.DisableAfterFailures:
			reason = fmt.Sprintf("disabled after %d consecutive failed attempts", count)
		case c.cfg.DisableAfterFailingFor > 0 && !since.IsZero() && c.now().Sub(since) >= c.cfg.DisableAfterFailingFor:
			reason = fmt.Sprintf("disabled after failing since %s (longer than %s)", since.UTC().Format(time.RFC3339), c.cfg.DisableAfterFailingFor)
		default:
			continue
		}
		if _, err := pool.ExecContext(ctx, c.ph.rebind(`UPDATE webhook_webhook SET enable_webhook = ?, disabled_reason = ?`+where), append([]any{false, reason}, keyArgs...)...); err != nil {
			return disabled, fmt.Errorf("webhook: disabling %s: %w", k.code, err)
		}
		disabled = append(disabled, WebhookDisabled{
			Scope: Scope{k.scopeType, k.scopeCode}, WebhookCode: k.code, Reason: reason,
			ConsecutiveFailures: count, FailingSince: since,
		})
	}
	return disabled, nil
}

// notifyDisabled logs and reports the webhooks trackHealth disabled.
func (c *Client) notifyDisabled(ctx context.Context, disabled []WebhookDisabled) {
	for _, d := range disabled {
		c.log.Warn("webhook: webhook disabled", "scope", d.Scope.String(), "webhook", d.WebhookCode, "reason", d.Reason)
		if h := c.cfg.Hooks.WebhookDisabled; h != nil {
			c.hook("WebhookDisabled", func() { h(ctx, d) })
		}
	}
}
