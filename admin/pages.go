package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook"
)

// ---- Overview ----

type overviewData struct {
	Since, Until string
	Hours        hourChart
	Rates        rateChart
	FailureRate  string
	Pending      int64
	Failed       int64
	PendingLink  string
	FailedLink   string
	FailuresLink string
	// Circuits not closed (open or half-open) and worker instances.
	OpenCircuits   int
	HalfOpen       int
	WebhooksLink   string
	InstancesAlive int
	InstancesDead  int
	InstancesLink  string
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := h.now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	counts, err := h.client.HourlyHistory(ctx, since)
	if err != nil {
		h.fail(w, r, "count deliveries per hour", err)
		return
	}
	// The client's clock may run ahead of ours: keep the hours up to now.
	for len(counts) > 0 && counts[len(counts)-1].Hour.After(now) {
		counts = counts[:len(counts)-1]
	}
	stats, err := h.client.WebhookStats(ctx, now.Add(-24*time.Hour))
	if err != nil {
		h.fail(w, r, "summarise webhook failures", err)
		return
	}
	outbox, err := h.client.CountDeliveries(ctx)
	if err != nil {
		h.fail(w, r, "count the outbox deliveries", err)
		return
	}
	hooks, err := h.client.Webhooks(ctx, webhook.WebhookQuery{})
	if err != nil {
		h.fail(w, r, "list the webhooks", err)
		return
	}
	instances, err := h.client.Instances(ctx)
	if err != nil {
		h.fail(w, r, "list the worker instances", err)
		return
	}
	d := overviewData{
		WebhooksLink: h.u("/webhooks"), InstancesLink: h.u("/instances"),
		Since: fmtTime(since), Until: fmtTime(now),
		Hours: buildHourChart(counts), Rates: buildRateChart(stats),
		Pending: outbox[webhook.StatusPending], Failed: outbox[webhook.StatusFailed],
		PendingLink:  h.link("/outbox", url.Values{"status": {webhook.StatusPending}}),
		FailedLink:   h.link("/outbox", url.Values{"status": {webhook.StatusFailed}}),
		FailuresLink: h.link("/deliveries", url.Values{"success": {"no"}, "since": {since.Format("2006-01-02T15:04")}}),
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
	h.render(w, r, http.StatusOK, "overview", "Overview", "overview", d)
}

// ---- Deliveries (history) ----

type histRow struct {
	ID         int64
	Time       string
	DeliveryID string
	Link       string
	Scope      string
	Webhook    string
	Event      string
	Attempt    int
	Status     int
	Success    bool
	Duration   string
	Error      string
}

type deliveriesData struct {
	Form      histForm
	Filtered  bool
	Rows      []histRow
	PageSize  int
	Older     string
	Newer     string
	Newest    string
	Paged     bool
	BulkDesc  string
	Bulk      histForm
	ResetLink string
}

func (h *handler) deliveries(w http.ResponseWriter, r *http.Request) {
	f, q, err := parseHistForm(r.URL.Query())
	if err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	// One row more than a page tells whether the pages go on in the
	// direction of travel: older for the newest page and a before page,
	// newer for an after page (whose rows still come newest first, the
	// ones just above the after id last).
	q.Limit = h.pageSize + 1
	rows, err := h.client.History(r.Context(), q)
	if err != nil {
		h.historyError(w, r, err)
		return
	}
	d := deliveriesData{Form: f, Filtered: !f.empty(), PageSize: h.pageSize, Paged: q.BeforeID > 0 || q.AfterID > 0, ResetLink: h.u("/deliveries")}
	more := len(rows) > h.pageSize
	if more {
		if q.AfterID > 0 {
			rows = rows[len(rows)-h.pageSize:]
		} else {
			rows = rows[:h.pageSize]
		}
	}
	for _, hr := range rows {
		d.Rows = append(d.Rows, histRow{
			ID: hr.ID, Time: fmtTime(hr.CreatedAt), DeliveryID: hr.DeliveryID, Link: h.deliveryLink(hr.DeliveryID),
			Scope: hr.ScopeType + "/" + hr.ScopeCode, Webhook: hr.WebhookCode, Event: hr.EventCode,
			Attempt: hr.Attempt, Status: hr.StatusCode, Success: hr.Success, Duration: fmtDuration(hr.Duration),
			Error: clip(hr.Error, 140),
		})
	}
	if len(rows) > 0 {
		first, last := rows[0].ID, rows[len(rows)-1].ID
		// Against the direction of travel, one row past the page says
		// whether a link is worth showing (keyset, like the page itself).
		older := more && q.AfterID == 0
		if q.AfterID > 0 {
			if older, err = h.historyExists(r, q, last, 0); err != nil {
				h.historyError(w, r, err)
				return
			}
		}
		newer := more && q.AfterID > 0
		if q.BeforeID > 0 {
			if newer, err = h.historyExists(r, q, 0, first); err != nil {
				h.historyError(w, r, err)
				return
			}
		}
		if older {
			v := f.values()
			v.Set("before", strconv.FormatInt(last, 10))
			d.Older = h.link("/deliveries", v)
		}
		if newer {
			v := f.values()
			v.Set("after", strconv.FormatInt(first, 10))
			d.Newer = h.link("/deliveries", v)
		}
	}
	if d.Paged {
		d.Newest = h.link("/deliveries", f.values())
	}
	d.Bulk = histForm{Webhook: f.Webhook, Event: f.Event, Scope: f.Scope, Since: f.Since}
	d.BulkDesc = describeBulk(d.Bulk)
	h.render(w, r, http.StatusOK, "deliveries", "Deliveries", "deliveries", d)
}

// historyExists reports whether a row matching q's filters lies below
// beforeID or above afterID (one of them set).
func (h *handler) historyExists(r *http.Request, q webhook.HistoryQuery, beforeID, afterID int64) (bool, error) {
	q.BeforeID, q.AfterID, q.Limit = beforeID, afterID, 1
	rows, err := h.client.History(r.Context(), q)
	return len(rows) > 0, err
}

func (h *handler) historyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, webhook.ErrInvalidArgument) {
		h.badRequest(w, r, "The search was refused: "+err.Error())
		return
	}
	h.fail(w, r, "load the delivery history", err)
}

func describeBulk(f histForm) string {
	var parts []string
	if f.Scope != "" {
		parts = append(parts, "scope "+f.Scope)
	}
	if f.Webhook != "" {
		parts = append(parts, "webhook "+f.Webhook)
	}
	if f.Event != "" {
		parts = append(parts, "event "+f.Event)
	}
	if f.Since != "" {
		parts = append(parts, "created since "+f.Since)
	}
	if len(parts) == 0 {
		return "every failed delivery of the outbox"
	}
	return "failed deliveries of the outbox with " + strings.Join(parts, ", ")
}

func (h *handler) redeliverFailed(w http.ResponseWriter, r *http.Request) {
	f, rf, err := parseRedeliverFilter(r.PostForm)
	if err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		h.badRequest(w, r, "Tick the confirmation box to reschedule the failed deliveries.")
		return
	}
	n, err := h.client.RedeliverFailed(r.Context(), rf)
	if err != nil {
		if errors.Is(err, webhook.ErrInvalidArgument) {
			h.badRequest(w, r, "The redelivery was refused: "+err.Error())
			return
		}
		h.fail(w, r, "reschedule the failed deliveries", err)
		return
	}
	h.log.Info("admin: failed deliveries rescheduled", "count", n, "scope", f.Scope, "webhook", f.Webhook, "event", f.Event, "since", f.Since)
	v := f.values()
	v.Set("msg", "bulk")
	v.Set("n", strconv.FormatInt(n, 10))
	h.redirect(w, r, "/deliveries", v)
}

// ---- Delivery detail ----

type kv struct{ Key, Value string }

type attemptView struct {
	// Seq numbers the attempts of the page from 1, oldest first; Attempt is
	// the library's count, which a redelivery starts again.
	Seq         int
	ID          int64
	Anchor      string
	Attempt     int
	Time        string
	Scope       string
	Webhook     string
	Event       string
	Success     bool
	StatusCode  int
	Duration    string
	Error       string
	Method      string
	URL         string
	Params      []kv
	ReqHeaders  []kv
	ReqBody     string
	ReqBodyKind string
	HasResponse bool
	RespStatus  int
	RespHeaders []kv
	RespBody    string
	Truncated   bool
	Legacy      bool
}

type outboxView struct {
	Scope          string
	Webhook        string
	Event          string
	Status         string
	Attempts       int
	NextAttemptAt  string
	Leased         bool
	LastStatusCode int
	LastError      string
	CreatedAt      string
	FinishedAt     string
}

type deliveryData struct {
	ID              string
	Attempts        []attemptView
	Outbox          []outboxView
	Pending         bool
	Succeeded       bool
	RedeliverAction string
	Self            string
	HistoryLink     string
	Capped          bool
}

// maxAttemptsShown bounds the attempts of one delivery the detail page loads.
const maxAttemptsShown = 500

func (h *handler) delivery(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxFieldLen {
		h.badRequest(w, r, "A delivery id is 1 to 255 bytes long.")
		return
	}
	ctx := r.Context()
	hist, err := h.client.History(ctx, webhook.HistoryQuery{DeliveryID: id, Limit: maxAttemptsShown})
	if err != nil {
		h.fail(w, r, "load the delivery's attempts", err)
		return
	}
	outbox, err := h.client.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id, Limit: 100})
	if err != nil {
		h.fail(w, r, "load the delivery's outbox state", err)
		return
	}
	if len(hist) == 0 && len(outbox) == 0 {
		h.errorPage(w, r, http.StatusNotFound, "Delivery not found",
			"No attempt in history and no outbox row has the delivery id "+strconv.Quote(clip(id, 80))+".")
		return
	}
	d := deliveryData{
		ID: id, Self: h.deliveryLink(id), Capped: len(hist) == maxAttemptsShown,
		RedeliverAction: h.deliveryLink(id) + "/redeliver",
		HistoryLink:     h.link("/deliveries", url.Values{"delivery": {id}}),
	}
	for i := len(hist) - 1; i >= 0; i-- { // oldest first
		a := attemptOf(hist[i])
		a.Seq = len(d.Attempts) + 1
		d.Attempts = append(d.Attempts, a)
		if hist[i].Success {
			d.Succeeded = true
		}
	}
	for _, o := range outbox {
		v := outboxView{
			Scope: o.ScopeType + "/" + o.ScopeCode, Webhook: o.WebhookCode, Event: o.EventCode, Status: o.Status,
			Attempts: o.Attempts, Leased: o.Leased, LastStatusCode: o.LastStatusCode, LastError: o.LastError,
			CreatedAt: fmtTime(o.CreatedAt),
		}
		if o.Status == webhook.StatusPending {
			v.NextAttemptAt = fmtTime(o.NextAttemptAt)
			d.Pending = true
		}
		if o.FinishedAt != nil {
			v.FinishedAt = fmtTime(*o.FinishedAt)
		}
		d.Outbox = append(d.Outbox, v)
	}
	h.render(w, r, http.StatusOK, "delivery", "Delivery "+clip(id, 40), "deliveries", d)
}

func attemptOf(hr webhook.History) attemptView {
	a := attemptView{
		ID: hr.ID, Anchor: "attempt-" + strconv.FormatInt(hr.ID, 10), Attempt: hr.Attempt, Time: fmtTime(hr.CreatedAt),
		Scope: hr.ScopeType + "/" + hr.ScopeCode, Webhook: hr.WebhookCode, Event: hr.EventCode,
		Success: hr.Success, StatusCode: hr.StatusCode, Duration: fmtDuration(hr.Duration), Error: hr.Error,
		Method: hr.Request.Method, URL: hr.Request.URL,
		ReqHeaders: sortedHeaders(hr.Request.Header), RespHeaders: sortedHeaders(hr.Response.Header),
		RespStatus: hr.Response.StatusCode, Truncated: hr.Response.BodyTruncated,
		Legacy: hr.Duration == 0 && hr.Error == "" && len(hr.Response.Header) == 0,
	}
	for k, v := range hr.Request.Params {
		a.Params = append(a.Params, kv{k, valueText(v)})
	}
	sort.Slice(a.Params, func(i, j int) bool { return a.Params[i].Key < a.Params[j].Key })
	switch {
	case len(bytes.TrimSpace(hr.Request.JSON)) > 0:
		a.ReqBody, a.ReqBodyKind = prettyJSON(hr.Request.JSON), "JSON"
	case hr.Request.Form != "":
		a.ReqBody, a.ReqBodyKind = hr.Request.Form, "form"
	}
	a.RespBody = hr.Response.Body
	if json.Valid([]byte(a.RespBody)) {
		a.RespBody = prettyJSON([]byte(a.RespBody))
	}
	a.HasResponse = hr.Response.StatusCode != 0 || hr.Response.Body != "" || len(hr.Response.Header) > 0
	if a.RespStatus == 0 {
		a.RespStatus = hr.StatusCode
	}
	return a
}

func sortedHeaders(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Key) < strings.ToLower(out[j].Key) })
	return out
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func (h *handler) redeliver(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxFieldLen {
		h.badRequest(w, r, "A delivery id is 1 to 255 bytes long.")
		return
	}
	err := h.client.Redeliver(r.Context(), id)
	switch {
	case errors.Is(err, webhook.ErrDeliveryNotFound):
		h.errorPage(w, r, http.StatusNotFound, "Delivery not found",
			"No attempt in history and no outbox row has the delivery id "+strconv.Quote(clip(id, 80))+": nothing to redeliver.")
		return
	case errors.Is(err, webhook.ErrInvalidArgument):
		h.badRequest(w, r, "The redelivery was refused: "+err.Error())
		return
	case err != nil:
		h.fail(w, r, "schedule the redelivery", err)
		return
	}
	h.log.Info("admin: delivery redelivered", "delivery_id", id)
	h.redirect(w, r, "/deliveries/"+url.PathEscape(id), url.Values{"msg": {"redelivered"}})
}

// ---- Outbox ----

type outboxRow struct {
	outboxView
	ID         int64
	DeliveryID string
	Link       string
}

type outboxData struct {
	Status, Webhook, Event, Scope, Delivery string
	Statuses                                []string
	Rows                                    []outboxRow
	PageSize                                int
	Paged                                   bool
	Older                                   string
	Newest                                  string
	ResetLink                               string
}

// values returns the outbox page's non-empty filters as a query string.
func (d outboxData) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{
		{"status", d.Status}, {"delivery", d.Delivery}, {"webhook", d.Webhook}, {"event", d.Event}, {"scope", d.Scope},
	} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

func (h *handler) outbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var d outboxData
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"status", &d.Status}, {"webhook", &d.Webhook}, {"event", &d.Event}, {"scope", &d.Scope}, {"delivery", &d.Delivery}} {
		if *p.dst, err = field(q, p.name); err != nil {
			h.badRequest(w, r, err.Error())
			return
		}
	}
	d.Statuses = []string{webhook.StatusPending, webhook.StatusSucceeded, webhook.StatusFailed, webhook.StatusCancelled}
	switch d.Status {
	case "", "any":
		d.Status = ""
	case webhook.StatusPending, webhook.StatusSucceeded, webhook.StatusFailed, webhook.StatusCancelled:
	default:
		h.badRequest(w, r, "status must be one of "+strings.Join(d.Statuses, ", ")+".")
		return
	}
	before, err := field(q, "cursor")
	if err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	st, sc := parseScope(d.Scope)
	d.PageSize = h.pageSize
	d.Paged = before != ""
	d.ResetLink = h.u("/outbox")
	// One row more than a page tells whether there is an older page.
	rows, err := h.client.Deliveries(r.Context(), webhook.DeliveryQuery{
		DeliveryID: d.Delivery, ScopeType: st, ScopeCode: sc, WebhookCode: d.Webhook, EventCode: d.Event, Status: d.Status,
		QueuedOnly: true, Cursor: before, Limit: h.pageSize + 1,
	})
	if errors.Is(err, webhook.ErrInvalidArgument) {
		h.badRequest(w, r, "this page link is not valid any more: start from the newest deliveries.")
		return
	}
	if err != nil {
		h.fail(w, r, "load the outbox", err)
		return
	}
	if len(rows) > h.pageSize {
		rows = rows[:h.pageSize]
		v := d.values()
		v.Set("cursor", rows[len(rows)-1].Cursor)
		d.Older = h.link("/outbox", v)
	}
	if d.Paged {
		d.Newest = h.link("/outbox", d.values())
	}
	for _, o := range rows {
		v := outboxRow{ID: o.ID, DeliveryID: o.DeliveryID, Link: h.deliveryLink(o.DeliveryID), outboxView: outboxView{
			Scope: o.ScopeType + "/" + o.ScopeCode, Webhook: o.WebhookCode, Event: o.EventCode, Status: o.Status,
			Attempts: o.Attempts, Leased: o.Leased, LastStatusCode: o.LastStatusCode, LastError: clip(o.LastError, 140),
			CreatedAt: fmtTime(o.CreatedAt),
		}}
		if o.Status == webhook.StatusPending {
			v.NextAttemptAt = fmtTime(o.NextAttemptAt)
		}
		if o.FinishedAt != nil {
			v.FinishedAt = fmtTime(*o.FinishedAt)
		}
		d.Rows = append(d.Rows, v)
	}
	h.render(w, r, http.StatusOK, "outbox", "Outbox", "outbox", d)
}

// ---- Webhooks ----

type whView struct {
	ID                  int64
	Anchor              string
	Code, Name          string
	Endpoint, Method    string
	ContentType         string
	Enabled             bool
	Events              []string
	Auth                string
	HeaderKeys          []string
	SigningSecrets      int
	Timeout             string
	RetryTimes          int
	Insecure            bool
	HasStats            bool
	LastAt              string
	LastSuccess         bool
	LastStatus          int
	Attempts, Failures  int
	Rate                string
	RateClass           string
	DisabledReason      string
	ConsecutiveFailures int
	FailingSince        string
	ConfigError         string
	ScopeType           string
	ScopeCode           string
	HistoryLink         string
	Circuit             circuitView
	Controls            controlsView
}

type whGroup struct {
	Scope       string
	Hooks       []whView
	HistoryLink string
}

type webhooksData struct {
	Scope        string
	Groups       []whGroup
	Total        int
	OpenCircuits int
	ResetLink    string
}

func (h *handler) webhooks(w http.ResponseWriter, r *http.Request) {
	scope, err := field(r.URL.Query(), "scope")
	if err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	ctx := r.Context()
	st, sc := parseScope(scope)
	hooks, err := h.client.Webhooks(ctx, webhook.WebhookQuery{ScopeType: st, ScopeCode: sc})
	if err != nil {
		h.fail(w, r, "list the webhooks", err)
		return
	}
	stats, err := h.client.WebhookStats(ctx, h.now().Add(-24*time.Hour))
	if err != nil {
		h.fail(w, r, "summarise webhook failures", err)
		return
	}
	type key struct {
		scope webhook.Scope
		code  string
	}
	byHook := map[key]webhook.WebhookStats{}
	for _, s := range stats {
		byHook[key{s.Scope, s.WebhookCode}] = s
	}
	subs := map[webhook.Scope]map[string][]string{}
	now := h.now()
	d := webhooksData{Scope: scope, Total: len(hooks), ResetLink: h.u("/webhooks")}
	for _, wh := range hooks {
		if _, ok := subs[wh.Scope]; !ok {
			m, err := h.client.ScopeSubscriptions(ctx, wh.Scope.Type, wh.Scope.Code)
			if err != nil {
				h.fail(w, r, "list the subscriptions", err)
				return
			}
			subs[wh.Scope] = m
		}
		if len(d.Groups) == 0 || d.Groups[len(d.Groups)-1].Scope != wh.Scope.String() {
			d.Groups = append(d.Groups, whGroup{
				Scope:       wh.Scope.String(),
				HistoryLink: h.link("/deliveries", url.Values{"scope": {wh.Scope.Type + ":" + wh.Scope.Code}}),
			})
		}
		v := whView{
			ID: wh.ID, Anchor: "wh-" + strconv.FormatInt(wh.ID, 10), Code: wh.Code, Name: wh.Name,
			Endpoint: wh.Endpoint, Method: wh.Method, ContentType: wh.ContentType, Enabled: wh.Enabled,
			Events: subs[wh.Scope][wh.Code], Auth: authText(wh), HeaderKeys: wh.HeaderKeys,
			SigningSecrets: wh.SigningSecrets, RetryTimes: wh.RetryTimes, Insecure: wh.InsecureSkipVerify,
			DisabledReason: wh.DisabledReason, ConsecutiveFailures: wh.ConsecutiveFailures, ConfigError: wh.ConfigError,
			ScopeType: wh.Scope.Type, ScopeCode: wh.Scope.Code,
			HistoryLink: h.link("/deliveries", url.Values{"scope": {wh.Scope.Type + ":" + wh.Scope.Code}, "webhook": {wh.Code}}),
			Circuit:     circuitOf(wh.Circuit, now), Controls: controlsOf(wh),
		}
		if v.Circuit.Closable {
			d.OpenCircuits++
		}
		if v.Method == "" {
			v.Method = "POST"
		}
		if wh.Timeout > 0 {
			v.Timeout = wh.Timeout.String()
		}
		if wh.FailingSince != nil {
			v.FailingSince = fmtTime(*wh.FailingSince)
		}
		if s, ok := byHook[key{wh.Scope, wh.Code}]; ok {
			v.HasStats, v.LastAt, v.LastSuccess, v.LastStatus = true, fmtTime(s.LastAt), s.LastSuccess, s.LastStatusCode
			v.Attempts, v.Failures, v.Rate = s.Attempts, s.Failures, fmtPercent(s.FailureRate())
			switch rate := s.FailureRate(); {
			case rate >= 0.5:
				v.RateClass = "bad"
			case rate > 0:
				v.RateClass = "warn"
			default:
				v.RateClass = "good"
			}
		}
		g := &d.Groups[len(d.Groups)-1]
		g.Hooks = append(g.Hooks, v)
	}
	h.render(w, r, http.StatusOK, "webhooks", "Webhooks", "webhooks", d)
}

// authText says which credentials a webhook has, never their values.
func authText(wh webhook.WebhookInfo) string {
	switch wh.AuthType {
	case "":
		return "none"
	case "bearer":
		return "bearer, token " + setText(wh.HasToken)
	case "basic":
		return "basic, password " + setText(wh.HasPassword)
	default:
		return wh.AuthType + ", token " + setText(wh.HasToken) + ", password " + setText(wh.HasPassword)
	}
}

func setText(b bool) string {
	if b {
		return "set"
	}
	return "not set"
}

func (h *handler) toggleWebhook(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	st, sc, code, ok := webhookForm(f)
	if !ok {
		h.badRequest(w, r, "The form must name the webhook's scope type, scope code and code.")
		return
	}
	var enable bool
	switch f.Get("enabled") {
	case "true":
		enable = true
	case "false":
	default:
		h.badRequest(w, r, `enabled must be "true" or "false".`)
		return
	}
	err := h.client.SetWebhookEnabled(r.Context(), st, sc, code, enable)
	switch {
	case errors.Is(err, webhook.ErrWebhookNotFound):
		h.webhookNotFound(w, r, st, sc, code)
		return
	case err != nil:
		h.fail(w, r, "change the webhook", err)
		return
	}
	h.log.Info("admin: webhook toggled", "scope_type", st, "scope_code", sc, "code", code, "enabled", enable)
	v := url.Values{"msg": {"disabled"}, "wh": {st + "/" + sc + " " + code}}
	if enable {
		v.Set("msg", "enabled")
	}
	h.backToWebhooks(w, f, v)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != "" && len(s) < 20
}

// ---- Events ----

type eventView struct {
	Code, Name, Description, Info string
	HistoryLink                   string
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	evs, err := h.client.Events(r.Context())
	if err != nil {
		h.fail(w, r, "list the events", err)
		return
	}
	var rows []eventView
	for _, e := range evs {
		v := eventView{Code: e.Code, Name: e.Name, Description: e.Description,
			HistoryLink: h.link("/deliveries", url.Values{"event": {e.Code}})}
		if len(e.Info) > 0 {
			b, err := json.MarshalIndent(e.Info, "", "  ")
			if err == nil {
				v.Info = string(b)
			}
		}
		rows = append(rows, v)
	}
	h.render(w, r, http.StatusOK, "events", "Events", "events", rows)
}

// ---- Scopes and subscriptions ----

// allScopes lists the scopes of webhook_scope and those that only have
// webhooks, sorted.
func (h *handler) allScopes(r *http.Request) ([]webhook.Scope, []webhook.WebhookInfo, error) {
	scopes, err := h.client.Scopes(r.Context())
	if err != nil {
		return nil, nil, err
	}
	hooks, err := h.client.Webhooks(r.Context(), webhook.WebhookQuery{})
	if err != nil {
		return nil, nil, err
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
	Groups    []subGroup
	ResetLink string
}

func (h *handler) subscriptions(w http.ResponseWriter, r *http.Request) {
	filter, err := field(r.URL.Query(), "scope")
	if err != nil {
		h.badRequest(w, r, err.Error())
		return
	}
	ft, fc := parseScope(filter)
	scopes, hooks, err := h.allScopes(r)
	if err != nil {
		h.fail(w, r, "list the scopes", err)
		return
	}
	d := subscriptionsData{Scope: filter, ResetLink: h.u("/subscriptions")}
	for _, s := range scopes {
		if ft != "" && s.Type != ft || fc != "" && s.Code != fc {
			continue
		}
		m, err := h.client.ScopeSubscriptions(r.Context(), s.Type, s.Code)
		if err != nil {
			h.fail(w, r, "list the subscriptions", err)
			return
		}
		evs, err := h.client.ScopeSubscribedEvents(r.Context(), s.Type, s.Code)
		if err != nil {
			h.fail(w, r, "list the subscribed events", err)
			return
		}
		g := subGroup{Scope: s.String(), Events: evs,
			WebhooksLink: h.link("/webhooks", url.Values{"scope": {s.Type + ":" + s.Code}})}
		names := map[string]webhook.WebhookInfo{}
		for _, wh := range hooks {
			if wh.Scope == s {
				names[wh.Code] = wh
			}
		}
		codes := make([]string, 0, len(m))
		for c := range m {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			wh, known := names[c]
			row := subRow{Webhook: c, Name: wh.Name, Known: known, Enabled: wh.Enabled, Events: m[c]}
			for _, e := range m[c] {
				if e == webhook.AllEvents {
					row.All = true
				}
			}
			g.Rows = append(g.Rows, row)
		}
		d.Groups = append(d.Groups, g)
	}
	h.render(w, r, http.StatusOK, "subscriptions", "Subscriptions", "subscriptions", d)
}

type scopeRow struct {
	Type, Code                                              string
	Webhooks, Enabled                                       int
	WebhooksLink, SubscriptionsLink, DeliveriesLink, Events string
}

func (h *handler) scopes(w http.ResponseWriter, r *http.Request) {
	scopes, hooks, err := h.allScopes(r)
	if err != nil {
		h.fail(w, r, "list the scopes", err)
		return
	}
	var rows []scopeRow
	for _, s := range scopes {
		sv := s.Type + ":" + s.Code
		row := scopeRow{Type: s.Type, Code: s.Code,
			WebhooksLink:      h.link("/webhooks", url.Values{"scope": {sv}}),
			SubscriptionsLink: h.link("/subscriptions", url.Values{"scope": {sv}}),
			DeliveriesLink:    h.link("/deliveries", url.Values{"scope": {sv}}),
		}
		for _, wh := range hooks {
			if wh.Scope == s {
				row.Webhooks++
				if wh.Enabled {
					row.Enabled++
				}
			}
		}
		evs, err := h.client.ScopeSubscribedEvents(r.Context(), s.Type, s.Code)
		if err != nil {
			h.fail(w, r, "list the subscribed events", err)
			return
		}
		row.Events = strings.Join(evs, ", ")
		rows = append(rows, row)
	}
	h.render(w, r, http.StatusOK, "scopes", "Scopes", "scopes", rows)
}
