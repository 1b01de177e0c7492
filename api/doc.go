// Package api is a JSON REST API over a webhook.Client, as an http.Handler:
// the webhooks of a scope and their events, the event catalog, deliveries
// and their attempts (filtered, paged by keyset), redelivery of one
// delivery or of every failed one, test sends and signing-secret rotation.
// Its OpenAPI 3.1 document is served at /openapi.json.
//
// # Mounting
//
// New takes the client and Options; an Authorizer is required (the handler
// is never open by default). Mount it under its Prefix as it is: it strips
// the prefix itself.
//
//	h, err := api.New(client, api.Options{Prefix: "/api", Authorizer: api.PortalTokens(client)})
//	if err != nil { ... }
//	mux.Handle("/api/", h)
//
// # Authorisation
//
// The Authorizer maps each request to a Principal: an operator, who may use
// every scope, or a caller bound to one scope, who gets 403 forbidden_scope
// for any other scope's path and cannot reach another scope's data through
// its own paths (a delivery id of another scope is 404 there). PortalTokens
// accepts "Authorization: Bearer <token>" with a token of
// webhook.Client.PortalToken; an AuthorizerFunc maps the host's own
// authentication, and can fall back on PortalTokens.
//
// # Conventions
//
//   - Routes carry their scope: /scopes/{scope_type}/{scope_code}/….
//   - Bodies are JSON (415 otherwise), at most Options.MaxBodyBytes (413);
//     unknown fields are refused.
//   - Errors are {"error": {"code": "…", "message": "…", "details": {…}}};
//     the codes are the Code… constants. A 500 gives only a reference,
//     under which the error is logged.
//   - Times are RFC 3339 in UTC; durations are strings in Go's syntax
//     ("10s", "24h"), answered in seconds ("86400s").
//   - Lists answer {"data": [...]}; paged ones add "next_cursor", to pass
//     as ?cursor= for the next page, null on the last.
//   - A webhook's GET answers an ETag; PATCH, PUT …/events, DELETE and
//     POST …/rotate-secret honour If-Match (412 precondition_failed when
//     it changed meanwhile).
//   - POST routes that create or send take an Idempotency-Key (see
//     IdempotencyKeyTTL).
//   - Credentials are write-only: a response says whether each is set,
//     never its value; POST …/rotate-secret answers the new signing secret
//     once.
//   - Every response has Cache-Control: no-store and
//     X-Content-Type-Options: nosniff; no CORS headers are sent.
package api
