package admin

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/scopehook/webhook"
)

// The subscriptions page: per scope, which webhook receives which events.
// Queries: Scopes, Webhooks, and the subscriptions of each scope shown.

// loadSubscriptions returns the subscriptions of the given scopes: scope,
// then webhook code, to sorted event codes. The library reads
// subscriptions one scope at a time (Client.ScopeSubscriptions), so this
// is one query per scope; it is the one place to change when the library
// can read them all at once.
func (h *handler) loadSubscriptions(ctx context.Context, scopes []webhook.Scope) (map[webhook.Scope]map[string][]string, error) {
	out := make(map[webhook.Scope]map[string][]string, len(scopes))
	for _, s := range scopes {
		if _, done := out[s]; done {
			continue
		}
		m, err := h.client.ScopeSubscriptions(ctx, s.Type, s.Code)
		if err != nil {
			return nil, failed("list the subscriptions of scope "+s.String(), err)
		}
		out[s] = m
	}
	return out, nil
}

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
	subs, err := h.loadSubscriptions(ctx, scopes)
	if err != nil {
		return err
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
