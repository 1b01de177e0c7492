package portal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The endpoints page: the scope's webhooks with their health (last
// attempt, failure rate over 24 hours, circuit breaker) and what they
// subscribe to. Queries: Webhooks and ScopeSubscriptions of the scope,
// WebhookStats (of every scope: the library has no per-scope form, the
// other scopes' rows are dropped here) and Events.

// statsWindow is the window of the failure rates.
const statsWindow = 24 * time.Hour

type eventRef struct{ Code, Name string }

type circuitView struct {
	// State is "closed", "open" or "half-open"; Class its CSS class.
	State, Class string
	Failures     int
	Since        string
	NextProbe    string
	Reason       string
}

type endpointRow struct {
	Code, Name, Endpoint, Method string
	Enabled                      bool
	DisabledReason               string
	ConfigError                  string
	Events                       []eventRef
	AllEvents                    bool
	HasStats                     bool
	LastAt                       string
	LastSuccess                  bool
	LastStatus                   int
	Attempts, Failures           int
	Rate, RateClass              string
	Circuit                      circuitView
	Secrets                      int
	Edit, Delete, Secret, Test   string
	Deliveries                   string
}

type endpointsData struct {
	Rows   []endpointRow
	NewURL string
}

func (h *handler) endpoints(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	ctx := r.Context()
	hooks, err := h.scopeWebhooks(ctx, st.scope)
	if err != nil {
		return err
	}
	subs, err := h.client.ScopeSubscriptions(ctx, st.scope.Type, st.scope.Code)
	if err != nil {
		return htmlview.Failed("load the endpoints' events", err)
	}
	stats, err := h.client.WebhookStats(ctx, h.now().Add(-statsWindow))
	if err != nil {
		return htmlview.Failed("summarise the endpoints' deliveries", err)
	}
	byCode := map[string]webhook.WebhookStats{}
	for _, s := range stats {
		if s.Scope == st.scope {
			byCode[s.WebhookCode] = s
		}
	}
	names, err := h.eventNames(ctx)
	if err != nil {
		return err
	}
	d := endpointsData{NewURL: h.u("/endpoints/new")}
	for _, wh := range hooks {
		row := endpointRow{
			Code: wh.Code, Name: wh.Name, Endpoint: wh.Endpoint, Method: wh.Method, Enabled: wh.Enabled,
			DisabledReason: wh.DisabledReason, ConfigError: wh.ConfigError, Secrets: wh.SigningSecrets,
			Circuit: circuitOf(wh.Circuit),
			Edit:    h.endpointLink(wh.Code, "edit"), Delete: h.endpointLink(wh.Code, "delete"),
			Secret: h.endpointLink(wh.Code, "secret"), Test: h.endpointLink(wh.Code, "test"),
			Deliveries: h.link("/deliveries", values("endpoint", wh.Code)),
		}
		for _, e := range subs[wh.Code] {
			if e == webhook.AllEvents {
				row.AllEvents = true
				continue
			}
			row.Events = append(row.Events, eventRef{Code: e, Name: names[e]})
		}
		if s, ok := byCode[wh.Code]; ok && s.Attempts > 0 {
			row.HasStats, row.LastAt, row.LastSuccess, row.LastStatus = true, htmlview.Time(s.LastAt), s.LastSuccess, s.LastStatusCode
			row.Attempts, row.Failures, row.Rate, row.RateClass = s.Attempts, s.Failures, htmlview.Percent(s.FailureRate()), htmlview.RateClass(s.FailureRate())
		}
		d.Rows = append(d.Rows, row)
	}
	return h.render(w, r, "endpoints", st.lang.T("endpoints.title"), "endpoints", d)
}

// scopeWebhooks lists the webhooks of the session's scope.
func (h *handler) scopeWebhooks(ctx context.Context, scope webhook.Scope) ([]webhook.WebhookInfo, error) {
	all, err := h.client.Webhooks(ctx, webhook.WebhookQuery{ScopeType: scope.Type, ScopeCode: scope.Code})
	if err != nil {
		return nil, htmlview.Failed("list the endpoints", err)
	}
	out := all[:0]
	for _, wh := range all {
		if wh.Scope == scope {
			out = append(out, wh)
		}
	}
	return out, nil
}

// eventNames maps the catalog's event codes to their names.
func (h *handler) eventNames(ctx context.Context) (map[string]string, error) {
	events, err := h.client.Events(ctx)
	if err != nil {
		return nil, htmlview.Failed("load the events", err)
	}
	m := make(map[string]string, len(events)+1)
	for _, e := range events {
		m[e.Code] = e.Name
	}
	return m, nil
}

func circuitOf(ci webhook.Circuit) circuitView {
	v := circuitView{State: string(ci.State), Failures: ci.Failures, Reason: htmlview.Clip(ci.Reason, 200)}
	switch ci.State {
	case webhook.CircuitOpen:
		v.Class = "circuit-open"
	case webhook.CircuitHalfOpen:
		v.Class = "circuit-half-open"
	default:
		v.State, v.Class, v.Reason = string(webhook.CircuitClosed), "circuit-closed", ""
	}
	if !ci.Since.IsZero() {
		v.Since = htmlview.Time(ci.Since)
	}
	if !ci.NextProbe.IsZero() {
		v.NextProbe = htmlview.Time(ci.NextProbe)
	}
	return v
}

// ---- One endpoint ----

// endpointCode reads the {code} of an endpoint's address.
func endpointCode(r *http.Request) (string, error) {
	code := r.PathValue("code")
	if code == "" || len(code) > 255 || !utf8.ValidString(code) {
		return "", &requestError{status: http.StatusNotFound, heading: "err.endpoint.heading", msg: stateOf(r).lang.T("err.endpoint.msg")}
	}
	return code, nil
}

// loadEndpoint returns one webhook of the session's scope; another scope's
// code is simply not found there.
func (h *handler) loadEndpoint(r *http.Request) (webhook.WebhookInfo, error) {
	code, err := endpointCode(r)
	if err != nil {
		return webhook.WebhookInfo{}, err
	}
	wh, err := h.client.Webhook(r.Context(), stateOf(r).scope, code)
	if err != nil {
		if errors.Is(err, webhook.ErrWebhookNotFound) {
			return wh, err
		}
		return wh, htmlview.Failed("load the endpoint", err)
	}
	return wh, nil
}

// actor names the session in the change log.
func actor(st *reqState) string { return "portal:" + st.scope.String() }

// conflict is the answer to a change made on a stale version of an
// endpoint (ErrPreconditionFailed).
func (h *handler) conflict(l *lang, code string) error {
	return &requestError{status: http.StatusConflict, heading: "err.conflict.heading", msg: l.T("err.conflict.msg"),
		back: h.endpointLink(code, "edit"), backLabel: l.T("err.conflict.reload")}
}

// ---- Delete ----

type deleteData struct {
	Code, Name, Endpoint string
	ETag                 string
	Action, Cancel       string
}

func (h *handler) confirmDelete(w http.ResponseWriter, r *http.Request) error {
	wh, err := h.loadEndpoint(r)
	if err != nil {
		return err
	}
	l := stateOf(r).lang
	return h.render(w, r, "delete", l.T("delete.title", wh.Name), "endpoints", deleteData{
		Code: wh.Code, Name: wh.Name, Endpoint: wh.Endpoint, ETag: wh.ETag,
		Action: h.endpointLink(wh.Code, "delete"), Cancel: h.endpointLink(wh.Code, "edit"),
	})
}

func (h *handler) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	code, err := endpointCode(r)
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		return badInput(st.lang, "delete.confirm.missing")
	}
	err = h.client.DeleteWebhook(r.Context(), st.scope, code, webhook.ChangeOptions{Actor: actor(st), IfMatch: r.PostForm.Get("etag")})
	switch {
	case errors.Is(err, webhook.ErrPreconditionFailed):
		return h.conflict(st.lang, code)
	case errors.Is(err, webhook.ErrWebhookNotFound):
		return err
	case err != nil:
		return htmlview.Failed("delete the endpoint", err)
	}
	h.log.Info("portal: endpoint deleted", "scope", st.scope.String(), "code", code)
	h.redirect(w, r, "/", values("msg", "deleted"))
	return nil
}

// ---- Signing secret ----

// graceChoices are the grace periods offered when rotating a signing
// secret, by form value.
func graceChoices() []struct {
	Value string
	D     time.Duration
} {
	return []struct {
		Value string
		D     time.Duration
	}{{"0", 0}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"168h", 7 * 24 * time.Hour}}
}

type secretFormData struct {
	Code, Name string
	Secrets    int
	ETag       string
	Action     string
	Cancel     string
	Graces     []option
}

type option struct {
	Value, Label string
	Selected     bool
}

func (h *handler) secretForm(w http.ResponseWriter, r *http.Request) error {
	wh, err := h.loadEndpoint(r)
	if err != nil {
		return err
	}
	l := stateOf(r).lang
	d := secretFormData{Code: wh.Code, Name: wh.Name, Secrets: wh.SigningSecrets, ETag: wh.ETag,
		Action: h.endpointLink(wh.Code, "secret"), Cancel: h.endpointLink(wh.Code, "edit")}
	for _, g := range graceChoices() {
		d.Graces = append(d.Graces, option{Value: g.Value, Label: l.T("grace." + g.Value), Selected: g.Value == "24h"})
	}
	return h.render(w, r, "secret_form", l.T("secret.title", wh.Name), "endpoints", d)
}

// secretData is the page that shows a new signing secret, once.
type secretData struct {
	Heading    string
	Intro      string
	Code, Name string
	Secret     string
	Back       string
}

func (h *handler) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	code, err := endpointCode(r)
	if err != nil {
		return err
	}
	grace, ok := time.Duration(0), false
	for _, g := range graceChoices() {
		if g.Value == r.PostForm.Get("grace") {
			grace, ok = g.D, true
		}
	}
	if !ok {
		return badInput(st.lang, "secret.grace.bad")
	}
	secret, err := h.client.RotateWebhookSecret(r.Context(), st.scope, code, grace, webhook.ChangeOptions{Actor: actor(st), IfMatch: r.PostForm.Get("etag")})
	switch {
	case errors.Is(err, webhook.ErrPreconditionFailed):
		return h.conflict(st.lang, code)
	case errors.Is(err, webhook.ErrWebhookNotFound):
		return err
	case err != nil:
		return htmlview.Failed("rotate the signing secret", err)
	}
	h.log.Info("portal: signing secret rotated", "scope", st.scope.String(), "code", code, "grace", grace.String())
	intro := st.lang.T("secret.new.intro0")
	if grace > 0 {
		intro = st.lang.T("secret.new.intro", st.lang.T("grace."+r.PostForm.Get("grace")))
	}
	return h.render(w, r, "secret", st.lang.T("secret.new.heading"), "endpoints", secretData{
		Heading: st.lang.T("secret.new.heading"), Intro: intro, Code: code, Secret: secret, Back: h.u("/"),
	})
}

// ---- Test event ----

// testView is the outcome of a test request.
type testView struct {
	Success      bool
	StatusCode   int
	Duration     string
	Error        string
	Body         string
	HasBody      bool
	DeliveryLink string
}

func testViewOf(res *webhook.DeliveryResult, err error) *testView {
	v := &testView{}
	if res != nil {
		v.Success, v.StatusCode, v.Duration = res.Success, res.StatusCode, fmtDuration(res.Duration)
		v.Body, v.HasBody = bodyText(res.ResponseBody), res.ResponseBody != nil
		if res.Err != nil {
			v.Error = strings.TrimPrefix(res.Err.Error(), "webhook: ")
		}
	}
	if err != nil && v.Error == "" {
		v.Error = strings.TrimPrefix(err.Error(), "webhook: ")
	}
	return v
}

type testData struct {
	Code, Name, Endpoint string
	Result               *testView
	Again, Back          string
}

func (h *handler) testEndpoint(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	wh, err := h.loadEndpoint(r)
	if err != nil {
		return err
	}
	res, err := h.client.SendTestEvent(r.Context(), st.scope, wh.Code, webhook.ChangeOptions{Actor: actor(st)})
	if errors.Is(err, webhook.ErrWebhookNotFound) {
		return err
	}
	if err != nil && res.DeliveryID == "" {
		return htmlview.Failed("send the test event", err)
	}
	v := testViewOf(&res, err)
	if res.DeliveryID != "" {
		v.DeliveryLink = h.deliveryLink(res.DeliveryID)
	}
	h.log.Info("portal: test event sent", "scope", st.scope.String(), "code", wh.Code, "success", res.Success, "status", res.StatusCode)
	return h.render(w, r, "test", st.lang.T("test.title", wh.Name), "endpoints", testData{
		Code: wh.Code, Name: wh.Name, Endpoint: wh.Endpoint, Result: v, Again: h.endpointLink(wh.Code, "test"), Back: h.u("/"),
	})
}

// values returns the non-empty pairs as a query string.
func values(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v[pairs[i]] = []string{pairs[i+1]}
		}
	}
	return v
}

// contains reports whether list holds s.
func contains(list []string, s string) bool { return slices.Contains(list, s) }
