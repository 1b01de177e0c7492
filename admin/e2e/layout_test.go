package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// The layout checks run in the page. Each returns the problems it found.

// tablesFitJS: the page does not scroll sideways, and no table is wider
// than its container (which would hide its last columns behind a scroll).
const tablesFitJS = `(() => {
  const out = [];
  const doc = document.scrollingElement;
  if (doc.scrollWidth > innerWidth + 1) out.push("the page is " + doc.scrollWidth + "px wide in a " + innerWidth + "px window");
  for (const t of document.querySelectorAll("main table")) {
    if (!t.getClientRects().length) continue; // in a closed <details>
    const box = t.parentElement;
    const w = t.getBoundingClientRect().width;
    if (w > box.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1) {
      const head = [...t.querySelectorAll("thead th")].map(th => th.textContent.trim()).join("|");
      out.push("table." + t.className.replaceAll(" ", ".") + " [" + head + "] is " + Math.round(w) + "px wide, its container " + box.clientWidth + "px");
    }
  }
  return out;
})()`

// chartTextJS: every label of the charts renders at 10 CSS pixels or more
// (its font size times the scale the SVG is drawn at), stays inside its
// chart, and a webhook's name does not run into its rate.
const chartTextJS = `(() => {
  const out = [];
  let n = 0;
  for (const el of document.querySelectorAll("svg text")) {
    if (!el.getClientRects().length || getComputedStyle(el).display === "none") continue;
    n++;
    const m = el.getScreenCTM();
    const px = parseFloat(getComputedStyle(el).fontSize) * Math.hypot(m.a, m.b);
    const label = JSON.stringify(el.textContent.trim());
    if (px < 10) out.push(label + " renders at " + px.toFixed(1) + " px");
    const r = el.getBoundingClientRect(), f = el.closest("figure").getBoundingClientRect();
    if (r.left < f.left - 1 || r.right > f.right + 1) out.push(label + " overflows its chart (" + Math.round(r.left) + "–" + Math.round(r.right) + " px, the chart " + Math.round(f.left) + "–" + Math.round(f.right) + " px)");
  }
  for (const g of document.querySelectorAll("g.rate")) {
    const l = g.querySelector("text.label").getBoundingClientRect(), v = g.querySelector("text.value").getBoundingClientRect();
    if (l.right > v.left - 4) out.push("the label " + JSON.stringify(g.querySelector("text.label").textContent) + " runs into its value");
  }
  if (n === 0) out.push("no chart text");
  return out;
})()`

// headersWholeJS: no word of a table header or a heading is broken across
// lines (ids and code excepted, which may break anywhere), and no header
// is styled to break inside words.
const headersWholeJS = `(() => {
  const out = [];
  for (const el of document.querySelectorAll("main th, main h1, main h2, main h3, main h4, main h5, header.top a")) {
    const head = el.closest("thead");
    if (head && head.getBoundingClientRect().width <= 2) continue; // visually hidden (cards)
    if (!el.getClientRects().length) continue;
    const cs = getComputedStyle(el);
    if (el.tagName === "TH" && (cs.wordBreak === "break-all" || cs.overflowWrap === "anywhere"))
      out.push("<th> " + JSON.stringify(el.textContent.trim()) + " may break inside words (word-break: " + cs.wordBreak + ", overflow-wrap: " + cs.overflowWrap + ")");
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
      if (node.parentElement.closest(".mono, .break, code, pre")) continue;
      const re = /\S+/g;
      for (let m; (m = re.exec(node.data)); ) {
        const r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (tops.size > 1) out.push(JSON.stringify(m[0]) + " of <" + el.tagName.toLowerCase() + "> " + JSON.stringify(el.textContent.trim().slice(0, 50)) + " breaks across " + tops.size + " lines");
      }
    }
  }
  return out;
})()`

// screenshotsOut is where TestE2ELayout writes the documentation's
// screenshots: $WEBHOOK_SCREENSHOTS (relative to the repository root, e.g.
// docs/screenshots), or "" for none.
func screenshotsOut() string {
	dir := os.Getenv("WEBHOOK_SCREENSHOTS")
	if dir == "" || filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join("..", "..", dir)
}

// TestE2ELayout loads the main pages of a realistic database at 1400 and
// 400 CSS pixels wide and checks their layout: at 1400 px no table is
// cut (wider than its container), at both widths the charts' text renders
// at 10 px or more inside the charts and no header breaks inside a word.
// With WEBHOOK_SCREENSHOTS set (make screenshots) it writes the pages'
// screenshots there, name-width.png, and health-1400.png, the overview's
// health section alone.
func TestE2ELayout(t *testing.T) {
	browser := needChromium(t)
	c, db := newClient(t, webhook.Config{Now: seedNow})
	seed := seedDatabase(t, c, db)
	h, err := admin.NewHandler(c, admin.Options{Prefix: "/admin", Title: "Acme Shop webhooks", Insecure: true, Now: seedNow, PageSize: 12})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/admin"
	tb := openTab(t, t.Context(), browser, nil)
	out := screenshotsOut()

	pages := []struct {
		name, path string
		taller     float64 // the screenshot's extra height
	}{
		{"overview", "/", 500}, // the health section, then both charts
		{"deliveries", "/deliveries", 0},
		{"delivery", "/deliveries/" + seed.PendingID, 0},
		{"attempts", "/attempts", 0},
		{"webhooks", "/webhooks", 0},
	}
	for _, size := range []struct {
		w, h      int64
		maxHeight float64
	}{{1400, 900, 1400}, {400, 860, 2200}} {
		tb.viewport(size.w, size.h)
		for _, p := range pages {
			tb.navigate(base + p.path)
			where := p.name + " at " + strconv.FormatInt(size.w, 10) + " px"
			if p.name == "delivery" {
				// The first attempt's curl command, open.
				tb.do("opening Copy as curl", chromedp.Click(chromedp.CSS("details.curl summary"), chromedp.NodeVisible),
					chromedp.WaitVisible(chromedp.CSS("details.curl pre.curl-command")))
			}
			check := func(what, js string) {
				t.Helper()
				for _, problem := range eval[[]string](tb, js) {
					t.Errorf("%s: %s: %s", where, what, problem)
				}
			}
			if size.w >= 1400 {
				check("tables", tablesFitJS)
			}
			if p.name == "overview" {
				check("charts", chartTextJS)
			}
			check("headers", headersWholeJS)
			if out != "" {
				tb.screenshot(filepath.Join(out, p.name+"-"+strconv.FormatInt(size.w, 10)+".png"), size.maxHeight+p.taller)
				if p.name == "overview" && size.w == 1400 {
					// The health section alone, for the README.
					tb.screenshotElement(filepath.Join(out, "health-1400.png"), "#health", 16)
				}
			}
		}
	}
	// The page's content matches the seed: a sanity check that the
	// screenshots show what they should.
	tb.navigate(base + "/")
	html := tb.mainHTML()
	if !strings.Contains(html, "12480") || !strings.Contains(html, "12.5k") && !strings.Contains(html, "15k") {
		t.Errorf("the overview does not show the busy hour:\n%.2000s", html)
	}
	// Its health section: the warning, the workers, the due deliveries, the
	// open circuit and the disabled webhook.
	for sel, want := range map[string]string{
		"#health-warnings li":        "the oldest due delivery has waited 3m40s with 1 instance alive: the workers fall behind",
		"#instances-card":            "1 alive",
		"#due-card .num":             "5",
		"#open-circuits-card .num":   "1 open",
		"#health-circuits td.hook a": "erp",
		"#health-disabled td.hook a": "audit-log",
		"#health-disabled .reason":   "disabled after 50 consecutive failed attempts",
	} {
		if got := tb.text(sel); !strings.Contains(got, want) {
			t.Errorf("the overview's %s reads %q, want %q in it", sel, got, want)
		}
	}
	tb.checkConsole()
}
