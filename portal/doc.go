// Package portal is an embeddable web UI for the customers of a service
// that sends webhooks with github.com/scopehook/webhook: the owner of one
// scope, holding a portal link, manages that scope's endpoints and reads
// its delivery log, and nothing else.
//
// It is plain net/http and html/template with an embedded stylesheet: no
// JavaScript at all, no CDN. Pages work at 400 CSS pixels wide, in English
// and Simplified Chinese.
//
// # Mounting
//
// One line mounts it; it strips its prefix itself:
//
//	h, err := portal.New(client, portal.Options{Prefix: "/webhooks", Title: "Acme webhooks"})
//	if err != nil { ... }
//	mux.Handle("/webhooks/", h)
//
// Hand each customer a link to their scope, minted when they ask for it:
//
//	token, err := client.PortalToken(webhook.Scope{Type: "shop", Code: shopID}, time.Hour)
//	link := portal.Link("https://app.example.com/webhooks/", token)
//
// # Pages
//
//   - / (endpoints): the scope's endpoints with their health: enabled or
//     not, circuit breaker (healthy, paused, probing), whether requests are
//     signed, the last attempt and the failure rate over 24 hours; Edit,
//     Send a test event and Deliveries for each.
//   - /endpoints/new and /endpoints/{code}/edit: the endpoint form. The URL
//     is checked by the library's SSRF guard (Client.CheckEndpoint) and,
//     when asked, by a test request before saving (Client.VerifyEndpoint):
//     nothing is saved if it fails. Events are checkboxes from the catalog
//     (Client.Events) with their names and descriptions as stored. Custom
//     headers and auth (bearer token, or basic user name and password) are
//     write-only: a stored value shows as "••• set" and an empty field
//     keeps it. A new endpoint may get a signing secret, shown once.
//   - /endpoints/{code}/secret: rotate the signing secret, with a grace
//     period during which the old one keeps signing; the new secret is
//     shown once, on the answer to the form, never again.
//   - /endpoints/{code}/delete: a confirmation form.
//   - POST /endpoints/{code}/test: sends a test event and shows its
//     status and response (credentials redacted by the library).
//   - /deliveries: the scope's delivery log, filtered by endpoint, event
//     and status, paged by cursor; /deliveries/{id}: a delivery's attempts
//     with their requests and responses as history recorded them
//     (credentials redacted), and Redeliver.
//
// Every change is made with webhook.ChangeOptions{Actor: "portal:" + the
// scope, IfMatch: the ETag the form was rendered with}: a change to an
// endpoint that was changed meanwhile is refused with a page that says to
// reload it (409).
//
// # Sessions
//
// A link carries the token once (?token=…, see Link). The handler verifies
// it with webhook.Client.VerifyPortalToken, stores it in a session cookie
// (SessionCookieName: HttpOnly, SameSite=Strict, Secure over TLS or with
// Options.SecureCookie, Path the prefix, Max-Age until the token expires or
// Options.SessionTTL) and moves on, with a page that refreshes itself and
// a link, to the same address without the token. (A redirect would lose
// the cookie: a SameSite=Strict cookie is not sent on a redirect that
// continues a navigation from another site, such as a mail.) Every request
// verifies the cookie's token, and every page and action is limited to its
// scope: another scope's endpoint or delivery is not found (404), and a
// query or form naming another scope is refused (403). A missing, expired
// or altered token gets a page that says what to do, with status 401. A
// token cannot be revoked before it expires: keep the lifetimes short.
//
// # Security
//
// Every response carries a Content-Security-Policy without any script
// source (default-src 'none'; style-src 'self'; img-src 'self' data: and
// the logo's origin; form-action 'self'; frame-ancestors per
// Options.FrameAncestors, 'none' by default with X-Frame-Options: DENY),
// X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
// Cache-Control: no-store. GET requests change nothing. Every POST carries
// a CSRF token, an HMAC of the session's token, which is checked, and is
// refused when the browser says it comes from another site. No credential
// is ever rendered: the pages know only whether one is set, history holds
// them redacted, and a form shown again after an error does not carry back
// the secrets that were typed.
//
// # Theming and languages
//
// Options.Title, Options.LogoURL and Options.Theme (CSS variables such as
// --portal-accent, served as a stylesheet of its own so that the CSP needs
// no inline style) let the portal sit inside a host's pages. The language
// is Options.Language, or the browser's Accept-Language; event names and
// descriptions are shown as the catalog stores them, in any language.
package portal
