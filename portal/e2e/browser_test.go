package e2e_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// findChromium returns the browser to drive, or "".
func findChromium() string {
	if p := os.Getenv("WEBHOOK_TEST_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needChromium returns the browser, or skips the test (fails it with
// WEBHOOK_TEST_REQUIRE_BROWSER=1) when there is none.
func needChromium(t *testing.T) string {
	t.Helper()
	browser := findChromium()
	if browser == "" {
		msg := "no Chromium found (/usr/bin/chromium, chromium, chromium-browser or google-chrome on PATH, or WEBHOOK_TEST_CHROMIUM): apt-get install -y chromium"
		if os.Getenv("WEBHOOK_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testing.Short() && os.Getenv("WEBHOOK_TEST_REQUIRE_BROWSER") != "1" {
		t.Skip("end-to-end browser test skipped in -short mode")
	}
	return browser
}

// tab is a headless Chromium tab that collects its console's errors and
// warnings (a CSP violation or a failed load shows there).
type tab struct {
	t   *testing.T
	ctx context.Context
	out *syncBuffer

	mu      sync.Mutex
	console []string
}

// openTab starts Chromium and opens a tab that sends headers with every
// request (basic auth, for instance).
func openTab(t *testing.T, ctx context.Context, browser string, headers map[string]string) *tab {
	t.Helper()
	out := &syncBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	tb := &tab{t: t, ctx: bctx, out: out}
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry != nil && (e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning) {
			tb.mu.Lock()
			tb.console = append(tb.console, string(e.Entry.Level)+": "+e.Entry.Text+" "+e.Entry.URL)
			tb.mu.Unlock()
		}
	}); err != nil {
		tb.fail("starting the browser: %v", err)
	}
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		tb.fail("Log.enable: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		tb.fail("Network.enable: %v", err)
	}
	if len(headers) > 0 {
		h := network.Headers{}
		for k, v := range headers {
			h[k] = v
		}
		if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
			tb.fail("Network.setExtraHTTPHeaders: %v", err)
		}
	}
	return tb
}

// fail stops the test, with the browser's output when verbose.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	if out := tb.out.String(); out != "" && testing.Verbose() {
		tb.t.Logf("browser output:\n%s", out)
	}
	tb.t.Fatalf(format, args...)
}

// checkConsole reports the errors and warnings the console collected.
func (tb *tab) checkConsole() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range tb.console {
		tb.t.Errorf("browser console: %s", e)
	}
}

// navigate loads a page and checks its status.
func (tb *tab) navigate(url string) {
	tb.t.Helper()
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		tb.fail("navigating to %s: %v", url, err)
	}
	if resp.Status != http.StatusOK {
		tb.fail("%s: status %d", url, resp.Status)
	}
}

// click clicks an element that loads a page, and waits for it; it returns
// the page's status.
func (tb *tab) click(sel string) int64 {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.fail("clicking %s: %v", sel, err)
	}
	return resp.Status
}

// do runs actions.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.fail("%s: %v", what, err)
	}
}

// waitFor waits until sel is visible (after a refresh, say).
func (tb *tab) waitFor(sel string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		tb.fail("waiting for %s (at %s): %v", sel, tb.location(), err)
	}
}

// mainHTML returns the page's <main>.
func (tb *tab) mainHTML() string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
	if err != nil {
		tb.fail("reading the page: %v", err)
	}
	return s
}

// location returns the page's address.
func (tb *tab) location() string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.fail("reading the location: %v", err)
	}
	return s
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.fail("evaluating %.60s…: %v", expr, err)
	}
	return v
}

// viewport sets the width and height of the page in CSS pixels.
func (tb *tab) viewport(w, h int64) {
	tb.t.Helper()
	tb.do("setting the viewport", chromedp.EmulateViewport(w, h))
}

// screenshot captures the page, beyond the viewport, up to maxHeight CSS
// pixels tall, and writes it as PNG (compressed as well as the standard
// library can) to path.
func (tb *tab) screenshot(path string, maxHeight float64) {
	tb.t.Helper()
	raw, err := chromedp.Run(tb.ctx, pageScreenshot(maxHeight))
	if err != nil {
		tb.fail("screenshot %s: %v", path, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		tb.fail("screenshot %s: %v", path, err)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, opaque(img)); err != nil {
		tb.fail("screenshot %s: %v", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s (%d bytes)", path, buf.Len())
}

// opaque drops the alpha channel of a screenshot (always opaque), which
// makes the PNG smaller.
func opaque(img image.Image) image.Image {
	src, ok := img.(*image.NRGBA)
	if !ok {
		if rgba, ok := img.(*image.RGBA); ok {
			src = &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}
		} else {
			return img
		}
	}
	b := src.Bounds()
	out := image.NewRGBA(b)
	copy(out.Pix, src.Pix)
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 0xff
	}
	return out
}

// pageScreenshot captures the whole page, beyond the viewport, as PNG, at
// most maxHeight CSS pixels tall.
func pageScreenshot(maxHeight float64) chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		w, h := 1280.0, 900.0
		if m.CSSContentSize != nil {
			w, h = m.CSSContentSize.Width, m.CSSContentSize.Height
		}
		if m.CSSLayoutViewport != nil {
			w = max(w, float64(m.CSSLayoutViewport.ClientWidth))
		}
		beyond, surface := true, true
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			Clip:                  &page.Viewport{X: 0, Y: 0, Width: w, Height: min(h, maxHeight), Scale: 1},
			CaptureBeyondViewport: &beyond,
			FromSurface:           &surface,
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}
}

// syncBuffer collects the browser's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
