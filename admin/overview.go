package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
)

// The overview: the last 24 hours' attempts and failure rates, the queued
// deliveries waiting or failed, the circuits not closed and the worker
// instances alive. Five queries: HourlyHistory, WebhookStats,
// CountDeliveries, Webhooks, Instances.

type overviewData struct {
	Since, Until string
	Hours        hourChart
	Rates        rateChart
	FailureRate  string
	// Queued deliveries pending and failed.
	Pending, Failed int64
	AttemptsLink    string
	FailuresLink    string
	PendingLink     string
	FailedLink      string
	// Circuits not closed (open or half-open) and worker instances.
	OpenCircuits   int
	HalfOpen       int
	WebhooksLink   string
	InstancesAlive int
	InstancesDead  int
	InstancesLink  string
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := h.now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	counts, err := h.client.HourlyHistory(ctx, since)
	if err != nil {
		return failed("count the attempts per hour", err)
	}
	// The client's clock may run ahead of ours: keep the hours up to now.
	for len(counts) > 0 && counts[len(counts)-1].Hour.After(now) {
		counts = counts[:len(counts)-1]
	}
	stats, err := h.client.WebhookStats(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return failed("summarise the webhooks' failures", err)
	}
	queued, err := h.client.CountDeliveries(ctx)
	if err != nil {
		return failed("count the queued deliveries", err)
	}
	hooks, err := h.client.Webhooks(ctx, webhook.WebhookQuery{})
	if err != nil {
		return failed("list the webhooks", err)
	}
	instances, err := h.client.Instances(ctx)
	if err != nil {
		return failed("list the worker instances", err)
	}
	sinceParam := since.Format("2006-01-02T15:04")
	d := overviewData{
		WebhooksLink: h.u("/webhooks"), InstancesLink: h.u("/instances"),
		Since: fmtTime(since), Until: fmtTime(now),
		Hours: buildHourChart(counts), Rates: buildRateChart(stats, h.webhookLinks(hooks)),
		Pending: queued[webhook.StatusPending], Failed: queued[webhook.StatusFailed],
		AttemptsLink: h.link("/attempts", url.Values{"since": {sinceParam}}),
		FailuresLink: h.link("/attempts", url.Values{"success": {"no"}, "since": {sinceParam}}),
		PendingLink:  h.link("/deliveries", url.Values{"status": {webhook.StatusPending}}),
		FailedLink:   h.link("/deliveries", url.Values{"queued": {"1"}, "status": {webhook.StatusFailed}}),
	}
	for _, wh := range hooks {
		switch wh.Circuit.State {
		case webhook.CircuitOpen:
			d.OpenCircuits++
		case webhook.CircuitHalfOpen:
			d.OpenCircuits++
			d.HalfOpen++
		}
	}
	for _, in := range instances {
		if in.Alive {
			d.InstancesAlive++
		} else {
			d.InstancesDead++
		}
	}
	if d.Hours.Attempts > 0 {
		d.FailureRate = fmtPercent(float64(d.Hours.Failures) / float64(d.Hours.Attempts))
	}
	return h.render(w, r, "overview", "Overview", "overview", d)
}

// webhookLinks returns a function giving the links of a webhook of hooks
// (or of one known only from history).
func (h *handler) webhookLinks(hooks []webhook.WebhookInfo) func(webhook.Scope, string) hookLinks {
	type key struct {
		scope webhook.Scope
		code  string
	}
	ids := make(map[key]int64, len(hooks))
	for _, wh := range hooks {
		ids[key{wh.Scope, wh.Code}] = wh.ID
	}
	return func(s webhook.Scope, code string) hookLinks { return h.linksOf(s, code, ids[key{s, code}]) }
}

// hookLinks are the pages of one webhook.
type hookLinks struct {
	Webhook    string // its row on the webhooks page
	Attempts   string // its attempts
	Deliveries string // its deliveries
}

// linksOf returns the links of a webhook; id 0 (a webhook known only from
// history) links to its scope on the webhooks page.
func (h *handler) linksOf(s webhook.Scope, code string, id int64) hookLinks {
	filter := url.Values{"scope": {scopeParam(s)}, "webhook": {code}}
	l := hookLinks{
		Webhook:    h.link("/webhooks", url.Values{"scope": {scopeParam(s)}}),
		Attempts:   h.link("/attempts", filter),
		Deliveries: h.link("/deliveries", filter),
	}
	if id > 0 {
		l.Webhook += "#wh-" + strconv.FormatInt(id, 10)
	}
	return l
}
