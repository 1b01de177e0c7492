package webhook

import (
	"context"
	"fmt"
	"time"
)

// Health is the delivery engine's state as an operator checks it: the admin
// overview and `webhookctl status` show it. Everything in it is read from
// the database, so any process sees the same: the workers' instances by
// their heartbeats, the outbox, the circuits, what the library disabled.
type Health struct {
	CheckedAt time.Time `json:"checked_at"`
	// Instances are the worker processes seen in the last hour (see
	// Instances); LiveInstances those whose heartbeat is recent.
	Instances     []Instance `json:"instances"`
	LiveInstances int        `json:"live_instances"`
	// LastHeartbeat is the most recent heartbeat of any instance; zero if
	// none was seen in the last hour.
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	// Pending and Failed count the outbox's deliveries in those statuses;
	// Due those pending, due now and held by no live instance (those due
	// less the live instances' Leased, so as recent as their heartbeats;
	// counted up to 10,000: past it Due is 10,000), and OldestDue how long
	// the oldest one held by nobody has waited.
	Pending   int64         `json:"pending"`
	Failed    int64         `json:"failed"`
	Due       int64         `json:"due"`
	OldestDue time.Duration `json:"oldest_due_ns"`
	// OpenCircuits are the webhooks whose circuit breaker is open.
	OpenCircuits []WebhookCircuit `json:"open_circuits"`
	// RecentlyDisabled are the webhooks the library disabled in the last
	// 24 hours because they kept failing.
	RecentlyDisabled []WebhookDisabled `json:"recently_disabled"`
	// HistoryRows and HistoryFailures add up what the live instances wrote
	// to history, and failed to, since they started.
	HistoryRows     int64 `json:"history_rows"`
	HistoryFailures int64 `json:"history_failures"`
	// Warnings say, in a sentence each, what needs an operator: deliveries
	// due with no worker alive, workers falling behind, history writes
	// failing. Empty when all is well.
	Warnings []string `json:"warnings"`
}

// WebhookCircuit names a webhook and its circuit breaker.
type WebhookCircuit struct {
	Scope       Scope   `json:"scope"`
	WebhookCode string  `json:"webhook_code"`
	Circuit     Circuit `json:"circuit"`
}

// Thresholds of Health's warnings.
const (
	// healthBehind is how long the oldest due delivery may wait, with
	// workers alive, before Health warns that they fall behind.
	healthBehind = time.Minute
	// recentDisables is how far back Health lists auto-disabled webhooks.
	recentDisables = 24 * time.Hour
)

// maxDueCount bounds the count of Health.Due.
const maxDueCount = 10000

// Health reads the engine's state with a few indexed queries.
func (c *Client) Health(ctx context.Context) (Health, error) {
	now := c.now().UTC()
	h := Health{CheckedAt: now, OpenCircuits: []WebhookCircuit{}, RecentlyDisabled: []WebhookDisabled{}, Warnings: []string{}}
	var err error
	if h.Instances, err = c.Instances(ctx); err != nil {
		return h, err
	}
	for _, in := range h.Instances {
		if in.LastSeen.After(h.LastHeartbeat) {
			h.LastHeartbeat = in.LastSeen
		}
		if in.Alive {
			h.LiveInstances++
			h.HistoryRows += in.HistoryRows
			h.HistoryFailures += in.HistoryFailures
		}
	}
	g, err := c.outboxGauges(ctx, false)
	if err != nil {
		return h, fmt.Errorf("webhook: reading the outbox: %w", err)
	}
	h.Pending, h.Failed, h.OldestDue = g.counts[StatusPending], g.counts[StatusFailed], g.oldestDue
	// From the index on (status, next_attempt_at) alone, never the rows
	// (whose holder no index names, so that a claim changes no index):
	// the due deliveries, leased ones included (a claim takes only due
	// ones and leaves next_attempt_at), less those the live instances
	// hold. Counted up to maxDueCount, so that a backlog of millions costs
	// what one of thousands does.
	var leased int64
	for _, in := range h.Instances {
		leased += in.Leased
	}
	var due int64
	if err := c.dbCtx(ctx).Raw(`SELECT COUNT(*) FROM (SELECT 1 FROM webhook_delivery WHERE status = ? AND next_attempt_at <= ? LIMIT ?) d`,
		StatusPending, now, maxDueCount+leased).Scan(&due).Error; err != nil {
		return h, fmt.Errorf("webhook: reading the outbox: %w", err)
	}
	h.Due = min(max(due-leased, 0), maxDueCount)
	var rows []webhookRow
	if err := c.dbCtx(ctx).Where("circuit_open_until IS NOT NULL OR (disabled_at IS NOT NULL AND disabled_at >= ?)", now.Add(-recentDisables)).
		Order("scope_type, scope_code, code").Find(&rows).Error; err != nil {
		return h, fmt.Errorf("webhook: reading the webhooks: %w", err)
	}
	for _, r := range rows {
		scope := Scope{r.ScopeType, r.ScopeCode}
		if r.CircuitOpenUntil != nil {
			h.OpenCircuits = append(h.OpenCircuits, WebhookCircuit{Scope: scope, WebhookCode: r.Code, Circuit: circuitOf(&r, now)})
		}
		if r.DisabledAt != nil && !r.EnableWebhook && !r.DisabledAt.Before(now.Add(-recentDisables)) {
			d := WebhookDisabled{Scope: scope, WebhookCode: r.Code, ConsecutiveFailures: r.ConsecutiveFailures, DisabledAt: *r.DisabledAt}
			if r.DisabledReason != nil {
				d.Reason = *r.DisabledReason
			}
			if r.FailingSince != nil {
				d.FailingSince = *r.FailingSince
			}
			h.RecentlyDisabled = append(h.RecentlyDisabled, d)
		}
	}
	h.Warnings = healthWarnings(h, c.cfg.LeaseDuration)
	return h, nil
}

// healthWarnings says what in h needs an operator.
func healthWarnings(h Health, lease time.Duration) []string {
	w := []string{}
	switch {
	case h.Due > 0 && h.LiveInstances == 0 && h.LastHeartbeat.IsZero():
		w = append(w, fmt.Sprintf("%s due, and no worker has run in the last hour: start the workers (Client.Start, or webhookctl serve-admin --workers)", plural(h.Due, "delivery is", "deliveries are")))
	case h.Due > 0 && h.LiveInstances == 0:
		w = append(w, fmt.Sprintf("%s due, and no worker has been seen for %s (the last heartbeat was at %s): start the workers, or look at why they stopped",
			plural(h.Due, "delivery is", "deliveries are"), h.CheckedAt.Sub(h.LastHeartbeat).Round(time.Second), h.LastHeartbeat.Format(time.RFC3339)))
	case h.Due > 0 && h.OldestDue > max(healthBehind, lease):
		w = append(w, fmt.Sprintf("the oldest due delivery has waited %s with %s alive: the workers fall behind (more workers or instances), or a database problem stops their claims",
			h.OldestDue.Round(time.Second), plural(int64(h.LiveInstances), "instance", "instances")))
	}
	if h.HistoryFailures > 0 {
		w = append(w, fmt.Sprintf("%s could not be written to history since the live instances started (%s written): look for \"recording history failed\" in their logs",
			plural(h.HistoryFailures, "history row", "history rows"), plural(h.HistoryRows, "row", "rows")))
	}
	return w
}

// plural formats n with the singular or plural form of a noun.
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
