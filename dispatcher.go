package webhook

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// BroadcastResult is the outcome of a broadcast: one DeliveryResult per
// webhook reached, in the order the webhooks were created.
type BroadcastResult struct {
	EventCode  string
	Deliveries []DeliveryResult
	// HistoryErr is set when some attempts could not be recorded in
	// webhook_history. The deliveries themselves happened as reported.
	HistoryErr error
}

// Failed returns the deliveries that did not succeed.
func (r *BroadcastResult) Failed() []DeliveryResult {
	var out []DeliveryResult
	for _, d := range r.Deliveries {
		if !d.Success {
			out = append(out, d)
		}
	}
	return out
}

// DeliveryResult is the outcome of delivering one event to one webhook,
// after all its attempts.
type DeliveryResult struct {
	WebhookCode string
	ScopeType   string
	ScopeCode   string
	DeliveryID  string
	Method      string
	Endpoint    string
	// StatusCode of the last response; 0 when none arrived.
	StatusCode int
	Success    bool
	// Attempts is the number of attempts made, retries included.
	Attempts int
	// Duration is the time from the first attempt to the end of the last.
	Duration time.Duration
	// ResponseBody is the body of the last response, up to
	// Config.MaxResponseBodyBytes, with any credential it echoes redacted;
	// nil when no response arrived.
	ResponseBody []byte
	// Err says why the delivery failed; nil on success. It wraps
	// ErrUnexpectedStatus, ErrDecrypt, ErrInvalidWebhook or the network
	// error, and never contains a credential.
	Err error
}

// DefaultBackoff is the delay DefaultRetryPolicy waits after failed attempt
// number attempt of a webhook whose retry interval is interval: interval
// doubling after each attempt, with ±20% jitter so that many failing
// deliveries do not retry in lockstep; retryAfter (an endpoint's
// Retry-After) wins when longer.
func DefaultBackoff(attempt int, interval, retryAfter time.Duration) time.Duration {
	d := interval
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	if d > 0 {
		d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	}
	return max(d, retryAfter)
}

// target is one resolved webhook of a broadcast.
type target struct {
	row webhookRow
	wh  WebhookConfig
	err error // decoding failed: decrypt or malformed extra_info
	// retires is when the first of wh.SigningSecrets retires (by
	// Config.Now), zero if none does: a cached target is stale then.
	retires time.Time
}

// Broadcast sends the event to every enabled webhook of the given scopes
// that subscribes to it (or to AllEvents), each at most once, and waits for
// all of them. Webhooks are sent concurrently, at most Config.MaxConcurrency
// at once; each retries on failure as its configuration says. Every attempt
// is recorded in history.
//
// extraInfo overlays the event's stored info in the body. A "delivery_id"
// key in it is removed from the info and used as the delivery id of every
// webhook of the broadcast (at most 64 bytes of printable UTF-8; the body
// carries it exactly, while a signed request's webhook-id header and its
// signature carry it with '%', space, tab and every non-ASCII byte
// percent-encoded, "订单 1" as "%E8%AE%A2%E5%8D%95%201", so that receivers
// in every language verify it); otherwise each delivery gets a fresh 32-hex id.
//
// A webhook that fails, or whose credentials do not decrypt, never stops the
// others: its DeliveryResult says what happened. The error is non-nil only
// for what stopped the whole broadcast: an unknown event (ErrEventNotFound,
// nothing sent), invalid arguments, or a database failure while resolving.
func (c *Client) Broadcast(ctx context.Context, eventCode string, scopes []Scope, extraInfo map[string]any) (*BroadcastResult, error) {
	start := time.Now()
	ctx, span := c.tel.tracer.Start(ctx, "webhook.Broadcast", trace.WithSpanKind(trace.SpanKindInternal))
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(attrEvent.String(eventCode), attribute.Int("webhook.scopes", len(scopes)))
	}
	res, err := c.broadcast(ctx, eventCode, scopes, extraInfo)
	outcome := outcomeNameSucceeded
	switch {
	case err != nil:
		outcome = "error"
	case len(res.Failed()) > 0:
		outcome = outcomeNameFailed // one webhook at least
	}
	if recording {
		switch {
		case err != nil:
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attrErrorType.String(errorClass(err)))
		case outcome == outcomeNameFailed:
			span.SetAttributes(attribute.Int("webhook.deliveries.failed", len(res.Failed())))
		}
		if res != nil {
			span.SetAttributes(attrDeliveries.Int(len(res.Deliveries)))
		}
	}
	span.End()
	if c.tel.broadcasts.Enabled(ctx) {
		c.tel.broadcasts.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attrEvent.String(eventCode), attrOutcome.String(outcome)))
	}
	return res, err
}

func (c *Client) broadcast(ctx context.Context, eventCode string, scopes []Scope, extraInfo map[string]any) (*BroadcastResult, error) {
	if eventCode == "" {
		return nil, fmt.Errorf("%w: event code is empty", ErrInvalidArgument)
	}
	deliveryID, info, err := splitExtraInfo(extraInfo)
	if err != nil {
		return nil, err
	}
	ev, targets, err := c.resolve(ctx, eventCode, scopes)
	if err != nil {
		return nil, err
	}
	bi := &BroadcastInfo{Event: ev, Scopes: append([]Scope(nil), scopes...), ExtraInfo: info}
	if h := c.cfg.Hooks.BeforeBroadcast; h != nil {
		c.hook("BeforeBroadcast", func() { h(ctx, bi) })
	}
	eventJSON, err := eventPayloadJSON(ev, info)
	if err != nil {
		return nil, err
	}
	res := &BroadcastResult{EventCode: eventCode, Deliveries: make([]DeliveryResult, len(targets))}
	histErrs := make([]error, len(targets))
	if len(targets) == 1 {
		res.Deliveries[0], histErrs[0] = c.deliver(ctx, ev.Code, &targets[0], eventJSON, deliveryID)
	} else if len(targets) > 1 {
		sem := make(chan struct{}, c.maxConcurrency)
		var wg sync.WaitGroup
		for i := range targets {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				res.Deliveries[i], histErrs[i] = c.deliver(ctx, ev.Code, &targets[i], eventJSON, deliveryID)
			}()
		}
		wg.Wait()
	}
	res.HistoryErr = errors.Join(histErrs...)
	if h := c.cfg.Hooks.AfterBroadcast; h != nil {
		c.hook("AfterBroadcast", func() { h(ctx, bi, res) })
	}
	return res, nil
}

// splitExtraInfo copies extraInfo without its "delivery_id" key and returns
// that key's value, validated.
func splitExtraInfo(extraInfo map[string]any) (string, map[string]any, error) {
	info := make(map[string]any, len(extraInfo))
	var id string
	for k, v := range extraInfo {
		if k != "delivery_id" {
			info[k] = v
			continue
		}
		switch x := v.(type) {
		case nil:
		case string:
			id = x
		case json.Number:
			id = x.String()
		case int, int32, int64, uint, uint32, uint64:
			id = fmt.Sprint(x)
		case float64:
			id = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return "", nil, fmt.Errorf("%w: extra info delivery_id is %T, want a string", ErrInvalidArgument, v)
		}
	}
	if len(id) > maxDeliveryID || !utf8.ValidString(id) || !validHeaderValue(id) {
		return "", nil, fmt.Errorf("%w: extra info delivery_id must be printable UTF-8 of at most %d bytes", ErrInvalidArgument, maxDeliveryID)
	}
	return id, info, nil
}

// resolve loads the event and, in the same query, the enabled webhooks of
// the scopes that subscribe to it or to AllEvents, in creation order.
func (c *Client) resolve(ctx context.Context, eventCode string, scopes []Scope) (Event, []target, error) {
	ttl := c.cfg.ResolveCacheTTL
	if ttl <= 0 {
		return c.resolveOn(ctx, c.db.Statement.ConnPool, eventCode, scopes, true)
	}
	key := resolveKey(eventCode, scopes)
	if ev, targets, ok := c.resolved.get(key, ttl, c.now()); ok {
		return ev, targets, nil
	}
	gen := c.resolved.generation()
	ev, targets, err := c.resolveOn(ctx, c.db.Statement.ConnPool, eventCode, scopes, true)
	if err == nil {
		c.resolved.put(key, gen, ev, targets)
	}
	return ev, targets, err
}

// resolveOn is resolve on a given connection pool or transaction; decode
// says whether to decode (and decrypt) the webhooks' configurations.
func (c *Client) resolveOn(ctx context.Context, pool gorm.ConnPool, eventCode string, scopes []Scope, decode bool) (Event, []target, error) {
	keys := make([][]any, len(scopes))
	for i, s := range scopes {
		keys[i] = []any{s.Type, s.Code}
	}
	scopeSQL, scopeArgs := anyOfKeys([]string{"w.scope_type", "w.scope_code"}, keys)
	args := append([]any{true}, scopeArgs...)
	var q string
	if len(scopes) == 0 {
		q = "SELECT e.code, e.name, e.description, e.info, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM webhook_event e WHERE e.code = ?"
		args = []any{eventCode}
	} else {
		q = `SELECT e.code, e.name, e.description, e.info,
				w.id, w.code, w.name, w.endpoint, w.scope_type, w.scope_code, w.extra_info, w.method, w.consecutive_failures, w.circuit_open_until,
				w.circuit_failures, w.failing_since
			FROM webhook_event e
			LEFT JOIN webhook_webhook w ON w.enable_webhook = ? AND (` + scopeSQL + `)
				AND EXISTS (SELECT 1 FROM webhook_subscription s
					WHERE s.scope_type = w.scope_type AND s.scope_code = w.scope_code
					AND s.webhook_code = w.code AND s.event_code IN (?, ?))
			WHERE e.code = ?`
		args = append(args, eventCode, AllEvents, eventCode)
	}
	rows, err := pool.QueryContext(ctx, c.ph.rebind(q), args...)
	if err != nil {
		return Event{}, nil, fmt.Errorf("webhook: resolving webhooks of event %q: %w", eventCode, err)
	}
	defer rows.Close()
	var (
		evRow   eventRow
		found   bool
		targets []target
	)
	for rows.Next() {
		var (
			id, failures, cfails                            sql.NullInt64
			code, name, endpoint, scopeType, scopeCode, mth sql.NullString
			extra                                           jsonText
			openUntil, since                                sql.NullTime
		)
		if err := rows.Scan(&evRow.Code, &evRow.Name, &evRow.Description, &evRow.Info,
			&id, &code, &name, &endpoint, &scopeType, &scopeCode, &extra, &mth, &failures, &openUntil, &cfails, &since); err != nil {
			return Event{}, nil, fmt.Errorf("webhook: resolving webhooks of event %q: %w", eventCode, err)
		}
		found = true
		if !id.Valid {
			continue
		}
		t := target{row: webhookRow{
			ID: id.Int64, Code: code.String, Name: name.String, Endpoint: endpoint.String,
			ScopeType: scopeType.String, ScopeCode: scopeCode.String, ExtraInfo: extra, Method: mth.String, EnableWebhook: true,
			ConsecutiveFailures: int(failures.Int64), CircuitFailures: int(cfails.Int64),
		}}
		if openUntil.Valid {
			t.row.CircuitOpenUntil = &openUntil.Time
		}
		if since.Valid {
			t.row.FailingSince = &since.Time
		}
		if decode {
			t.wh, t.retires, t.err = c.decodeWebhookRetiring(&t.row)
		}
		targets = append(targets, t)
	}
	if err := rows.Err(); err != nil {
		return Event{}, nil, fmt.Errorf("webhook: resolving webhooks of event %q: %w", eventCode, err)
	}
	if !found {
		return Event{}, nil, fmt.Errorf("%w: %q: define it in the events YAML and run SyncEvents", ErrEventNotFound, eventCode)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].row.ID < targets[j].row.ID })
	ev, err := evRow.event()
	if err != nil {
		return Event{}, nil, err
	}
	return ev, targets, nil
}

// deliver runs every attempt of one delivery and records each in history.
// It returns the error met while recording history, if any.
func (c *Client) deliver(ctx context.Context, eventCode string, t *target, eventJSON []byte, deliveryID string) (res DeliveryResult, histErr error) {
	if deliveryID == "" {
		deliveryID = newDeliveryID()
	}
	res = DeliveryResult{
		WebhookCode: t.row.Code, ScopeType: t.row.ScopeType, ScopeCode: t.row.ScopeCode,
		DeliveryID: deliveryID, Method: t.wh.method(), Endpoint: t.row.Endpoint,
	}
	began := time.Now()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("webhook: delivery panicked", "webhook", t.row.Code, "delivery_id", deliveryID, "panic", r)
			res.Success = false
			res.Err = fmt.Errorf("webhook: internal error while delivering to %q: %v", t.row.Code, r)
		}
		c.tel.delivered(eventCode, t.row.ScopeType, t.row.ScopeCode, t.row.Code, false, res.Success, time.Since(began))
	}()
	p, err := c.prepare(t, eventCode, eventJSON, deliveryID)
	if err == nil && t.row.CircuitOpenUntil != nil && t.row.CircuitOpenUntil.After(c.now()) {
		err = fmt.Errorf("%w: %q of scope %s/%s is not sent to until %s (its endpoint kept failing or asked for a pause); Enqueue would deliver it once the circuit closes",
			ErrCircuitOpen, t.row.Code, t.row.ScopeType, t.row.ScopeCode, t.row.CircuitOpenUntil.UTC().Format(time.RFC3339))
	}
	if err != nil {
		res.Attempts, res.Err = 1, err
		return res, c.recordAttempts(ctx, c.notAttempted(t, eventCode, deliveryID, 1, err))
	}
	start := time.Now()
	lim := c.limiter(t.row.ID, t.wh.RateLimit)
	for attempt := 1; ; attempt++ {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				res.Err = fmt.Errorf("webhook: delivery to %q abandoned waiting for its rate limit (%g per second): %w", t.row.Code, t.wh.RateLimit, err)
				res.Duration = time.Since(start)
				return res, histErr
			}
		}
		ar, o := c.runAttempt(ctx, p, attempt, func(ar *AttemptResult, retryAfter time.Duration) (bool, time.Duration) {
			if ar.Success || ctx.Err() != nil {
				return false, 0
			}
			retry, delay := c.cfg.RetryPolicy(attempt, &t.wh, ar, retryAfter)
			if !retry || delay > c.cfg.MaxRetryDelay {
				return false, 0 // the rest of the schedule is the durable path's
			}
			return true, delay
		})
		res.Attempts, res.StatusCode, res.Success, res.Err, res.ResponseBody = attempt, ar.StatusCode, ar.Success, ar.Err, ar.ResponseBody
		if err := c.recordAttempts(ctx, o); err != nil {
			histErr = errors.Join(histErr, err)
		}
		if !ar.WillRetry {
			break
		}
		timer := time.NewTimer(ar.RetryIn)
		select {
		case <-ctx.Done():
			timer.Stop()
			res.Err = fmt.Errorf("webhook: delivery to %q abandoned before attempt %d: %w (last failure: %w)", t.row.Code, attempt+1, ctx.Err(), ar.Err)
			res.Duration = time.Since(start)
			return res, histErr
		case <-timer.C:
		}
	}
	res.Duration = time.Since(start)
	return res, histErr
}

// prepared is a delivery ready for its attempts: the request, and what
// history and hooks may see of it.
type prepared struct {
	t          *target
	eventCode  string
	deliveryID string
	out        *outgoing
	scrub      scrubber
	client     *http.Client
	timeout    time.Duration
	shown      http.Header // the request header, credentials redacted
	recReq     HistoryRequest
	probe      bool         // the attempt probes an open circuit
	queued     bool         // a delivery of the outbox
	links      []trace.Link // to the spans that enqueued it
	host       string       // server.address and server.port, read once by server()
	port       int
}

// server returns the endpoint's host and port for the telemetry.
func (p *prepared) server() (string, int) {
	if p.host == "" {
		p.host, p.port = hostPort(p.out.endpoint)
	}
	return p.host, p.port
}

// prepare builds the request of a delivery to a resolved webhook.
func (c *Client) prepare(t *target, eventCode string, eventJSON []byte, deliveryID string) (*prepared, error) {
	if t.err != nil {
		return nil, t.err
	}
	wh := &t.wh
	out, err := buildRequest(wh, eventJSON, deliveryID)
	if err != nil {
		return nil, err
	}
	if len(out.body) > c.cfg.MaxPayloadBytes {
		return nil, fmt.Errorf("%w: the body for %q is %d bytes, more than MaxPayloadBytes (%d): send less extra info or raise the limit",
			ErrPayloadTooLarge, t.row.Code, len(out.body), c.cfg.MaxPayloadBytes)
	}
	p := &prepared{t: t, eventCode: eventCode, deliveryID: deliveryID, out: out, scrub: newScrubber(out.secrets)}
	p.client, p.timeout = c.transport(wh)
	p.shown = redactedHeader(out.header, wh)
	p.recReq = HistoryRequest{
		URL: redactURL(out.endpoint), Method: out.method, Header: flatHeader(p.shown),
		Timeout: seconds(p.timeout), Verify: !wh.InsecureSkipVerify,
	}
	if len(out.params) > 0 {
		p.recReq.Params = make(map[string]any, len(out.params))
		for k, v := range out.params {
			p.recReq.Params[k] = v
		}
	}
	if out.jsonBody && json.Valid(out.body) {
		p.recReq.JSON = out.body
	} else {
		p.recReq.Form = string(out.body)
	}
	return p, nil
}

// notAttempted is the outcome of a delivery that failed before its request
// could be sent (a credential that does not decrypt, a malformed
// configuration, an open circuit): recorded in history, not counted against
// the endpoint.
func (c *Client) notAttempted(t *target, eventCode, deliveryID string, attempt int, err error) *attemptOutcome {
	c.log.Warn("webhook: delivery not attempted", "webhook", t.row.Code, "scope", t.row.ScopeType+"/"+t.row.ScopeCode, "delivery_id", deliveryID, "err", err)
	msg := err.Error()
	o := &attemptOutcome{webhookID: t.row.ID, row: historyRow{
		WebhookCode: t.row.Code, EventCode: eventCode, DeliveryID: deliveryID,
		ScopeType: t.row.ScopeType, ScopeCode: t.row.ScopeCode,
		CreatedAt: c.now().UTC(), Attempt: attempt, ErrorMessage: &msg,
	}}
	o.row.ExtraInfo, _ = marshalJSON(historyExtra{Request: HistoryRequest{URL: redactURL(t.row.Endpoint), Method: t.wh.method()}})
	return o
}

// runAttempt sends attempt number attempt of a prepared delivery, lets
// decide whether and when another follows, calls the attempt hooks, logs,
// and returns the result and the outcome (not yet recorded).
func (c *Client) runAttempt(ctx context.Context, p *prepared, attempt int, decide func(ar *AttemptResult, retryAfter time.Duration) (bool, time.Duration)) (*AttemptResult, *attemptOutcome) {
	t := p.t
	ctx, span := c.tel.startAttemptSpan(ctx, p, p.links)
	// The signature headers of this attempt (a fresh timestamp each time)
	// and its traceparent are shown to hooks and kept in history like the
	// others, so that a receiver answering "invalid signature" can be
	// debugged and its own spans found.
	sig := http.Header{}
	p.out.sign(sig, c.now())
	if !c.cfg.DisableTraceparent && !t.wh.NoTraceparent {
		c.tel.inject(ctx, sig)
	}
	shown, rec := p.shown, p.recReq
	if len(sig) > 0 {
		rec.Header = maps.Clone(p.recReq.Header)
		if rec.Header == nil {
			rec.Header = make(map[string]string, len(sig))
		}
		for k, v := range sig {
			rec.Header[k] = strings.Join(v, ", ")
		}
		if c.cfg.Hooks.BeforeAttempt != nil || c.cfg.Hooks.AfterAttempt != nil {
			shown = p.shown.Clone()
			for k, v := range sig {
				shown[k] = v
			}
		}
	}
	info := &AttemptInfo{
		EventCode: p.eventCode, WebhookCode: t.row.Code, Scope: Scope{t.row.ScopeType, t.row.ScopeCode},
		DeliveryID: p.deliveryID, Attempt: attempt, Method: p.out.method, URL: redactURL(p.out.url),
		Header: shown, Body: p.out.body,
	}
	if h := c.cfg.Hooks.BeforeAttempt; h != nil {
		c.hook("BeforeAttempt", func() { h(ctx, info) })
	}
	c.tel.active(ctx, p, 1)
	ar, retryAfter, resp := c.attempt(ctx, p.client, p.out, p.timeout, p.scrub, sig)
	c.tel.active(ctx, p, -1)
	ar.WillRetry, ar.RetryIn = decide(ar, retryAfter)
	c.tel.endAttempt(ctx, span, p, attempt, ar)
	c.tel.attempted(ctx, p, ar)

	o := &attemptOutcome{
		webhookID: t.row.ID, sent: true, duration: ar.Duration, endpointDown: endpointDown(ar), probe: p.probe,
		healthy: !p.queued && attempt == 1 && t.row.nothingToReset(), // read just before, by Broadcast
		row: historyRow{
			WebhookCode: t.row.Code, EventCode: p.eventCode, DeliveryID: p.deliveryID,
			ScopeType: t.row.ScopeType, ScopeCode: t.row.ScopeCode,
			CreatedAt: c.now().UTC(), Success: ar.Success, Attempt: attempt, Queued: p.queued,
		},
	}
	if ar.StatusCode == http.StatusTooManyRequests || ar.StatusCode == http.StatusServiceUnavailable {
		o.pauseFor = retryAfter
	}
	row := &o.row
	us := ar.Duration.Microseconds()
	row.DurationUS = &us
	if ar.StatusCode != 0 {
		sc := ar.StatusCode
		row.StatusCode = &sc
	}
	if ar.Err != nil {
		msg := ar.Err.Error()
		row.ErrorMessage = &msg
	}
	row.ExtraInfo, _ = marshalJSON(historyExtra{Request: rec, Response: resp})

	if h := c.cfg.Hooks.AfterAttempt; h != nil {
		c.hook("AfterAttempt", func() { h(ctx, info, ar) })
	}
	lvl := c.log.Info
	if !ar.Success {
		lvl = c.log.Warn
	}
	args := []any{"event", p.eventCode, "webhook", t.row.Code, "scope", t.row.ScopeType + "/" + t.row.ScopeCode,
		"delivery_id", p.deliveryID, "attempt", attempt, "status", ar.StatusCode, "success", ar.Success,
		"duration", ar.Duration, "err", ar.Err, "retry_in", ar.RetryIn}
	if id := traceID(ctx); id != "" {
		args = append(args, "trace_id", id)
	}
	lvl("webhook: delivery attempt", args...)
	return ar, o
}

// attempt sends one request, with the signature headers sig, and reads the
// response up to the configured caps.
func (c *Client) attempt(ctx context.Context, client *http.Client, out *outgoing, timeout time.Duration, scrub scrubber, sig http.Header) (*AttemptResult, time.Duration, *HistoryResponse) {
	ar := &AttemptResult{}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, out.method, out.url, bytes.NewReader(out.body))
	if err != nil {
		ar.Err = fmt.Errorf("%w: cannot build the request: %v", ErrInvalidWebhook, redactURLError(err))
		return ar, 0, nil
	}
	req.Header = out.header.Clone()
	for k, v := range sig {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		ar.Duration = time.Since(start)
		ar.Err = c.networkError(ctx, actx, out, timeout, err, scrub)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, query string included
		}
		// The transport stops reading at Config.MaxResponseHeaderBytes: an
		// endpoint failure, retried like one, whose error says so.
		switch msg := err.Error(); {
		case strings.Contains(msg, "response headers exceeded"), strings.Contains(msg, "header list larger than"):
			ar.Err = &scrubbedError{msg: fmt.Sprintf("webhook: %s %s answered with response headers over Config.MaxResponseHeaderBytes (%d bytes); the response was dropped: %s",
				out.method, redactURL(out.endpoint), c.cfg.MaxResponseHeaderBytes, scrub.string(msg)), err: err}
		case strings.Contains(msg, "COMPRESSION_ERROR"), strings.Contains(msg, "PROTOCOL_ERROR"):
			// HTTP/2 ends a header block far over the limit so, without saying why.
			ar.Err = &scrubbedError{msg: fmt.Sprintf("%s (over HTTP/2, also how response headers over Config.MaxResponseHeaderBytes, %d bytes, end)",
				ar.Err, c.cfg.MaxResponseHeaderBytes), err: ar.Err}
		}
		return ar, 0, nil
	}
	body, truncated, readErr := readCapped(resp.Body, c.cfg.MaxResponseBodyBytes)
	ar.Duration = time.Since(start)
	ar.StatusCode = resp.StatusCode
	ar.ResponseBody = []byte(scrub.string(string(body)))
	hr := &HistoryResponse{StatusCode: resp.StatusCode, Body: string(ar.ResponseBody), BodyTruncated: truncated}
	hr.Header, hr.HeaderTruncated = cappedHeader(resp.Header, c.cfg.MaxResponseHeaderBytes, scrub)
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		ar.Err = errorf(ErrUnexpectedStatus, "webhook: %s %s answered %d %s", out.method, redactURL(out.endpoint), resp.StatusCode, http.StatusText(resp.StatusCode))
	case readErr != nil:
		ar.Err = fmt.Errorf("webhook: reading the response of %s %s: %w", out.method, redactURL(out.endpoint), c.networkError(ctx, actx, out, timeout, readErr, scrub))
	default:
		ar.Success = true
	}
	return ar, retryAfter(resp.Header, c.now()), hr
}

// networkError turns a transport error into a message that names the
// endpoint (credentials redacted) and says whether it was the timeout.
func (c *Client) networkError(parent, actx context.Context, out *outgoing, timeout time.Duration, err error, scrub scrubber) error {
	if parent.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("webhook: %s %s timed out after %s: %w", out.method, redactURL(out.endpoint), timeout, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &scrubbedError{msg: fmt.Sprintf("webhook: %s %s failed: %s", out.method, redactURL(out.endpoint), scrub.string(err.Error())), err: err}
}

// scrubbedError keeps the cause for errors.Is while its message is
// free of credentials.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// readCapped reads up to limit bytes of body, then discards up to 1 MiB more
// so the connection can be reused, and closes it.
func readCapped(body io.ReadCloser, limit int) ([]byte, bool, error) {
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	truncated := len(b) > limit
	if truncated {
		b = b[:limit]
		_, _ = io.CopyN(io.Discard, body, 1<<20)
	}
	return b, truncated, err
}

// cappedHeader flattens response headers for history, credentials scrubbed,
// keeping them in name order while their JSON encoding ({"Name":"value",…})
// stays within limit bytes, and reports whether any was left out.
func cappedHeader(h http.Header, limit int, scrub scrubber) (map[string]string, bool) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	used, truncated := len("{}"), false
	for _, k := range names {
		v := scrub.string(strings.Join(h[k], ", "))
		kb, _ := marshalJSON(k)
		vb, _ := marshalJSON(v)
		cost := len(kb) + len(":") + len(vb)
		if len(out) > 0 {
			cost += len(",")
		}
		if used+cost > limit {
			truncated = true
			continue
		}
		used += cost
		out[k] = v
	}
	return out, truncated
}

// retryable reports whether a failed attempt is worth repeating, in both
// paths: network failures and every non-2xx status, but not 410 Gone (the
// endpoint is gone for good), a configuration that cannot be sent, a
// credential that does not decrypt, an address the SSRF guard refuses or an
// oversized body.
func retryable(ar *AttemptResult) bool {
	if ar.StatusCode == http.StatusGone {
		return false
	}
	return !errors.Is(ar.Err, ErrInvalidWebhook) && !errors.Is(ar.Err, ErrDecrypt) &&
		!errors.Is(ar.Err, ErrForbiddenAddress) && !errors.Is(ar.Err, ErrPayloadTooLarge)
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// redactURL returns the URL with any password replaced, for records.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

func flatHeader(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// VerifyEndpoint sends one test request to a webhook configuration that need
// not be saved, with the body of a "webhook_test" event, and reports what
// happened. It makes no retry, records no history and calls no hook. The
// error is ErrInvalidWebhook for an invalid configuration (then the result
// is nil), or the delivery's failure (then the result says more).
func (c *Client) VerifyEndpoint(ctx context.Context, wh WebhookConfig) (*DeliveryResult, error) {
	wh = wh.clone()
	if msg := wh.validate(); msg != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidWebhook, msg)
	}
	eventJSON, _ := marshalJSON(eventPayload{
		Code: "webhook_test", Name: "Webhook test",
		Description: "a test request sent to verify the endpoint", Info: map[string]any{},
	})
	id := newDeliveryID()
	res := &DeliveryResult{WebhookCode: wh.Code, DeliveryID: id, Method: wh.method(), Endpoint: wh.Endpoint, Attempts: 1}
	out, err := buildRequest(&wh, eventJSON, id)
	if err != nil {
		res.Err = err
		return res, err
	}
	client, timeout := c.transport(&wh)
	sig := http.Header{}
	out.sign(sig, c.now())
	ar, _, _ := c.attempt(ctx, client, out, timeout, newScrubber(out.secrets), sig)
	res.StatusCode, res.Success, res.Duration, res.Err, res.ResponseBody = ar.StatusCode, ar.Success, ar.Duration, ar.Err, ar.ResponseBody
	return res, res.Err
}

// transport returns the HTTP client and the per-request timeout of a webhook.
func (c *Client) transport(wh *WebhookConfig) (*http.Client, time.Duration) {
	timeout := wh.Timeout
	if timeout <= 0 {
		timeout = c.cfg.Timeout
	}
	if wh.InsecureSkipVerify {
		return c.insecureHTTP, timeout
	}
	return c.http, timeout
}
