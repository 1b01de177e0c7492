package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Scope is the part of the service a resource belongs to, such as the
// business {Type: "biz", Code: "biz1"}. Webhooks and subscriptions live in a
// scope; a broadcast names the scopes it concerns.
type Scope struct {
	Type string `json:"type"`
	Code string `json:"code"`
}

// String returns "type/code".
func (s Scope) String() string { return s.Type + "/" + s.Code }

func validateScope(scopeType, scopeCode string) error {
	for _, f := range []struct{ name, v string }{{"scope type", scopeType}, {"scope code", scopeCode}} {
		switch {
		case strings.TrimSpace(f.v) == "":
			return fmt.Errorf("%w: %s is empty", ErrInvalidArgument, f.name)
		case utf8.RuneCountInString(f.v) > maxScopeLen:
			return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalidArgument, f.name, maxScopeLen)
		case !utf8.ValidString(f.v):
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, f.name)
		}
	}
	return nil
}

// recordScope inserts the scope into webhook_scope unless it is there.
func recordScope(tx *gorm.DB, scopeType, scopeCode string) error {
	err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&scopeRow{Type: scopeType, Code: scopeCode}).Error
	if err != nil {
		return fmt.Errorf("webhook: recording scope %s/%s: %w", scopeType, scopeCode, err)
	}
	return nil
}

// ApplyScopeWebhooks makes the webhooks of a scope exactly the given list.
//
// Every item is validated first (code and name present and within the column
// sizes, endpoint an absolute http(s) URL without credentials, method GET or
// POST, auth type known, headers well-formed, no duplicate codes); a problem
// returns ErrInvalidWebhook naming the item, and nothing is written. Then, in
// one transaction, webhooks are upserted by code (credentials encrypted; a
// credential whose value did not change keeps its stored ciphertext), the
// scope's webhooks that are not listed are deleted together with their
// subscriptions, and the scope is recorded. The caller's slice and maps are
// never modified.
func (c *Client) ApplyScopeWebhooks(ctx context.Context, scopeType, scopeCode string, webhooks []WebhookConfig) error {
	defer c.resolved.changed()
	if err := validateScope(scopeType, scopeCode); err != nil {
		return err
	}
	items := make([]WebhookConfig, len(webhooks))
	seen := make(map[string]int, len(webhooks))
	for i, w := range webhooks {
		w = w.clone()
		if msg := w.validate(); msg != "" {
			return fmt.Errorf("%w: webhooks[%d] (code %q): %s", ErrInvalidWebhook, i, w.Code, msg)
		}
		if j, dup := seen[w.Code]; dup {
			return fmt.Errorf("%w: webhooks[%d] and webhooks[%d] both have code %q", ErrInvalidWebhook, j, i, w.Code)
		}
		seen[w.Code] = i
		w.Method = w.method()
		items[i] = w
	}
	if c.cfg.CheckEndpointsOnApply {
		for i, w := range items {
			if err := c.CheckEndpoint(ctx, w.Endpoint); err != nil {
				return fmt.Errorf("%w: webhooks[%d] (code %q): %v", ErrInvalidWebhook, i, w.Code, err)
			}
		}
	}
	return c.transaction(ctx, func(tx *gorm.DB) error {
		if err := lockForWrite(tx, "scope "+scopeType+"/"+scopeCode); err != nil {
			return err
		}
		var existing []webhookRow
		if err := tx.Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode).Find(&existing).Error; err != nil {
			return fmt.Errorf("webhook: loading webhooks of scope %s/%s: %w", scopeType, scopeCode, err)
		}
		byCode := make(map[string]*webhookRow, len(existing))
		for i := range existing {
			byCode[existing[i].Code] = &existing[i]
		}
		listed := make([]string, 0, len(items))
		for i := range items {
			w := &items[i]
			listed = append(listed, w.Code)
			old := byCode[w.Code]
			var prev *storedExtra
			if old != nil {
				if se, err := parseStoredExtra(old.ExtraInfo); err == nil {
					prev = &se
				}
			}
			extra, err := c.encodeExtra(w, prev)
			if err != nil {
				return fmt.Errorf("webhook: webhook %q: %w", w.Code, err)
			}
			row := webhookRow{
				Code: w.Code, Name: w.Name, Endpoint: w.Endpoint, Method: w.Method,
				ScopeType: scopeType, ScopeCode: scopeCode, ExtraInfo: extra, EnableWebhook: !w.Disabled,
			}
			if old != nil {
				if sameRow(old, &row) {
					continue
				}
				changes := map[string]any{
					"name": row.Name, "endpoint": row.Endpoint, "method": row.Method,
					"extra_info": row.ExtraInfo, "enable_webhook": row.EnableWebhook,
				}
				if row.EnableWebhook && !old.EnableWebhook {
					// Enabled again by hand: forget the failures that disabled it.
					changes["consecutive_failures"] = 0
					changes["failing_since"] = nil
					changes["disabled_reason"] = nil
					changes["disabled_at"] = nil
				}
				err = tx.Model(&webhookRow{}).Where("id = ?", old.ID).Updates(changes).Error
			} else {
				err = tx.Clauses(clause.OnConflict{
					Columns:   []clause.Column{{Name: "scope_type"}, {Name: "scope_code"}, {Name: "code"}},
					DoUpdates: clause.AssignmentColumns([]string{"name", "endpoint", "method", "extra_info", "enable_webhook"}),
				}).Create(&row).Error
			}
			if err != nil {
				return fmt.Errorf("webhook: saving webhook %q of scope %s/%s: %w", w.Code, scopeType, scopeCode, err)
			}
		}
		del := tx.Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode)
		delSubs := tx.Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode)
		if len(listed) > 0 {
			del = del.Where("code NOT IN ?", listed)
			delSubs = delSubs.Where("webhook_code NOT IN ?", listed)
		}
		if err := del.Delete(&webhookRow{}).Error; err != nil {
			return fmt.Errorf("webhook: deleting unlisted webhooks of scope %s/%s: %w", scopeType, scopeCode, err)
		}
		if err := delSubs.Delete(&subscriptionRow{}).Error; err != nil {
			return fmt.Errorf("webhook: deleting subscriptions of unlisted webhooks of scope %s/%s: %w", scopeType, scopeCode, err)
		}
		return recordScope(tx, scopeType, scopeCode)
	})
}

// sameRow reports whether applying row over old would change nothing.
func sameRow(old, row *webhookRow) bool {
	if old.Name != row.Name || old.Endpoint != row.Endpoint || old.Method != row.Method || old.EnableWebhook != row.EnableWebhook {
		return false
	}
	var a, b any
	if json.Unmarshal(old.ExtraInfo, &a) != nil || json.Unmarshal(row.ExtraInfo, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// ScopeWebhooks returns the webhooks of a scope, in creation order, with
// their credentials decrypted. A credential that does not decrypt fails the
// call with ErrDecrypt naming the webhook. Passing the result back to
// ApplyScopeWebhooks changes nothing.
func (c *Client) ScopeWebhooks(ctx context.Context, scopeType, scopeCode string) ([]WebhookConfig, error) {
	var rows []webhookRow
	err := c.dbCtx(ctx).Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode).Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("webhook: loading webhooks of scope %s/%s: %w", scopeType, scopeCode, err)
	}
	out := make([]WebhookConfig, 0, len(rows))
	for i := range rows {
		wh, err := c.decodeWebhook(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, wh)
	}
	return out, nil
}

// Scopes returns every scope recorded in webhook_scope, ordered by type and
// code.
func (c *Client) Scopes(ctx context.Context) ([]Scope, error) {
	var rows []scopeRow
	if err := c.dbCtx(ctx).Order("type, code").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading scopes: %w", err)
	}
	out := make([]Scope, len(rows))
	for i, r := range rows {
		out[i] = Scope{Type: r.Type, Code: r.Code}
	}
	return out, nil
}
