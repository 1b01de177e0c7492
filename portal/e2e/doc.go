// Package e2e holds the portal's end-to-end tests, which drive the portal
// in a real headless Chromium through chromedp. It is a module of its own
// so that chromedp and cdproto stay out of the requirements of
// github.com/scopehook/webhook: its go.mod replaces that module with the
// repository root. It has no API; run its tests with
//
//	cd portal/e2e && go test -race -count=1 ./...
//
// They skip when Chromium is missing, or fail with
// WEBHOOK_TEST_REQUIRE_BROWSER=1. TestE2EPortal plays a customer's session
// at 400 CSS pixels wide: a portal link clicked on another site, a new
// endpoint filled in and saved with a test request, its signing secret,
// a test event and the delivery log. TestE2ELayout loads the pages of a
// seeded database at 1400 and 400 CSS pixels wide, in English and
// Chinese, and fails when a page scrolls sideways, a table or a form
// control leaves its container, or an English header breaks inside a
// word; with WEBHOOK_SCREENSHOTS=docs/screenshots (make screenshots) it
// writes the documentation's screenshots there (portal-page-width.png).
package e2e
