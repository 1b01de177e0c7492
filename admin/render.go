package admin

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
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
	Data      any
}

type navItem struct{ Key, Label, Path string }

var navItems = []navItem{
	{"overview", "Overview", "/"},
	{"deliveries", "Deliveries", "/deliveries"},
	{"outbox", "Outbox", "/outbox"},
	{"webhooks", "Webhooks", "/webhooks"},
	{"events", "Events", "/events"},
	{"subscriptions", "Subscriptions", "/subscriptions"},
	{"scopes", "Scopes", "/scopes"},
	{"instances", "Instances", "/instances"},
}

func parseTemplates(funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("admin: parsing %s: %w", n, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}

func (h *handler) funcs() template.FuncMap {
	return template.FuncMap{
		"u":       h.u,
		"nav":     func() []navItem { return navItems },
		"time":    fmtTime,
		"dur":     fmtDuration,
		"pct":     fmtPercent,
		"f1":      func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"join":    strings.Join,
		"plural":  plural,
		"hasText": func(s string) bool { return strings.TrimSpace(s) != "" },
		"add1":    func(a, b float64) float64 { return a + b },
		"sub1":    func(a, b float64) float64 { return a - b },
		"half":    func(a float64) float64 { return a / 2 },
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

// deliveryLink is the address of a delivery's page.
func (h *handler) deliveryLink(id string) string {
	return h.prefix + "/deliveries/" + url.PathEscape(id)
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	t, ok := h.pages[name]
	if !ok {
		h.log.Error("admin: unknown template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p := page{AppTitle: h.title, PageTitle: title, Nav: nav, CSRF: csrfFromContext(r), Flash: flashMessage(r.URL.Query()), Data: data}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		ref := newRef()
		h.log.Error("admin: rendering a page", "ref", ref, "template", name, "err", err)
		http.Error(w, "Internal error (reference "+ref+"); it was logged.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	h.render(w, r, status, "error", heading, "", errorData{Status: status, Heading: heading, Message: msg})
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
			return "No failed delivery of the outbox matched: nothing was rescheduled."
		}
		return fmt.Sprintf("%d failed %s rescheduled; the workers send them again.", n, plural(int(n), "delivery was", "deliveries were"))
	case "disabled":
		return "Webhook " + clip(q.Get("wh"), 80) + " disabled."
	case "enabled":
		return "Webhook " + clip(q.Get("wh"), 80) + " enabled (its failure count was reset)."
	case "circuit-closed":
		return "Circuit of webhook " + clip(q.Get("wh"), 80) + " closed: its waiting deliveries are sent at the workers' next claim."
	}
	return ""
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	case d < 10*time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

func fmtPercent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
}
