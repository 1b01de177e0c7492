package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// One webhook at a time: the calls a tenant-facing API or portal is built
// on, beside the scope-wide ApplyScopeWebhooks. Each is one transaction
// under the scope's write lock, so concurrent calls from several instances
// serialise instead of losing each other's changes, and each change is
// recorded in the change log (webhook_change) without any secret value.

// ChangeOptions say who makes a change to a webhook and, optionally, on
// which version of it.
type ChangeOptions struct {
	// Actor names who makes the change, for the change log ("api:alice",
	// "portal:shop/s1"). Empty records "library".
	Actor string
	// IfMatch is the ETag the caller read (WebhookInfo.ETag). When set, the
	// change is made only if the webhook is still at that version;
	// otherwise the call fails with ErrPreconditionFailed and changes
	// nothing. Edits made by the Python package change the ETag too.
	IfMatch string
}

// WebhookPatch is a partial update: a nil field keeps its value. Secrets
// are write-only: they are never returned, so a patch can keep them
// without knowing them.
type WebhookPatch struct {
	Name        *string
	Endpoint    *string
	Method      *string
	ContentType *string
	Enabled     *bool
	// Auth replaces the authentication. An Auth of the stored type whose
	// Token (bearer) or Password (basic) is empty keeps the stored one, so
	// a username can change without the password being sent again.
	Auth *Auth
	// ClearAuth removes the authentication.
	ClearAuth bool
	// Headers replaces the custom headers. A header whose Value is empty
	// keeps the stored value of the same key.
	Headers            *[]Header
	Params             *map[string]string
	Data               *map[string]any
	Timeout            *time.Duration
	RetryTimes         *int
	RetryInterval      *time.Duration
	InsecureSkipVerify *bool
	Ordered            *bool
	RateLimit          *float64
	MaxInFlight        *int
	NoTraceparent      *bool
	// Events, when set, replaces the events the webhook subscribes to
	// (event codes, or AllEvents).
	Events *[]string
}

// WebhookChange is one entry of the change log: who changed which webhook,
// when, and what, never with a secret value (a changed credential shows as
// {"changed": true}).
type WebhookChange struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`
	Action      string    `json:"action"`
	Scope       Scope     `json:"scope"`
	WebhookCode string    `json:"webhook_code"`
	// Changes maps each field changed to {"from": …, "to": …}.
	Changes json.RawMessage `json:"changes,omitempty"`
}

// Actions of the change log.
const (
	ChangeCreate       = "create"
	ChangeUpdate       = "update"
	ChangeDelete       = "delete"
	ChangeRotateSecret = "rotate_secret"
	ChangeTest         = "test"
)

// WebhookChangeQuery filters WebhookChanges. Zero fields do not filter.
type WebhookChangeQuery struct {
	Scope       Scope
	WebhookCode string
	// BeforeID returns older entries than this id (keyset pagination).
	BeforeID int64
	// Limit defaults to DefaultHistoryLimit, at most MaxHistoryLimit.
	Limit int
}

// changeRow is a row of webhook_change, the change log.
type changeRow struct {
	ID          int64     `gorm:"column:id;primaryKey;autoIncrement"`
	CreatedAt   time.Time `gorm:"column:created_at;not null;autoCreateTime:false"`
	Actor       string    `gorm:"column:actor;type:varchar(255);not null"`
	Action      string    `gorm:"column:action;type:varchar(32);not null"`
	ScopeType   string    `gorm:"column:scope_type;type:varchar(64);not null;index:webhook_change_webhook,priority:1"`
	ScopeCode   string    `gorm:"column:scope_code;type:varchar(64);not null;index:webhook_change_webhook,priority:2"`
	WebhookCode string    `gorm:"column:webhook_code;type:varchar(255);not null;index:webhook_change_webhook,priority:3"`
	Changes     jsonText  `gorm:"column:changes;type:text"`
}

func (changeRow) TableName() string { return "webhook_change" }

// TestEventCode is the event code of the requests SendTestEvent sends and
// of their history rows.
const TestEventCode = "webhook_test"

// Webhook returns one webhook without its credentials, with its events and
// ETag. An unknown one is ErrWebhookNotFound.
func (c *Client) Webhook(ctx context.Context, scope Scope, code string) (WebhookInfo, error) {
	var row webhookRow
	if err := c.findWebhook(c.dbCtx(ctx), scope, code, &row); err != nil {
		return WebhookInfo{}, err
	}
	events, err := webhookEvents(c.dbCtx(ctx), scope, code)
	if err != nil {
		return WebhookInfo{}, err
	}
	info := webhookInfoOf(&row, c.now())
	info.Events, info.ETag = events, webhookETag(&row, events)
	return info, nil
}

// CreateWebhook adds one webhook to a scope, subscribed to events (event
// codes, or AllEvents; none is allowed), validated and encrypted as
// ApplyScopeWebhooks does. A code the scope already has is
// ErrWebhookExists.
func (c *Client) CreateWebhook(ctx context.Context, scope Scope, wh WebhookConfig, events []string, opts ChangeOptions) (WebhookInfo, error) {
	defer c.resolved.changed()
	if err := validateScope(scope.Type, scope.Code); err != nil {
		return WebhookInfo{}, err
	}
	wh = wh.clone()
	if msg := wh.validate(); msg != "" {
		return WebhookInfo{}, fmt.Errorf("%w: webhook %q: %s", ErrInvalidWebhook, wh.Code, msg)
	}
	wh.Method = wh.method()
	if err := c.checkOnApply(ctx, &wh); err != nil {
		return WebhookInfo{}, err
	}
	var info WebhookInfo
	err := c.transaction(ctx, func(tx *gorm.DB) error {
		if err := lockForWrite(tx, "scope "+scope.String()); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&webhookRow{}).Where("scope_type = ? AND scope_code = ? AND code = ?", scope.Type, scope.Code, wh.Code).Count(&n).Error; err != nil {
			return fmt.Errorf("webhook: loading webhook %q: %w", wh.Code, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: scope %s already has webhook %q: update it, or pick another code", ErrWebhookExists, scope, wh.Code)
		}
		if err := checkEvents(tx, events); err != nil {
			return err
		}
		extra, err := c.encodeExtra(&wh, nil)
		if err != nil {
			return fmt.Errorf("webhook: webhook %q: %w", wh.Code, err)
		}
		row := webhookRow{Code: wh.Code, Name: wh.Name, Endpoint: wh.Endpoint, Method: wh.Method,
			ScopeType: scope.Type, ScopeCode: scope.Code, ExtraInfo: extra, EnableWebhook: !wh.Disabled}
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("webhook: saving webhook %q of scope %s: %w", wh.Code, scope, err)
		}
		if err := setEvents(tx, scope, wh.Code, events); err != nil {
			return err
		}
		if err := recordScope(tx, scope.Type, scope.Code); err != nil {
			return err
		}
		sorted := sortedEvents(events)
		if err := c.logChange(tx, opts, ChangeCreate, scope, wh.Code, diffWebhooks(&WebhookConfig{}, &wh, nil, sorted)); err != nil {
			return err
		}
		info = webhookInfoOf(&row, c.now())
		info.Events, info.ETag = sorted, webhookETag(&row, sorted)
		return nil
	})
	return info, err
}

// UpdateWebhook changes the fields of one webhook that patch sets, keeping
// the others (and the credentials it does not replace), validated and
// encrypted as ApplyScopeWebhooks does. It returns the webhook as stored.
// Unknown: ErrWebhookNotFound; a stale opts.IfMatch: ErrPreconditionFailed.
func (c *Client) UpdateWebhook(ctx context.Context, scope Scope, code string, patch WebhookPatch, opts ChangeOptions) (WebhookInfo, error) {
	defer c.resolved.changed()
	var info WebhookInfo
	err := c.transaction(ctx, func(tx *gorm.DB) error {
		row, oldEvents, err := c.lockWebhook(tx, scope, code, opts)
		if err != nil {
			return err
		}
		old, err := c.decodeWebhook(row)
		if err != nil {
			return err
		}
		next, err := applyPatch(old, patch)
		if err != nil {
			return err
		}
		if msg := next.validate(); msg != "" {
			return fmt.Errorf("%w: webhook %q: %s", ErrInvalidWebhook, code, msg)
		}
		next.Method = next.method()
		if patch.Endpoint != nil {
			if err := c.checkOnApply(ctx, &next); err != nil {
				return err
			}
		}
		events := oldEvents
		if patch.Events != nil {
			if err := checkEvents(tx, *patch.Events); err != nil {
				return err
			}
			events = sortedEvents(*patch.Events)
		}
		var prev *storedExtra
		if se, err := parseStoredExtra(row.ExtraInfo); err == nil {
			prev = &se
		}
		extra, err := c.encodeExtra(&next, prev)
		if err != nil {
			return fmt.Errorf("webhook: webhook %q: %w", code, err)
		}
		updated := *row
		updated.Name, updated.Endpoint, updated.Method, updated.ExtraInfo, updated.EnableWebhook = next.Name, next.Endpoint, next.Method, extra, !next.Disabled
		changes := diffWebhooks(&old, &next, oldEvents, events)
		if !sameRow(row, &updated) {
			cols := map[string]any{"name": updated.Name, "endpoint": updated.Endpoint, "method": updated.Method,
				"extra_info": updated.ExtraInfo, "enable_webhook": updated.EnableWebhook}
			if updated.EnableWebhook && !row.EnableWebhook {
				cols["consecutive_failures"], cols["failing_since"], cols["disabled_reason"], cols["disabled_at"] = 0, nil, nil, nil
				updated.ConsecutiveFailures, updated.FailingSince, updated.DisabledReason, updated.DisabledAt = 0, nil, nil, nil
			}
			if err := tx.Model(&webhookRow{}).Where("id = ?", row.ID).Updates(cols).Error; err != nil {
				return fmt.Errorf("webhook: saving webhook %q of scope %s: %w", code, scope, err)
			}
		} else {
			updated.ExtraInfo = row.ExtraInfo
		}
		if patch.Events != nil && !slices.Equal(oldEvents, events) {
			if err := setEvents(tx, scope, code, events); err != nil {
				return err
			}
		}
		if len(changes) > 0 {
			if err := c.logChange(tx, opts, ChangeUpdate, scope, code, changes); err != nil {
				return err
			}
		}
		info = webhookInfoOf(&updated, c.now())
		info.Events, info.ETag = events, webhookETag(&updated, events)
		return nil
	})
	return info, err
}

// SetWebhookEvents replaces the events one webhook subscribes to.
func (c *Client) SetWebhookEvents(ctx context.Context, scope Scope, code string, events []string, opts ChangeOptions) (WebhookInfo, error) {
	defer c.resolved.changed()
	if events == nil {
		events = []string{}
	}
	return c.UpdateWebhook(ctx, scope, code, WebhookPatch{Events: &events}, opts)
}

// DeleteWebhook deletes one webhook with its subscriptions, and cancels its
// pending deliveries (one a worker holds is cancelled by it, as for a
// deleted webhook). History is kept.
func (c *Client) DeleteWebhook(ctx context.Context, scope Scope, code string, opts ChangeOptions) error {
	defer c.resolved.changed()
	return c.transaction(ctx, func(tx *gorm.DB) error {
		row, events, err := c.lockWebhook(tx, scope, code, opts)
		if err != nil {
			return err
		}
		if err := tx.Where("id = ?", row.ID).Delete(&webhookRow{}).Error; err != nil {
			return fmt.Errorf("webhook: deleting webhook %q of scope %s: %w", code, scope, err)
		}
		if err := tx.Where("scope_type = ? AND scope_code = ? AND webhook_code = ?", scope.Type, scope.Code, code).Delete(&subscriptionRow{}).Error; err != nil {
			return fmt.Errorf("webhook: deleting the subscriptions of webhook %q: %w", code, err)
		}
		now := c.now().UTC()
		if err := tx.Exec(`UPDATE webhook_delivery SET status = ?, last_error = ?, finished_at = ?, next_attempt_at = ?
			WHERE scope_type = ? AND scope_code = ? AND webhook_code = ? AND status = ? AND lease_owner IS NULL`,
			StatusCancelled, "the webhook was deleted", now, now, scope.Type, scope.Code, code, StatusPending).Error; err != nil {
			return fmt.Errorf("webhook: cancelling the deliveries of webhook %q: %w", code, err)
		}
		changes := map[string]any{"endpoint": map[string]any{"from": redactURL(row.Endpoint)}, "events": map[string]any{"from": events}}
		return c.logChange(tx, opts, ChangeDelete, scope, code, changes)
	})
}

// RotateWebhookSecret is RotateSigningSecret with a change-log entry and
// opts.IfMatch honoured.
func (c *Client) RotateWebhookSecret(ctx context.Context, scope Scope, code string, grace time.Duration, opts ChangeOptions) (string, error) {
	defer c.resolved.changed()
	if grace < 0 {
		return "", fmt.Errorf("%w: grace is negative", ErrInvalidArgument)
	}
	secret, err := NewSigningSecret()
	if err != nil {
		return "", err
	}
	enc, err := c.vault.encrypt(secret)
	if err != nil {
		return "", err
	}
	err = c.transaction(ctx, func(tx *gorm.DB) error {
		row, _, err := c.lockWebhook(tx, scope, code, opts)
		if err != nil {
			return err
		}
		se, err := parseStoredExtra(row.ExtraInfo)
		if err != nil {
			return fmt.Errorf("%w: webhook %q: %v", ErrInvalidWebhook, code, err)
		}
		now := c.now().UTC()
		retire := now.Add(grace)
		kept := []storedSecret{{Secret: enc}}
		for _, old := range se.SigningSecrets {
			if !old.activeAt(now) || grace == 0 {
				continue
			}
			if old.ExpiresAt == nil || old.ExpiresAt.After(retire) {
				old.ExpiresAt = &retire
			}
			kept = append(kept, old)
		}
		se.SigningSecrets = kept
		extra, err := marshalJSON(se)
		if err != nil {
			return err
		}
		if err := tx.Model(&webhookRow{}).Where("id = ?", row.ID).Update("extra_info", jsonText(extra)).Error; err != nil {
			return fmt.Errorf("webhook: saving webhook %q: %w", code, err)
		}
		changes := map[string]any{"signing_secrets": map[string]any{"changed": true, "grace": grace.String(), "active": len(kept)}}
		return c.logChange(tx, opts, ChangeRotateSecret, scope, code, changes)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// SendTestEvent sends one request of the event TestEventCode to a stored
// webhook, with its credentials and signatures, without retrying, and
// records it in history (event code TestEventCode) and in the change log.
// A disabled webhook is tested too: that is how one checks it before
// enabling it again.
func (c *Client) SendTestEvent(ctx context.Context, scope Scope, code string, opts ChangeOptions) (DeliveryResult, error) {
	var row webhookRow
	if err := c.findWebhook(c.dbCtx(ctx), scope, code, &row); err != nil {
		return DeliveryResult{}, err
	}
	t := target{row: row}
	t.wh, t.err = c.decodeWebhook(&row)
	ev := Event{Code: TestEventCode, Name: "Test event", Description: "A test request; it changes nothing."}
	body, err := eventPayloadJSON(ev, map[string]any{"test": true, "sent_at": c.now().UTC().Format(time.RFC3339)})
	if err != nil {
		return DeliveryResult{}, err
	}
	id := newDeliveryID()
	res := DeliveryResult{WebhookCode: code, ScopeType: scope.Type, ScopeCode: scope.Code, DeliveryID: id, Method: t.wh.method(), Endpoint: row.Endpoint, Attempts: 1}
	var o *attemptOutcome
	if t.err != nil {
		res.Err = t.err
		o = c.notAttempted(&t, TestEventCode, id, 1, t.err)
	} else {
		p, err := c.prepare(&t, TestEventCode, body, id)
		if err != nil {
			res.Err = err
			o = c.notAttempted(&t, TestEventCode, id, 1, err)
		} else {
			var ar *AttemptResult
			ar, o = c.runAttempt(ctx, p, 1, func(*AttemptResult, time.Duration) (bool, time.Duration) { return false, 0 })
			res.StatusCode, res.Success, res.Err, res.ResponseBody, res.Duration = ar.StatusCode, ar.Success, ar.Err, ar.ResponseBody, ar.Duration
		}
	}
	if err := c.recordAttempts(ctx, o); err != nil {
		return res, err
	}
	changes := map[string]any{"delivery_id": id, "success": res.Success, "status_code": res.StatusCode}
	err = c.transaction(ctx, func(tx *gorm.DB) error { return c.logChange(tx, opts, ChangeTest, scope, code, changes) })
	return res, err
}

// WebhookChanges lists the change log, newest first.
func (c *Client) WebhookChanges(ctx context.Context, q WebhookChangeQuery) ([]WebhookChange, error) {
	limit, err := pageLimit("changes", q.Limit)
	if err != nil {
		return nil, err
	}
	db := whereEqual(c.dbCtx(ctx).Model(&changeRow{}), eq{"scope_type", q.Scope.Type}, eq{"scope_code", q.Scope.Code}, eq{"webhook_code", q.WebhookCode})
	if q.BeforeID > 0 {
		db = db.Where("id < ?", q.BeforeID)
	}
	var rows []changeRow
	if err := db.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading the change log: %w", err)
	}
	out := make([]WebhookChange, len(rows))
	for i, r := range rows {
		out[i] = WebhookChange{ID: r.ID, At: r.CreatedAt, Actor: r.Actor, Action: r.Action,
			Scope: Scope{r.ScopeType, r.ScopeCode}, WebhookCode: r.WebhookCode, Changes: json.RawMessage(r.Changes)}
	}
	return out, nil
}

// findWebhook loads one webhook row, or ErrWebhookNotFound.
func (c *Client) findWebhook(db *gorm.DB, scope Scope, code string, row *webhookRow) error {
	err := db.Where("scope_type = ? AND scope_code = ? AND code = ?", scope.Type, scope.Code, code).Take(row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%w: scope %s has no webhook %q", ErrWebhookNotFound, scope, code)
	}
	if err != nil {
		return fmt.Errorf("webhook: loading webhook %q of scope %s: %w", code, scope, err)
	}
	return nil
}

// lockWebhook takes the scope's write lock and loads one webhook and its
// events, checking opts.IfMatch.
func (c *Client) lockWebhook(tx *gorm.DB, scope Scope, code string, opts ChangeOptions) (*webhookRow, []string, error) {
	if err := lockForWrite(tx, "scope "+scope.String()); err != nil {
		return nil, nil, err
	}
	var row webhookRow
	if err := c.findWebhook(tx, scope, code, &row); err != nil {
		return nil, nil, err
	}
	events, err := webhookEvents(tx, scope, code)
	if err != nil {
		return nil, nil, err
	}
	if opts.IfMatch != "" && opts.IfMatch != "*" {
		if now := webhookETag(&row, events); opts.IfMatch != now {
			return nil, nil, fmt.Errorf("%w: webhook %q of scope %s changed since it was read (ETag %s, now %s): read it again and reapply the change",
				ErrPreconditionFailed, code, scope, opts.IfMatch, now)
		}
	}
	return &row, events, nil
}

// webhookEvents returns the sorted event codes a webhook subscribes to.
func webhookEvents(db *gorm.DB, scope Scope, code string) ([]string, error) {
	var events []string
	if err := db.Model(&subscriptionRow{}).Where("scope_type = ? AND scope_code = ? AND webhook_code = ?", scope.Type, scope.Code, code).
		Distinct().Order("event_code").Pluck("event_code", &events).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading the events of webhook %q: %w", code, err)
	}
	if events == nil {
		events = []string{}
	}
	return events, nil
}

// checkEvents refuses event codes that are not synced (AllEvents is
// always known); ApplyScopeSubscriptions and the one-webhook calls use it.
func checkEvents(tx *gorm.DB, events []string) error {
	want := map[string]bool{}
	for _, e := range events {
		if e != AllEvents {
			want[e] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	var found []string
	if err := tx.Model(&eventRow{}).Where("code IN ?", sortedKeys(want)).Pluck("code", &found).Error; err != nil {
		return fmt.Errorf("webhook: loading events: %w", err)
	}
	for _, f := range found {
		delete(want, f)
	}
	if len(want) > 0 {
		return fmt.Errorf("%w: unknown event %s: sync the events first (Client.Events lists them), or use %q for all events", ErrInvalidSubscription, quoteList(sortedKeys(want)), AllEvents)
	}
	return nil
}

// setEvents makes a webhook's subscriptions exactly events.
func setEvents(tx *gorm.DB, scope Scope, code string, events []string) error {
	if err := tx.Where("scope_type = ? AND scope_code = ? AND webhook_code = ?", scope.Type, scope.Code, code).Delete(&subscriptionRow{}).Error; err != nil {
		return fmt.Errorf("webhook: replacing the events of webhook %q: %w", code, err)
	}
	events = sortedEvents(events)
	if len(events) == 0 {
		return nil
	}
	rows := make([]subscriptionRow, len(events))
	for i, e := range events {
		rows[i] = subscriptionRow{WebhookCode: code, EventCode: e, ScopeType: scope.Type, ScopeCode: scope.Code}
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("webhook: saving the events of webhook %q: %w", code, err)
	}
	return nil
}

// sortedEvents returns events sorted and without repeats, never nil.
func sortedEvents(events []string) []string {
	out := slices.Clone(events)
	sort.Strings(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// webhookETag is a strong ETag over everything a webhook's row and
// subscriptions hold, so any change, the Python package's included, gives
// another one.
func webhookETag(row *webhookRow, events []string) string {
	// extra_info in its canonical form: PostgreSQL's jsonb gives back other
	// spacing and key order than was written.
	extra := []byte(row.ExtraInfo)
	var v any
	if json.Unmarshal(extra, &v) == nil {
		if canon, err := json.Marshal(v); err == nil {
			extra = canon
		}
	}
	h := sha256.New()
	for _, part := range []string{row.Name, row.Endpoint, row.Method, fmt.Sprint(row.EnableWebhook), string(extra), strings.Join(events, "\x00")} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
}

// checkOnApply applies Config.CheckEndpointsOnApply to one webhook.
func (c *Client) checkOnApply(ctx context.Context, wh *WebhookConfig) error {
	if !c.cfg.CheckEndpointsOnApply {
		return nil
	}
	if err := c.CheckEndpoint(ctx, wh.Endpoint); err != nil {
		return fmt.Errorf("%w: webhook %q: %v", ErrInvalidWebhook, wh.Code, err)
	}
	return nil
}

// applyPatch returns old with patch applied; secrets patch leaves empty are
// kept from old.
func applyPatch(old WebhookConfig, p WebhookPatch) (WebhookConfig, error) {
	w := old.clone()
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&w.Name, p.Name)
	set(&w.Endpoint, p.Endpoint)
	set(&w.Method, p.Method)
	set(&w.ContentType, p.ContentType)
	if p.Enabled != nil {
		w.Disabled = !*p.Enabled
	}
	switch {
	case p.ClearAuth && p.Auth != nil:
		return w, fmt.Errorf("%w: a patch cannot both set Auth and ClearAuth", ErrInvalidArgument)
	case p.ClearAuth:
		w.Auth = nil
	case p.Auth != nil:
		a := *p.Auth
		if old.Auth != nil && strings.EqualFold(old.Auth.Type, a.Type) {
			if a.Token == "" {
				a.Token = old.Auth.Token
			}
			if a.Password == "" {
				a.Password = old.Auth.Password
			}
		}
		w.Auth = &a
	}
	if p.Headers != nil {
		stored := map[string]string{}
		for _, h := range old.Headers {
			stored[http.CanonicalHeaderKey(h.Key)] = h.Value
		}
		hs := make([]Header, len(*p.Headers))
		for i, h := range *p.Headers {
			if h.Value == "" {
				v, ok := stored[http.CanonicalHeaderKey(h.Key)]
				if !ok {
					return w, fmt.Errorf("%w: header %q has no value and none is stored to keep", ErrInvalidWebhook, h.Key)
				}
				h.Value = v
			}
			hs[i] = h
		}
		w.Headers = hs
	}
	if p.Params != nil {
		w.Params = maps.Clone(*p.Params)
	}
	if p.Data != nil {
		w.Data = maps.Clone(*p.Data)
	}
	if p.Timeout != nil {
		w.Timeout = *p.Timeout
	}
	if p.RetryTimes != nil {
		w.RetryTimes = *p.RetryTimes
	}
	if p.RetryInterval != nil {
		w.RetryInterval = *p.RetryInterval
	}
	if p.InsecureSkipVerify != nil {
		w.InsecureSkipVerify = *p.InsecureSkipVerify
	}
	if p.Ordered != nil {
		w.Ordered = *p.Ordered
	}
	if p.RateLimit != nil {
		w.RateLimit = *p.RateLimit
	}
	if p.MaxInFlight != nil {
		w.MaxInFlight = *p.MaxInFlight
	}
	if p.NoTraceparent != nil {
		w.NoTraceparent = *p.NoTraceparent
	}
	return w, nil
}

// diffWebhooks describes what changed between two configurations, field by
// field, without a secret value.
func diffWebhooks(a, b *WebhookConfig, eventsA, eventsB []string) map[string]any {
	out := map[string]any{}
	field := func(name string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			out[name] = map[string]any{"from": x, "to": y}
		}
	}
	field("name", a.Name, b.Name)
	field("endpoint", redactURL(a.Endpoint), redactURL(b.Endpoint))
	if a.Endpoint != b.Endpoint && redactURL(a.Endpoint) == redactURL(b.Endpoint) {
		out["endpoint"] = map[string]any{"changed": true} // only its credentials
	}
	field("method", a.Method, b.Method)
	field("content_type", a.ContentType, b.ContentType)
	field("enabled", !a.Disabled, !b.Disabled)
	field("timeout", a.Timeout.String(), b.Timeout.String())
	field("retry_times", a.RetryTimes, b.RetryTimes)
	field("retry_interval", a.RetryInterval.String(), b.RetryInterval.String())
	field("params", a.Params, b.Params)
	field("data", a.Data, b.Data)
	field("insecure_skip_verify", a.InsecureSkipVerify, b.InsecureSkipVerify)
	field("ordered", a.Ordered, b.Ordered)
	field("rate_limit", a.RateLimit, b.RateLimit)
	field("max_in_flight", a.MaxInFlight, b.MaxInFlight)
	field("no_traceparent", a.NoTraceparent, b.NoTraceparent)
	authType := func(w *WebhookConfig) string {
		if w.Auth == nil {
			return ""
		}
		return strings.ToLower(w.Auth.Type)
	}
	field("auth_type", authType(a), authType(b))
	if a.Auth != nil && b.Auth != nil && authType(a) == authType(b) && (a.Auth.Token != b.Auth.Token || a.Auth.Password != b.Auth.Password || a.Auth.Username != b.Auth.Username) {
		out["auth"] = map[string]any{"changed": true}
	}
	keys := func(w *WebhookConfig) []string {
		ks := []string{}
		for _, h := range w.Headers {
			ks = append(ks, h.Key)
		}
		return ks
	}
	field("header_keys", keys(a), keys(b))
	if slices.Equal(keys(a), keys(b)) && !reflect.DeepEqual(a.Headers, b.Headers) {
		out["header_values"] = map[string]any{"changed": true}
	}
	if eventsA == nil {
		eventsA = []string{}
	}
	field("events", eventsA, eventsB)
	return out
}

// logChange writes an entry of the change log in tx.
func (c *Client) logChange(tx *gorm.DB, opts ChangeOptions, action string, scope Scope, code string, changes map[string]any) error {
	actor := opts.Actor
	if actor == "" {
		actor = "library"
	}
	raw, err := marshalJSON(changes)
	if err != nil {
		return fmt.Errorf("webhook: recording the change: %w", err)
	}
	row := changeRow{CreatedAt: c.now().UTC(), Actor: truncate(actor, 255), Action: action, ScopeType: scope.Type, ScopeCode: scope.Code, WebhookCode: code, Changes: jsonText(raw)}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("webhook: recording the change of webhook %q: %w", code, err)
	}
	return nil
}
