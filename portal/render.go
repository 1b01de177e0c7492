package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// page is what every template gets.
type page struct {
	*lang
	AppTitle  string
	PageTitle string
	LogoURL   string
	Nav       string
	Authed    bool
	Scope     string
	Expires   string
	CSRF      string
	Flash     string
	Data      any
}

type navItem struct{ Key, Label, Path string }

// Navigation is the main navigation, in order.
func (p page) Navigation() []navItem {
	return []navItem{
		{"endpoints", p.T("nav.endpoints"), "/"},
		{"deliveries", p.T("nav.deliveries"), "/deliveries"},
	}
}

func (h *handler) funcs() template.FuncMap {
	return template.FuncMap{
		"u":    h.u,
		"join": strings.Join,
		"dict": htmlview.Dict,
	}
}

// u builds a link to a portal path under the prefix.
func (h *handler) u(p string) string {
	return h.prefix + p
}

// link builds a link to a portal path with a query string.
func (h *handler) link(p string, q url.Values) string {
	s := h.prefix + p
	if enc := q.Encode(); enc != "" {
		s += "?" + enc
	}
	return s
}

// endpointLink is the address of one of an endpoint's pages ("edit",
// "delete", "secret", "test").
func (h *handler) endpointLink(code, what string) string {
	return h.prefix + "/endpoints/" + url.PathEscape(code) + "/" + what
}

// deliveryLink is the address of a delivery's page.
func (h *handler) deliveryLink(id string) string {
	return h.prefix + "/deliveries/" + url.PathEscape(id)
}

// render writes a page with status 200.
func (h *handler) render(w http.ResponseWriter, r *http.Request, name, title, nav string, data any) error {
	return h.renderStatus(w, r, http.StatusOK, name, title, nav, data)
}

// renderStatus writes a page; a template that fails to execute is an error
// (nothing is written then).
func (h *handler) renderStatus(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) error {
	t, ok := h.pages[name]
	if !ok {
		return fmt.Errorf("portal: no template %q", name)
	}
	st := stateOf(r)
	p := page{lang: st.lang, AppTitle: h.title, PageTitle: title, LogoURL: h.logo, Nav: nav, Authed: st.authed, Data: data}
	if st.authed {
		p.Scope, p.CSRF, p.Expires = st.scope.String(), st.csrf, htmlview.Time(st.expiry)
		p.Flash = flashMessage(st.lang, r.URL.Query())
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return htmlview.Failed("render the page "+name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
	return nil
}

// redirect answers a POST with 303 See Other to a portal path.
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, p string, q url.Values) {
	http.Redirect(w, r, h.link(p, q), http.StatusSeeOther)
}

// flashMessage turns the msg query parameter set by a redirect after a
// POST into fixed text, so that a crafted link cannot put prose on a page.
func flashMessage(l *lang, q url.Values) string {
	switch m := q.Get("msg"); m {
	case "saved", "deleted", "redelivered", "created", "saved-tested":
		return l.T("flash." + m)
	}
	return ""
}

// ---- The one error path ----

// Every page and action is a handlerFunc: it writes its response, or
// returns an error that fail turns into the error page.
//
//   - requestError: something the user asked for that cannot be done (a
//     bad parameter, a refused form, a missing record): its status and
//     message are shown.
//   - webhook.ErrWebhookNotFound, webhook.ErrDeliveryNotFound: 404.
//   - webhook.ErrPreconditionFailed: 409, "changed meanwhile, reload".
//   - anything else: 500 with a reference; the error itself is logged,
//     never shown.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// requestError is a refusal shown as it is: heading is a message key, msg
// the translated text.
type requestError struct {
	status  int
	heading string
	msg     string
	// back is a link the error page offers ("" for the endpoints list).
	back, backLabel string
}

func (e *requestError) Error() string { return e.heading + ": " + e.msg }

// serve adapts a handlerFunc to net/http through the one error path.
func (h *handler) serve(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

type errorData struct {
	Status          int
	Heading         string
	Message         string
	Back, BackLabel string
}

// fail answers a request with the error page err calls for.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	l := stateOf(r).lang
	var re *requestError
	switch {
	case errors.As(err, &re):
		h.errorPage(w, r, errorData{Status: re.status, Heading: l.T(re.heading), Message: re.msg, Back: re.back, BackLabel: re.backLabel})
	case errors.Is(err, webhook.ErrWebhookNotFound):
		h.errorPage(w, r, errorData{Status: http.StatusNotFound, Heading: l.T("err.endpoint.heading"), Message: l.T("err.endpoint.msg")})
	case errors.Is(err, webhook.ErrDeliveryNotFound):
		h.errorPage(w, r, errorData{Status: http.StatusNotFound, Heading: l.T("err.delivery.heading"), Message: l.T("err.delivery.msg")})
	case errors.Is(err, webhook.ErrPreconditionFailed):
		h.errorPage(w, r, errorData{Status: http.StatusConflict, Heading: l.T("err.conflict.heading"), Message: l.T("err.conflict.msg")})
	default:
		op := htmlview.OpOf(err, "serve this page")
		ref := htmlview.NewRef()
		h.log.Error("portal: "+op, "ref", ref, "method", r.Method, "path", r.URL.Path, "scope", stateOf(r).scope.String(), "err", err)
		h.errorPage(w, r, errorData{Status: http.StatusInternalServerError, Heading: l.T("err.internal.heading"), Message: l.T("err.internal.msg", ref, h.serviceName(l))})
	}
}

// errorPage writes the error page; fail is its only caller.
func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, d errorData) {
	if d.Back == "" && stateOf(r).authed {
		d.Back, d.BackLabel = h.u("/"), stateOf(r).lang.T("err.back")
	}
	if err := h.renderStatus(w, r, d.Status, "error", d.Heading, "", d); err != nil {
		ref := htmlview.NewRef()
		h.log.Error("portal: rendering the error page", "ref", ref, "status", d.Status, "err", err)
		http.Error(w, strconv.Itoa(d.Status)+" "+d.Heading+": "+d.Message+" (reference "+ref+")", d.Status)
	}
}

// badInput is a 400 with a translated message.
func badInput(l *lang, key string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, heading: "err.bad.heading", msg: l.T(key, args...)}
}

// messageData is a page of one message (signed out).
type messageData struct {
	Heading, Message string
}

// ---- Formatting ----

// fmtDuration formats a latency: "850 µs", "42.5 ms", "230 ms", "1.24 s".
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < 100*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	case d < time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	default:
		return d.Round(time.Second).String()
	}
}

// bodyText is a response body as a page shows it: pretty JSON, clipped.
func bodyText(b []byte) string {
	const maxShown = 16 << 10
	s := string(b)
	if json.Valid(b) {
		s = htmlview.PrettyJSON(b)
	}
	if len(s) > maxShown {
		s = strings.ToValidUTF8(s[:maxShown], "") + "\n…"
	}
	return s
}

// shortError is an error as a list cell shows it: without the "webhook: "
// prefix, clipped.
func shortError(s string) string {
	return htmlview.Clip(strings.TrimPrefix(s, "webhook: "), 160)
}
