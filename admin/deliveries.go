package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The deliveries list: Client.Deliveries, queued and broadcast deliveries
// together, newest first, one page per cursor ("Older" carries the last
// row's cursor, "Newest" none). Four queries: Deliveries, and Events,
// Webhooks and Scopes for the filters' choices.

// maxErrorShown bounds the error text a list cell holds; the whole error is
// in its title, and on the delivery's page.
const maxErrorShown = 160

// maxErrorTitle bounds the error text of a title attribute.
const maxErrorTitle = 2000

type deliveryRow struct {
	Cursor     string
	DeliveryID string
	Link       string
	Queued     bool
	Scope      string
	Webhook    string
	Event      string
	Status     string
	Leased     bool
	Attempts   int
	NextRetry  htmlview.Stamp
	NextIn     string
	HTTPStatus int
	// Latency is the last attempt's duration, "" when none reached the
	// network.
	Latency   string
	Error     string
	FullError string
	Created   htmlview.Stamp
	Finished  htmlview.Stamp
	Links     hookLinks
}

type deliveriesData struct {
	Filter    deliveryFilter
	Choices   choices
	Statuses  []option
	Filtered  bool
	Rows      []deliveryRow
	PageSize  int
	Paged     bool
	Older     string
	Newest    string
	ResetLink string
	// Bulk is the "Redeliver failed deliveries" form, shown when the list
	// is filtered on failed deliveries.
	Bulk     bulkFilter
	BulkDesc string
	ShowBulk bool
}

func (h *handler) deliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if isAttemptsQuery(q) {
		// A bookmark of the history list that lived here: same filters.
		http.Redirect(w, r, h.link("/attempts", q), http.StatusPermanentRedirect)
		return nil
	}
	f, dq, err := parseDeliveryFilter(q)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// One row more than a page tells whether there is an older page.
	dq.Limit = h.pageSize + 1
	list, err := h.client.Deliveries(ctx, dq)
	if errors.Is(err, webhook.ErrInvalidArgument) && dq.Cursor != "" {
		return badInput("This page's link (its cursor) is not valid: start again from the newest deliveries.")
	}
	if err != nil {
		return htmlview.Failed("load the deliveries", err)
	}
	c, err := h.loadChoices(ctx, f.Webhook, f.Event, f.Scope)
	if err != nil {
		return err
	}
	d := deliveriesData{
		Filter: f, Choices: c, Statuses: deliveryStatusOptions(f.Status), Filtered: !f.empty(),
		PageSize: h.pageSize, Paged: dq.Cursor != "", ResetLink: h.u("/deliveries"),
	}
	if len(list) > h.pageSize {
		list = list[:h.pageSize]
		v := f.values()
		v.Set("cursor", list[len(list)-1].Cursor)
		d.Older = h.link("/deliveries", v)
	}
	if d.Paged {
		d.Newest = h.link("/deliveries", f.values())
	}
	now, links := h.now(), h.webhookLinks(c.hooks)
	for _, dl := range list {
		d.Rows = append(d.Rows, h.deliveryRowOf(dl, now, links))
	}
	if f.Status == webhook.StatusFailed {
		d.ShowBulk = true
		d.Bulk = bulkFilter{Webhook: f.Webhook, Event: f.Event, Scope: f.Scope, Since: f.Since, Back: "deliveries"}
		d.BulkDesc = d.Bulk.describe()
	}
	return h.render(w, r, "deliveries", "Deliveries", "deliveries", d)
}

func (h *handler) deliveryRowOf(dl webhook.Delivery, now time.Time, links func(webhook.Scope, string) hookLinks) deliveryRow {
	s := webhook.Scope{Type: dl.ScopeType, Code: dl.ScopeCode}
	v := deliveryRow{
		Cursor: dl.Cursor, DeliveryID: dl.DeliveryID, Link: h.deliveryLink(dl.DeliveryID), Queued: dl.Queued,
		Scope: s.String(), Webhook: dl.WebhookCode, Event: dl.EventCode, Status: dl.Status, Leased: dl.Leased,
		Attempts: dl.Attempts, HTTPStatus: dl.LastStatusCode,
		Error: shortError(dl.LastError), FullError: htmlview.Clip(dl.LastError, maxErrorTitle),
		Created: htmlview.StampOf(dl.CreatedAt), Links: links(s, dl.WebhookCode),
	}
	if dl.Status == webhook.StatusPending && !dl.NextAttemptAt.IsZero() {
		v.NextRetry, v.NextIn = htmlview.StampOf(dl.NextAttemptAt), fmtRelative(dl.NextAttemptAt, now)
	}
	if dl.FinishedAt != nil {
		v.Finished = htmlview.StampOf(*dl.FinishedAt)
	}
	if dl.LastDuration > 0 {
		v.Latency = fmtDuration(dl.LastDuration)
	}
	return v
}

// shortError is an error as a list cell shows it: without the "webhook: "
// prefix and without the request's method and URL, which the row already
// names ("POST https://x/y answered 503 …" becomes "answered 503 …"),
// clipped to maxErrorShown.
func shortError(s string) string {
	s = strings.TrimPrefix(s, "webhook: ")
	if method, rest, ok := strings.Cut(s, " "); ok && isMethod(method) {
		// "POST https://x/y answered …", or Go's `Post "https://x/y": dial …`
		target, after, ok := strings.Cut(rest, " ")
		target = strings.Trim(strings.TrimSuffix(target, ":"), `"`)
		if ok && (strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://")) {
			s = after
		}
	}
	return htmlview.Clip(s, maxErrorShown)
}

// isMethod reports whether s looks like an HTTP method as errors write it:
// letters only, the first upper case ("POST", or "Post" as net/http does).
func isMethod(s string) bool {
	for i, r := range s {
		if !(r >= 'A' && r <= 'Z' || i > 0 && r >= 'a' && r <= 'z') {
			return false
		}
	}
	return s != ""
}

// outbox answers the outbox's old address with the queued deliveries, its
// filters kept (status, delivery, webhook, event, scope and cursor mean the
// same there).
func (h *handler) outbox(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	q.Set("queued", "1")
	http.Redirect(w, r, h.link("/deliveries", q), http.StatusPermanentRedirect)
	return nil
}

// deliveryLink is the address of a delivery's page.
func (h *handler) deliveryLink(id string) string {
	return h.prefix + "/deliveries/" + url.PathEscape(id)
}
