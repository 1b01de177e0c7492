package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
)

// histForm holds the deliveries page's search fields as typed, to fill the
// form again.
type histForm struct {
	Delivery, Webhook, Event, Scope, Success, Status, Since, Until string
}

// values returns the non-empty fields as a query string.
func (f histForm) values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{
		{"delivery", f.Delivery}, {"webhook", f.Webhook}, {"event", f.Event}, {"scope", f.Scope},
		{"success", f.Success}, {"status", f.Status}, {"since", f.Since}, {"until", f.Until},
	} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

func (f histForm) empty() bool { return len(f.values()) == 0 }

// inputError is a problem with a request's parameters, shown to the
// operator with 400 Bad Request.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

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

// parseHistForm reads the deliveries page's filters into a history query.
func parseHistForm(q url.Values) (histForm, webhook.HistoryQuery, error) {
	var f histForm
	var hq webhook.HistoryQuery
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{
		{"delivery", &f.Delivery}, {"webhook", &f.Webhook}, {"event", &f.Event}, {"scope", &f.Scope},
		{"success", &f.Success}, {"status", &f.Status}, {"since", &f.Since}, {"until", &f.Until},
	} {
		if *p.dst, err = field(q, p.name); err != nil {
			return f, hq, err
		}
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
		hq.StatusCode = n
	}
	if hq.Since, err = parseTime("since", f.Since); err != nil {
		return f, hq, err
	}
	if hq.Until, err = parseTime("until", f.Until); err != nil {
		return f, hq, err
	}
	if !hq.Since.IsZero() && !hq.Until.IsZero() && !hq.Until.After(hq.Since) {
		return f, hq, badInput("until (%s) must be after since (%s).", f.Until, f.Since)
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
		return 0, badInput("%s must be a positive row id, not %q.", name, clip(s, 40))
	}
	return n, nil
}

// parseRedeliverFilter reads the bulk redelivery form's fields.
func parseRedeliverFilter(q url.Values) (histForm, webhook.RedeliverFilter, error) {
	var f histForm
	var rf webhook.RedeliverFilter
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"webhook", &f.Webhook}, {"event", &f.Event}, {"scope", &f.Scope}, {"since", &f.Since}} {
		if *p.dst, err = field(q, p.name); err != nil {
			return f, rf, err
		}
	}
	rf.WebhookCode, rf.EventCode = f.Webhook, f.Event
	rf.ScopeType, rf.ScopeCode = parseScope(f.Scope)
	if rf.Since, err = parseTime("since", f.Since); err != nil {
		return f, rf, err
	}
	return f, rf, nil
}
