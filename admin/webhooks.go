package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The webhooks page: webhooks by scope with their subscriptions, whether
// their credentials are set (never their values), their delivery controls,
// their last attempt and failure rate, and their circuit breaker; and its
// actions, enable/disable and close circuit. Queries: Webhooks,
// WebhookStats (two) and Subscriptions, one for every scope shown: four,
// however many scopes there are.

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
	Links               hookLinks
	Circuit             circuitView
	Controls            controlsView
}

type whGroup struct {
	Scope                    string
	Hooks                    []whView
	AttemptsLink, Deliveries string
}

type webhooksData struct {
	Scope        string
	Choices      []option
	Groups       []whGroup
	Total        int
	OpenCircuits int
	ResetLink    string
}

func (h *handler) webhooks(w http.ResponseWriter, r *http.Request) error {
	scope, err := field(r.URL.Query(), "scope")
	if err != nil {
		return err
	}
	ctx := r.Context()
	all, err := h.client.Webhooks(ctx, webhook.WebhookQuery{})
	if err != nil {
		return htmlview.Failed("list the webhooks", err)
	}
	stats, err := h.client.WebhookStats(ctx, h.now().Add(-24*time.Hour))
	if err != nil {
		return htmlview.Failed("summarise the webhooks' failures", err)
	}
	st, sc := parseScope(scope)
	var hooks []webhook.WebhookInfo
	d := webhooksData{Scope: scope, ResetLink: h.u("/webhooks")}
	for i, wh := range all {
		if i == 0 || all[i-1].Scope != wh.Scope {
			d.Choices = append(d.Choices, option{Value: scopeParam(wh.Scope), Label: wh.Scope.String()})
		}
		if st != "" && wh.Scope.Type != st || sc != "" && wh.Scope.Code != sc {
			continue
		}
		hooks = append(hooks, wh)
	}
	if scope != "" {
		d.Choices = selectOption(d.Choices, st+":"+sc)
	}
	subs, err := h.client.Subscriptions(ctx, webhook.WebhookQuery{ScopeType: st, ScopeCode: sc})
	if err != nil {
		return htmlview.Failed("list the subscriptions", err)
	}
	byHook := map[hookKey]webhook.WebhookStats{}
	for _, s := range stats {
		byHook[hookKey{s.Scope, s.WebhookCode}] = s
	}
	now := h.now()
	d.Total = len(hooks)
	for _, wh := range hooks {
		if len(d.Groups) == 0 || d.Groups[len(d.Groups)-1].Scope != wh.Scope.String() {
			filter := url.Values{"scope": {scopeParam(wh.Scope)}}
			d.Groups = append(d.Groups, whGroup{
				Scope:        wh.Scope.String(),
				AttemptsLink: h.link("/attempts", filter), Deliveries: h.link("/deliveries", filter),
			})
		}
		v := whView{
			ID: wh.ID, Anchor: "wh-" + strconv.FormatInt(wh.ID, 10), Code: wh.Code, Name: wh.Name,
			Endpoint: wh.Endpoint, Method: wh.Method, ContentType: wh.ContentType, Enabled: wh.Enabled,
			Events: subs[wh.Scope][wh.Code], Auth: authText(wh), HeaderKeys: wh.HeaderKeys,
			SigningSecrets: wh.SigningSecrets, RetryTimes: wh.RetryTimes, Insecure: wh.InsecureSkipVerify,
			DisabledReason: wh.DisabledReason, ConsecutiveFailures: wh.ConsecutiveFailures, ConfigError: wh.ConfigError,
			ScopeType: wh.Scope.Type, ScopeCode: wh.Scope.Code,
			Links:   h.linksOf(wh.Scope, wh.Code, wh.ID),
			Circuit: circuitOf(wh.Circuit, now), Controls: controlsOf(wh),
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
			v.FailingSince = htmlview.Time(*wh.FailingSince)
		}
		if s, ok := byHook[hookKey{wh.Scope, wh.Code}]; ok {
			v.HasStats, v.LastAt, v.LastSuccess, v.LastStatus = true, htmlview.Time(s.LastAt), s.LastSuccess, s.LastStatusCode
			v.Attempts, v.Failures, v.Rate = s.Attempts, s.Failures, htmlview.Percent(s.FailureRate())
			v.RateClass = htmlview.RateClass(s.FailureRate())
		}
		g := &d.Groups[len(d.Groups)-1]
		g.Hooks = append(g.Hooks, v)
	}
	return h.render(w, r, "webhooks", "Webhooks", "webhooks", d)
}

// hookKey identifies a webhook: its scope and code.
type hookKey struct {
	scope webhook.Scope
	code  string
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

// ---- Circuit breakers and delivery controls ----

// maxReasonShown bounds the circuit reason a page shows (it carries the
// endpoint's error text); the whole of it is in the element's title.
const maxReasonShown = 300

// circuitView is a webhook's circuit breaker as the webhooks page shows it.
type circuitView struct {
	// State is "closed", "open" or "half-open"; Class the CSS class that
	// tells them apart (the text says it too, for readers without colour).
	State, Class string
	Failures     int
	Since        string
	SinceAgo     string
	NextProbe    string
	NextProbeIn  string
	// ProbeDue is set when the next probe's time has passed (half-open).
	ProbeDue   bool
	Probes     int
	Reason     string
	FullReason string
	// Closable is set when an operator can close it (open or half-open).
	Closable bool
}

func circuitOf(ci webhook.Circuit, now time.Time) circuitView {
	v := circuitView{State: string(ci.State), Failures: ci.Failures, Probes: ci.Probes, FullReason: ci.Reason, Reason: htmlview.Clip(ci.Reason, maxReasonShown)}
	switch ci.State {
	case webhook.CircuitOpen:
		v.Class, v.Closable = "circuit-open", true
	case webhook.CircuitHalfOpen:
		v.Class, v.Closable = "circuit-half-open", true
	default:
		v.State, v.Class = string(webhook.CircuitClosed), "circuit-closed"
	}
	if !ci.Since.IsZero() {
		v.Since, v.SinceAgo = htmlview.Time(ci.Since), fmtRelative(ci.Since, now)
	}
	if !ci.NextProbe.IsZero() {
		v.NextProbe, v.NextProbeIn = htmlview.Time(ci.NextProbe), fmtRelative(ci.NextProbe, now)
		v.ProbeDue = !ci.NextProbe.After(now)
	}
	return v
}

// controlsView is a webhook's delivery controls, each "" when not set.
type controlsView struct {
	Ordered     bool
	RateLimit   string
	MaxInFlight int
}

// Any reports whether a control is set.
func (c controlsView) Any() bool { return c.Ordered || c.RateLimit != "" || c.MaxInFlight > 0 }

func controlsOf(wh webhook.WebhookInfo) controlsView {
	c := controlsView{Ordered: wh.Ordered, MaxInFlight: wh.MaxInFlight}
	if wh.RateLimit > 0 {
		c.RateLimit = strconv.FormatFloat(wh.RateLimit, 'g', 4, 64)
	}
	return c
}

// ---- Actions ----

// webhookForm reads the webhook an action's form names.
func webhookForm(f url.Values) (st, sc, code string, err error) {
	st, sc, code = f.Get("scope_type"), f.Get("scope_code"), f.Get("code")
	if st == "" || sc == "" || code == "" || len(st)+len(sc)+len(code) > 3*maxFieldLen {
		return "", "", "", badInput("The form must name the webhook's scope type, scope code and code.")
	}
	return st, sc, code, nil
}

// backToWebhooks answers an action of the webhooks page with 303 See Other
// to the page, keeping its scope filter and the webhook's row in view.
func (h *handler) backToWebhooks(w http.ResponseWriter, f url.Values, v url.Values) {
	if scope, err := field(f, "scope"); err == nil && scope != "" {
		v.Set("scope", scope)
	}
	loc := h.link("/webhooks", v)
	if a := f.Get("anchor"); a != "" && isDigits(a) {
		loc += "#wh-" + a
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != "" && len(s) < 20
}

// toggleWebhook enables or disables a webhook (POST /webhooks/toggle).
func (h *handler) toggleWebhook(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	st, sc, code, err := webhookForm(f)
	if err != nil {
		return err
	}
	var enable bool
	switch f.Get("enabled") {
	case "true":
		enable = true
	case "false":
	default:
		return badInput(`enabled must be "true" or "false".`)
	}
	if err := h.client.SetWebhookEnabled(r.Context(), st, sc, code, enable); err != nil {
		if errors.Is(err, webhook.ErrWebhookNotFound) {
			return webhookMissing(st, sc, code)
		}
		return htmlview.Failed("change the webhook", err)
	}
	h.log.Info("admin: webhook toggled", "scope_type", st, "scope_code", sc, "code", code, "enabled", enable)
	v := url.Values{"msg": {"disabled"}, "wh": {st + "/" + sc + " " + code}}
	if enable {
		v.Set("msg", "enabled")
	}
	h.backToWebhooks(w, f, v)
	return nil
}

// closeCircuit closes a webhook's circuit breaker (POST
// /webhooks/close-circuit).
func (h *handler) closeCircuit(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	st, sc, code, err := webhookForm(f)
	if err != nil {
		return err
	}
	if err := h.client.CloseCircuit(r.Context(), st, sc, code); err != nil {
		if errors.Is(err, webhook.ErrWebhookNotFound) {
			return webhookMissing(st, sc, code)
		}
		return htmlview.Failed("close the webhook's circuit", err)
	}
	h.log.Info("admin: circuit closed", "scope_type", st, "scope_code", sc, "code", code)
	h.backToWebhooks(w, f, url.Values{"msg": {"circuit-closed"}, "wh": {st + "/" + sc + " " + code}})
	return nil
}
