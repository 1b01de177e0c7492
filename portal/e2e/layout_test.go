package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// The layout checks run in the page. Each returns the problems it found.

// noOverflowJS: the page does not scroll sideways, and no table is wider
// than its container.
const noOverflowJS = `(() => {
  const out = [];
  const doc = document.scrollingElement;
  if (doc.scrollWidth > innerWidth + 1) out.push("the page is " + doc.scrollWidth + "px wide in a " + innerWidth + "px window");
  for (const t of document.querySelectorAll("main table")) {
    if (!t.getClientRects().length) continue;
    const box = t.parentElement;
    const w = t.getBoundingClientRect().width;
    if (w > box.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1)
      out.push("table." + t.className.replaceAll(" ", ".") + " is " + Math.round(w) + "px wide, its container " + box.clientWidth + "px");
  }
  return out;
})()`

// controlsFitJS: every form control, button and button-like link is
// inside the window and at least 24 px high, so that it can be used.
const controlsFitJS = `(() => {
  const out = [];
  for (const el of document.querySelectorAll("main input:not([type=hidden]), main select, main button, main a.button, header button")) {
    if (!el.getClientRects().length) continue;
    const r = el.getBoundingClientRect();
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : el.name ? "[name=" + el.name + "]" : "");
    if (r.left < -1 || r.right > innerWidth + 1) out.push(name + " spans " + Math.round(r.left) + "–" + Math.round(r.right) + " px in a " + innerWidth + " px window");
    if (el.type !== "checkbox" && r.height < 24) out.push(name + " is " + Math.round(r.height) + " px high");
  }
  return out;
})()`

// headersWholeJS: no word of a table header or a heading is broken across
// lines (code and ids excepted). English only: Chinese text breaks between
// any two characters.
const headersWholeJS = `(() => {
  const out = [];
  for (const el of document.querySelectorAll("main th, main h1, main h2, main h3, main legend, header.top a")) {
    const head = el.closest("thead");
    if (head && head.getBoundingClientRect().width <= 2) continue; // visually hidden (cards)
    if (!el.getClientRects().length) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
      if (node.parentElement.closest(".mono, .break, code, pre")) continue;
      const re = /\S+/g;
      for (let m; (m = re.exec(node.data)); ) {
        const r = document.createRange();
        r.setStart(node, m.index);
        r.setEnd(node, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (tops.size > 1) out.push(JSON.stringify(m[0]) + " of <" + el.tagName.toLowerCase() + "> breaks across lines");
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

// TestE2ELayout loads the portal's pages for a seeded scope at 1400 and
// 400 CSS pixels wide, in English and in Chinese, and checks that no page
// scrolls sideways, no table or form control leaves its container, and no
// English header breaks inside a word. With WEBHOOK_SCREENSHOTS set (make
// screenshots) it writes the pages' screenshots there,
// portal-name[-zh]-width.png.
func TestE2ELayout(t *testing.T) {
	browser := needChromium(t)
	out := screenshotsOut()
	for _, lang := range []string{portal.English, portal.SimplifiedChinese} {
		t.Run(lang, func(t *testing.T) {
			chinese := lang == portal.SimplifiedChinese
			c, db := newClient(t, webhook.Config{Now: seedNow})
			seed := seedDatabase(t, c, db, chinese)
			h, err := portal.New(c, portal.Options{Prefix: "/portal", Title: map[bool]string{false: "Acme Shop · Webhooks", true: "Acme 商城 · Webhook"}[chinese],
				Language: lang, Now: seedNow, PageSize: 12})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("/portal/", h)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			base := srv.URL + "/portal"
			tok, err := c.PortalToken(shop, 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			tb := openTab(t, t.Context(), browser, nil)
			tb.navigate(portal.Link(base+"/", tok))
			tb.waitFor("table.endpoints")

			pages := []struct{ name, path string }{
				{"endpoints", "/"},
				{"new", "/endpoints/new"},
				{"edit", "/endpoints/erp/edit"},
				{"deliveries", "/deliveries"},
				{"delivery", "/deliveries/" + seed.FailingID},
			}
			for _, size := range []struct {
				w, h      int64
				maxHeight float64
			}{{1400, 900, 1300}, {400, 860, 2400}} {
				tb.viewport(size.w, size.h)
				for _, p := range pages {
					tb.navigate(base + p.path)
					where := p.name + " at " + strconv.FormatInt(size.w, 10) + " px"
					check := func(what, js string) {
						t.Helper()
						for _, problem := range eval[[]string](tb, js) {
							t.Errorf("%s: %s: %s", where, what, problem)
						}
					}
					check("overflow", noOverflowJS)
					check("controls", controlsFitJS)
					if !chinese {
						check("headers", headersWholeJS)
					}
					html := tb.mainHTML()
					if strings.Contains(html, "seed-erp-token-not-shown") || strings.Contains(html, "seed-crm-key-not-shown") || strings.Contains(html, "Another customer") {
						t.Errorf("%s shows a secret or another scope's endpoint", where)
					}
					if out == "" {
						continue
					}
					name := "portal-" + p.name
					if chinese {
						// Chinese: the endpoints and the form, on a phone.
						if size.w != 400 || (p.name != "endpoints" && p.name != "new") {
							continue
						}
						name += "-zh"
					}
					tb.screenshot(filepath.Join(out, name+"-"+strconv.FormatInt(size.w, 10)+".png"), size.maxHeight)
				}
			}
			// A sanity check that the screenshots show what they should.
			tb.navigate(base + "/")
			html := tb.mainHTML()
			for _, want := range []string{"ERP connector", "circuit-open", "Slack #orders", map[bool]string{false: "Order paid", true: "订单已支付"}[chinese]} {
				if !strings.Contains(html, want) {
					t.Errorf("the endpoints page lacks %q", want)
				}
			}
			tb.checkConsole()
		})
	}
}
