// Package admin is the operator web UI of github.com/scopehook/webhook: an
// http.Handler that lists the deliveries (one event sent to one webhook,
// under a stable delivery id) and their attempts (the requests history
// recorded), lets an operator search them, inspect every attempt of a
// delivery, copy its request as a curl command and redeliver it, and lists
// the webhooks (enabling or disabling them, closing their circuit breakers),
// events, subscriptions, scopes and the worker instances.
//
// It is plain net/http and html/template with an embedded stylesheet: no
// JavaScript, no CDN, charts drawn server-side as inline SVG. Pages are
// readable on a phone.
//
// # Mounting
//
// The handler serves paths from "/". Mount it under a prefix by stripping the
// prefix and telling the handler about it, so that its links include it:
//
//	h, err := admin.NewHandler(client, admin.Options{
//		Prefix:            "/admin",
//		BasicAuthUser:     "ops",
//		BasicAuthPassword: os.Getenv("ADMIN_PASSWORD"),
//	})
//	if err != nil { ... }
//	mux.Handle("/admin/", h) // it strips Prefix itself (http.StripPrefix works too)
//
// # Pages
//
//   - / (overview): the delivery engine's health now (Client.Health, read
//     once per view): its warnings as a banner at the top (deliveries due
//     with no worker seen, workers falling behind, history writes failing,
//     counted on the Overview link too), the worker instances alive and
//     dead and the age of the last heartbeat, the outbox's pending, due and
//     failed deliveries and how long the oldest due one has waited, the
//     circuits not closed and the webhooks the library disabled in the last
//     day (each linked to its row of the webhooks page), and the history
//     rows the live instances wrote and failed to write; then attempts per
//     hour over the last 24 hours (successes and failures stacked) and the
//     failure rate of each webhook (each a link to it and to its attempts),
//     as charts and tables.
//   - /deliveries: every delivery, queued (Enqueue: sent and retried by the
//     workers) or sent by Broadcast, newest first (Client.Deliveries), each
//     tagged "queued" or "sent", with its status, attempts, next retry, last
//     HTTP status, the last attempt's latency and last error; filtered by delivery id, webhook, event,
//     scope, status, time range and "queued only", paginated by cursor
//     ("Older" carries cursor=<the last row's cursor>, "Newest" none).
//   - /deliveries/{id}: a delivery's summary (status, queued or not,
//     attempts, next retry, created, finished), then every attempt with its
//     request and response (credentials redacted by the library) and the
//     request as a curl command line, and a Redeliver button.
//   - /attempts: the history, one row per attempt, newest first, searchable
//     by delivery id, webhook, event, scope, result, HTTP status and time
//     range, paginated by keyset ("Older" carries before=<last id>, "Newer"
//     after=<first id>, "Newest" neither; never an offset); and a form that
//     redelivers the failed queued deliveries matching the filter.
//   - /webhooks: webhooks by scope, with their subscriptions, whether their
//     credentials are set (never their values), their delivery controls
//     (ordered, rate limit, in-flight cap), their last attempt and failure
//     rate, an enable/disable button, and their circuit breaker (closed,
//     open or half-open, consecutive endpoint failures, since when, the
//     next probe, the reason) with a Close circuit button when it is not
//     closed.
//   - /events, /subscriptions, /scopes.
//   - /instances: the processes running delivery workers (Client.Instances):
//     host, pid, version, workers, started, last heartbeat, alive or dead,
//     deliveries leased.
//
// The old addresses still work: /outbox answers with a redirect to
// /deliveries?queued=1, and a /deliveries address with a filter of the
// history list (success, before, after, an HTTP status) with one to
// /attempts, query kept.
//
// The filters offer the known values as choices (webhook codes, event codes,
// scopes, statuses); only the delivery id is typed. Times are UTC, those of
// deliveries and attempts to the millisecond.
//
// # Security
//
// NewHandler refuses to build a handler without access control: set
// Options.Authorize (for instance a session check; refusals get 403),
// Options.BasicAuthUser and Options.BasicAuthPassword (refusals get 401), or
// Options.Insecure for local development.
//
// Every response carries a strict Content-Security-Policy
// (ContentSecurityPolicy), X-Content-Type-Options: nosniff, Referrer-Policy:
// no-referrer, X-Frame-Options: DENY and Cache-Control: no-store. All output
// goes through html/template's escaping. The curl command of an attempt is
// rebuilt from the recorded request, whose credentials the library stored
// redacted; it is shown in a <details> element and selected with one click
// by the stylesheet, with no script.
//
// GET requests never change anything. The actions (redeliver, redeliver
// failed, enable/disable, close circuit) are POST forms carrying a CSRF
// token: the HMAC, under a random key drawn when the handler is built, of a
// random per-browser cookie (CSRFCookieName; HttpOnly, SameSite=Strict,
// Secure over TLS). A POST whose token does not match its cookie is refused
// with 403. The key lives in the handler, so a form must be posted to the
// process that rendered it: after a restart, or behind a load balancer
// without sticky sessions, a POST may be refused; reloading the page fixes
// it.
//
// Redeliveries are sent by the library's workers: run Client.Start in some
// process of the service, or they stay pending.
package admin
