package webhook

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// AllEvents subscribes a webhook to every event.
const AllEvents = "*"

// ApplyScopeSubscriptions makes the subscriptions of a scope exactly the
// given set: subscriptions maps a webhook code of the scope to the event
// codes it receives (AllEvents for all). A webhook code that is not in the
// scope or an event code that is not synced is an ErrInvalidSubscription
// naming them, and nothing is written. Otherwise the change is applied in one
// transaction, touching only the rows that differ.
func (c *Client) ApplyScopeSubscriptions(ctx context.Context, scopeType, scopeCode string, subscriptions map[string][]string) error {
	defer c.resolved.changed()
	if err := validateScope(scopeType, scopeCode); err != nil {
		return err
	}
	type pair struct{ webhook, event string }
	want := make(map[pair]bool)
	eventSet := make(map[string]bool)
	for wh, events := range subscriptions {
		for _, ev := range events {
			want[pair{wh, ev}] = true
			if ev != AllEvents {
				eventSet[ev] = true
			}
		}
	}
	return c.transaction(ctx, func(tx *gorm.DB) error {
		if err := lockForWrite(tx, "scope "+scopeType+"/"+scopeCode); err != nil {
			return err
		}
		if len(subscriptions) > 0 {
			var codes []string
			if err := tx.Model(&webhookRow{}).Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode).Pluck("code", &codes).Error; err != nil {
				return fmt.Errorf("webhook: loading webhooks of scope %s/%s: %w", scopeType, scopeCode, err)
			}
			known := make(map[string]bool, len(codes))
			for _, code := range codes {
				known[code] = true
			}
			var unknownWebhooks []string
			for wh := range subscriptions {
				if !known[wh] {
					unknownWebhooks = append(unknownWebhooks, wh)
				}
			}
			if len(unknownWebhooks) > 0 {
				sort.Strings(unknownWebhooks)
				return fmt.Errorf("%w: scope %s/%s has no webhook %s: apply the webhooks first", ErrInvalidSubscription, scopeType, scopeCode, quoteList(unknownWebhooks))
			}
		}
		if err := checkEvents(tx, sortedKeys(eventSet)); err != nil {
			return err
		}
		var existing []subscriptionRow
		if err := tx.Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode).Order("id").Find(&existing).Error; err != nil {
			return fmt.Errorf("webhook: loading subscriptions of scope %s/%s: %w", scopeType, scopeCode, err)
		}
		var stale []int64
		have := make(map[pair]bool, len(existing))
		for _, s := range existing {
			p := pair{s.WebhookCode, s.EventCode}
			if !want[p] || have[p] { // unwanted, or a duplicate row
				stale = append(stale, s.ID)
				continue
			}
			have[p] = true
		}
		if len(stale) > 0 {
			if err := tx.Where("id IN ?", stale).Delete(&subscriptionRow{}).Error; err != nil {
				return fmt.Errorf("webhook: deleting subscriptions of scope %s/%s: %w", scopeType, scopeCode, err)
			}
		}
		var add []subscriptionRow
		for p := range want {
			if !have[p] {
				add = append(add, subscriptionRow{WebhookCode: p.webhook, EventCode: p.event, ScopeType: scopeType, ScopeCode: scopeCode})
			}
		}
		sort.Slice(add, func(i, j int) bool {
			if add[i].WebhookCode != add[j].WebhookCode {
				return add[i].WebhookCode < add[j].WebhookCode
			}
			return add[i].EventCode < add[j].EventCode
		})
		if len(add) > 0 {
			if err := tx.Create(&add).Error; err != nil {
				return fmt.Errorf("webhook: saving subscriptions of scope %s/%s: %w", scopeType, scopeCode, err)
			}
		}
		return recordScope(tx, scopeType, scopeCode)
	})
}

// ScopeSubscriptions returns the subscriptions of a scope as ApplyScopeSubscriptions
// takes them: webhook code to sorted event codes.
func (c *Client) ScopeSubscriptions(ctx context.Context, scopeType, scopeCode string) (map[string][]string, error) {
	all, err := c.Subscriptions(ctx, WebhookQuery{ScopeType: scopeType, ScopeCode: scopeCode})
	if err != nil {
		return nil, err
	}
	out := all[Scope{scopeType, scopeCode}]
	if out == nil {
		out = map[string][]string{}
	}
	return out, nil
}

// Subscriptions returns the subscriptions of every scope q selects, in one
// query: scope to webhook code to sorted event codes.
func (c *Client) Subscriptions(ctx context.Context, q WebhookQuery) (map[Scope]map[string][]string, error) {
	var rows []subscriptionRow
	err := whereEqual(c.dbCtx(ctx), eq{"scope_type", q.ScopeType}, eq{"scope_code", q.ScopeCode}).
		Order("scope_type, scope_code, webhook_code, event_code").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("webhook: loading subscriptions: %w", err)
	}
	out := map[Scope]map[string][]string{}
	for _, r := range rows {
		s := Scope{r.ScopeType, r.ScopeCode}
		m := out[s]
		if m == nil {
			m = map[string][]string{}
			out[s] = m
		}
		evs := m[r.WebhookCode]
		if len(evs) > 0 && evs[len(evs)-1] == r.EventCode {
			continue
		}
		m[r.WebhookCode] = append(evs, r.EventCode)
	}
	return out, nil
}

// ScopeSubscribedEvents returns the distinct event codes any webhook of the
// scope subscribes to, sorted; AllEvents appears as itself.
func (c *Client) ScopeSubscribedEvents(ctx context.Context, scopeType, scopeCode string) ([]string, error) {
	var codes []string
	err := c.dbCtx(ctx).Model(&subscriptionRow{}).Distinct("event_code").
		Where("scope_type = ? AND scope_code = ?", scopeType, scopeCode).
		Order("event_code").Pluck("event_code", &codes).Error
	if err != nil {
		return nil, fmt.Errorf("webhook: loading subscribed events of scope %s/%s: %w", scopeType, scopeCode, err)
	}
	if codes == nil {
		codes = []string{}
	}
	return codes, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
