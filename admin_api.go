package webhook

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The read-mostly API the operator tools (the admin UI, webhookctl) are
// built on. None of it returns a credential.

// WebhookInfo describes a webhook without its credentials: whether each is
// set, never its value. Its settings are those the library sends with: a
// stored value the library reads differently from how it is written (an
// empty method, a retry count above 20) shows as it is used.
type WebhookInfo struct {
	// ID is the webhook's row id in webhook_webhook.
	ID int64 `json:"id"`
	// Scope is the scope the webhook belongs to.
	Scope Scope `json:"scope"`
	// Code identifies the webhook within its scope.
	Code string `json:"code"`
	// Name is the webhook's human-readable name.
	Name string `json:"name"`
	// Endpoint is the URL requests go to, any password in it redacted.
	Endpoint string `json:"endpoint"`
	// Method is the HTTP method requests are sent with, upper case; "POST"
	// for a row whose method column is empty.
	Method string `json:"method"`
	// ContentType is the request's Content-Type; empty means
	// "application/json".
	ContentType string `json:"content_type,omitempty"`
	// Enabled is false for a webhook disabled by hand or after failures.
	Enabled bool `json:"enabled"`
	// AuthType is "bearer", "basic" or "" (none).
	AuthType string `json:"auth_type,omitempty"`
	// AuthUsername is the basic-auth username (not a secret).
	AuthUsername string `json:"auth_username,omitempty"`
	// HasToken and HasPassword tell whether a bearer token and a basic-auth
	// password are stored.
	HasToken    bool `json:"has_token"`
	HasPassword bool `json:"has_password"`
	// HeaderKeys are the names of the custom headers (values are secret).
	HeaderKeys []string `json:"header_keys,omitempty"`
	// SigningSecrets is how many signing secrets are active.
	SigningSecrets int `json:"signing_secrets"`
	// Timeout is the webhook's own request timeout; zero means
	// Config.Timeout.
	Timeout time.Duration `json:"timeout"`
	// RetryTimes is the webhook's retry count as the sending path reads it
	// (WebhookConfig.RetryTimes): at most 20. With zero,
	// DefaultRetryPolicy follows DefaultRetrySchedule instead.
	RetryTimes int `json:"retry_times"`
	// InsecureSkipVerify is set when TLS certificates are not verified.
	InsecureSkipVerify bool `json:"insecure_skip_verify"`
	// ConsecutiveFailures, FailingSince and DisabledReason are the
	// webhook's failure tracking (Config.DisableAfterFailures).
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	// Circuit is the webhook's circuit breaker.
	Circuit Circuit `json:"circuit"`
	// Delivery controls: ordering, rate limit (requests per second per
	// instance, 0 for none) and in-flight cap (0 for the default).
	Ordered     bool    `json:"ordered,omitempty"`
	RateLimit   float64 `json:"rate_limit,omitempty"`
	MaxInFlight int     `json:"max_in_flight,omitempty"`
	// Events are the event codes it subscribes to (AllEvents for all).
	// Set by Webhook and the one-webhook calls; Webhooks leaves it nil.
	Events []string `json:"events,omitempty"`
	// ETag identifies the stored version, for ChangeOptions.IfMatch; set
	// where Events is.
	ETag string `json:"etag,omitempty"`
	// ConfigError is set when the stored configuration cannot be read.
	ConfigError string `json:"config_error,omitempty"`
}

// WebhookQuery filters Webhooks. Zero fields do not filter.
type WebhookQuery struct {
	// ScopeType keeps the webhooks of scopes of this type.
	ScopeType string
	// ScopeCode keeps the webhooks of scopes with this code.
	ScopeCode string
}

// Webhooks lists webhooks, ordered by scope and code, without decrypting
// anything: a credential that does not decrypt does not hide its webhook.
func (c *Client) Webhooks(ctx context.Context, q WebhookQuery) ([]WebhookInfo, error) {
	db := c.dbCtx(ctx)
	if q.ScopeType != "" {
		db = db.Where("scope_type = ?", q.ScopeType)
	}
	if q.ScopeCode != "" {
		db = db.Where("scope_code = ?", q.ScopeCode)
	}
	var rows []webhookRow
	if err := db.Order("scope_type, scope_code, code").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading webhooks: %w", err)
	}
	now := c.now()
	out := make([]WebhookInfo, len(rows))
	for i := range rows {
		out[i] = webhookInfoOf(&rows[i], now)
	}
	return out, nil
}

// webhookInfoOf describes a stored row with the settings webhookFromRow
// reads, as the sending path does, and the presence of its credentials.
func webhookInfoOf(r *webhookRow, now time.Time) WebhookInfo {
	wh, se, err := webhookFromRow(r)
	info := WebhookInfo{
		ID: r.ID, Scope: Scope{r.ScopeType, r.ScopeCode}, Code: wh.Code, Name: wh.Name,
		Endpoint: redactURL(wh.Endpoint), Method: wh.Method, Enabled: !wh.Disabled,
		ConsecutiveFailures: r.ConsecutiveFailures, FailingSince: r.FailingSince,
		Circuit: circuitOf(r, now),
	}
	if r.DisabledReason != nil {
		info.DisabledReason = *r.DisabledReason
	}
	if err != nil {
		info.ConfigError = err.Error()
		return info
	}
	info.ContentType = wh.ContentType
	info.Timeout = wh.Timeout
	info.RetryTimes = wh.RetryTimes
	info.InsecureSkipVerify = wh.InsecureSkipVerify
	info.Ordered, info.RateLimit, info.MaxInFlight = wh.Ordered, wh.RateLimit, wh.MaxInFlight
	if a := se.auth(); a != nil {
		info.AuthType = strings.ToLower(a.Type)
		info.HasToken = a.Token != nil && *a.Token != ""
		info.HasPassword = a.Password != nil && *a.Password != ""
		if a.Username != nil {
			info.AuthUsername = *a.Username
		}
	}
	for _, h := range se.Headers {
		info.HeaderKeys = append(info.HeaderKeys, h.Key)
	}
	for i := range se.SigningSecrets {
		if se.SigningSecrets[i].activeAt(now) {
			info.SigningSecrets++
		}
	}
	return info
}

// SetWebhookEnabled enables or disables one webhook. Enabling it forgets the
// failures that may have disabled it.
func (c *Client) SetWebhookEnabled(ctx context.Context, scopeType, scopeCode, code string, enabled bool) error {
	defer c.resolved.changed()
	changes := map[string]any{"enable_webhook": enabled}
	if enabled {
		changes["consecutive_failures"] = 0
		changes["failing_since"] = nil
		changes["disabled_reason"] = nil
		changes["disabled_at"] = nil
	}
	res := c.dbCtx(ctx).Model(&webhookRow{}).Where("scope_type = ? AND scope_code = ? AND code = ?", scopeType, scopeCode, code).Updates(changes)
	if res.Error != nil {
		return fmt.Errorf("webhook: updating webhook %q: %w", code, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: %s/%s %q", ErrWebhookNotFound, scopeType, scopeCode, code)
	}
	return nil
}

// CloseCircuit closes the circuit breaker of one webhook at once, as a
// successful probe would: its waiting deliveries are sent at the workers'
// next claim. Use it when the endpoint is known to be back.
func (c *Client) CloseCircuit(ctx context.Context, scopeType, scopeCode, code string) error {
	defer c.resolved.changed()
	res := c.dbCtx(ctx).Exec(`UPDATE webhook_webhook SET circuit_open_until = NULL, circuit_opened_at = NULL, circuit_probes = 0,
		circuit_failures = 0, circuit_reason = NULL WHERE scope_type = ? AND scope_code = ? AND code = ?`, scopeType, scopeCode, code)
	if res.Error != nil {
		return fmt.Errorf("webhook: closing the circuit of %q: %w", code, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: %s/%s %q", ErrWebhookNotFound, scopeType, scopeCode, code)
	}
	c.log.Info("webhook: circuit closed by an operator", "scope", scopeType+"/"+scopeCode, "webhook", code)
	c.wakeWorker()
	return nil
}

// WebhookStats summarises a webhook's recent history.
type WebhookStats struct {
	Scope       Scope  `json:"scope"`
	WebhookCode string `json:"webhook_code"`
	Attempts    int    `json:"attempts"`
	Failures    int    `json:"failures"`
	// The last attempt.
	LastAt         time.Time `json:"last_at"`
	LastSuccess    bool      `json:"last_success"`
	LastStatusCode int       `json:"last_status_code,omitempty"`
}

// FailureRate is Failures / Attempts, 0 without attempts.
func (s WebhookStats) FailureRate() float64 {
	if s.Attempts == 0 {
		return 0
	}
	return float64(s.Failures) / float64(s.Attempts)
}

// WebhookStats returns, for every webhook with history since the given
// time, its attempts, failures and last attempt, ordered by scope and code.
func (c *Client) WebhookStats(ctx context.Context, since time.Time) ([]WebhookStats, error) {
	since = since.UTC()
	var agg []webhookCount
	if !sortsToGroup(c.db) {
		// A hash aggregate over the rows since then, read through the
		// index on created_at.
		err := c.dbCtx(ctx).Model(&historyRow{}).
			Select("scope_type, scope_code, webhook_code, COUNT(*) AS attempts, SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures, MAX(id) AS last_id").
			Where("created_at >= ?", since).Group("scope_type, scope_code, webhook_code").Scan(&agg).Error
		if err != nil {
			return nil, fmt.Errorf("webhook: summarising history: %w", err)
		}
	} else if err := c.webhookCounts(ctx, since, &agg); err != nil {
		return nil, err
	}
	ids := make([]int64, len(agg))
	for i, a := range agg {
		ids[i] = a.LastID
	}
	last := map[int64]historyRow{}
	if len(ids) > 0 {
		var rows []historyRow
		if err := c.dbCtx(ctx).Select("id, created_at, success, status_code").Where("id IN ?", ids).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("webhook: summarising history: %w", err)
		}
		for _, r := range rows {
			last[r.ID] = r
		}
	}
	out := make([]WebhookStats, len(agg))
	for i, a := range agg {
		s := WebhookStats{Scope: Scope{a.ScopeType, a.ScopeCode}, WebhookCode: a.WebhookCode, Attempts: a.Attempts, Failures: a.Failures}
		if r, ok := last[a.LastID]; ok {
			s.LastAt, s.LastSuccess = r.CreatedAt, r.Success
			if r.StatusCode != nil {
				s.LastStatusCode = *r.StatusCode
			}
		}
		out[i] = s
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Scope != b.Scope {
			return a.Scope.String() < b.Scope.String()
		}
		return a.WebhookCode < b.WebhookCode
	})
	return out, nil
}

// webhookCount is one webhook's attempts and failures since a time, and
// the id of its last attempt.
type webhookCount struct {
	ScopeType, ScopeCode, WebhookCode string
	Attempts, Failures                int
	LastID                            int64
	Total                             int // all the attempts since then, of every webhook
}

// webhookCounts counts each webhook's attempts since a time where grouping
// them would sort them all (SQLite): each stored webhook's from its own
// range of the index webhook_history_webhook_created (scope, code,
// created_at, success, id), at a cost that follows the number of
// webhooks, not of the rows since then; then, grouped, those of webhooks
// that history names but that are gone, if the total says there are any.
func (c *Client) webhookCounts(ctx context.Context, since time.Time, agg *[]webhookCount) error {
	count := func(what, cond string) string {
		return "(SELECT " + what + " FROM webhook_history h WHERE h.scope_type = w.scope_type AND h.scope_code = w.scope_code" +
			" AND h.webhook_code = w.code AND h.created_at >= ?" + cond + ")"
	}
	// With them, the count of all the attempts since then (a subquery
	// without correlation: run once).
	var known []webhookCount
	err := c.dbCtx(ctx).Raw("SELECT w.scope_type, w.scope_code, w.code AS webhook_code, "+count("COUNT(*)", "")+" AS attempts, "+
		count("COUNT(*)", " AND NOT h.success")+" AS failures, "+count("COALESCE(MAX(h.id), 0)", "")+" AS last_id,"+
		" (SELECT COUNT(*) FROM webhook_history WHERE created_at >= ?) AS total FROM webhook_webhook w",
		since, since, since, since).Scan(&known).Error
	if err != nil {
		return fmt.Errorf("webhook: summarising history: %w", err)
	}
	counted := 0
	for _, a := range known {
		if a.Attempts > 0 {
			*agg = append(*agg, a)
			counted += a.Attempts
		}
	}
	if len(known) > 0 && known[0].Total <= counted {
		return nil
	}
	// History names webhooks that are gone (deleted since). Grouped on the
	// columns without their index: SQLite would rather read the whole table
	// in the order of the Python package's index on them than sort the
	// window's rows.
	var gone []webhookCount
	err = c.dbCtx(ctx).Model(&historyRow{}).
		Select("scope_type, scope_code, webhook_code, COUNT(*) AS attempts, SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures, MAX(id) AS last_id").
		Where("created_at >= ? AND NOT EXISTS (SELECT 1 FROM webhook_webhook w WHERE w.scope_type = webhook_history.scope_type"+
			" AND w.scope_code = webhook_history.scope_code AND w.code = webhook_history.webhook_code)", since).
		Group(unindexed(c.db, "scope_type") + ", " + unindexed(c.db, "scope_code") + ", " + unindexed(c.db, "webhook_code")).Scan(&gone).Error
	if err != nil {
		return fmt.Errorf("webhook: summarising history: %w", err)
	}
	*agg = append(*agg, gone...)
	return nil
}

// HourlyCount is the number of attempts recorded in one hour.
type HourlyCount struct {
	Hour     time.Time `json:"hour"`
	Attempts int       `json:"attempts"`
	Failures int       `json:"failures"`
}

// HourlyHistory counts attempts per hour (UTC) from since to now, one entry
// per hour, hours without attempts included.
func (c *Client) HourlyHistory(ctx context.Context, since time.Time) ([]HourlyCount, error) {
	since = since.UTC().Truncate(time.Hour)
	var out []HourlyCount
	for h := since; !h.After(c.now().UTC()); h = h.Add(time.Hour) {
		out = append(out, HourlyCount{Hour: h})
	}
	// Two ranges per hour, hourBatch hours to a statement: of the Python
	// package's index on created_at (the attempts) and of the partial
	// index webhook_history_failures (the failures). Counting a range
	// reads its index entries and nothing else, where grouping the rows by
	// an expression of created_at would read and sort them all.
	for start := 0; start < len(out); start += hourBatch {
		hours := out[start:min(start+hourBatch, len(out))]
		parts := make([]string, len(hours))
		args := make([]any, 0, 4*len(hours))
		for i, hc := range hours {
			parts[i] = fmt.Sprintf("SELECT %d AS i, (SELECT COUNT(*) FROM webhook_history WHERE created_at >= ? AND created_at < ?) AS attempts,"+
				" (SELECT COUNT(*) FROM webhook_history WHERE NOT success AND created_at >= ? AND created_at < ?) AS failures", i)
			args = append(args, hc.Hour, hc.Hour.Add(time.Hour), hc.Hour, hc.Hour.Add(time.Hour))
		}
		var rows []struct{ I, Attempts, Failures int }
		if err := c.dbCtx(ctx).Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("webhook: counting history per hour: %w", err)
		}
		for _, r := range rows {
			if r.I >= 0 && r.I < len(hours) {
				hours[r.I].Attempts, hours[r.I].Failures = r.Attempts, r.Failures
			}
		}
	}
	return out, nil
}

// hourBatch is the number of hours HourlyHistory counts in one statement:
// a day and more, well under SQLite's limit of 500 terms in a compound
// SELECT.
const hourBatch = 48
