package portal

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The delivery log: Client.Deliveries of the session's scope, newest first,
// filtered by endpoint, event and status, one page per cursor; a delivery's
// page with its attempts (Client.History of the scope: requests and
// responses as recorded, credentials redacted by the library); redeliver.

// maxAttemptsShown bounds the attempts of one delivery its page loads.
const maxAttemptsShown = 200

type deliveryFilter struct {
	Endpoint, Event, Status string
}

func (f deliveryFilter) values() url.Values {
	return values("endpoint", f.Endpoint, "event", f.Event, "status", f.Status)
}

type deliveryRow struct {
	DeliveryID, Link   string
	Created            htmlview.Stamp
	Endpoint, Name     string
	Event, EventName   string
	Status             string
	Attempts           int
	HTTPStatus         int
	Error, FullError   string
	NextRetry          htmlview.Stamp
	Queued, InFlight   bool
	EndpointDeliveries string
}

type deliveriesData struct {
	Filter    deliveryFilter
	Endpoints []option
	Events    []option
	Statuses  []option
	Filtered  bool
	Rows      []deliveryRow
	Older     string
	Newest    string
	Reset     string
	PageSize  int
}

// statuses are the delivery statuses, in the filter's order.
func statuses() []string {
	return []string{webhook.StatusPending, webhook.StatusSucceeded, webhook.StatusFailed, webhook.StatusCancelled}
}

// param reads a filter parameter: trimmed, UTF-8, bounded.
func param(l *lang, q url.Values, name string) (string, error) {
	s := strings.TrimSpace(q.Get(name))
	if !utf8.ValidString(s) || len(s) > 255 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", badInput(l, "err.param", name)
	}
	return s, nil
}

func (h *handler) deliveries(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	l := st.lang
	ctx := r.Context()
	q := r.URL.Query()
	var f deliveryFilter
	var cursor string
	for _, p := range []struct {
		name string
		dst  *string
	}{{"endpoint", &f.Endpoint}, {"event", &f.Event}, {"status", &f.Status}, {"cursor", &cursor}} {
		v, err := param(l, q, p.name)
		if err != nil {
			return err
		}
		*p.dst = v
	}
	if f.Status != "" && !contains(statuses(), f.Status) {
		return badInput(l, "deliveries.err.status")
	}
	hooks, err := h.scopeWebhooks(ctx, st.scope)
	if err != nil {
		return err
	}
	events, err := h.client.Events(ctx)
	if err != nil {
		return htmlview.Failed("load the events", err)
	}
	dq := webhook.DeliveryQuery{ScopeType: st.scope.Type, ScopeCode: st.scope.Code, WebhookCode: f.Endpoint,
		EventCode: f.Event, Status: f.Status, Cursor: cursor, Limit: h.pageSize + 1}
	list, err := h.client.Deliveries(ctx, dq)
	if errors.Is(err, webhook.ErrInvalidArgument) && cursor != "" {
		return badInput(l, "deliveries.err.cursor")
	}
	if err != nil {
		return htmlview.Failed("load the deliveries", err)
	}
	d := deliveriesData{Filter: f, Filtered: f != deliveryFilter{}, Reset: h.u("/deliveries"), PageSize: h.pageSize}
	names := map[string]string{}
	for _, wh := range hooks {
		names[wh.Code] = wh.Name
		d.Endpoints = append(d.Endpoints, option{Value: wh.Code, Label: wh.Name + " (" + wh.Code + ")", Selected: wh.Code == f.Endpoint})
	}
	eventNames := map[string]string{webhook.TestEventCode: l.T("event.test")}
	for _, e := range events {
		eventNames[e.Code] = e.Name
		d.Events = append(d.Events, option{Value: e.Code, Label: e.Name, Selected: e.Code == f.Event})
	}
	d.Events = append(d.Events, option{Value: webhook.TestEventCode, Label: l.T("event.test"), Selected: f.Event == webhook.TestEventCode})
	for _, s := range statuses() {
		d.Statuses = append(d.Statuses, option{Value: s, Label: l.T("status." + s), Selected: s == f.Status})
	}
	if len(list) > h.pageSize {
		list = list[:h.pageSize]
		v := f.values()
		v.Set("cursor", list[len(list)-1].Cursor)
		d.Older = h.link("/deliveries", v)
	}
	if cursor != "" {
		d.Newest = h.link("/deliveries", f.values())
	}
	for _, dl := range list {
		if dl.ScopeType != st.scope.Type || dl.ScopeCode != st.scope.Code {
			continue // never another scope's, whatever the query returns
		}
		row := deliveryRow{
			DeliveryID: dl.DeliveryID, Link: h.deliveryLink(dl.DeliveryID), Created: htmlview.StampOf(dl.CreatedAt),
			Endpoint: dl.WebhookCode, Name: names[dl.WebhookCode], Event: dl.EventCode, EventName: eventNames[dl.EventCode],
			Status: dl.Status, Attempts: dl.Attempts, HTTPStatus: dl.LastStatusCode,
			Error: shortError(dl.LastError), FullError: htmlview.Clip(dl.LastError, 2000), Queued: dl.Queued, InFlight: dl.Leased,
		}
		if dl.Status == webhook.StatusPending && !dl.NextAttemptAt.IsZero() {
			row.NextRetry = htmlview.StampOf(dl.NextAttemptAt)
		}
		d.Rows = append(d.Rows, row)
	}
	return h.render(w, r, "deliveries", l.T("deliveries.title"), "deliveries", d)
}

// ---- One delivery ----

type summaryView struct {
	Endpoint, Name    string
	Event, EventName  string
	Status            string
	Attempts          int
	NextRetry         htmlview.Stamp
	LastStatus        int
	LastError         string
	Created, Finished htmlview.Stamp
	Queued, InFlight  bool
}

type attemptView struct {
	Seq         int
	Anchor      string
	Time        htmlview.Stamp
	Endpoint    string
	Success     bool
	StatusCode  int
	Duration    string
	Error       string
	Method, URL string
	Params      []htmlview.KV
	ReqHeaders  []htmlview.KV
	ReqBody     string
	RespStatus  int
	RespHeaders []htmlview.KV
	RespBody    string
	HasResponse bool
	Truncated   bool
}

type deliveryData struct {
	ID        string
	Summaries []summaryView
	Attempts  []attemptView
	Pending   bool
	Redeliver string
	Self      string
	Back      string
	Capped    bool
}

// deliveryID reads the {id} of a delivery's address.
func deliveryID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > 255 || !utf8.ValidString(id) {
		return "", webhook.ErrDeliveryNotFound
	}
	return id, nil
}

func (h *handler) delivery(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	l := st.lang
	id, err := deliveryID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	list, err := h.client.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id, ScopeType: st.scope.Type, ScopeCode: st.scope.Code, Limit: 100})
	if err != nil {
		return htmlview.Failed("load the delivery", err)
	}
	hist, err := h.client.History(ctx, webhook.HistoryQuery{DeliveryID: id, ScopeType: st.scope.Type, ScopeCode: st.scope.Code, Limit: maxAttemptsShown})
	if err != nil {
		return htmlview.Failed("load the delivery's attempts", err)
	}
	list = slicesFilter(list, func(d webhook.Delivery) bool { return d.ScopeType == st.scope.Type && d.ScopeCode == st.scope.Code })
	hist = slicesFilter(hist, func(a webhook.History) bool { return a.ScopeType == st.scope.Type && a.ScopeCode == st.scope.Code })
	if len(list) == 0 && len(hist) == 0 {
		return webhook.ErrDeliveryNotFound
	}
	names, err := h.eventNames(ctx)
	if err != nil {
		return err
	}
	names[webhook.TestEventCode] = l.T("event.test")
	hooks, err := h.scopeWebhooks(ctx, st.scope)
	if err != nil {
		return err
	}
	hookNames := map[string]string{}
	for _, wh := range hooks {
		hookNames[wh.Code] = wh.Name
	}
	d := deliveryData{ID: id, Self: h.deliveryLink(id), Redeliver: h.deliveryLink(id) + "/redeliver", Back: h.u("/deliveries"), Capped: len(hist) == maxAttemptsShown}
	for _, dl := range list {
		v := summaryView{
			Endpoint: dl.WebhookCode, Name: hookNames[dl.WebhookCode], Event: dl.EventCode, EventName: names[dl.EventCode],
			Status: dl.Status, Attempts: dl.Attempts, LastStatus: dl.LastStatusCode, LastError: dl.LastError,
			Created: htmlview.StampOf(dl.CreatedAt), Queued: dl.Queued, InFlight: dl.Leased,
		}
		if dl.Status == webhook.StatusPending {
			d.Pending = true
			if !dl.NextAttemptAt.IsZero() {
				v.NextRetry = htmlview.StampOf(dl.NextAttemptAt)
			}
		}
		if dl.FinishedAt != nil {
			v.Finished = htmlview.StampOf(*dl.FinishedAt)
		}
		d.Summaries = append(d.Summaries, v)
	}
	for i := len(hist) - 1; i >= 0; i-- { // oldest first
		a := attemptOf(hist[i])
		a.Seq = len(d.Attempts) + 1
		d.Attempts = append(d.Attempts, a)
	}
	return h.render(w, r, "delivery", l.T("delivery.title", htmlview.Clip(id, 40)), "deliveries", d)
}

func slicesFilter[T any](s []T, keep func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func attemptOf(hr webhook.History) attemptView {
	a := attemptView{
		Anchor: fmt.Sprintf("attempt-%d", hr.ID), Time: htmlview.StampOf(hr.CreatedAt), Endpoint: hr.WebhookCode,
		Success: hr.Success, StatusCode: hr.StatusCode, Duration: fmtDuration(hr.Duration), Error: strings.TrimPrefix(hr.Error, "webhook: "),
		Method: hr.Request.Method, URL: hr.Request.URL,
		ReqHeaders: htmlview.SortedHeaders(hr.Request.Header), RespHeaders: htmlview.SortedHeaders(hr.Response.Header),
		RespStatus: hr.Response.StatusCode, Truncated: hr.Response.BodyTruncated,
	}
	for k, v := range hr.Request.Params {
		a.Params = append(a.Params, htmlview.KV{Key: k, Value: htmlview.ValueText(v)})
	}
	sort.Slice(a.Params, func(i, j int) bool { return a.Params[i].Key < a.Params[j].Key })
	switch {
	case len(bytes.TrimSpace(hr.Request.JSON)) > 0:
		a.ReqBody = htmlview.PrettyJSON(hr.Request.JSON)
	case hr.Request.Form != "":
		a.ReqBody = hr.Request.Form
	}
	a.RespBody = bodyText([]byte(hr.Response.Body))
	a.HasResponse = hr.Response.StatusCode != 0 || hr.Response.Body != "" || len(hr.Response.Header) > 0
	if a.RespStatus == 0 {
		a.RespStatus = hr.StatusCode
	}
	return a
}

// redeliver sends a delivery of the scope again (POST
// /deliveries/{id}/redeliver), in the scope only: Client.RedeliverIn leaves
// other scopes' deliveries that share the id alone.
func (h *handler) redeliver(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	id, err := deliveryID(r)
	if err != nil {
		return err
	}
	if err := h.client.RedeliverIn(r.Context(), st.scope, id); err != nil {
		if errors.Is(err, webhook.ErrDeliveryNotFound) {
			return err
		}
		return htmlview.Failed("schedule the redelivery", err)
	}
	h.log.Info("portal: delivery redelivered", "scope", st.scope.String(), "delivery_id", id)
	h.redirect(w, r, "/deliveries/"+url.PathEscape(id), values("msg", "redelivered"))
	return nil
}
