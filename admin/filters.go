package admin

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// field returns a trimmed parameter, refusing over-long or invalid text.
func field(q url.Values, name string) (string, error) {
	s := strings.TrimSpace(q.Get(name))
	if !utf8.ValidString(s) {
		return "", badInput("%s is not valid UTF-8 text.", name)
	}
	if len(s) > maxFieldLen {
		return "", badInput("%s is longer than %d bytes.", name, maxFieldLen)
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return "", badInput("%s contains a control character.", name)
		}
	}
	return s, nil
}

// param names a parameter and where field puts it.
type param struct {
	name string
	dst  *string
}

// fields reads several parameters with field, in order.
func fields(q url.Values, ps ...param) error {
	for _, p := range ps {
		s, err := field(q, p.name)
		if err != nil {
			return err
		}
		*p.dst = s
	}
	return nil
}

// parseScope reads "type:code" (or "type/code", or a bare "type").
func parseScope(s string) (typ, code string) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	}
	return s, ""
}

// scopeParam is a scope as the filters write it, "type:code".
func scopeParam(s webhook.Scope) string { return s.Type + ":" + s.Code }

// parseTime reads an RFC 3339 time or an HTML datetime-local value
// (taken as UTC).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badInput("%s %q is not a time: use YYYY-MM-DDTHH:MM (UTC) or RFC 3339 such as 2024-05-01T12:00:00+02:00.", name, s)
}

// parseRange reads the since and until parameters.
func parseRange(since, until string) (time.Time, time.Time, error) {
	s, err := parseTime("since", since)
	if err != nil {
		return s, time.Time{}, err
	}
	u, err := parseTime("until", until)
	if err != nil {
		return s, u, err
	}
	if !s.IsZero() && !u.IsZero() && !u.After(s) {
		return s, u, badInput("until (%s) must be after since (%s).", until, since)
	}
	return s, u, nil
}

// values returns the non-empty pairs as a query string.
func values(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	return v
}

// ---- The attempts list (history) ----

// attemptFilter holds the attempts page's search fields as typed, to fill
// the form again.
type attemptFilter struct {
	Delivery, Webhook, Event, Scope, Success, Status, Since, Until string
}

// values returns the non-empty fields as a query string.
func (f attemptFilter) values() url.Values {
	return values("delivery", f.Delivery, "webhook", f.Webhook, "event", f.Event, "scope", f.Scope,
		"success", f.Success, "status", f.Status, "since", f.Since, "until", f.Until)
}

func (f attemptFilter) empty() bool { return len(f.values()) == 0 }

// parseAttemptFilter reads the attempts page's filters into a history query.
func parseAttemptFilter(q url.Values) (attemptFilter, webhook.HistoryQuery, error) {
	var f attemptFilter
	var hq webhook.HistoryQuery
	err := fields(q, param{"delivery", &f.Delivery}, param{"webhook", &f.Webhook}, param{"event", &f.Event}, param{"scope", &f.Scope},
		param{"success", &f.Success}, param{"status", &f.Status}, param{"since", &f.Since}, param{"until", &f.Until})
	if err != nil {
		return f, hq, err
	}
	hq.DeliveryID, hq.WebhookCode, hq.EventCode = f.Delivery, f.Webhook, f.Event
	hq.ScopeType, hq.ScopeCode = parseScope(f.Scope)
	switch strings.ToLower(f.Success) {
	case "", "any":
		f.Success = ""
	case "yes", "true", "1":
		t := true
		hq.Success, f.Success = &t, "yes"
	case "no", "false", "0":
		fl := false
		hq.Success, f.Success = &fl, "no"
	default:
		return f, hq, badInput("success must be any, yes or no, not %q.", f.Success)
	}
	if f.Status != "" {
		n, err := strconv.Atoi(f.Status)
		if err != nil || n < 100 || n > 999 {
			return f, hq, badInput("status must be an HTTP status code such as 500, not %q.", f.Status)
		}
		hq.StatusCode, f.Status = n, strconv.Itoa(n)
	}
	if hq.Since, hq.Until, err = parseRange(f.Since, f.Until); err != nil {
		return f, hq, err
	}
	if hq.BeforeID, err = rowID(q, "before"); err != nil {
		return f, hq, err
	}
	if hq.AfterID, err = rowID(q, "after"); err != nil {
		return f, hq, err
	}
	if hq.BeforeID > 0 && hq.AfterID > 0 {
		return f, hq, badInput("before and after cannot be used together: a page is either older or newer than a row.")
	}
	return f, hq, nil
}

// rowID reads a keyset pagination parameter: a positive row id, or 0 when
// the parameter is absent.
func rowID(q url.Values, name string) (int64, error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, badInput("%s must be a positive row id, not %q.", name, htmlview.Clip(s, 40))
	}
	return n, nil
}

// isAttemptsQuery reports whether a query of /deliveries is one of the
// history list that lived there before (success=, before=, after= or an
// HTTP status code): such a bookmark is sent on to /attempts.
func isAttemptsQuery(q url.Values) bool {
	if q.Has("success") || q.Has("before") || q.Has("after") {
		return true
	}
	s := strings.TrimSpace(q.Get("status"))
	_, err := strconv.Atoi(s)
	return s != "" && err == nil
}

// ---- The deliveries list ----

// deliveryStatuses are the statuses a delivery can have, in the order the
// status filter lists them.
func deliveryStatuses() []string {
	return []string{webhook.StatusPending, webhook.StatusSucceeded, webhook.StatusFailed, webhook.StatusCancelled}
}

// deliveryFilter holds the deliveries page's search fields as typed.
type deliveryFilter struct {
	Delivery, Webhook, Event, Scope, Status, Since, Until string
	Queued                                                bool
}

// values returns the non-empty fields as a query string.
func (f deliveryFilter) values() url.Values {
	v := values("delivery", f.Delivery, "webhook", f.Webhook, "event", f.Event, "scope", f.Scope,
		"status", f.Status, "since", f.Since, "until", f.Until)
	if f.Queued {
		v.Set("queued", "1")
	}
	return v
}

func (f deliveryFilter) empty() bool { return len(f.values()) == 0 }

// parseDeliveryFilter reads the deliveries page's filters into a query.
func parseDeliveryFilter(q url.Values) (deliveryFilter, webhook.DeliveryQuery, error) {
	var f deliveryFilter
	var dq webhook.DeliveryQuery
	var queued string
	err := fields(q, param{"delivery", &f.Delivery}, param{"webhook", &f.Webhook}, param{"event", &f.Event}, param{"scope", &f.Scope},
		param{"status", &f.Status}, param{"since", &f.Since}, param{"until", &f.Until}, param{"queued", &queued}, param{"cursor", &dq.Cursor})
	if err != nil {
		return f, dq, err
	}
	switch strings.ToLower(queued) {
	case "", "0", "no", "false":
	case "1", "yes", "true", "on":
		f.Queued = true
	default:
		return f, dq, badInput("queued must be 1 (queued deliveries only) or absent, not %q.", htmlview.Clip(queued, 40))
	}
	f.Status = strings.ToLower(f.Status)
	switch f.Status {
	case "", "any":
		f.Status = ""
	default:
		if !slices.Contains(deliveryStatuses(), f.Status) {
			return f, dq, badInput("status must be one of %s, not %q.", strings.Join(deliveryStatuses(), ", "), htmlview.Clip(f.Status, 40))
		}
	}
	dq.DeliveryID, dq.WebhookCode, dq.EventCode, dq.Status, dq.QueuedOnly = f.Delivery, f.Webhook, f.Event, f.Status, f.Queued
	dq.ScopeType, dq.ScopeCode = parseScope(f.Scope)
	if dq.Since, dq.Until, err = parseRange(f.Since, f.Until); err != nil {
		return f, dq, err
	}
	return f, dq, nil
}

// ---- Bulk redelivery ----

// bulkFilter is what the "Redeliver failed deliveries" form selects.
type bulkFilter struct {
	Webhook, Event, Scope, Since string
	// Back is the list the form was posted from ("attempts" or
	// "deliveries"), where the answer leads.
	Back string
}

func (f bulkFilter) values() url.Values {
	return values("webhook", f.Webhook, "event", f.Event, "scope", f.Scope, "since", f.Since)
}

// describe says which deliveries the form reschedules.
func (f bulkFilter) describe() string {
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
		return "every failed queued delivery"
	}
	return "failed queued deliveries with " + strings.Join(parts, ", ")
}

// parseBulkFilter reads the bulk redelivery form's fields.
func parseBulkFilter(q url.Values) (bulkFilter, webhook.RedeliverFilter, error) {
	var f bulkFilter
	var rf webhook.RedeliverFilter
	err := fields(q, param{"webhook", &f.Webhook}, param{"event", &f.Event}, param{"scope", &f.Scope}, param{"since", &f.Since}, param{"back", &f.Back})
	if err != nil {
		return f, rf, err
	}
	if f.Back != "deliveries" {
		f.Back = "attempts"
	}
	rf.WebhookCode, rf.EventCode = f.Webhook, f.Event
	rf.ScopeType, rf.ScopeCode = parseScope(f.Scope)
	if rf.Since, err = parseTime("since", f.Since); err != nil {
		return f, rf, err
	}
	return f, rf, nil
}

// ---- The choices of the filters ----

// option is one choice of a filter's <select>.
type option struct {
	Value, Label string
	Selected     bool
}

// choices are the known values of the list filters: webhook codes, event
// codes and scopes.
type choices struct {
	Webhooks, Events, Scopes []option
	hooks                    []webhook.WebhookInfo
}

// loadChoices reads the known webhooks, events and scopes (one query each)
// and marks the selected ones; a selected value that is not known (a
// webhook removed since its history was written) is kept as a choice.
func (h *handler) loadChoices(ctx context.Context, webhookCode, eventCode, scope string) (choices, error) {
	events, err := h.client.Events(ctx)
	if err != nil {
		return choices{}, htmlview.Failed("list the events for the filters", err)
	}
	scopes, hooks, err := h.allScopes(ctx)
	if err != nil {
		return choices{}, err
	}
	c := choices{hooks: hooks}
	var codes []string
	for _, wh := range hooks {
		codes = append(codes, wh.Code)
	}
	slices.Sort(codes)
	for _, code := range slices.Compact(codes) {
		c.Webhooks = append(c.Webhooks, option{Value: code, Label: code})
	}
	for _, e := range events {
		c.Events = append(c.Events, option{Value: e.Code, Label: e.Code})
	}
	for _, s := range scopes {
		c.Scopes = append(c.Scopes, option{Value: scopeParam(s), Label: s.String()})
	}
	c.Webhooks = selectOption(c.Webhooks, webhookCode)
	c.Events = selectOption(c.Events, eventCode)
	st, sc := parseScope(scope)
	if scope != "" {
		scope = st + ":" + sc
	}
	c.Scopes = selectOption(c.Scopes, scope)
	return c, nil
}

// selectOption marks the option whose value is v, adding it when missing.
func selectOption(opts []option, v string) []option {
	if v == "" {
		return opts
	}
	for i := range opts {
		if opts[i].Value == v {
			opts[i].Selected = true
			return opts
		}
	}
	return append(opts, option{Value: v, Label: v + " (unknown)", Selected: true})
}

// statusOptions are the choices of the attempts page's status code filter:
// the codes webhook receivers commonly answer.
func statusOptions(selected string) []option {
	codes := []int{200, 201, 202, 204, 301, 302, 307, 308, 400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504}
	opts := make([]option, 0, len(codes)+1)
	for _, code := range codes {
		s := strconv.Itoa(code)
		opts = append(opts, option{Value: s, Label: s})
	}
	return selectOption(opts, selected)
}

// deliveryStatusOptions are the choices of the deliveries page's status
// filter.
func deliveryStatusOptions(selected string) []option {
	var opts []option
	for _, s := range deliveryStatuses() {
		opts = append(opts, option{Value: s, Label: s})
	}
	return selectOption(opts, selected)
}
