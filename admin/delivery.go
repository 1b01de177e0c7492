package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// A delivery's page (/deliveries/{id}): its summary, then every attempt
// with its request and response (credentials redacted by the library), each
// with its request rebuilt as a curl command line, and a Redeliver button.
// Two queries: Deliveries and History of the delivery id.

// summaryView is one delivery of the id (usually the only one; a broadcast
// given a delivery id sends it to each of its webhooks under that id).
type summaryView struct {
	Scope, Webhook, Event string
	Status                string
	Queued                bool
	Leased                bool
	Attempts              int
	NextRetry             htmlview.Stamp
	NextIn                string
	LastStatus            int
	LastError             string
	Created, Finished     htmlview.Stamp
	Links                 hookLinks
}

type attemptView struct {
	// Seq numbers the attempts of the page from 1, oldest first; Attempt is
	// the library's count, which a redelivery starts again.
	Seq         int
	ID          int64
	Anchor      string
	Attempt     int
	Time        htmlview.Stamp
	Scope       string
	Webhook     string
	Event       string
	Success     bool
	StatusCode  int
	Duration    string
	Error       string
	Method      string
	URL         string
	Params      []htmlview.KV
	ReqHeaders  []htmlview.KV
	ReqBody     string
	ReqBodyKind string
	Curl        string
	HasResponse bool
	RespStatus  int
	RespHeaders []htmlview.KV
	RespBody    string
	Truncated   bool
	Legacy      bool
}

type deliveryData struct {
	ID              string
	Summaries       []summaryView
	Attempts        []attemptView
	Pending         bool
	RedeliverAction string
	Self            string
	AttemptsLink    string
	Capped          bool
}

// maxAttemptsShown bounds the attempts of one delivery the page loads.
const maxAttemptsShown = 500

// deliveryID reads the {id} of a delivery's address.
func deliveryID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxFieldLen {
		return "", badInput("A delivery id is 1 to %d bytes long.", maxFieldLen)
	}
	return id, nil
}

func (h *handler) delivery(w http.ResponseWriter, r *http.Request) error {
	id, err := deliveryID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	list, err := h.client.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id, Limit: 100})
	if err != nil {
		return htmlview.Failed("load the delivery", err)
	}
	hist, err := h.client.History(ctx, webhook.HistoryQuery{DeliveryID: id, Limit: maxAttemptsShown})
	if err != nil {
		return htmlview.Failed("load the delivery's attempts", err)
	}
	if len(hist) == 0 && len(list) == 0 {
		return deliveryMissing(id, "")
	}
	d := deliveryData{
		ID: id, Self: h.deliveryLink(id), Capped: len(hist) == maxAttemptsShown,
		RedeliverAction: h.deliveryLink(id) + "/redeliver",
		AttemptsLink:    h.link("/attempts", url.Values{"delivery": {id}}),
	}
	now := h.now()
	for _, dl := range list {
		s := webhook.Scope{Type: dl.ScopeType, Code: dl.ScopeCode}
		v := summaryView{
			Scope: s.String(), Webhook: dl.WebhookCode, Event: dl.EventCode, Status: dl.Status, Queued: dl.Queued,
			Leased: dl.Leased, Attempts: dl.Attempts, LastStatus: dl.LastStatusCode, LastError: dl.LastError,
			Created: htmlview.StampOf(dl.CreatedAt), Links: h.linksOf(s, dl.WebhookCode, 0),
		}
		if dl.Status == webhook.StatusPending {
			d.Pending = true
			if !dl.NextAttemptAt.IsZero() {
				v.NextRetry, v.NextIn = htmlview.StampOf(dl.NextAttemptAt), fmtRelative(dl.NextAttemptAt, now)
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
	return h.render(w, r, "delivery", "Delivery "+htmlview.Clip(id, 40), "deliveries", d)
}

func attemptOf(hr webhook.History) attemptView {
	a := attemptView{
		ID: hr.ID, Anchor: "attempt-" + strconv.FormatInt(hr.ID, 10), Attempt: hr.Attempt, Time: htmlview.StampOf(hr.CreatedAt),
		Scope: webhook.Scope{Type: hr.ScopeType, Code: hr.ScopeCode}.String(), Webhook: hr.WebhookCode, Event: hr.EventCode,
		Success: hr.Success, StatusCode: hr.StatusCode, Duration: fmtDuration(hr.Duration), Error: hr.Error,
		Method: hr.Request.Method, URL: hr.Request.URL,
		ReqHeaders: htmlview.SortedHeaders(hr.Request.Header), RespHeaders: htmlview.SortedHeaders(hr.Response.Header),
		RespStatus: hr.Response.StatusCode, Truncated: hr.Response.BodyTruncated,
		Legacy: hr.Duration == 0 && hr.Error == "" && len(hr.Response.Header) == 0,
		Curl:   curlCommand(hr.Request),
	}
	for k, v := range hr.Request.Params {
		a.Params = append(a.Params, htmlview.KV{Key: k, Value: htmlview.ValueText(v)})
	}
	sort.Slice(a.Params, func(i, j int) bool { return a.Params[i].Key < a.Params[j].Key })
	switch {
	case len(bytes.TrimSpace(hr.Request.JSON)) > 0:
		a.ReqBody, a.ReqBodyKind = htmlview.PrettyJSON(hr.Request.JSON), "JSON"
	case hr.Request.Form != "":
		a.ReqBody, a.ReqBodyKind = hr.Request.Form, "form"
	}
	a.RespBody = hr.Response.Body
	if json.Valid([]byte(a.RespBody)) {
		a.RespBody = htmlview.PrettyJSON([]byte(a.RespBody))
	}
	a.HasResponse = hr.Response.StatusCode != 0 || hr.Response.Body != "" || len(hr.Response.Header) > 0
	if a.RespStatus == 0 {
		a.RespStatus = hr.StatusCode
	}
	return a
}

// redeliver sends a delivery again (POST /deliveries/{id}/redeliver).
func (h *handler) redeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := deliveryID(r)
	if err != nil {
		return err
	}
	if err := h.client.Redeliver(r.Context(), id); err != nil {
		if errors.Is(err, webhook.ErrDeliveryNotFound) {
			return deliveryMissing(id, ": nothing to redeliver")
		}
		return htmlview.Failed("schedule the redelivery", err)
	}
	h.log.Info("admin: delivery redelivered", "delivery_id", id)
	h.redirect(w, r, "/deliveries/"+url.PathEscape(id), url.Values{"msg": {"redelivered"}})
	return nil
}
