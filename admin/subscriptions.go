package admin

import (
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The subscriptions page: per scope, which webhook receives which events.
// Three queries: Scopes, Webhooks, and Subscriptions for every scope shown.

type subRow struct {
	Webhook, Name string
	Known         bool
	Enabled       bool
	Events        []string
	All           bool
}

type subGroup struct {
	Scope        string
	Rows         []subRow
	Events       []string
	WebhooksLink string
}

type subscriptionsData struct {
	Scope     string
	Choices   []option
	Groups    []subGroup
	ResetLink string
}

func (h *handler) subscriptions(w http.ResponseWriter, r *http.Request) error {
	filter, err := field(r.URL.Query(), "scope")
	if err != nil {
		return err
	}
	ctx := r.Context()
	ft, fc := parseScope(filter)
	all, hooks, err := h.allScopes(ctx)
	if err != nil {
		return err
	}
	d := subscriptionsData{Scope: filter, ResetLink: h.u("/subscriptions")}
	var scopes []webhook.Scope
	for _, s := range all {
		d.Choices = append(d.Choices, option{Value: scopeParam(s), Label: s.String()})
		if ft != "" && s.Type != ft || fc != "" && s.Code != fc {
			continue
		}
		scopes = append(scopes, s)
	}
	if filter != "" {
		d.Choices = selectOption(d.Choices, ft+":"+fc)
	}
	subs, err := h.client.Subscriptions(ctx, webhook.WebhookQuery{ScopeType: ft, ScopeCode: fc})
	if err != nil {
		return htmlview.Failed("list the subscriptions", err)
	}
	known := map[hookKey]webhook.WebhookInfo{}
	for _, wh := range hooks {
		known[hookKey{wh.Scope, wh.Code}] = wh
	}
	for _, s := range scopes {
		m := subs[s]
		g := subGroup{Scope: s.String(), WebhooksLink: h.link("/webhooks", url.Values{"scope": {scopeParam(s)}})}
		codes := make([]string, 0, len(m))
		for c, evs := range m {
			codes = append(codes, c)
			g.Events = append(g.Events, evs...)
		}
		sort.Strings(codes)
		slices.Sort(g.Events)
		g.Events = slices.Compact(g.Events)
		for _, c := range codes {
			wh, ok := known[hookKey{s, c}]
			row := subRow{Webhook: c, Name: wh.Name, Known: ok, Enabled: wh.Enabled, Events: m[c], All: slices.Contains(m[c], webhook.AllEvents)}
			g.Rows = append(g.Rows, row)
		}
		d.Groups = append(d.Groups, g)
	}
	return h.render(w, r, "subscriptions", "Subscriptions", "subscriptions", d)
}
