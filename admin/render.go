package admin

import (
	"bytes"
	"fmt"
	"github.com/scopehook/webhook/internal/htmlview"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// page is what every template gets.
type page struct {
	AppTitle  string
	PageTitle string
	Nav       string
	CSRF      string
	Flash     string
	// Warnings is the number of the engine's health warnings, shown as a
	// badge on the Overview link; only the overview reads the health, so
	// on other pages it is 0.
	Warnings int
	Data     any
}

type navItem struct{ Key, Label, Path string }

// navItems is the main navigation, in order.
func navItems() []navItem {
	return []navItem{
		{"overview", "Overview", "/"},
		{"deliveries", "Deliveries", "/deliveries"},
		{"attempts", "Attempts", "/attempts"},
		{"webhooks", "Webhooks", "/webhooks"},
		{"events", "Events", "/events"},
		{"subscriptions", "Subscriptions", "/subscriptions"},
		{"scopes", "Scopes", "/scopes"},
		{"instances", "Instances", "/instances"},
	}
}

func (h *handler) funcs() template.FuncMap {
	return template.FuncMap{
		"u":      h.u,
		"nav":    navItems,
		"time":   htmlview.Time,
		"pct":    htmlview.Percent,
		"f1":     func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"f2":     func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
		"join":   strings.Join,
		"plural": plural,
		"plural64": func(n int64, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"hasText": func(s string) bool { return strings.TrimSpace(s) != "" },
		"add1":    func(a, b float64) float64 { return a + b },
		"sub1":    func(a, b float64) float64 { return a - b },
		"half":    func(a float64) float64 { return a / 2 },
		"dict":    htmlview.Dict,
		"localTime": func(s string) bool {
			for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
				if _, err := time.Parse(layout, s); err == nil {
					return true
				}
			}
			return s == ""
		},
	}
}

// u builds a link to an admin path under the prefix.
func (h *handler) u(p string) string {
	return h.prefix + p
}

// link builds a link to an admin path with a query string.
func (h *handler) link(p string, q url.Values) string {
	s := h.prefix + p
	if enc := q.Encode(); enc != "" {
		s += "?" + enc
	}
	return s
}

// render writes a page with status 200; a template that fails to execute
// is an error (nothing is written then).
func (h *handler) render(w http.ResponseWriter, r *http.Request, name, title, nav string, data any) error {
	return h.renderStatus(w, r, http.StatusOK, name, title, nav, data)
}

func (h *handler) renderStatus(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) error {
	return h.renderPage(w, r, status, name, title, nav, data, 0)
}

// renderPage is renderStatus with the number of health warnings the
// navigation shows.
func (h *handler) renderPage(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any, warnings int) error {
	t, ok := h.pages[name]
	if !ok {
		return fmt.Errorf("admin: no template %q", name)
	}
	p := page{AppTitle: h.title, PageTitle: title, Nav: nav, CSRF: csrfFromContext(r), Flash: flashMessage(r.URL.Query()), Warnings: warnings, Data: data}
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

type errorData struct {
	Status  int
	Heading string
	Message string
}

// errorPage writes the error page; fail is its only caller.
func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	err := h.renderStatus(w, r, status, "error", heading, "", errorData{Status: status, Heading: heading, Message: msg})
	if err != nil {
		ref := htmlview.NewRef()
		h.log.Error("admin: rendering the error page", "ref", ref, "status", status, "err", err)
		http.Error(w, strconv.Itoa(status)+" "+heading+": "+msg+" (The error page itself failed; reference "+ref+".)", status)
	}
}

// redirect answers a POST with 303 See Other to an admin path.
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, p string, q url.Values) {
	http.Redirect(w, r, h.link(p, q), http.StatusSeeOther)
}

// flashMessage turns the msg query parameter set by a redirect after a POST
// into fixed text, so a crafted link cannot put arbitrary prose on a page.
func flashMessage(q url.Values) string {
	switch q.Get("msg") {
	case "redelivered":
		return "Redelivery scheduled: the workers send it again with the same delivery id. Reload the page to see the new attempt."
	case "bulk":
		n, err := strconv.ParseInt(q.Get("n"), 10, 64)
		if err != nil || n < 0 {
			return ""
		}
		if n == 0 {
			return "No failed queued delivery matched: nothing was rescheduled."
		}
		return fmt.Sprintf("%d failed %s rescheduled; the workers send them again.", n, plural(int(n), "delivery was", "deliveries were"))
	case "disabled":
		return "Webhook " + htmlview.Clip(q.Get("wh"), 80) + " disabled."
	case "enabled":
		return "Webhook " + htmlview.Clip(q.Get("wh"), 80) + " enabled (its failure count was reset)."
	case "circuit-closed":
		return "Circuit of webhook " + htmlview.Clip(q.Get("wh"), 80) + " closed: its waiting deliveries are sent at the workers' next claim."
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fmtDuration formats a latency: "850 µs", "42.5 ms", "230 ms", "1.24 s",
// "12.5 s", "2m5s".
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
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	default:
		return d.Round(time.Second).String()
	}
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }
