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
// set, never its value.
type WebhookInfo struct {
	ID          int64  `json:"id"`
	Scope       Scope  `json:"scope"`
	Code        string `json:"code"`
	Name        string `json:"name"`
	Endpoint    string `json:"endpoint"`
	Method      string `json:"method"`
	ContentType string `json:"content_type,omitempty"`
	Enabled     bool   `json:"enabled"`
	// AuthType is "bearer", "basic" or "" (none).
	AuthType    string `json:"auth_type,omitempty"`
	HasToken    bool   `json:"has_token"`
	HasPassword bool   `json:"has_password"`
	// HeaderKeys are the names of the custom headers (values are secret).
	HeaderKeys []string `json:"header_keys,omitempty"`
	// SigningSecrets is how many signing secrets are active.
	SigningSecrets      int           `json:"signing_secrets"`
	Timeout             time.Duration `json:"timeout"`
	RetryTimes          int           `json:"retry_times"`
	InsecureSkipVerify  bool          `json:"insecure_skip_verify"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	FailingSince        *time.Time    `json:"failing_since,omitempty"`
	DisabledReason      string        `json:"disabled_reason,omitempty"`
	// Circuit is the webhook's circuit breaker.
	Circuit Circuit `json:"circuit"`
	// Delivery controls: ordering, rate limit (requests per second per
	// instance, 0 for none) and in-flight cap (0 for the default).
	Ordered     bool    `json:"ordered,omitempty"`
	RateLimit   float64 `json:"rate_limit,omitempty"`
	MaxInFlight int     `json:"max_in_flight,omitempty"`
	// ConfigError is set when the stored configuration cannot be read.
	ConfigError string `json:"config_error,omitempty"`
}

// WebhookQuery filters Webhooks. Zero fields do not filter.
type WebhookQuery struct {
	ScopeType string
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
	for i, r := range rows {
		info := WebhookInfo{
			ID: r.ID, Scope: Scope{r.ScopeType, r.ScopeCode}, Code: r.Code, Name: r.Name,
			Endpoint: redactURL(r.Endpoint), Method: strings.ToUpper(r.Method), Enabled: r.EnableWebhook,
			ConsecutiveFailures: r.ConsecutiveFailures, FailingSince: r.FailingSince,
			Circuit: circuitOf(&r, now),
		}
		if r.DisabledReason != nil {
			info.DisabledReason = *r.DisabledReason
		}
		se, err := parseStoredExtra(r.ExtraInfo)
		if err != nil {
			info.ConfigError = err.Error()
			out[i] = info
			continue
		}
		info.ContentType = se.ContentType
		info.Timeout = fromSeconds(se.Timeout)
		info.RetryTimes = legacyRetries
		if se.RetryTimes != nil {
			info.RetryTimes = *se.RetryTimes
		}
		info.InsecureSkipVerify = se.Verify != nil && !*se.Verify
		info.Ordered = se.Ordered
		if se.RateLimit != nil {
			info.RateLimit = *se.RateLimit
		}
		if se.MaxInFlight != nil {
			info.MaxInFlight = *se.MaxInFlight
		}
		if a := se.Authorization; a != nil && a.Type != "" {
			info.AuthType = strings.ToLower(a.Type)
			info.HasToken = a.Token != nil && *a.Token != ""
			info.HasPassword = a.Password != nil && *a.Password != ""
		}
		for _, h := range se.Headers {
			info.HeaderKeys = append(info.HeaderKeys, h.Key)
		}
		for _, s := range se.SigningSecrets {
			if s.ExpiresAt == nil || s.ExpiresAt.After(now) {
				info.SigningSecrets++
			}
		}
		out[i] = info
	}
	return out, nil
}

// SetWebhookEnabled enables or disables one webhook. Enabling it forgets the
// failures that may have disabled it.
func (c *Client) SetWebhookEnabled(ctx context.Context, scopeType, scopeCode, code string, enabled bool) error {
	changes := map[string]any{"enable_webhook": enabled}
	if enabled {
		changes["consecutive_failures"] = 0
		changes["failing_since"] = nil
		changes["disabled_reason"] = nil
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
	var agg []struct {
		ScopeType, ScopeCode, WebhookCode string
		Attempts, Failures                int
		LastID                            int64
	}
	err := c.dbCtx(ctx).Model(&historyRow{}).
		Select("scope_type, scope_code, webhook_code, COUNT(*) AS attempts, SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures, MAX(id) AS last_id").
		Where("created_at >= ?", since.UTC()).Group("scope_type, scope_code, webhook_code").Scan(&agg).Error
	if err != nil {
		return nil, fmt.Errorf("webhook: summarising history: %w", err)
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
	var rows []struct {
		Bucket             string
		Attempts, Failures int
	}
	bucket := hourBucket(c.db)
	err := c.dbCtx(ctx).Model(&historyRow{}).
		Select(bucket+" AS bucket, COUNT(*) AS attempts, SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures").
		Where("created_at >= ?", since).Group(bucket).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("webhook: counting history per hour: %w", err)
	}
	byHour := map[time.Time]HourlyCount{}
	for _, r := range rows {
		h, err := time.Parse("2006-01-02 15", r.Bucket)
		if err != nil {
			continue
		}
		byHour[h] = HourlyCount{Hour: h, Attempts: r.Attempts, Failures: r.Failures}
	}
	var out []HourlyCount
	for h := since; !h.After(c.now().UTC()); h = h.Add(time.Hour) {
		hc, ok := byHour[h]
		if !ok {
			hc = HourlyCount{Hour: h}
		}
		out = append(out, hc)
	}
	return out, nil
}
