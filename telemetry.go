package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Observability: OpenTelemetry metrics and traces through the API only; the
// application installs the SDK and exporters (docs/observability.md). With
// the default global providers, no-ops until an SDK is installed, each
// instrument costs a method call on an empty struct.

// instrumentationName names the library's meter and tracer.
const instrumentationName = "github.com/scopehook/webhook"

// Attribute keys: OpenTelemetry's semantic conventions where one exists,
// "webhook." for the rest.
const (
	attrHTTPMethod    = attribute.Key("http.request.method")
	attrHTTPStatus    = attribute.Key("http.response.status_code")
	attrErrorType     = attribute.Key("error.type")
	attrServerAddress = attribute.Key("server.address")
	attrServerPort    = attribute.Key("server.port")
	attrURLFull       = attribute.Key("url.full")
	attrEvent         = attribute.Key("webhook.event")
	attrScopeType     = attribute.Key("webhook.scope.type")
	attrScopeCode     = attribute.Key("webhook.scope.code")
	attrWebhook       = attribute.Key("webhook.code")
	attrQueued        = attribute.Key("webhook.queued")
	attrOutcome       = attribute.Key("webhook.outcome")
	attrDeliveryID    = attribute.Key("webhook.delivery_id")
	attrAttempt       = attribute.Key("webhook.attempt")
	attrStatus        = attribute.Key("webhook.delivery.status")
	attrCircuit       = attribute.Key("webhook.circuit.state")
	attrDeliveries    = attribute.Key("webhook.deliveries")
)

// Delivery outcomes, the values of webhook.outcome.
const (
	outcomeNameSucceeded = "succeeded"
	outcomeNameFailed    = "failed"
	outcomeNameRetried   = "retried"
	outcomeNameCancelled = "cancelled"
)

// telemetry holds the instruments of one client.
type telemetry struct {
	tracer     trace.Tracer
	meter      metric.Meter
	propagator propagation.TextMapPropagator
	// detailed adds the webhook and scope codes to metric attributes
	// (Config.MetricWebhookAttributes).
	detailed bool
	// sets caches attribute sets by deliverySetKey or requestSetKey;
	// cached counts them.
	sets   sync.Map
	cached atomic.Int64

	requestDuration metric.Float64Histogram     // http.client.request.duration
	activeRequests  metric.Int64UpDownCounter   // http.client.active_requests
	attempts        metric.Int64Counter         // webhook.attempts
	deliveries      metric.Int64Counter         // webhook.deliveries
	latency         metric.Float64Histogram     // webhook.delivery.duration
	broadcasts      metric.Float64Histogram     // webhook.broadcast.duration
	enqueued        metric.Int64Counter         // webhook.enqueued
	circuitChanges  metric.Int64Counter         // webhook.circuit.changes
	autoDisables    metric.Int64Counter         // webhook.auto_disables
	historyFailures metric.Int64Counter         // webhook.history.write_failures
	outboxDepth     metric.Int64ObservableGauge // webhook.outbox.deliveries
	oldestDue       metric.Float64ObservableGauge
	openCircuits    metric.Int64ObservableGauge
}

// durationBuckets are the explicit boundaries, in seconds, of the duration
// histograms: those the semantic conventions advise for HTTP, stretched to
// the 10 s default timeout and beyond for end-to-end latency.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300, 1800, 3600}

func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider, detailed bool) (*telemetry, error) {
	t := &telemetry{
		tracer:     tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(Version)),
		meter:      mp.Meter(instrumentationName, metric.WithInstrumentationVersion(Version)),
		propagator: propagation.TraceContext{},
		detailed:   detailed,
	}
	m := t.meter
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	t.requestDuration, err = m.Float64Histogram("http.client.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of the HTTP requests sent to webhook endpoints."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	t.activeRequests, err = m.Int64UpDownCounter("http.client.active_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests to webhook endpoints in flight."))
	add(err)
	t.attempts, err = m.Int64Counter("webhook.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Delivery attempts, by outcome: succeeded, retried (another attempt follows) or failed (the last)."))
	add(err)
	t.deliveries, err = m.Int64Counter("webhook.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries that reached an outcome: succeeded, failed (out of retries), retried (a retry was scheduled) or cancelled."))
	add(err)
	t.latency, err = m.Float64Histogram("webhook.delivery.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from Enqueue (or the start of Broadcast) to the delivery's success."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	t.broadcasts, err = m.Float64Histogram("webhook.broadcast.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of Broadcast calls, history included."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	t.enqueued, err = m.Int64Counter("webhook.enqueued", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries written to the outbox by Enqueue, EnqueueTx, EnqueueMany, EnqueueManyTx and Redeliver."))
	add(err)
	t.circuitChanges, err = m.Int64Counter("webhook.circuit.changes", metric.WithUnit("{change}"),
		metric.WithDescription("Circuit breakers that opened or closed, by new state."))
	add(err)
	t.autoDisables, err = m.Int64Counter("webhook.auto_disables", metric.WithUnit("{webhook}"),
		metric.WithDescription("Webhooks the library disabled because they kept failing."))
	add(err)
	t.historyFailures, err = m.Int64Counter("webhook.history.write_failures", metric.WithUnit("{row}"),
		metric.WithDescription("History rows that could not be written (Broadcast's, or the workers' before a successful retry of the write)."))
	add(err)
	t.outboxDepth, err = m.Int64ObservableGauge("webhook.outbox.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries in the outbox, by status (pending, failed); database-wide, so every instance reports the same value."))
	add(err)
	t.oldestDue, err = m.Float64ObservableGauge("webhook.outbox.oldest_due_age", metric.WithUnit("s"),
		metric.WithDescription("How long the oldest due pending delivery that no worker holds has been waiting; 0 when none. Database-wide."))
	add(err)
	t.openCircuits, err = m.Int64ObservableGauge("webhook.circuits.open", metric.WithUnit("{webhook}"),
		metric.WithDescription("Webhooks whose circuit breaker is open. Database-wide."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// deliveryAttrs are the metric attributes of a delivery: low cardinality
// unless detailed; outcome "" for none. The sets are cached (up to
// maxCachedSets), so that a measurement does not sort and hash its
// attributes again.
func (t *telemetry) deliveryAttrs(event, scopeType, scopeCode, webhook string, queued bool, outcome string) metric.MeasurementOption {
	if !t.detailed {
		scopeCode, webhook = "", ""
	}
	key := deliverySetKey{event, scopeType, scopeCode, webhook, queued, outcome}
	if o, ok := t.sets.Load(key); ok {
		return o.(metric.MeasurementOption)
	}
	kv := make([]attribute.KeyValue, 0, 6)
	kv = append(kv, attrEvent.String(event), attrScopeType.String(scopeType), attrQueued.Bool(queued))
	if t.detailed {
		kv = append(kv, attrScopeCode.String(scopeCode), attrWebhook.String(webhook))
	}
	if outcome != "" {
		kv = append(kv, attrOutcome.String(outcome))
	}
	return t.cacheSet(key, kv)
}

// deliverySetKey and requestSetKey identify cached attribute sets.
type deliverySetKey struct {
	event, scopeType, scopeCode, webhook string
	queued                               bool
	outcome                              string
}

type requestSetKey struct {
	method, host string
	port, status int
	errType      string
	active       bool // the set of http.client.active_requests
}

// maxCachedSets bounds the cache of attribute sets; past it, sets are
// built for each measurement.
const maxCachedSets = 10000

func (t *telemetry) cacheSet(key any, kv []attribute.KeyValue) metric.MeasurementOption {
	o := metric.WithAttributeSet(attribute.NewSet(kv...))
	if t.cached.Load() < maxCachedSets {
		if _, loaded := t.sets.LoadOrStore(key, o); !loaded {
			t.cached.Add(1)
		}
	}
	return o
}

// hostPort splits an endpoint URL into server.address and server.port.
func hostPort(endpoint string) (string, int) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", 0
	}
	host := u.Hostname()
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		switch u.Scheme {
		case "https":
			port = 443
		case "http":
			port = 80
		}
	}
	return host, port
}

// errorType is the error.type of a failed attempt: the status code of an
// answer, or a short class of the failure that prevented one.
func errorType(ar *AttemptResult) string {
	switch {
	case ar.Success:
		return ""
	case ar.StatusCode != 0:
		return strconv.Itoa(ar.StatusCode)
	case errors.Is(ar.Err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(ar.Err, context.Canceled):
		return "canceled"
	case errors.Is(ar.Err, ErrForbiddenAddress):
		return "forbidden_address"
	case errors.Is(ar.Err, ErrInvalidWebhook):
		return "invalid_webhook"
	case errors.Is(ar.Err, ErrPayloadTooLarge):
		return "payload_too_large"
	case errors.Is(ar.Err, ErrDecrypt):
		return "decrypt"
	case errors.Is(ar.Err, ErrCircuitOpen):
		return "circuit_open"
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(ar.Err, &dnsErr):
		return "dns"
	case errors.As(ar.Err, &opErr):
		return "connection"
	}
	return "_OTHER"
}

// startAttemptSpan starts the client span of one request. links are the
// trace contexts of the enqueue spans the delivery came from. The span's
// attributes are set when it ends, in one call, and only if it records:
// with the default no-op providers the telemetry costs a few method calls,
// and with the SDK the span grows its attribute list once.
func (t *telemetry) startAttemptSpan(ctx context.Context, p *prepared, links []trace.Link) (context.Context, trace.Span) {
	if len(links) > 0 {
		return t.tracer.Start(ctx, p.out.method, trace.WithSpanKind(trace.SpanKindClient), trace.WithLinks(links...))
	}
	return t.tracer.Start(ctx, p.out.method, trace.WithSpanKind(trace.SpanKindClient))
}

// endAttempt records an attempt's request metrics and ends its span.
func (t *telemetry) endAttempt(ctx context.Context, span trace.Span, p *prepared, attempt int, ar *AttemptResult) {
	et := errorType(ar)
	if span.IsRecording() {
		host, port := p.server()
		kv := make([]attribute.KeyValue, 0, 12)
		kv = append(kv,
			attrHTTPMethod.String(p.out.method), attrURLFull.String(redactURL(p.out.endpoint)),
			attrServerAddress.String(host), attrServerPort.Int(port),
			attrEvent.String(p.eventCode), attrScopeType.String(p.t.row.ScopeType), attrScopeCode.String(p.t.row.ScopeCode),
			attrWebhook.String(p.t.row.Code), attrDeliveryID.String(p.deliveryID), attrAttempt.Int(attempt))
		if ar.StatusCode != 0 {
			kv = append(kv, attrHTTPStatus.Int(ar.StatusCode))
		}
		if et != "" {
			kv = append(kv, attrErrorType.String(et))
			msg := ""
			if ar.Err != nil {
				msg = ar.Err.Error() // credentials already scrubbed
			}
			span.SetStatus(codes.Error, msg)
		}
		span.SetAttributes(kv...)
	}
	span.End()
	if !t.requestDuration.Enabled(ctx) {
		return
	}
	host, port := p.server()
	key := requestSetKey{method: p.out.method, host: host, port: port, status: ar.StatusCode, errType: et}
	o, ok := t.sets.Load(key)
	if !ok {
		kv := []attribute.KeyValue{attrHTTPMethod.String(p.out.method), attrServerAddress.String(host), attrServerPort.Int(port)}
		if ar.StatusCode != 0 {
			kv = append(kv, attrHTTPStatus.Int(ar.StatusCode))
		}
		if et != "" {
			kv = append(kv, attrErrorType.String(et))
		}
		o = t.cacheSet(key, kv)
	}
	t.requestDuration.Record(ctx, ar.Duration.Seconds(), o.(metric.RecordOption))
}

// active counts a request in flight (+1) or done (-1).
func (t *telemetry) active(ctx context.Context, p *prepared, n int64) {
	if t.activeRequests.Enabled(ctx) {
		host, _ := p.server()
		key := requestSetKey{method: p.out.method, host: host, active: true}
		o, ok := t.sets.Load(key)
		if !ok {
			o = t.cacheSet(key, []attribute.KeyValue{attrHTTPMethod.String(p.out.method), attrServerAddress.String(host)})
		}
		t.activeRequests.Add(ctx, n, o.(metric.AddOption))
	}
}

// attempted counts one attempt by outcome.
func (t *telemetry) attempted(ctx context.Context, p *prepared, ar *AttemptResult) {
	if !t.attempts.Enabled(ctx) {
		return
	}
	outcome := outcomeNameSucceeded
	switch {
	case ar.WillRetry:
		outcome = outcomeNameRetried
	case !ar.Success:
		outcome = outcomeNameFailed
	}
	t.attempts.Add(ctx, 1, t.deliveryAttrs(p.eventCode, p.t.row.ScopeType, p.t.row.ScopeCode, p.t.row.Code, p.queued, outcome))
}

// traceParent returns the W3C traceparent of ctx's span, "" if none.
func (t *telemetry) traceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	t.propagator.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// linkTo returns a link to the span whose W3C traceparent tp is
// ("00-<trace id>-<span id>-<flags>"), if valid.
func (t *telemetry) linkTo(tp string) []trace.Link {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return nil
	}
	tid, err1 := trace.TraceIDFromHex(tp[3:35])
	sid, err2 := trace.SpanIDFromHex(tp[36:52])
	if err1 != nil || err2 != nil {
		return nil
	}
	flags := trace.TraceFlags(0)
	if tp[53:55] == "01" {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
	if !sc.IsValid() {
		return nil
	}
	return []trace.Link{{SpanContext: sc}}
}

// inject adds the traceparent (and tracestate) of ctx's span to h.
func (t *telemetry) inject(ctx context.Context, h http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		t.propagator.Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// traceID returns the trace id of ctx's span for log lines, "" if none.
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// observe registers the database-wide gauges, read with a few cheap
// queries per collection. The returned function unregisters them.
func (c *Client) observe() (func(), error) {
	t := c.tel
	reg, err := t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		g, err := c.outboxGauges(ctx, true)
		if err != nil {
			return err
		}
		for _, s := range []string{StatusPending, StatusFailed} {
			o.ObserveInt64(t.outboxDepth, g.counts[s], metric.WithAttributes(attrStatus.String(s)))
		}
		o.ObserveFloat64(t.oldestDue, g.oldestDue.Seconds())
		o.ObserveInt64(t.openCircuits, g.openCircuits)
		return nil
	}, t.outboxDepth, t.oldestDue, t.openCircuits)
	if err != nil {
		return nil, err
	}
	return func() { _ = reg.Unregister() }, nil
}

// outboxGaugeValues are what the gauges and Client.Health read of the outbox.
type outboxGaugeValues struct {
	counts       map[string]int64 // pending and failed
	oldestDue    time.Duration
	openCircuits int64
}

// outboxGauges reads the outbox's counts and oldest due age, and the open
// circuits' count when circuits is set (Health lists them itself).
func (c *Client) outboxGauges(ctx context.Context, circuits bool) (outboxGaugeValues, error) {
	v := outboxGaugeValues{counts: map[string]int64{StatusPending: 0, StatusFailed: 0}}
	now := c.now().UTC()
	var rows []struct {
		Status string
		N      int64
	}
	db := c.dbCtx(ctx)
	if err := db.Model(&deliveryRow{}).Select("status, COUNT(*) AS n").Where("status IN ?", []string{StatusPending, StatusFailed}).
		Group("status").Scan(&rows).Error; err != nil {
		return v, err
	}
	for _, r := range rows {
		v.counts[r.Status] = r.N
	}
	var oldest []deliveryRow
	if err := db.Model(&deliveryRow{}).Select("next_attempt_at").Where("status = ? AND next_attempt_at <= ? AND lease_owner IS NULL", StatusPending, now).
		Order("next_attempt_at").Limit(1).Find(&oldest).Error; err != nil {
		return v, err
	}
	if len(oldest) == 1 {
		v.oldestDue = max(now.Sub(oldest[0].NextAttemptAt), 0)
	}
	if !circuits {
		return v, nil
	}
	if err := db.Model(&webhookRow{}).Where("circuit_open_until > ?", now).Count(&v.openCircuits).Error; err != nil {
		return v, err
	}
	return v, nil
}

// delivered counts a delivery's final outcome and, on success, its latency
// from enqueue (or the start of Broadcast).
func (t *telemetry) delivered(event, scopeType, scopeCode, webhook string, queued, success bool, latency time.Duration) {
	if !t.deliveries.Enabled(context.Background()) && !t.latency.Enabled(context.Background()) {
		return
	}
	outcome := outcomeNameFailed
	if success {
		outcome = outcomeNameSucceeded
	}
	t.deliveries.Add(context.Background(), 1, t.deliveryAttrs(event, scopeType, scopeCode, webhook, queued, outcome))
	if success {
		t.latency.Record(context.Background(), max(latency, 0).Seconds(), t.deliveryAttrs(event, scopeType, scopeCode, webhook, queued, ""))
	}
}

// errorClass is the error.type of a call that failed as a whole.
func errorClass(err error) string {
	switch {
	case errors.Is(err, ErrEventNotFound):
		return "event_not_found"
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument"
	case errors.Is(err, ErrPayloadTooLarge):
		return "payload_too_large"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "database"
}

// deliveryAttrsNoEvent are the metric attributes of a webhook's own
// changes: its scope type, and its codes when detailed.
func (t *telemetry) deliveryAttrsNoEvent(scope Scope, webhook string, extra ...attribute.KeyValue) metric.MeasurementOption {
	kv := []attribute.KeyValue{attrScopeType.String(scope.Type)}
	if t.detailed {
		kv = append(kv, attrScopeCode.String(scope.Code), attrWebhook.String(webhook))
	}
	return metric.WithAttributeSet(attribute.NewSet(append(kv, extra...)...))
}
