package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
)

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
	v := circuitView{State: string(ci.State), Failures: ci.Failures, Probes: ci.Probes, FullReason: ci.Reason, Reason: clip(ci.Reason, maxReasonShown)}
	switch ci.State {
	case webhook.CircuitOpen:
		v.Class, v.Closable = "circuit-open", true
	case webhook.CircuitHalfOpen:
		v.Class, v.Closable = "circuit-half-open", true
	default:
		v.State, v.Class = string(webhook.CircuitClosed), "circuit-closed"
	}
	if !ci.Since.IsZero() {
		v.Since, v.SinceAgo = fmtTime(ci.Since), fmtRelative(ci.Since, now)
	}
	if !ci.NextProbe.IsZero() {
		v.NextProbe, v.NextProbeIn = fmtTime(ci.NextProbe), fmtRelative(ci.NextProbe, now)
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

func (c controlsView) Any() bool { return c.Ordered || c.RateLimit != "" || c.MaxInFlight > 0 }

func controlsOf(wh webhook.WebhookInfo) controlsView {
	c := controlsView{Ordered: wh.Ordered, MaxInFlight: wh.MaxInFlight}
	if wh.RateLimit > 0 {
		c.RateLimit = strconv.FormatFloat(wh.RateLimit, 'g', 4, 64)
	}
	return c
}

// webhookForm reads the webhook an action's form names.
func webhookForm(f url.Values) (st, sc, code string, ok bool) {
	st, sc, code = f.Get("scope_type"), f.Get("scope_code"), f.Get("code")
	ok = st != "" && sc != "" && code != "" && len(st)+len(sc)+len(code) <= 3*maxFieldLen
	return st, sc, code, ok
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

func (h *handler) webhookNotFound(w http.ResponseWriter, r *http.Request, st, sc, code string) {
	h.errorPage(w, r, http.StatusNotFound, "Webhook not found", "No webhook "+strconv.Quote(clip(code, 80))+" in scope "+strconv.Quote(clip(st+"/"+sc, 80))+".")
}

// closeCircuit closes a webhook's circuit breaker (POST /webhooks/close-circuit).
func (h *handler) closeCircuit(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	st, sc, code, ok := webhookForm(f)
	if !ok {
		h.badRequest(w, r, "The form must name the webhook's scope type, scope code and code.")
		return
	}
	err := h.client.CloseCircuit(r.Context(), st, sc, code)
	switch {
	case errors.Is(err, webhook.ErrWebhookNotFound):
		h.webhookNotFound(w, r, st, sc, code)
		return
	case err != nil:
		h.fail(w, r, "close the webhook's circuit", err)
		return
	}
	h.log.Info("admin: circuit closed", "scope_type", st, "scope_code", sc, "code", code)
	h.backToWebhooks(w, f, url.Values{"msg": {"circuit-closed"}, "wh": {st + "/" + sc + " " + code}})
}

// ---- Instances ----

type instanceView struct {
	ID, Host, Version   string
	PID, Workers        int
	Started, StartedAgo string
	LastSeen, SeenAgo   string
	Alive               bool
	Leased              int
}

type instancesData struct {
	Rows        []instanceView
	Alive, Dead int
	Leased      int64
	PendingLink string
}

func (h *handler) instances(w http.ResponseWriter, r *http.Request) {
	list, err := h.client.Instances(r.Context())
	if err != nil {
		h.fail(w, r, "list the worker instances", err)
		return
	}
	now := h.now()
	d := instancesData{PendingLink: h.link("/outbox", url.Values{"status": {webhook.StatusPending}})}
	for _, in := range list {
		d.Rows = append(d.Rows, instanceView{
			ID: in.ID, Host: in.Host, Version: in.Version, PID: in.PID, Workers: in.Workers,
			Started: fmtTime(in.StartedAt), StartedAgo: fmtRelative(in.StartedAt, now),
			LastSeen: fmtTime(in.LastSeen), SeenAgo: fmtRelative(in.LastSeen, now),
			Alive: in.Alive, Leased: int(in.Leased),
		})
		if in.Alive {
			d.Alive++
		} else {
			d.Dead++
		}
		d.Leased += in.Leased
	}
	h.render(w, r, http.StatusOK, "instances", "Instances", "instances", d)
}

// fmtRelative says how far t is from now: "in 40 s", "3 min ago", "now".
func fmtRelative(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		s = strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		s = strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		s = strconv.Itoa(int(d/time.Hour)) + " h"
	default:
		s = strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
