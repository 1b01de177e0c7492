// Package e2e holds the admin UI's end-to-end tests, which drive the admin in
// a real headless Chromium through chromedp. It is a module of its own so that
// chromedp and cdproto stay out of the requirements of
// github.com/scopehook/webhook: its go.mod replaces that module with the
// repository root. It has no API; run its tests with
//
//	cd admin/e2e && go test -race -count=1 ./...
//
// They skip when Chromium is missing, or fail with
// WEBHOOK_TEST_REQUIRE_BROWSER=1. TestE2EBrowser plays an operator's
// session and saves screenshots to test-artifacts/screenshots at the
// repository root. TestE2ELayout loads the main pages of a seeded database
// at 1400 and 400 CSS pixels wide and fails when a table is wider than its
// container (at 1400 px), when chart text renders under 10 px or leaves its
// chart, or when a header breaks inside a word; with
// WEBHOOK_SCREENSHOTS=docs/screenshots (make screenshots) it writes the
// documentation's screenshots there (page-width.png, and health-1400.png,
// the overview's health section alone).
package e2e
