// Package webhook gives a Go service webhooks: when something happens in the
// service, every endpoint that subscribed to that event in that part of the
// service gets an HTTP request, signed with its credentials, retried on
// failure, and recorded in history.
//
// It reimplements the Python Django app bkflow-django-webhook on the
// database the service already has (any GORM dialect; SQLite for one node,
// PostgreSQL for many) and keeps its tables and wire format, so a Go service
// and a Python one can share a database.
//
// # Model
//
//   - An [Event] is a kind of thing that happens ("template_update"). Events
//     are defined in YAML and synced at start-up with [Client.SyncEvents].
//   - A [Scope] is the part of the service a resource belongs to, such as the
//     business {Type: "biz", Code: "biz1"}.
//   - A webhook ([WebhookConfig]) is an endpoint inside a scope: URL, method,
//     auth, headers, query parameters, static data, timeout and retries.
//     Credentials are encrypted at rest with Config.PrivateSecret.
//   - A subscription ties a webhook of a scope to event codes, or to
//     [AllEvents].
//   - [History] records every delivery attempt, credentials redacted.
//
// # Usage
//
// Build one [Client] from the service's *gorm.DB, migrate, sync the events,
// configure webhooks per scope, then broadcast from business code:
//
//	c, err := webhook.New(db, webhook.Config{PrivateSecret: os.Getenv("WEBHOOK_SECRET")})
//	if err != nil { ... }
//	if err := c.Migrate(ctx); err != nil { ... }
//	if _, err := c.SyncEventsFS(ctx, eventsFS, "webhook_events.yaml"); err != nil { ... }
//
//	err = c.ApplyScopeWebhooks(ctx, "biz", "biz1", []webhook.WebhookConfig{{
//		Code: "webhook1", Name: "Service 1", Endpoint: "https://service1.example.com/hooks",
//		Auth: &webhook.Auth{Type: "bearer", Token: token},
//	}})
//	err = c.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{"webhook1": {webhook.AllEvents}})
//
//	res, err := c.Broadcast(ctx, "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}},
//		map[string]any{"template_id": "t1"})
//
// # Wire format
//
// Each request carries the webhook's static data merged with
//
//	{"event": {"code": ..., "name": ..., "description": ..., "info": {...}}, "delivery_id": "..."}
//
// where info is the event's stored info overlaid by the broadcast's extra
// info. The Content-Type is the webhook's (JSON by default; a form content
// type encodes nested values in bracket notation), params form the query
// string (a GET request keeps its JSON body), bearer or basic auth sets the
// Authorization header, and the webhook's headers come last.
//
// # Delivery
//
// Broadcast resolves the webhooks in one query and sends them concurrently,
// at most Config.MaxConcurrency at once, each bounded by its timeout and
// retried on the schedule of Config.RetryPolicy (the one the workers
// follow) while each delay is at most Config.MaxRetryDelay, since the caller
// waits. Redirects are never followed; success is a
// 2xx status. A failing webhook never stops the others. Every attempt is
// written to history before Broadcast returns; attempts of concurrent
// broadcasts share database commits.
//
// Deliveries are not ordered: two broadcasts may reach an endpoint in
// either order.
//
// # Durable delivery
//
// [Client.Enqueue] and [Client.EnqueueTx] (inside the caller's own
// transaction) persist deliveries in an outbox table instead of sending
// them; the workers started by [Client.Start] send them at least once,
// retrying over hours on the schedule of Config.RetryPolicy, and record
// history. Instances sharing a PostgreSQL database share the work (FOR
// UPDATE SKIP LOCKED under leases kept alive by each instance's heartbeat,
// so that a dead instance's deliveries go out again within
// Config.LeaseDuration); on SQLite, run the workers in one process.
//
// One endpoint cannot hurt the others: each webhook gets at most
// Config.MaxInFlightPerWebhook requests at once per instance, claims are
// fair across webhooks, and each webhook has a circuit breaker shared by all
// instances ([Circuit], Config.CircuitBreakAfter, Hooks.CircuitChanged): an
// endpoint that keeps failing is probed instead of hammered, its deliveries
// wait without spending attempts, and a Retry-After pauses it.
// WebhookConfig.Ordered delivers a webhook's deliveries one at a time in
// enqueue order; WebhookConfig.RateLimit caps its requests per second.
// [Client.Redeliver] and [Client.RedeliverFailed] send failed or past
// deliveries again with their delivery ids; [Client.PruneHistory] keeps the
// tables small.
//
// # Security
//
// Credentials (tokens, passwords, header values) are encrypted at rest with
// XChaCha20-Poly1305 under a key derived from Config.PrivateSecret by HKDF;
// the Python package's Fernet tokens are read, and Config.LegacyFernet writes
// them for a Python service sharing the database. History, hooks, log lines
// and errors show credentials redacted. TLS certificates are verified unless
// a webhook says verify: false.
//
// Webhooks with SigningSecrets send Standard Webhooks signatures
// (webhook-id, webhook-timestamp, webhook-signature); receivers check them
// with [Verifier] or [VerifyMiddleware]. Every connection passes an SSRF
// guard at dial time: link-local and cloud metadata addresses are always
// refused, private networks with Config.DenyPrivateNetworks.
package webhook
