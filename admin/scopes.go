package admin

import (
	"context"
	"net/http"
	"net/url"
	"sort"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The scopes page: every scope with its webhooks and links to its pages.
// Two queries: Scopes and Webhooks.

// allScopes lists the scopes of webhook_scope and those that only have
// webhooks, sorted, and every webhook (two queries).
func (h *handler) allScopes(ctx context.Context) ([]webhook.Scope, []webhook.WebhookInfo, error) {
	scopes, err := h.client.Scopes(ctx)
	if err != nil {
		return nil, nil, htmlview.Failed("list the scopes", err)
	}
	hooks, err := h.client.Webhooks(ctx, webhook.WebhookQuery{})
	if err != nil {
		return nil, nil, htmlview.Failed("list the webhooks", err)
	}
	seen := map[webhook.Scope]bool{}
	for _, s := range scopes {
		seen[s] = true
	}
	for _, wh := range hooks {
		if !seen[wh.Scope] {
			seen[wh.Scope] = true
			scopes = append(scopes, wh.Scope)
		}
	}
	sort.Slice(scopes, func(i, j int) bool {
		if scopes[i].Type != scopes[j].Type {
			return scopes[i].Type < scopes[j].Type
		}
		return scopes[i].Code < scopes[j].Code
	})
	return scopes, hooks, nil
}

type scopeRow struct {
	Type, Code                      string
	Webhooks, Enabled               int
	WebhooksLink, SubscriptionsLink string
	DeliveriesLink, AttemptsLink    string
}

func (h *handler) scopes(w http.ResponseWriter, r *http.Request) error {
	scopes, hooks, err := h.allScopes(r.Context())
	if err != nil {
		return err
	}
	count := map[webhook.Scope][2]int{} // webhooks, enabled
	for _, wh := range hooks {
		n := count[wh.Scope]
		n[0]++
		if wh.Enabled {
			n[1]++
		}
		count[wh.Scope] = n
	}
	var rows []scopeRow
	for _, s := range scopes {
		filter := url.Values{"scope": {scopeParam(s)}}
		rows = append(rows, scopeRow{
			Type: s.Type, Code: s.Code, Webhooks: count[s][0], Enabled: count[s][1],
			WebhooksLink:      h.link("/webhooks", filter),
			SubscriptionsLink: h.link("/subscriptions", filter),
			DeliveriesLink:    h.link("/deliveries", filter),
			AttemptsLink:      h.link("/attempts", filter),
		})
	}
	return h.render(w, r, "scopes", "Scopes", "scopes", rows)
}
