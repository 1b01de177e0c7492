package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The overview: the engine's health now (Client.Health: the worker
// instances by their heartbeats, the outbox, open circuits, webhooks the
// library disabled, history writes, and its warnings), then the last 24
// hours' attempts and failure rates. Queries: HourlyHistory (1),
// WebhookStats (2; 3 when history names webhooks deleted since), Webhooks
// (1, for the links to the webhooks' rows) and Health (6): ten, whatever
// the number of webhooks and scopes.

type overviewData struct {
	Since, Until string
	Hours        hourChart
	Rates        rateChart
	FailureRate  string
	AttemptsLink string
	FailuresLink string
	Health       healthView
}

// healthView is Client.Health as the overview shows it.
type healthView struct {
	CheckedAt string
	Warnings  []string
	// Worker instances seen in the last hour, by their heartbeats, and
	// the age of the latest heartbeat ("" when none was seen).
	Alive, Dead   int
	LastHeartbeat string
	InstancesLink string
	// NoWorker is set when deliveries are pending and no worker is alive.
	NoWorker bool
	// The outbox: pending, due now (and held by no worker), failed; how
	// long the oldest due one has waited.
	Pending, Due, Failed             int64
	OldestDue                        string
	PendingLink, DueLink, FailedLink string
	// Circuits not closed (HalfOpen of them half-open) and the webhooks
	// the library disabled in the last day.
	Circuits     []healthCircuit
	HalfOpen     int
	Disabled     []healthDisabled
	WebhooksLink string
	// History rows the live instances wrote and failed to write, and the
	// failures' share of the writes tried ("" when none failed).
	HistoryRows, HistoryFailures int64
	HistoryRate                  string
}

// healthCircuit is a circuit that is not closed, as the overview lists it.
type healthCircuit struct {
	Scope, Webhook string
	Links          hookLinks
	Circuit        circuitView
}

// healthDisabled is a webhook the library disabled, as the overview lists
// it.
type healthDisabled struct {
	Scope, Webhook      string
	Links               hookLinks
	At, Ago             string
	Reason, FullReason  string
	ConsecutiveFailures int
	FailingSince        string
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := h.now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	counts, err := h.client.HourlyHistory(ctx, since)
	if err != nil {
		return htmlview.Failed("count the attempts per hour", err)
	}
	// The client's clock may run ahead of ours: keep the hours up to now.
	for len(counts) > 0 && counts[len(counts)-1].Hour.After(now) {
		counts = counts[:len(counts)-1]
	}
	stats, err := h.client.WebhookStats(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return htmlview.Failed("summarise the webhooks' failures", err)
	}
	hooks, err := h.client.Webhooks(ctx, webhook.WebhookQuery{})
	if err != nil {
		return htmlview.Failed("list the webhooks", err)
	}
	health, err := h.client.Health(ctx)
	if err != nil {
		return htmlview.Failed("read the delivery engine's health", err)
	}
	links := h.webhookLinks(hooks)
	sinceParam := since.Format("2006-01-02T15:04")
	d := overviewData{
		Since: htmlview.Time(since), Until: htmlview.Time(now),
		Hours: buildHourChart(counts), Rates: buildRateChart(stats, links),
		AttemptsLink: h.link("/attempts", url.Values{"since": {sinceParam}}),
		FailuresLink: h.link("/attempts", url.Values{"success": {"no"}, "since": {sinceParam}}),
		Health:       h.healthOf(health, now, links),
	}
	if d.Hours.Attempts > 0 {
		d.FailureRate = htmlview.Percent(float64(d.Hours.Failures) / float64(d.Hours.Attempts))
	}
	return h.renderPage(w, r, http.StatusOK, "overview", "Overview", "overview", d, len(d.Health.Warnings))
}

// healthOf turns the engine's health into what the overview shows.
func (h *handler) healthOf(hl webhook.Health, now time.Time, links func(webhook.Scope, string) hookLinks) healthView {
	pending := h.link("/deliveries", url.Values{"queued": {"1"}, "status": {webhook.StatusPending}})
	v := healthView{
		CheckedAt: htmlview.Time(hl.CheckedAt), Warnings: hl.Warnings,
		Alive: hl.LiveInstances, Dead: len(hl.Instances) - hl.LiveInstances, InstancesLink: h.u("/instances"),
		Pending: hl.Pending, Due: hl.Due, Failed: hl.Failed,
		NoWorker:    hl.LiveInstances == 0 && hl.Pending > 0,
		PendingLink: pending, DueLink: pending,
		FailedLink:   h.link("/deliveries", url.Values{"queued": {"1"}, "status": {webhook.StatusFailed}}),
		WebhooksLink: h.u("/webhooks"),
		HistoryRows:  hl.HistoryRows, HistoryFailures: hl.HistoryFailures,
	}
	if !hl.LastHeartbeat.IsZero() {
		v.LastHeartbeat = fmtRelative(hl.LastHeartbeat, now)
	}
	if hl.Due > 0 {
		v.OldestDue = fmtSpan(hl.OldestDue)
	}
	if hl.HistoryFailures > 0 {
		v.HistoryRate = fmtSmallPercent(float64(hl.HistoryFailures) / float64(hl.HistoryRows+hl.HistoryFailures))
	}
	for _, c := range hl.OpenCircuits {
		cv := circuitOf(c.Circuit, now)
		if cv.State == string(webhook.CircuitHalfOpen) {
			v.HalfOpen++
		}
		v.Circuits = append(v.Circuits, healthCircuit{Scope: c.Scope.String(), Webhook: c.WebhookCode, Links: links(c.Scope, c.WebhookCode), Circuit: cv})
	}
	for _, dis := range hl.RecentlyDisabled {
		dv := healthDisabled{
			Scope: dis.Scope.String(), Webhook: dis.WebhookCode, Links: links(dis.Scope, dis.WebhookCode),
			At: htmlview.Time(dis.DisabledAt), Ago: fmtRelative(dis.DisabledAt, now),
			Reason: htmlview.Clip(dis.Reason, maxReasonShown), FullReason: htmlview.Clip(dis.Reason, maxErrorTitle),
			ConsecutiveFailures: dis.ConsecutiveFailures,
		}
		if !dis.FailingSince.IsZero() {
			dv.FailingSince = htmlview.Time(dis.FailingSince)
		}
		v.Disabled = append(v.Disabled, dv)
	}
	return v
}

// OpenCircuits is the number of circuits not closed (open or half-open).
func (v healthView) OpenCircuits() int { return len(v.Circuits) }

// fmtSmallPercent formats a rate that is usually tiny: "0.02 %" below 1 %,
// as fmtPercent above.
func fmtSmallPercent(f float64) string {
	switch {
	case f > 0 && f < 0.0001:
		return "< 0.01 %"
	case f < 0.01:
		return strconv.FormatFloat(f*100, 'f', 2, 64) + " %"
	}
	return htmlview.Percent(f)
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
