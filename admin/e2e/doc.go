// Package e2e holds the admin UI's end-to-end tests, which drive the admin in
// a real headless Chromium through chromedp. It is a module of its own so that
// chromedp and cdproto stay out of the requirements of
// github.com/scopehook/webhook: its go.mod replaces that module with the
// repository root. It has no API; run its tests with
//
//	cd admin/e2e && go test -race -count=1 ./...
//
// They skip when Chromium is missing, or fail with
// WEBHOOK_TEST_REQUIRE_BROWSER=1. Screenshots go to test-artifacts/screenshots
// at the repository root.
package e2e
