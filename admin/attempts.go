package admin

import (
	"net/http"
	"strconv"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The attempts list: the history, one row per request, newest first,
// searchable by delivery id, webhook, event, scope, success, status code and
// time range, paginated by keyset ("Older" carries before=<last id>, "Newer"
// after=<first id>, "Newest" neither; never an offset), with the form that
// redelivers the failed queued deliveries the filter matches. Queries:
// History, one more History of one row on a page reached by before= or
// after= (is there a page the other way?), and Events, Webhooks and Scopes
// for the filters' choices: four or five.

type attemptRow struct {
	ID         int64
	Time       htmlview.Stamp
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
	FullError  string
	Links      hookLinks
}

type attemptsData struct {
	Filter    attemptFilter
	Choices   choices
	Statuses  []option
	Filtered  bool
	Rows      []attemptRow
	PageSize  int
	Older     string
	Newer     string
	Newest    string
	Paged     bool
	BulkDesc  string
	Bulk      bulkFilter
	ResetLink string
}

func (h *handler) attempts(w http.ResponseWriter, r *http.Request) error {
	f, q, err := parseAttemptFilter(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	// One row more than a page tells whether the pages go on in the
	// direction of travel: older for the newest page and a before page,
	// newer for an after page (whose rows still come newest first, the
	// ones just above the after id last).
	q.Limit = h.pageSize + 1
	rows, err := h.client.History(ctx, q)
	if err != nil {
		return htmlview.Failed("load the attempts", err)
	}
	c, err := h.loadChoices(ctx, f.Webhook, f.Event, f.Scope)
	if err != nil {
		return err
	}
	d := attemptsData{
		Filter: f, Choices: c, Statuses: statusOptions(f.Status), Filtered: !f.empty(),
		PageSize: h.pageSize, Paged: q.BeforeID > 0 || q.AfterID > 0, ResetLink: h.u("/attempts"),
	}
	more := len(rows) > h.pageSize
	if more {
		if q.AfterID > 0 {
			rows = rows[len(rows)-h.pageSize:]
		} else {
			rows = rows[:h.pageSize]
		}
	}
	links := h.webhookLinks(c.hooks)
	for _, hr := range rows {
		s := webhook.Scope{Type: hr.ScopeType, Code: hr.ScopeCode}
		d.Rows = append(d.Rows, attemptRow{
			ID: hr.ID, Time: htmlview.StampOf(hr.CreatedAt), DeliveryID: hr.DeliveryID,
			Link:  h.deliveryLink(hr.DeliveryID) + "#attempt-" + strconv.FormatInt(hr.ID, 10),
			Scope: s.String(), Webhook: hr.WebhookCode, Event: hr.EventCode,
			Attempt: hr.Attempt, Status: hr.StatusCode, Success: hr.Success, Duration: fmtDuration(hr.Duration),
			Error: shortError(hr.Error), FullError: htmlview.Clip(hr.Error, maxErrorTitle), Links: links(s, hr.WebhookCode),
		})
	}
	if len(rows) > 0 {
		first, last := rows[0].ID, rows[len(rows)-1].ID
		// Against the direction of travel, one row past the page says
		// whether a link is worth showing (keyset, like the page itself).
		older := more && q.AfterID == 0
		if q.AfterID > 0 {
			if older, err = h.historyExists(r, q, last, 0); err != nil {
				return err
			}
		}
		newer := more && q.AfterID > 0
		if q.BeforeID > 0 {
			if newer, err = h.historyExists(r, q, 0, first); err != nil {
				return err
			}
		}
		if older {
			v := f.values()
			v.Set("before", strconv.FormatInt(last, 10))
			d.Older = h.link("/attempts", v)
		}
		if newer {
			v := f.values()
			v.Set("after", strconv.FormatInt(first, 10))
			d.Newer = h.link("/attempts", v)
		}
	}
	if d.Paged {
		d.Newest = h.link("/attempts", f.values())
	}
	d.Bulk = bulkFilter{Webhook: f.Webhook, Event: f.Event, Scope: f.Scope, Since: f.Since, Back: "attempts"}
	d.BulkDesc = d.Bulk.describe()
	return h.render(w, r, "attempts", "Attempts", "attempts", d)
}

// historyExists reports whether an attempt matching q's filters lies below
// beforeID or above afterID (one of them set).
func (h *handler) historyExists(r *http.Request, q webhook.HistoryQuery, beforeID, afterID int64) (bool, error) {
	q.BeforeID, q.AfterID, q.Limit = beforeID, afterID, 1
	rows, err := h.client.History(r.Context(), q)
	return len(rows) > 0, htmlview.Failed("load the attempts", err)
}

// redeliverFailed reschedules the failed queued deliveries a filter
// matches (POST /deliveries/redeliver-failed, from the attempts list or the
// deliveries list filtered on failed ones).
func (h *handler) redeliverFailed(w http.ResponseWriter, r *http.Request) error {
	f, rf, err := parseBulkFilter(r.PostForm)
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		return badInput("Tick the confirmation box to reschedule the failed deliveries.")
	}
	n, err := h.client.RedeliverFailed(r.Context(), rf)
	if err != nil {
		return htmlview.Failed("reschedule the failed deliveries", err)
	}
	h.log.Info("admin: failed deliveries rescheduled", "count", n, "scope", f.Scope, "webhook", f.Webhook, "event", f.Event, "since", f.Since)
	v := f.values()
	if f.Back == "deliveries" { // where the rescheduled ones are now
		v.Set("status", webhook.StatusPending)
		v.Set("queued", "1")
	}
	v.Set("msg", "bulk")
	v.Set("n", strconv.FormatInt(n, 10))
	h.redirect(w, r, "/"+f.Back, v)
	return nil
}
